//! Runs the tracker over a video and prints one JSON line per frame (gaze, direction, activity,
//! attention), then the session report (the same JSON the server returns from `/session/end`).
//!
//! ```text
//! cargo run --release -p gaze-examples --bin track -- VIDEO [--draw OUT_DIR] [--every-frame]
//! ```
use gaze_core::{ActivityConfig, Frame, PixelFormat, Session, Tracker, TrackerConfig};
use opencv::core::{Mat, Point as CvPoint, Scalar};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc, videoio};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("track: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: track VIDEO [--draw OUT_DIR] [--every-frame]")?
        .clone();
    let draw = args
        .iter()
        .position(|a| a == "--draw")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let config = TrackerConfig {
        detect_every_frame: args.iter().any(|a| a == "--every-frame"),
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config)?;
    let mut cap = videoio::VideoCapture::from_file(&path, videoio::CAP_ANY)?;
    if !cap.is_opened()? {
        return Err(format!("cannot open {path}").into());
    }
    let fps = cap.get(videoio::CAP_PROP_FPS)?;
    let fps = if fps > 1.0 { fps } else { 25.0 };
    let mut session = Session::new("track-example", ActivityConfig::default());
    let mut img = Mat::default();
    let (mut n, mut with_face) = (0u32, 0u32);
    while cap.read(&mut img)? && !img.empty() {
        let t = n as f64 * 1000.0 / fps;
        let step = img.step1(0)? * img.elem_size1();
        let frame = Frame::new(
            img.data_bytes()?,
            img.cols() as u32,
            img.rows() as u32,
            step,
            PixelFormat::Bgr8,
            t,
        )?;
        let r = tracker.process(&frame)?;
        let live = session.push_frame(&r);
        if r.face.is_some() {
            with_face += 1;
        }
        let g = r.gaze;
        println!(
            "{}",
            serde_json::json!({
                "frame": n,
                "t_ms": t,
                "face": r.face.map(|f| f.bbox),
                "direction": r.direction,
                "horizontal": g.map(|g| g.horizontal),
                "vertical": g.map(|g| g.vertical),
                "yaw_deg": g.map(|g| g.yaw_deg),
                "pitch_deg": g.map(|g| g.pitch_deg),
                "head_pose": r.head_pose,
                "blink": r.blink.closed,
                "confidence": g.map(|g| g.confidence),
                "activity": live.activity,
                "attention": live.attention,
            })
        );
        if let Some(dir) = &draw {
            let mut out = img.clone();
            if let Some(f) = &r.face {
                let b = f.bbox;
                imgproc::rectangle(
                    &mut out,
                    opencv::core::Rect::new(b.x as i32, b.y as i32, b.w as i32, b.h as i32),
                    Scalar::new(0.0, 255.0, 0.0, 0.0),
                    1,
                    imgproc::LINE_8,
                    0,
                )?;
            }
            for (eye, color) in [
                (&r.right_eye, Scalar::new(255.0, 0.0, 0.0, 0.0)),
                (&r.left_eye, Scalar::new(0.0, 0.0, 255.0, 0.0)),
            ] {
                if let Some(e) = eye {
                    for (i, p) in e.landmarks.iter().take(16).enumerate() {
                        let c = if i == 0 {
                            Scalar::new(0.0, 255.0, 255.0, 0.0)
                        } else {
                            color
                        };
                        imgproc::circle(
                            &mut out,
                            CvPoint::new(p.x as i32, p.y as i32),
                            1,
                            c,
                            -1,
                            imgproc::LINE_8,
                            0,
                        )?;
                    }
                    imgproc::circle(
                        &mut out,
                        CvPoint::new(e.center.x as i32, e.center.y as i32),
                        e.radius.max(1.0) as i32,
                        Scalar::new(0.0, 255.0, 0.0, 0.0),
                        1,
                        imgproc::LINE_8,
                        0,
                    )?;
                }
            }
            imgcodecs::imwrite_def(format!("{dir}/frame_{n:04}.png"), &out)?;
        }
        n += 1;
    }
    let report = session.finish();
    eprintln!(
        "frames: {n}, with face: {with_face} ({:.1}%)",
        100.0 * with_face as f64 / n.max(1) as f64
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
