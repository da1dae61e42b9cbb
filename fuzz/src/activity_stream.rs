//! `activity_stream`: arbitrary sample sequences (NaN and infinite times and coordinates,
//! duplicate and backwards timestamps, gaps, huge values) through the streaming
//! [`Session`] (both [`Session::push_sample`] and [`Session::push_frame`]), checkpointed and
//! restored half-way, and through the batch [`classify_trace`] / [`label_samples`].
//!
//! Invariants: a sample is accepted exactly when its time is finite, within
//! [`MAX_ABS_TIME_MS`] and after the last accepted one; totals stay finite and
//! non-negative and sum to the time since the first accepted sample; the restored session
//! continues exactly like the original; the report's buckets add up to its duration, its
//! timeline is ordered, and it reads back from JSON unchanged.
//!
//! Input: `[config u8]` then 6 bytes per sample (see [`encode`]).

use gaze_core::activity::{MAX_ABS_TIME_MS, classify_trace, classify_trace_labels, label_samples};
use gaze_core::{
    ActivityConfig, AttentionEvidence, Blink, BlinkEvent, Direction, FrameResult, Gaze, GazeSample,
    LiveStatus, ScreenGeometry, Session, SessionReport,
};

use crate::{Reader, close};

/// Samples per input at most (keeps one execution short).
pub const MAX_SAMPLES: usize = 4096;

/// How the next sample is delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// As a [`GazeSample`] through [`Session::push_sample`].
    Sample(GazeSample),
    /// As a [`FrameResult`] through [`Session::push_frame`].
    Frame(Box<FrameResult>),
}

impl Step {
    fn t_ms(&self) -> f64 {
        match self {
            Step::Sample(s) => s.t_ms,
            Step::Frame(f) => f.timestamp_ms,
        }
    }
}

fn config(sel: u8) -> ActivityConfig {
    match sel % 4 {
        0 => ActivityConfig::default(),
        1 => ActivityConfig::with_geometry(ScreenGeometry::from_px(1920.0, 1080.0)),
        2 => ActivityConfig::with_geometry(ScreenGeometry::from_px(1.0, 1.0)),
        _ => ActivityConfig::with_geometry(ScreenGeometry::from_px(f64::NAN, -3.0)),
    }
}

/// Decodes the input into a config and a sequence of steps. Per sample:
/// `[time mode][time amount][x][y][flags][blink]`. Time mode (low 4 bits): 0–9 forward by
/// `2 × amount` ms (0: duplicate), 10 backwards by `3 × amount`, 11 NaN, 12 +inf, 13 −inf,
/// 14 a gap of `amount` s, 15 an absolute time near ±[`MAX_ABS_TIME_MS`]. x, y: one byte
/// over the screen and beyond, or NaN / ±inf / ±1e300. Flags: valid, face present, eyes
/// closed, head away, gaze off screen, deliver as a frame, with a blink event, blink closed.
pub fn decode(data: &[u8]) -> (ActivityConfig, Vec<Step>) {
    let mut r = Reader::new(data);
    let cfg = config(r.u8());
    let (w, h) = (cfg.geometry.width_px, cfg.geometry.height_px);
    let mut t = 1_000.0;
    let mut steps = Vec::new();
    while !r.is_empty() && steps.len() < MAX_SAMPLES {
        let mode = r.u8();
        let amount = f64::from(r.u8());
        let sample_t = match mode & 15 {
            0..=9 => {
                t += 2.0 * amount;
                t
            }
            10 => {
                t -= 3.0 * amount;
                t
            }
            11 => f64::NAN,
            12 => f64::INFINITY,
            13 => f64::NEG_INFINITY,
            14 => {
                t += 1000.0 * amount;
                t
            }
            _ => {
                let sign = if mode & 16 != 0 { -1.0 } else { 1.0 };
                sign * (MAX_ABS_TIME_MS + (amount - 128.0) * 1e3)
            }
        };
        let x = r.f64_in(-0.2 * w, 1.2 * w);
        let y = r.f64_in(-0.2 * h, 1.2 * h);
        let flags = r.u8();
        let blink = r.u8();
        let evidence = AttentionEvidence {
            face_present: flags & 2 != 0,
            eyes_closed: flags & 4 != 0,
            head_away: flags & 8 != 0,
            gaze_off_screen: flags & 16 != 0,
        };
        let valid = flags & 1 != 0;
        if flags & 32 == 0 {
            let s = if valid {
                GazeSample {
                    t_ms: sample_t,
                    x,
                    y,
                    valid: true,
                    evidence,
                }
            } else {
                GazeSample::invalid(sample_t, evidence)
            };
            steps.push(Step::Sample(s));
        } else {
            let dur = f64::from(blink) * 3.0;
            let event = (flags & 64 != 0).then_some(BlinkEvent {
                start_ms: sample_t - dur,
                end_ms: if blink == 255 { f64::NAN } else { sample_t },
                duration_ms: dur,
            });
            let frame = FrameResult {
                timestamp_ms: sample_t,
                width: 640,
                height: 480,
                gaze: valid.then(|| Gaze {
                    horizontal: ((x / w) * 2.0 - 1.0) as f32,
                    vertical: ((y / h) * 2.0 - 1.0) as f32,
                    screen: (blink & 1 != 0).then_some(gaze_core::Point::new(x as f32, y as f32)),
                    direction: Direction::Center,
                    ..Gaze::default()
                }),
                direction: if evidence.face_present {
                    Direction::Center
                } else {
                    Direction::NoFace
                },
                blink: Blink {
                    closed: flags & 128 != 0,
                    closed_ms: dur,
                    event,
                    count: 0,
                    ..Blink::default()
                },
                attention: evidence,
                ..FrameResult::default()
            };
            steps.push(Step::Frame(Box::new(frame)));
        }
    }
    (cfg, steps)
}

