//! Webcam realism on committed data: the MIT webcam clip (a person talking to the camera, not
//! reading) through the tracker and the session accounting, and looking down built from the
//! clip's own per-frame eye evidence.

use gaze_core::blink::{BlinkConfig, BlinkDetector, EyeObservation};
use gaze_core::{
    Activity, ActivityConfig, Direction, Frame, FrameResult, PixelFormat, Session, Tracker,
    TrackerConfig,
};
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio;
use std::sync::OnceLock;

const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
);
const FRAME_MS: f64 = 40.0;

/// Tracker results of every frame of the clip (computed once per test binary).
fn results() -> &'static Vec<FrameResult> {
    static RESULTS: OnceLock<Vec<FrameResult>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let mut cap = videoio::VideoCapture::from_file(CLIP, videoio::CAP_ANY).expect("open clip");
        let mut tracker = Tracker::new(TrackerConfig::default()).expect("tracker");
        let mut out = Vec::new();
        let mut img = Mat::default();
        while cap.read(&mut img).expect("read") && !img.empty() {
            let frame = Frame::packed(
                img.data_bytes().expect("bytes"),
                img.cols() as u32,
                img.rows() as u32,
                PixelFormat::Bgr8,
                out.len() as f64 * FRAME_MS,
            )
            .expect("frame");
            out.push(tracker.process(&frame).expect("process"));
        }
        assert_eq!(out.len(), 250, "the committed clip has 250 frames");
        out
    })
}

#[test]
fn talking_to_the_camera_is_not_reading() {
    let mut session = Session::new("talking", ActivityConfig::default());
    let mut reading_live = 0usize;
    for r in results() {
        if session.push_frame(r).activity == Activity::Reading {
            reading_live += 1;
        }
    }
    let report = session.finish();
    assert!(report.duration > 9.9, "duration {}", report.duration);
    let reading = report.session_report.reading_time;
    assert!(
        reading < 0.1 * report.duration,
        "reading {reading:.2} s of {:.2} s",
        report.duration
    );
    assert!(
        reading_live * 10 < results().len(),
        "{reading_live} frames labelled reading live"
    );
    // The person faces the camera the whole time: focused, and the time goes somewhere.
    assert!(report.focus_time > 0.9 * report.duration, "{report:?}");
    // The same frames replayed as JSON (what `gaze report results.jsonl` does) agree.
    let mut replay = Session::new("replay", ActivityConfig::default());
    for r in results() {
        let back: FrameResult =
            serde_json::from_str(&serde_json::to_string(r).expect("json")).expect("parse");
        replay.push_frame(&back);
    }
    assert_eq!(replay.finish().session_report, report.session_report);
}

#[test]
fn blink_events_on_the_clip_are_plausible() {
    let events: Vec<_> = results().iter().filter_map(|r| r.blink.event).collect();
    // 10 s of a person talking: a few blinks (people blink 10–20 times a minute; the clip
    // shows one clear blink at about 7.6 s), every one a fast close–open.
    assert!(
        (1..=5).contains(&events.len()),
        "{} blink events: {events:?}",
        events.len()
    );
    assert!(
        events
            .iter()
            .any(|e| (7400.0..=7900.0).contains(&e.start_ms)),
        "the blink at ~7.6 s is missing: {events:?}"
    );
    for e in &events {
        assert!(e.duration_ms > 0.0 && e.duration_ms <= 500.0, "{e:?}");
    }
    let closed = results().iter().filter(|r| r.blink.closed).count();
    assert!(closed <= 15, "{closed} frames closed");
    for r in results() {
        assert!(!(r.blink.closed && r.blink.looking_down));
        if r.blink.closed {
            assert_eq!(r.direction, Direction::Closed);
            assert!(r.attention.eyes_closed);
        }
    }
}

/// The clip's per-frame eye evidence, with frames `from..to` turned into a look down:
/// lids lowered to `lid` × their measured openness and the head pitched down by `pitch` degrees.
fn observations(from: usize, to: usize, lid: f32, pitch: Option<f32>) -> Vec<EyeObservation> {
    results()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let open = match (&r.left_eye, &r.right_eye) {
                (Some(a), Some(b)) => Some(0.5 * (a.openness + b.openness)),
                _ => None,
            };
            let head = r.head_pose.map(|p| p.pitch_deg);
            let down = (from..to).contains(&i);
            EyeObservation {
                openness: open.map(|o| if down { o * lid } else { o }),
                head_pitch_deg: match (down, pitch) {
                    (true, Some(d)) => head.map(|p| p - d),
                    (true, None) => None,
                    (false, _) => head,
                },
                iris_visible: Some(true),
            }
        })
        .collect()
}

