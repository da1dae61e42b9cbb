//! The vision engine on real data committed in the repo: the MIT-licensed webcam clip.
//!
//! Runs on the engine named by `GAZE_TEST_ENGINE` (`openvino` or `opencv`; unset: `auto`).
//! `make test` runs this file once per engine.

use gaze_core::{
    Direction, EngineChoice, Frame, FrameResult, GazeError, PixelFormat, Tracker, TrackerConfig,
};
use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;
use opencv::videoio;
use std::sync::OnceLock;

const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
);

/// Decoded BGR frames of the clip (decoded once per test binary).
fn frames() -> &'static Vec<Mat> {
    static FRAMES: OnceLock<Vec<Mat>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let mut cap = videoio::VideoCapture::from_file(CLIP, videoio::CAP_ANY).expect("open clip");
        let mut out = Vec::new();
        let mut img = Mat::default();
        while cap.read(&mut img).expect("read") && !img.empty() {
            out.push(img.try_clone().expect("clone"));
        }
        assert_eq!(out.len(), 250, "the committed clip has 250 frames");
        out
    })
}

/// The default config on the engine this run tests.
fn config() -> TrackerConfig {
    let mut c = TrackerConfig::default();
    if let Ok(name) = std::env::var("GAZE_TEST_ENGINE") {
        c.inference.engine = EngineChoice::parse(&name).expect("GAZE_TEST_ENGINE");
    }
    c
}

#[test]
fn the_requested_engine_runs() {
    let t = Tracker::new(config()).expect("tracker");
    if let Ok(name) = std::env::var("GAZE_TEST_ENGINE") {
        assert_eq!(t.engine().name(), name.to_ascii_lowercase());
    }
    eprintln!("vision tests on {}", t.engine());
}

fn process(tracker: &mut Tracker, img: &Mat, n: usize, format: PixelFormat) -> FrameResult {
    let frame = Frame::packed(
        img.data_bytes().expect("bytes"),
        img.cols() as u32,
        img.rows() as u32,
        format,
        n as f64 * 40.0,
    )
    .expect("valid frame");
    tracker.process(&frame).expect("process")
}