/// Encodes gaze samples in [`decode`]'s format (time steps of at most 510 ms forward;
/// coordinates quantised to one byte). For seed inputs.
pub fn encode(config_sel: u8, samples: &[GazeSample], screen: (f64, f64)) -> Vec<u8> {
    let mut out = vec![config_sel];
    let mut t = 1_000.0;
    let q = |v: f64, side: f64| -> u8 {
        if v.is_nan() {
            248
        } else {
            (((v + 0.2 * side) / (1.4 * side)) * 247.0)
                .round()
                .clamp(0.0, 247.0) as u8
        }
    };
    for s in samples {
        let step = ((s.t_ms - t) / 2.0).round().clamp(0.0, 255.0);
        t += 2.0 * step;
        out.push(0);
        out.push(step as u8);
        out.push(q(s.x, screen.0));
        out.push(q(s.y, screen.1));
        let e = s.evidence;
        out.push(
            u8::from(s.valid)
                | u8::from(e.face_present) << 1
                | u8::from(e.eyes_closed) << 2
                | u8::from(e.head_away) << 3
                | u8::from(e.gaze_off_screen) << 4,
        );
        out.push(0);
    }
    out
}

fn push(s: &mut Session, step: &Step) -> LiveStatus {
    match step {
        Step::Sample(g) => s.push_sample(*g),
        Step::Frame(f) => s.push_frame(f),
    }
}

fn check_status(st: &LiveStatus, first: Option<f64>, last: Option<f64>) {
    let t = &st.totals;
    for v in [
        t.reading_time,
        t.browsing_time,
        t.watching_time,
        t.other_time,
        t.distraction_time,
        t.no_data_time,
    ] {
        assert!(v.is_finite() && v >= 0.0, "bad total {v} in {st:?}");
    }
    assert!(close(st.duration, t.total_time(), 1e-12, 0.0));
    if let (Some(a), Some(b)) = (first, last) {
        assert!(
            close(st.duration, (b - a) / 1000.0, 1e-9, 1e-6),
            "duration {} vs span {}",
            st.duration,
            (b - a) / 1000.0
        );
    }
}

fn check_report(r: &SessionReport, samples: usize) {
    let sum = r.focus_time + r.distraction_time + r.no_data_time;
    assert!(
        close(sum, r.duration, 1e-9, 1e-6),
        "{sum} vs {}",
        r.duration
    );
    let focus = r.session_report.reading_time
        + r.session_report.browsing_time
        + r.session_report.watching_time
        + r.other_time;
    assert!(close(focus, r.focus_time, 1e-9, 1e-6));
    assert!(r.blink_rate_per_min.is_finite() && r.blink_rate_per_min >= 0.0);
    assert!(r.mean_fixation_ms.is_finite() && r.mean_fixation_ms >= 0.0);
    assert!(r.blink_count as usize <= samples);
    let mut prev_end = f64::NEG_INFINITY;
    for seg in &r.timeline {
        assert!(
            seg.start_ms <= seg.end_ms && seg.start_ms >= prev_end,
            "{:?}",
            r.timeline
        );
        prev_end = seg.end_ms;
    }
    let json = serde_json::to_string(r).expect("report serialises");
    let back: SessionReport = serde_json::from_str(&json).expect("report JSON reads back");
    assert_eq!(&back, r);
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let (cfg, steps) = decode(data);
    let mut session = Session::new("fuzz", cfg.clone());
    let mut restored: Option<Session> = None;
    let (mut first, mut last) = (None::<f64>, None::<f64>);
    let half = steps.len() / 2;
    for (i, step) in steps.iter().enumerate() {
        if i == half {
            let json = session.snapshot_json().expect("snapshot serialises");
            restored = Some(Session::restore_json(&json).expect("snapshot restores"));
        }
        let t = step.t_ms();
        let expect = t.is_finite() && t.abs() <= MAX_ABS_TIME_MS && last.is_none_or(|l| t > l);
        let st = push(&mut session, step);
        assert_eq!(st.accepted, expect, "t={t} last={last:?}");
        if expect {
            first.get_or_insert(t);
            last = Some(t);
        }
        check_status(&st, first, last);
        if let Some(r) = restored.as_mut() {
            let st2 = push(r, step);
            assert_eq!(
                format!("{st:?}"),
                format!("{st2:?}"),
                "restored session diverged"
            );
        }
    }
    let report = session.report();
    check_report(&report, steps.len());
    let fin = session.finish();
    check_report(&fin, steps.len());
    if let Some(mut r) = restored {
        assert_eq!(
            format!("{:?}", r.finish()),
            format!("{fin:?}"),
            "restored report differs"
        );
    }

    let samples: Vec<GazeSample> = steps
        .iter()
        .map(|s| match s {
            Step::Sample(g) => *g,
            Step::Frame(f) => Session::frame_to_sample(f, &cfg),
        })
        .collect();
    let segments = classify_trace(&samples, &cfg);
    for seg in &segments {
        assert!(seg.start_ms <= seg.end_ms);
    }
    let labels = classify_trace_labels(&samples, &cfg);
    assert!(labels.len() <= samples.len());
    let _ = label_samples(&samples, &cfg);
}