fn run(obs: &[EyeObservation]) -> Vec<gaze_core::Blink> {
    let mut d = BlinkDetector::new(BlinkConfig::default());
    obs.iter()
        .enumerate()
        .map(|(i, o)| d.observe(i as f64 * FRAME_MS, *o))
        .collect()
}

/// Frames 50..91: a 1.6 s (41-frame) stretch.
const DOWN: (usize, usize) = (50, 91);

#[test]
fn looking_down_with_the_head_pitched_is_neither_closed_nor_a_blink() {
    let out = run(&observations(DOWN.0, DOWN.1, 0.55, Some(15.0)));
    let stretch = &out[DOWN.0..DOWN.1];
    assert!(
        stretch.iter().all(|b| !b.closed),
        "closed frames while looking down"
    );
    let down = stretch.iter().filter(|b| b.looking_down).count();
    assert!(down >= 39, "looking down on {down} of 41 frames");
    let events: Vec<_> = out.iter().filter_map(|b| b.event).collect();
    assert!(
        events.iter().all(
            |e| !(DOWN.0 as f64 * FRAME_MS..=(DOWN.1 + 2) as f64 * FRAME_MS).contains(&e.end_ms)
        ),
        "a blink event from looking down: {events:?}"
    );
    // The clip's real blink is still found.
    assert!(
        events
            .iter()
            .any(|e| (7400.0..=7900.0).contains(&e.start_ms)),
        "{events:?}"
    );
}

#[test]
fn long_lowered_lids_without_head_pose_become_looking_down_not_closed() {
    let out = run(&observations(DOWN.0, DOWN.1, 0.55, None));
    let stretch = &out[DOWN.0..DOWN.1];
    assert!(
        stretch.iter().all(|b| !b.closed),
        "closed frames while looking down"
    );
    // Undecided for at most max_blink_ms (500 ms = 13 frames), then looking down.
    assert!(stretch[14..].iter().all(|b| b.looking_down));
    assert!(
        out.iter()
            .filter_map(|b| b.event)
            .all(|e| e.start_ms < DOWN.0 as f64 * FRAME_MS || e.start_ms > DOWN.1 as f64 * FRAME_MS)
    );
}

#[test]
fn shut_eyes_with_the_head_down_stay_closed_and_are_no_blink() {
    // Dozing off: the lids come together (no iris between them) while the head drops.
    let out = run(&observations(DOWN.0, DOWN.1, 0.15, Some(15.0)));
    let stretch = &out[DOWN.0..DOWN.1];
    assert!(stretch.iter().all(|b| b.closed && !b.looking_down));
    assert!(stretch.last().is_some_and(|b| b.closed_ms >= 1500.0));
    let events: Vec<_> = out.iter().filter_map(|b| b.event).collect();
    assert!(
        events.iter().all(|e| e.start_ms < DOWN.0 as f64 * FRAME_MS
            || e.start_ms > (DOWN.1 + 2) as f64 * FRAME_MS),
        "a 1.6 s closure is no blink: {events:?}"
    );
}

#[test]
fn looking_down_in_a_session_is_distraction_not_eyes_closed() {
    // The clip's frames with a 1.6 s look down (as the tracker reports it) in the middle.
    let mut session = Session::new("down", ActivityConfig::default());
    let blinks_before = results().iter().filter(|r| r.blink.event.is_some()).count();
    for (i, r) in results().iter().enumerate() {
        let mut r = r.clone();
        if (DOWN.0..DOWN.1).contains(&i) {
            r.blink.looking_down = true;
            r.blink.closed = false;
            r.blink.event = None;
            r.direction = Direction::Down;
            r.attention.eyes_closed = false;
            r.attention.gaze_off_screen = true;
        }
        session.push_frame(&r);
    }
    let report = session.finish();
    assert!(report.distraction_time >= 1.0, "{report:?}");
    assert_eq!(report.blink_count as usize, blinks_before);
}
