//! Writes the seed corpus from real code output (ignored by default; the files are
//! committed): `cargo test -p gaze-fuzz --test seeds -- --ignored`.
//!
//! The image seeds (`corpus/image_decode/*.bin`: a limits byte, then a JPEG / PNG frame of
//! the committed webcam clip scaled down with ffmpeg) are the input for the frame and WS
//! seeds written here.

use std::path::{Path, PathBuf};

use gaze_core::{
    ActivityConfig, AttentionEvidence, Calibration, CalibrationSample, GazeFeatures, GazeSample,
    Point, Session,
};
use gaze_server::accounting::LiveAccount;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn write(target: &str, name: &str, data: &[u8]) {
    std::fs::write(corpus(target).join(name), data).expect("write seed");
}

fn image_seed(name: &str) -> Vec<u8> {
    std::fs::read(corpus("image_decode").join(name)).expect("image seed")[1..].to_vec()
}

/// A reading-like trace at 30 Hz: fixations stepping right along lines, return sweeps,
/// a blink and a look away.
fn reading(n: usize) -> Vec<GazeSample> {
    (0..n)
        .map(|i| {
            let t = 1_000.0 + i as f64 * 33.0;
            let word = (i / 7) % 12;
            let line = (i / 84) % 10;
            let x = 300.0 + word as f64 * 70.0 + (i % 3) as f64;
            let y = 250.0 + line as f64 * 40.0;
            let mut s = GazeSample::new(t, x, y);
            if (150..154).contains(&i) {
                s = GazeSample::invalid(
                    t,
                    AttentionEvidence {
                        face_present: true,
                        eyes_closed: true,
                        ..AttentionEvidence::default()
                    },
                );
            }
            if (220..260).contains(&i) {
                s = GazeSample::invalid(t, AttentionEvidence::default());
            }
            s
        })
        .collect()
}

fn grid(n: usize) -> Vec<CalibrationSample> {
    (0..n)
        .map(|k| {
            let gx = (k % 3) as f64 - 1.0;
            let gy = (k / 3 % 3) as f64 - 1.0;
            CalibrationSample {
                features: GazeFeatures {
                    yaw_deg: 15.0 * gx + 0.3 * (k as f64 * 1.7).sin(),
                    pitch_deg: -10.0 + 8.0 * gy + 0.3 * (k as f64 * 2.3).cos(),
                    horizontal: 0.4 * gx,
                    vertical: 0.3 * gy,
                    head_yaw_deg: 2.0 * (k as f64).sin(),
                    head_pitch_deg: 1.0,
                },
                target: Point::new((960.0 + 900.0 * gx) as f32, (540.0 - 500.0 * gy) as f32),
            }
        })
        .collect()
}

