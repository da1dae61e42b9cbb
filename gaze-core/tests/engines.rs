//! OpenVINO and OpenCV DNN give the same landmarks on the committed webcam clip, and engine
//! selection fails or falls back as documented.
//!
//! OpenVINO comes from `GAZE_OPENVINO_LIB` (the Makefile points it at the PyPI `openvino`
//! wheel in `.venv`). When that variable is set, OpenVINO must load; when it is unset and no
//! OpenVINO is on the library path, the agreement test says so and checks only the fallback.

use gaze_core::face::FaceDetector;
use gaze_core::iris::{EyeRoi, IrisModel};
use gaze_core::{
    Engine, EngineChoice, Frame, FrameResult, GazeError, InferenceConfig, PixelFormat, Tracker,
    TrackerConfig,
};
use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;
use opencv::videoio;

const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
);

fn frames() -> Vec<Mat> {
    let mut cap = videoio::VideoCapture::from_file(CLIP, videoio::CAP_ANY).expect("open clip");
    let mut out = Vec::new();
    let mut img = Mat::default();
    while cap.read(&mut img).expect("read") && !img.empty() {
        out.push(img.try_clone().expect("clone"));
    }
    assert_eq!(out.len(), 250);
    out
}

fn engine_config(engine: EngineChoice) -> InferenceConfig {
    InferenceConfig {
        engine,
        ..InferenceConfig::default()
    }
}

/// OpenVINO's config, or `None` when it is not installed and not required.
fn openvino() -> Option<InferenceConfig> {
    let cfg = engine_config(EngineChoice::OpenVino);
    match cfg.resolve() {
        Ok(e) => {
            assert_eq!(e, Engine::OpenVino);
            Some(cfg)
        }
        Err(e) if std::env::var_os("GAZE_OPENVINO_LIB").is_none() => {
            eprintln!("OpenVINO not available ({e}); set GAZE_OPENVINO_LIB to test it");
            None
        }
        Err(e) => panic!("GAZE_OPENVINO_LIB is set but OpenVINO does not load: {e}"),
    }
}

#[test]
fn both_engines_give_the_same_faces_and_irises_on_the_webcam_clip() {
    // The same float networks on both engines (OpenVINO's int8 iris network is checked
    // against its float original below).
    let Some(ov) = openvino().map(|c| InferenceConfig {
        iris_int8: false,
        ..c
    }) else {
        return;
    };
    let cv = engine_config(EngineChoice::OpenCv);
    let mut det_cv = FaceDetector::with_inference(None, 0.5, &cv).expect("opencv detector");
    let mut det_ov = FaceDetector::with_inference(None, 0.5, &ov).expect("openvino detector");
    let mut iris_cv = IrisModel::with_inference(None, &cv).expect("opencv iris");
    let mut iris_ov = IrisModel::with_inference(None, &ov).expect("openvino iris");
    assert_eq!(det_cv.engine(), Engine::OpenCv);
    assert_eq!(iris_ov.engine(), Engine::OpenVino);
    let to_rgb = Some(imgproc::COLOR_BGR2RGB);
    let (mut worst_box, mut worst_iris, mut faces, mut eyes) = (0f32, 0f32, 0, 0);
    let clip = frames();
    for img in &clip {
        let a = det_cv.detect(img, to_rgb).expect("opencv detect");
        let b = det_ov.detect(img, to_rgb).expect("openvino detect");
        assert_eq!(a.len(), b.len(), "same number of faces");
        let Some((fa, fb)) = a.first().zip(b.first()) else {
            continue;
        };
        faces += 1;
        for (x, y) in [
            (fa.bbox.x, fb.bbox.x),
            (fa.bbox.y, fb.bbox.y),
            (fa.bbox.w, fb.bbox.w),
            (fa.bbox.h, fb.bbox.h),
        ] {
            worst_box = worst_box.max((x - y).abs());
        }
        // The same crops (from the OpenCV detection) through both iris networks.
        let k = fa.keypoints;
        let (l, r) = if k.right_eye.x <= k.left_eye.x {
            (k.right_eye, k.left_eye)
        } else {
            (k.left_eye, k.right_eye)
        };
        let rois = EyeRoi::pair(l, r, 1.0);
        let crops = iris_cv.crops(img, &rois, to_rgb).expect("crops");
        let ea = iris_cv.infer(&crops, &rois).expect("opencv iris");
        let eb = iris_ov.infer(&crops, &rois).expect("openvino iris");
        for (x, y) in ea.iter().zip(&eb) {
            eyes += 1;
            worst_iris = worst_iris.max(x.iris[0].dist(y.iris[0]));
        }
    }
    eprintln!(
        "{faces} faces, {eyes} eyes: largest face-box difference {worst_box:.4} px, \
         largest iris-centre difference {worst_iris:.4} px"
    );
    assert!(faces >= 245, "faces in {faces}/250 frames");
    assert!(worst_box < 0.5, "face boxes differ by {worst_box} px");
    assert!(worst_iris < 0.05, "iris centres differ by {worst_iris} px");

    // The whole tracker on both engines: same decisions, same eyes.
    let run = |inference: InferenceConfig| {
        track_clip(
            &clip,
            TrackerConfig {
                inference,
                ..TrackerConfig::default()
            },
        )
    };
    let (ra, rb) = (run(cv), run(ov));
    let mut diffs: Vec<f32> = ra
        .iter()
        .zip(&rb)
        .filter_map(|(a, b)| {
            Some(
                a.left_eye
                    .as_ref()?
                    .center
                    .dist(b.left_eye.as_ref()?.center),
            )
        })
        .collect();
    diffs.sort_by(f32::total_cmp);
    assert!(diffs.len() >= 245);
    let med = diffs[diffs.len() / 2];
    eprintln!("tracker: median left-iris difference {med:.4} px");
    assert!(med < 0.05, "tracker median iris difference {med} px");
}