fn run_clip(config: TrackerConfig) -> Vec<FrameResult> {
    let mut tracker = Tracker::new(config).expect("tracker");
    frames()
        .iter()
        .enumerate()
        .map(|(n, img)| process(&mut tracker, img, n, PixelFormat::Bgr8))
        .collect()
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[test]
fn webcam_clip_face_and_both_irises_in_nearly_every_frame() {
    let results = run_clip(config());
    let with_face = results.iter().filter(|r| r.face.is_some()).count();
    assert!(
        with_face * 100 >= results.len() * 98,
        "face in {with_face}/{} frames",
        results.len()
    );
    for r in results.iter().filter(|r| r.face.is_some()) {
        let face = r.face.expect("face");
        let (Some(left), Some(right)) = (&r.left_eye, &r.right_eye) else {
            panic!(
                "frame at {} ms has a face but not both eyes",
                r.timestamp_ms
            );
        };
        // The subject's left eye is on the image's right side of an unmirrored frame.
        assert!(left.center.x > right.center.x);
        for e in [left, right] {
            let b = face.bbox;
            assert!(
                e.center.x > b.x && e.center.x < b.x + b.w,
                "iris outside the face box"
            );
            assert!(
                e.center.y > b.y && e.center.y < b.y + b.h,
                "iris outside the face box"
            );
            assert!(
                e.radius > 2.0 && e.radius < 20.0,
                "iris radius {}",
                e.radius
            );
            assert_eq!(e.landmarks.len(), 71);
            assert_eq!(e.iris.len(), 5);
            assert!(e.corners.outer.dist(e.corners.inner) > 10.0);
        }
        let g = r.gaze.expect("gaze with a face");
        assert!((0.0..=1.0).contains(&g.confidence));
        assert!(g.horizontal.abs() <= 1.5 && g.vertical.abs() <= 1.5);
        assert!(r.head_pose.is_some());
    }
    // The person mostly faces the screen: the head is rarely reported as turned away.
    let away = results.iter().filter(|r| r.attention.head_away).count();
    assert!(away * 10 < results.len(), "head away in {away} frames");
}

#[test]
fn iris_centres_are_stable_between_consecutive_frames() {
    let results = run_clip(config());
    // Head motion moves both irises alike; jitter or a lost eye shows up as a difference
    // between the two eyes' frame-to-frame motion.
    let mut steps = Vec::new();
    let mut relative = Vec::new();
    for w in results.windows(2) {
        if let (Some(a), Some(b), Some(c), Some(d)) = (
            &w[0].left_eye,
            &w[1].left_eye,
            &w[0].right_eye,
            &w[1].right_eye,
        ) {
            let (lx, ly) = (b.center.x - a.center.x, b.center.y - a.center.y);
            let (rx, ry) = (d.center.x - c.center.x, d.center.y - c.center.y);
            steps.push(a.center.dist(b.center));
            relative.push(((lx - rx).powi(2) + (ly - ry).powi(2)).sqrt());
        }
    }
    assert!(steps.len() > 240);
    let med = median(steps);
    let rel_med = median(relative.clone());
    relative.sort_by(f32::total_cmp);
    let rel_p99 = relative[relative.len() * 99 / 100];
    assert!(med < 1.5, "median frame-to-frame iris motion {med:.2} px");
    assert!(
        rel_med < 0.6,
        "median left/right motion difference {rel_med:.2} px"
    );
    assert!(
        rel_p99 < 4.0,
        "p99 left/right motion difference {rel_p99:.2} px"
    );
}

#[test]
fn tracking_mode_agrees_with_detecting_every_frame() {
    let tracked = run_clip(config());
    let detected = run_clip(TrackerConfig {
        detect_every_frame: true,
        ..config()
    });
    assert!(detected.iter().all(|r| r.detected || r.face.is_none()));
    assert!(
        tracked.iter().filter(|r| r.detected).count() < 40,
        "tracking mode re-detects too often"
    );
    let mut d = Vec::new();
    for (a, b) in tracked.iter().zip(&detected) {
        if let (Some(x), Some(y)) = (&a.left_eye, &b.left_eye) {
            d.push(x.center.dist(y.center));
        }
    }
    assert!(median(d) < 1.5);
    // Head pose between detections (eye corners + optical-flow nose and mouth) stays close to
    // the pose from fresh detector keypoints on every frame.
    let mut yaw = Vec::new();
    let mut pitch = Vec::new();
    for (a, b) in tracked.iter().zip(&detected) {
        if let (Some(x), Some(y)) = (a.head_pose, b.head_pose) {
            yaw.push((x.yaw_deg - y.yaw_deg).abs());
            pitch.push((x.pitch_deg - y.pitch_deg).abs());
        }
    }
    let (my, mp) = (median(yaw), median(pitch));
    assert!(
        my < 3.0 && mp < 4.0,
        "head pose drift: yaw {my:.1}°, pitch {mp:.1}°"
    );
}

#[test]
fn same_frames_give_the_same_results() {
    let a = run_clip(config());
    let b = run_clip(config());
    assert_eq!(a, b, "processing is deterministic");
}

#[test]
fn every_pixel_format_and_strided_views_find_the_same_eyes() {
    let img = &frames()[0];
    let mut reference_tracker = Tracker::new(config()).expect("tracker");
    let reference = process(&mut reference_tracker, img, 0, PixelFormat::Bgr8);
    let eye = reference.left_eye.expect("left eye").center;
    for (code, format) in [
        (imgproc::COLOR_BGR2RGB, PixelFormat::Rgb8),
        (imgproc::COLOR_BGR2BGRA, PixelFormat::Bgra8),
        (imgproc::COLOR_BGR2RGBA, PixelFormat::Rgba8),
        (imgproc::COLOR_BGR2GRAY, PixelFormat::Gray8),
    ] {
        let mut converted = Mat::default();
        imgproc::cvt_color_def(img, &mut converted, code).expect("convert");
        let mut t = Tracker::new(config()).expect("tracker");
        let r = process(&mut t, &converted, 0, format);
        let got = r
            .left_eye
            .unwrap_or_else(|| panic!("{format:?}: no eye"))
            .center;
        let tol = if format == PixelFormat::Gray8 {
            2.0
        } else {
            0.05
        };
        assert!(got.dist(eye) < tol, "{format:?}: {got:?} vs {eye:?}");
    }
    // A view into a wider buffer: rows of 640 BGR pixels inside rows of 700 pixels.
    let data = img.data_bytes().expect("bytes");
    let stride = 700 * 3;
    let mut wide = vec![0u8; stride * 480];
    for y in 0..480 {
        wide[y * stride..y * stride + 640 * 3]
            .copy_from_slice(&data[y * 640 * 3..(y + 1) * 640 * 3]);
    }
    let frame = Frame::new(&wide, 640, 480, stride, PixelFormat::Bgr8, 0.0).expect("strided");
    let mut t = Tracker::new(config()).expect("tracker");
    let r = t.process(&frame).expect("process");
    assert!(r.left_eye.expect("eye").center.dist(eye) < 0.05);
}

#[test]
fn blank_and_noise_frames_have_no_face_and_no_error() {
    let mut t = Tracker::new(config()).expect("tracker");
    let black = vec![0u8; 320 * 240 * 3];
    let white = vec![255u8; 320 * 240 * 3];
    // Deterministic pseudo-random noise (xorshift).
    let mut x = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..320 * 240 * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    for (i, buf) in [&black, &white, &noise].into_iter().enumerate() {
        let f = Frame::packed(buf, 320, 240, PixelFormat::Bgr8, i as f64).expect("frame");
        let r = t.process(&f).expect("no error");
        assert!(r.face.is_none() && r.gaze.is_none());
        assert_eq!(r.direction, Direction::NoFace);
        assert!(!r.attention.face_present);
    }
    // Tiny and extreme aspect frames are fine too.
    for (w, h) in [(1u32, 1u32), (2000, 3), (3, 2000)] {
        let buf = vec![128u8; (w * h) as usize];
        let f = Frame::packed(&buf, w, h, PixelFormat::Gray8, 0.0).expect("frame");
        assert!(t.process(&f).expect("no error").face.is_none());
    }
}

#[test]
fn a_face_after_no_face_is_found_again() {
    let mut t = Tracker::new(config()).expect("tracker");
    let black = vec![0u8; 640 * 480 * 3];
    let img = &frames()[10];
    assert!(process(&mut t, img, 0, PixelFormat::Bgr8).face.is_some());
    let f = Frame::packed(&black, 640, 480, PixelFormat::Bgr8, 40.0).expect("frame");
    // While tracking, a black frame must not keep a ghost face for long.
    let mut ghost = 0;
    for i in 0..40 {
        let f2 = Frame::packed(&black, 640, 480, PixelFormat::Bgr8, 40.0 * i as f64).expect("f");
        if t.process(&f2).expect("process").face.is_some() {
            ghost += 1;
        }
    }
    let _ = f;
    assert!(ghost <= 1, "ghost face kept for {ghost} black frames");
    assert!(process(&mut t, img, 100, PixelFormat::Bgr8).face.is_some());
}

#[test]
fn bad_model_path_and_bad_config_are_typed_errors() {
    let mut cfg = config();
    cfg.models.iris_landmark = Some("/nonexistent/iris.onnx".into());
    assert!(matches!(Tracker::new(cfg), Err(GazeError::Model { .. })));
    let cfg = TrackerConfig {
        min_face_score: 2.0,
        ..config()
    };
    assert!(matches!(Tracker::new(cfg), Err(GazeError::Config(_))));
    // A file that is not ONNX.
    let mut cfg = config();
    cfg.models.face_detector = Some(CLIP.into());
    assert!(matches!(Tracker::new(cfg), Err(GazeError::Model { .. })));
}