#[test]
#[ignore = "writes the committed seed corpus"]
fn write_seeds() {
    // frame: header + pixels of the 96x72 clip frame (RGB, packed), a strided gray view of
    // it, and one with an explicit face.
    let img = image::load_from_memory(&image_seed("clip_96x72_max64.png.bin"))
        .expect("png")
        .into_rgb8();
    let (w, h) = img.dimensions();
    let mut packed = vec![0u8, w as u8, h as u8, 2, 0, 0];
    packed.extend([0u8; 18]);
    packed.extend(img.as_raw());
    write("frame", "clip_96x72_rgb_packed", &packed);
    let gray: Vec<u8> = img.pixels().map(|p| p[1]).collect();
    // mode 2 = stride padding byte; gray rows of 96 inside stride 96 + 0.
    let mut strided = vec![2u8, w as u8, h as u8, 0, 0, 0x10, 0x27];
    strided.extend([0u8; 18]);
    strided.extend(&gray);
    write("frame", "clip_96x72_gray_ts10000", &strided);
    let mut with_face = vec![0x20u8, w as u8, h as u8, 2, 0, 0];
    // bbox then the six keypoints (one byte each, see frame::run), score.
    with_face.extend([
        150, 140, 140, 150, 100, 90, 140, 90, 120, 110, 120, 130, 80, 100, 160, 100, 200, 0,
    ]);
    with_face.extend(img.as_raw());
    write("frame", "clip_96x72_rgb_with_face", &with_face);
    let mut tiny = vec![0u8, 2, 2, 3, 0, 0];
    tiny.extend([0u8; 18]);
    tiny.extend(1..=16u8);
    write("frame", "tiny_2x2_bgra", &tiny);

    // ws_message: what the web UI and the original client send.
    let jpeg = image_seed("clip_64x48.jpg.bin");
    let b64 = {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in jpeg.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..4 {
                if k <= c.len() {
                    s.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    };
    let text = |j: &str| [&[3u8, 0][..], j.as_bytes()].concat();
    write(
        "ws_message",
        "image_data_url",
        &text(&format!(
            r#"{{"image": "data:image/jpeg;base64,{b64}", "timestamp": 1732612345678.5}}"#
        )),
    );
    write(
        "ws_message",
        "image_bare_base64",
        &text(&format!(r#"{{"image": "{b64}"}}"#)),
    );
    write("ws_message", "end", &text(r#"{"type": "end"}"#));
    write("ws_message", "ping", &text(r#"{"type":"ping"}"#));
    write(
        "ws_message",
        "token",
        &text(r#"{"token": "0123456789abcdef"}"#),
    );
    write("ws_message", "bad_json", &text(r#"{"image": 12, "#));
    write(
        "ws_message",
        "binary_jpeg",
        &[&[0u8, 0][..], &jpeg].concat(),
    );

    // calibration_json: fitted calibrations (linear and quadratic basis).
    let cal9 = Calibration::fit(&grid(9), 1920.0, 1080.0).expect("fit 9");
    write(
        "calibration_json",
        "fit_9_quadratic.json",
        cal9.to_json().expect("json").as_bytes(),
    );
    let mut cal5 = Calibration::fit(&grid(5), 1440.0, 900.0).expect("fit 5");
    cal5.extra
        .insert("activity".into(), serde_json::json!({"switch_margin": 0.1}));
    write(
        "calibration_json",
        "fit_5_linear_extra.json",
        cal5.to_json().expect("json").as_bytes(),
    );

    // report_json: a report, a session snapshot and a server checkpoint state.
    let mut session = Session::new("seed", ActivityConfig::default());
    for s in reading(400) {
        session.push_sample(s);
    }
    let report = session.report();
    write(
        "report_json",
        "report.json",
        serde_json::to_string(&report).expect("json").as_bytes(),
    );
    write(
        "report_json",
        "snapshot.json",
        session.snapshot_json().expect("json").as_bytes(),
    );
    let mut account = LiveAccount::new("seed", Some((1920.0, 1080.0)));
    for t in 0..20 {
        account.push(&gaze_core::FrameResult {
            timestamp_ms: 1_000.0 + f64::from(t) * 40.0,
            ..Default::default()
        });
    }
    write(
        "report_json",
        "checkpoint_state.json",
        account.snapshot().to_string().as_bytes(),
    );

    // activity_stream: the reading trace, and a short one with bad times mixed in.
    let screen = (1920.0, 1080.0);
    write(
        "activity_stream",
        "reading_400",
        &gaze_fuzz::activity_stream::encode(0, &reading(400), screen),
    );
    let mut odd = gaze_fuzz::activity_stream::encode(1, &reading(40), (1920.0, 1080.0));
    // NaN time, backwards, +inf, a gap, a frame with a blink event.
    odd.extend([
        11, 0, 100, 100, 3, 0, 10, 50, 100, 100, 3, 0, 12, 0, 1, 1, 3, 0, 14, 5, 90, 90, 3, 0,
    ]);
    odd.extend([0, 20, 100, 100, 0b0110_0011, 40]);
    write("activity_stream", "reading_40_bad_times", &odd);
}