/// Every frame of `clip` (25 fps timestamps) through one tracker built from `config`.
fn track_clip(clip: &[Mat], config: TrackerConfig) -> Vec<FrameResult> {
    let mut t = Tracker::new(config).expect("tracker");
    clip.iter()
        .enumerate()
        .map(|(n, img)| {
            let f = Frame::packed(
                img.data_bytes().expect("bytes"),
                640,
                480,
                PixelFormat::Bgr8,
                n as f64 * 40.0,
            )
            .expect("frame");
            t.process(&f).expect("process")
        })
        .collect()
}

fn percentile(sorted: &[f32], q: f32) -> f32 {
    sorted[((sorted.len() - 1) as f32 * q).round() as usize]
}

#[test]
fn int8_iris_network_stays_within_0_3_px_of_the_float_one_on_the_webcam_clip() {
    let Some(ov) = openvino() else { return };
    let float = InferenceConfig {
        iris_int8: false,
        ..ov.clone()
    };
    let int8 = InferenceConfig {
        iris_int8: true,
        ..ov
    };
    let mut det = FaceDetector::with_inference(None, 0.5, &float).expect("detector");
    let mut iris_f = IrisModel::with_inference(None, &float).expect("float iris");
    let mut iris_q = IrisModel::with_inference(None, &int8).expect("int8 iris");
    let to_rgb = Some(imgproc::COLOR_BGR2RGB);
    let clip = frames();
    // Crops as the tracker makes them while tracking: centred on the (float) irises.
    let mut d = Vec::new();
    for img in &clip {
        let Some(face) = det.detect(img, to_rgb).expect("detect").into_iter().next() else {
            continue;
        };
        let k = face.keypoints;
        let (l, r) = if k.right_eye.x <= k.left_eye.x {
            (k.right_eye, k.left_eye)
        } else {
            (k.left_eye, k.right_eye)
        };
        let first = iris_f
            .run(img, &EyeRoi::pair(l, r, 1.0), to_rgb)
            .expect("float iris");
        let rois = EyeRoi::pair(first[0].iris[0], first[1].iris[0], 1.0);
        let crops = iris_f.crops(img, &rois, to_rgb).expect("crops");
        let a = iris_f.infer(&crops, &rois).expect("float");
        let b = iris_q.infer(&crops, &rois).expect("int8");
        d.extend(a.iter().zip(&b).map(|(x, y)| x.iris[0].dist(y.iris[0])));
    }
    d.sort_by(f32::total_cmp);
    assert!(d.len() >= 490, "{} eyes", d.len());
    let (med, p90, max) = (percentile(&d, 0.5), percentile(&d, 0.9), d[d.len() - 1]);
    eprintln!(
        "int8 vs float iris centres, {} eyes: median {med:.3} px, p90 {p90:.3}, max {max:.3}",
        d.len()
    );
    assert!(med <= 0.15, "median {med} px");
    assert!(p90 <= 0.3, "p90 {p90} px");

    // The whole tracker (crop reuse off, so every frame runs the network): int8 vs float.
    let run = |inference: InferenceConfig| {
        track_clip(
            &clip,
            TrackerConfig {
                inference,
                reuse_max_diff: 0.0,
                ..TrackerConfig::default()
            },
        )
    };
    let (rf, rq) = (run(float), run(int8));
    let mut diffs: Vec<f32> = rf
        .iter()
        .zip(&rq)
        .flat_map(|(a, b)| {
            [
                a.left_eye.as_ref().zip(b.left_eye.as_ref()),
                a.right_eye.as_ref().zip(b.right_eye.as_ref()),
            ]
        })
        .flatten()
        .map(|(a, b)| a.center.dist(b.center))
        .collect();
    diffs.sort_by(f32::total_cmp);
    assert!(diffs.len() >= 490, "{} eyes", diffs.len());
    let (med, p90) = (percentile(&diffs, 0.5), percentile(&diffs, 0.9));
    eprintln!("tracker int8 vs float: median {med:.3} px, p90 {p90:.3}");
    assert!(med <= 0.3, "tracker median {med} px");
}

