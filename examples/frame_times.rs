//! Prints one JSON line per frame of a video: processing time (ms, single thread) and both iris
//! centres. Used by `examples/compare_mediapipe.py` for the side-by-side with MediaPipe.
//!
//! ```text
//! cargo run --release -p gaze-examples --bin frame_times -- VIDEO [--every-frame] [--repeat N]
//!     [--reuse MAX_DIFF] [--engine auto|openvino|opencv] [--float-iris]
//! ```
//! `--float-iris` runs the float iris network on OpenVINO too (default: the int8 one).
//! The engine that ran is printed on stderr.
use gaze_core::{EngineChoice, Frame, InferenceConfig, PixelFormat, Tracker, TrackerConfig};
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frame_times: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with("--")
                && a.parse::<f32>().is_err()
                && (*i == 0 || args[i - 1] != "--engine")
        })
        .map(|(_, a)| a)
        .ok_or("usage: frame_times VIDEO [--every-frame] [--repeat N] [--reuse MAX_DIFF]")?
        .clone();
    let repeat: u32 = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    opencv::core::set_num_threads(1)?;
    let mut cap = videoio::VideoCapture::from_file(&path, videoio::CAP_ANY)?;
    let mut frames = Vec::new();
    let mut img = Mat::default();
    while cap.read(&mut img)? && !img.empty() {
        frames.push(img.try_clone()?);
    }
    if frames.is_empty() {
        return Err(format!("no frames in {path}").into());
    }
    let reuse: Option<f32> = args
        .iter()
        .position(|a| a == "--reuse")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok());
    let engine = match args.iter().position(|a| a == "--engine") {
        Some(i) => EngineChoice::parse(args.get(i + 1).ok_or("--engine needs a value")?)?,
        None => EngineChoice::Auto,
    };
    let defaults = TrackerConfig::default();
    let mut tracker = Tracker::new(TrackerConfig {
        inference: InferenceConfig {
            engine,
            iris_int8: !args.iter().any(|a| a == "--float-iris"),
            ..InferenceConfig::default()
        },
        reuse_max_diff: reuse.unwrap_or(defaults.reuse_max_diff),
        detect_every_frame: args.iter().any(|a| a == "--every-frame"),
        ..TrackerConfig::default()
    })?;
    eprintln!("frame_times: engine {}", tracker.engine());
    for pass in 0..repeat {
        tracker.reset();
        for (n, img) in frames.iter().enumerate() {
            let frame = Frame::packed(
                img.data_bytes()?,
                img.cols() as u32,
                img.rows() as u32,
                PixelFormat::Bgr8,
                n as f64 * 40.0,
            )?;
            let t0 = Instant::now();
            let r = tracker.process(&frame)?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let c = |e: &Option<gaze_core::Eye>| e.as_ref().map(|e| [e.center.x, e.center.y]);
            println!(
                "{}",
                serde_json::json!({"pass": pass, "frame": n, "ms": ms, "detected": r.detected,
                    "face": r.face.is_some(),
                    "right_iris": c(&r.right_eye), "left_iris": c(&r.left_eye)})
            );
        }
    }
    Ok(())
}
