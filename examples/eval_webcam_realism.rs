//! Webcam-realism evaluation over a video (not part of `make test`): reading share through
//! the session accounting, blink events against hand-marked blinks, and closed / blink frames
//! inside hand-marked looking-down stretches.
//!
//! ```text
//! cargo run --release -p gaze-examples --bin eval_webcam_realism -- VIDEO \
//!     [--blinks 7-12,25-29] [--down 30-39] [--dump results.jsonl] [--trace]
//! ```
//!
//! `--blinks` and `--down` are frame ranges (inclusive, 0-based). A blink counts as found
//! when a blink event overlaps its range (±2 frames); events overlapping no marked blink are
//! false. `--dump` writes every `FrameResult` as JSON lines; `--trace` prints one line per
//! frame (openness, head pitch, blink state, activity, classifier scores).
use gaze_core::{ActivityConfig, Frame, FrameResult, PixelFormat, Session, Tracker, TrackerConfig};
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval_webcam_realism: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ranges(arg: Option<&String>) -> Result<Vec<(usize, usize)>, String> {
    let Some(s) = arg else { return Ok(Vec::new()) };
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            let a: usize = a.trim().parse().map_err(|_| format!("bad range {p}"))?;
            let b: usize = b.trim().parse().map_err(|_| format!("bad range {p}"))?;
            Ok((a.min(b), a.max(b)))
        })
        .collect()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let path = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with("--")
                && (*i == 0 || !matches!(args[i - 1].as_str(), "--blinks" | "--down" | "--dump"))
        })
        .map(|(_, a)| a.clone())
        .ok_or("usage: eval_webcam_realism VIDEO [--blinks A-B,..] [--down A-B,..] [--dump FILE] [--trace]")?;
    let blinks = ranges(value("--blinks"))?;
    let down = ranges(value("--down"))?;
    let trace = args.iter().any(|a| a == "--trace");
    let mut dump = match value("--dump") {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let mut tracker = Tracker::new(TrackerConfig::default())?;
    let mut cap = videoio::VideoCapture::from_file(&path, videoio::CAP_ANY)?;
    if !cap.is_opened()? {
        return Err(format!("cannot open {path}").into());
    }
    let fps = cap.get(videoio::CAP_PROP_FPS)?;
    let fps = if fps > 1.0 { fps } else { 25.0 };
    let mut session = Session::new("eval", ActivityConfig::default());
    let mut img = Mat::default();
    let mut results: Vec<FrameResult> = Vec::new();
    while cap.read(&mut img)? && !img.empty() {
        let n = results.len();
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
        if trace {
            let sc = session.classifier().scores();
            let f = session.classifier().features();
            println!(
                "{n:4} open={:.3} pitch={:6.1} closed={} down={} ev={} act={:?} att={:?} h={:.3} v={:.3} scores=[{:.2} {:.2} {:.2}] fwd={:.2} prog={:.2} right={:.2} cyc={:.2} still={:.2} spread={:.2} nfix={}",
                r.left_eye
                    .as_ref()
                    .zip(r.right_eye.as_ref())
                    .map(|(a, b)| 0.5 * (a.openness + b.openness))
                    .unwrap_or(f32::NAN),
                r.head_pose.map(|p| p.pitch_deg).unwrap_or(f32::NAN),
                u8::from(r.blink.closed),
                u8::from(r.blink.looking_down),
                if r.blink.event.is_some() { "E" } else { "-" },
                live.activity,
                live.attention,
                r.gaze.map(|g| g.horizontal).unwrap_or(f32::NAN),
                r.gaze.map(|g| g.vertical).unwrap_or(f32::NAN),
                sc[0],
                sc[1],
                sc[2],
                f.fwd_frac,
                f.progression,
                f.right_frac,
                f.line_cycles,
                f.still_frac,
                f.spread,
                f.n_fix,
            );
        }
        if let Some(w) = dump.as_mut() {
            writeln!(w, "{}", serde_json::to_string(&r)?)?;
        }
        results.push(r);
    }
    let report = session.finish();
    let frame_ms = 1000.0 / fps;
    let frame_of = |ms: f64| (ms / frame_ms).round() as i64;
    let events: Vec<(i64, i64)> = results
        .iter()
        .filter_map(|r| r.blink.event)
        .map(|e| (frame_of(e.start_ms), frame_of(e.end_ms)))
        .collect();
    let overlaps =
        |(a, b): (i64, i64), (c, d): (usize, usize)| a <= d as i64 + 2 && b + 2 >= c as i64;
    let found = blinks
        .iter()
        .filter(|m| events.iter().any(|e| overlaps(*e, **m)))
        .count();
    let false_events = events
        .iter()
        .filter(|e| !blinks.iter().any(|m| overlaps(**e, *m)))
        .count();
    let in_down = |i: usize| down.iter().any(|&(a, b)| (a..=b).contains(&i));
    let down_frames = (0..results.len()).filter(|&i| in_down(i)).count();
    let down_closed = (0..results.len())
        .filter(|&i| in_down(i) && results[i].blink.closed)
        .count();
    let down_events = events
        .iter()
        .filter(|e| {
            down.iter()
                .any(|&(a, b)| (a as i64..=b as i64).contains(&e.0))
        })
        .count();
    let r = &report.session_report;
    println!(
        "{}",
        serde_json::json!({
            "video": path,
            "frames": results.len(),
            "duration_s": report.duration,
            "reading_s": r.reading_time,
            "reading_share": if report.duration > 0.0 { r.reading_time / report.duration } else { 0.0 },
            "browsing_s": r.browsing_time,
            "watching_s": r.watching_time,
            "other_s": report.other_time,
            "distraction_s": report.distraction_time,
            "blink_events": events,
            "blinks_marked": blinks.len(),
            "blinks_found": found,
            "false_blink_events": false_events,
            "down_frames": down_frames,
            "down_closed_frames": down_closed,
            "down_blink_events": down_events,
        })
    );
    Ok(())
}