#[test]
fn auto_without_openvino_falls_back_to_opencv() {
    let empty = std::env::temp_dir().join(format!("gaze-no-openvino-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let t = Tracker::new(TrackerConfig {
        inference: InferenceConfig {
            engine: EngineChoice::Auto,
            openvino_library: Some(empty.clone()),
            ..InferenceConfig::default()
        },
        ..TrackerConfig::default()
    })
    .expect("auto never fails for want of OpenVINO");
    assert_eq!(t.engine(), Engine::OpenCv);
    let _ = std::fs::remove_dir(&empty);
}

#[test]
fn explicit_openvino_with_a_bad_path_is_a_typed_error() {
    for bad in ["/nonexistent/libopenvino_c.so", CLIP] {
        let cfg = TrackerConfig {
            inference: InferenceConfig {
                engine: EngineChoice::OpenVino,
                openvino_library: Some(bad.into()),
                ..InferenceConfig::default()
            },
            ..TrackerConfig::default()
        };
        match Tracker::new(cfg) {
            Err(GazeError::Model { name, message }) => {
                assert_eq!(name, "openvino");
                assert!(message.contains("openvino"), "{message}");
            }
            Err(e) => panic!("{bad}: wrong error {e}"),
            Ok(t) => panic!("{bad}: tracker built on {}", t.engine()),
        }
    }
}

#[test]
fn engine_choice_round_trips_through_json() {
    let c: TrackerConfig =
        serde_json::from_str(r#"{"inference":{"engine":"opencv","threads":2}}"#).expect("json");
    assert_eq!(c.inference.engine, EngineChoice::OpenCv);
    assert_eq!(c.inference.threads, 2);
    assert!(serde_json::from_str::<TrackerConfig>(r#"{"inference":{"engine":"cuda"}}"#).is_err());
}

/// Trackers share OpenVINO's compiled networks: six trackers driven from three threads at
/// once compile at most one copy of each network per core, and a copy that served another
/// tracker leaves nothing behind (two trackers fed the same frames give the same results).
#[test]
fn trackers_share_compiled_openvino_networks() {
    let Some(ov) = openvino() else { return };
    let clip = frames();
    let clip = &clip[..30];
    let config = TrackerConfig {
        inference: ov,
        ..TrackerConfig::default()
    };
    let results: Vec<Vec<Vec<FrameResult>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let config = config.clone();
                s.spawn(move || {
                    // Two trackers per thread, interleaved frame by frame.
                    let mut ts = [
                        Tracker::new(config.clone()).expect("tracker"),
                        Tracker::new(config).expect("tracker"),
                    ];
                    let mut out = vec![Vec::new(), Vec::new()];
                    for (n, img) in clip.iter().enumerate() {
                        for (t, o) in ts.iter_mut().zip(out.iter_mut()) {
                            let f = Frame::packed(
                                img.data_bytes().expect("bytes"),
                                640,
                                480,
                                PixelFormat::Bgr8,
                                n as f64 * 40.0,
                            )
                            .expect("frame");
                            o.push(t.process(&f).expect("process"));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let copies = gaze_core::inference::openvino_compiled_copies();
    eprintln!("compiled copies after 6 trackers on 3 threads ({cores} cores): {copies:?}");
    assert!(copies.len() >= 2, "face and iris networks: {copies:?}");
    for (name, n) in &copies {
        assert!(
            *n >= 1 && *n <= cores,
            "{name}: {n} compiled copies on {cores} cores"
        );
    }
    let json = |r: &FrameResult| serde_json::to_string(r).expect("json");
    for per_thread in &results {
        assert_eq!(per_thread[0].len(), clip.len());
        assert!(per_thread[0].iter().filter(|r| r.face.is_some()).count() >= 25);
        for (a, b) in per_thread[0].iter().zip(&per_thread[1]) {
            assert_eq!(json(a), json(b), "same frames, same results");
        }
    }
    for other in &results[1..] {
        for (a, b) in results[0][0].iter().zip(&other[0]) {
            assert_eq!(
                json(a),
                json(b),
                "same frames on another thread, same results"
            );
        }
    }
    // Several callers growing the pools at once (e.g. several servers in one process) while
    // copies are in use must all return: none waits for a copy another one holds.
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(gaze_core::inference::openvino_prepare_copies(cores).is_ok());
        });
    }
    let mut busy = Tracker::new(config).expect("tracker");
    let f = Frame::packed(
        clip[0].data_bytes().expect("bytes"),
        640,
        480,
        PixelFormat::Bgr8,
        0.0,
    )
    .expect("frame");
    busy.process(&f).expect("process while the pools grow");
    for _ in 0..4 {
        let ok = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("openvino_prepare_copies returned (no deadlock)");
        assert!(ok, "openvino_prepare_copies failed");
    }
    for (name, n) in gaze_core::inference::openvino_compiled_copies() {
        assert!(n <= cores, "{name}: {n} copies on {cores} cores");
    }
}
