//! Session accounting on constructed traces with known answers.

use gaze_activity::activity::{ActivityConfig, GazeSample, ScreenGeometry};
use gaze_activity::{
    Activity, Attention, AttentionEvidence, Blink, BlinkEvent, FrameResult, Gaze, HeatmapPlane,
    Point, Session, SessionReport,
};

const DT: f64 = 1000.0 / 30.0;

fn focused() -> AttentionEvidence {
    AttentionEvidence {
        face_present: true,
        ..AttentionEvidence::default()
    }
}

fn closed() -> AttentionEvidence {
    AttentionEvidence {
        face_present: true,
        eyes_closed: true,
        ..AttentionEvidence::default()
    }
}

fn away() -> AttentionEvidence {
    AttentionEvidence {
        face_present: true,
        head_away: true,
        ..AttentionEvidence::default()
    }
}

/// A slow left-to-right scan (reading-like) at 30 Hz; `ev(t)` gives the evidence.
fn trace(n: usize, ev: impl Fn(f64) -> AttentionEvidence) -> Vec<GazeSample> {
    (0..n)
        .map(|i| {
            let t = i as f64 * DT;
            let x = 300.0 + (t % 3000.0) / 3000.0 * 1200.0;
            let y = 300.0 + ((t / 3000.0).floor() % 10.0) * 40.0;
            let e = ev(t);
            if e.eyes_closed || !e.face_present {
                GazeSample::invalid(t, e)
            } else {
                GazeSample::new(t, x, y).with_evidence(e)
            }
        })
        .collect()
}

fn run(samples: &[GazeSample]) -> SessionReport {
    let mut s = Session::new("s", ActivityConfig::default());
    for x in samples {
        s.push_sample(*x);
    }
    s.finish()
}

fn assert_sums(r: &SessionReport) {
    let a = &r.session_report;
    let focus = a.reading_time + a.browsing_time + a.watching_time + r.other_time;
    assert!(
        (focus - r.focus_time).abs() < 1e-6,
        "focus {focus} vs {}",
        r.focus_time
    );
    let total = r.focus_time + r.distraction_time + r.no_data_time;
    assert!(
        (total - r.duration).abs() < 1e-6,
        "total {total} vs duration {}",
        r.duration
    );
    assert!(((r.ended_at - r.started_at) / 1000.0 - r.duration).abs() < 1e-9);
    let seg: f64 = r
        .timeline
        .iter()
        .map(|s| s.end_ms - s.start_ms)
        .sum::<f64>()
        / 1000.0;
    assert!(
        (seg - r.duration).abs() < 1e-6,
        "timeline {seg} vs {}",
        r.duration
    );
    for w in r.timeline.windows(2) {
        assert!(
            (w[0].end_ms - w[1].start_ms).abs() < 1e-9,
            "timeline not contiguous"
        );
        assert!(
            w[0].activity != w[1].activity || w[0].attention != w[1].attention,
            "adjacent equal segments not merged"
        );
    }
}

#[test]
fn accounting_sums_to_duration() {
    // Mixed: blinks, a long closure, looking away, a gap and a dropout.
    let mut v = trace(1800, |t| match t {
        t if (5000.0..5200.0).contains(&t) => closed(),
        t if (10000.0..13000.0).contains(&t) => closed(),
        t if (20000.0..26000.0).contains(&t) => away(),
        _ => focused(),
    });
    v.retain(|s| !(40000.0..42000.0).contains(&s.t_ms));
    for s in v
        .iter_mut()
        .filter(|s| (50000.0..50800.0).contains(&s.t_ms))
    {
        s.valid = false;
    }
    let r = run(&v);
    assert_sums(&r);
    assert!(r.duration > 59.0 && r.duration < 60.0);
    assert!(r.no_data_time > 2.0, "no data {}", r.no_data_time);
    assert!(
        r.distraction_time > 8.5 && r.distraction_time < 9.2,
        "{}",
        r.distraction_time
    );
}

#[test]
fn gaps_go_to_no_data() {
    let mut v = trace(600, |_| focused());
    // 3 s without samples from 8 s to 11 s.
    v.retain(|s| !(8000.0..11000.0).contains(&s.t_ms));
    let r = run(&v);
    assert_sums(&r);
    // The gap runs from the last sample before 8 s to the first at/after 11 s.
    assert!(
        (r.no_data_time - 3.0).abs() <= DT / 1000.0 + 1e-9,
        "{}",
        r.no_data_time
    );
    assert_eq!(r.distraction_time, 0.0);
    assert!(r.timeline.iter().any(|s| s.attention == Attention::NoData));
}

#[test]
fn short_dropout_keeps_label_long_dropout_is_no_data() {
    let mut v = trace(600, |_| focused());
    for s in v.iter_mut().filter(|s| (3000.0..3300.0).contains(&s.t_ms)) {
        s.valid = false;
    }
    for s in v
        .iter_mut()
        .filter(|s| (10000.0..12000.0).contains(&s.t_ms))
    {
        s.valid = false;
    }
    let r = run(&v);
    assert_sums(&r);
    assert!(
        (r.no_data_time - 2.0).abs() <= DT / 1000.0 + 1e-9,
        "{}",
        r.no_data_time
    );
}

#[test]
fn blink_of_200ms_is_not_distraction() {
    let v = trace(300, |t| {
        if (4000.0..4200.0).contains(&t) {
            closed()
        } else {
            focused()
        }
    });
    let r = run(&v);
    assert_sums(&r);
    assert_eq!(r.distraction_time, 0.0);
    assert_eq!(r.no_data_time, 0.0);
    assert_eq!(r.blink_count, 1);
}

#[test]
fn closure_of_3s_is_distraction() {
    let v = trace(450, |t| {
        if (4000.0..7000.0).contains(&t) {
            closed()
        } else {
            focused()
        }
    });
    let r = run(&v);
    assert_sums(&r);
    assert!(
        (r.distraction_time - 3.0).abs() <= DT / 1000.0 + 1e-9,
        "{}",
        r.distraction_time
    );
    assert_eq!(r.blink_count, 0, "a 3 s closure is not a blink");
}

#[test]
fn looking_away_5s_adds_5s() {
    for (name, ev) in [
        ("head away", away()),
        ("no face", AttentionEvidence::default()),
        (
            "gaze off screen",
            AttentionEvidence {
                face_present: true,
                gaze_off_screen: true,
                ..AttentionEvidence::default()
            },
        ),
    ] {
        let base = run(&trace(600, |_| focused()));
        let v = trace(600, |t| {
            if (6000.0..11000.0).contains(&t) {
                ev
            } else {
                focused()
            }
        });
        let r = run(&v);
        assert_sums(&r);
        let added = r.distraction_time - base.distraction_time;
        assert!(
            (added - 5.0).abs() <= DT / 1000.0 + 1e-9,
            "{name}: added {added}"
        );
        assert!((r.focus_time + 5.0 - base.focus_time).abs() <= DT / 1000.0 + 1e-9);
    }
}

#[test]
fn live_label_turns_distracted_after_threshold() {
    let mut s = Session::new("live", ActivityConfig::default());
    let mut saw_distracted_at = None;
    for x in trace(600, |t| if t >= 6000.0 { away() } else { focused() }) {
        let st = s.push_sample(x);
        if st.attention == Attention::Distracted && saw_distracted_at.is_none() {
            saw_distracted_at = Some(st.t_ms);
        }
        if x.t_ms < 6000.0 + 900.0 {
            assert_eq!(st.attention, Attention::Focused, "at {}", x.t_ms);
        }
    }
    let t = saw_distracted_at.expect("never distracted");
    assert!(
        (7000.0..7000.0 + DT + 1e-9).contains(&t),
        "distracted from {t}"
    );
}

#[test]
fn out_of_order_and_duplicates_are_rejected() {
    let v = trace(300, |_| focused());
    let clean = run(&v);
    let mut s = Session::new("s", ActivityConfig::default());
    for (i, x) in v.iter().enumerate() {
        assert!(s.push_sample(*x).accepted);
        // A duplicate and an older sample after every 10th.
        if i % 10 == 0 && i > 0 {
            assert!(!s.push_sample(*x).accepted);
            let st = s.push_sample(v[i - 1]);
            assert!(!st.accepted);
            assert!(st.rejected > 0);
        }
    }
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(!s.push_sample(GazeSample::new(bad, 10.0, 10.0)).accepted);
    }
    let r = s.finish();
    assert_eq!(r, SessionReport { ..clean });
}

#[test]
fn garbage_input_does_not_panic() {
    let mut s = Session::new("g", ActivityConfig::default());
    let vals = [f64::NAN, f64::INFINITY, -1e308, 1e308, 0.0, -5.0, 1e9];
    let mut t = 0.0;
    for (i, &a) in vals.iter().enumerate() {
        for &b in &vals {
            t += 7.0 + i as f64;
            s.push_sample(GazeSample {
                t_ms: t,
                x: a,
                y: b,
                valid: true,
                evidence: focused(),
            });
        }
    }
    s.push_sample(GazeSample::new(1e300, 1.0, 1.0));
    let r = s.finish();
    assert!(r.duration.is_finite());
    let json = serde_json::to_string(&r).expect("report serialises");
    assert!(!json.contains("null"), "{json}");
    let snap = s.snapshot_json().expect("snapshot serialises");
    Session::restore_json(&snap).expect("restores");
    // Empty session.
    let mut e = Session::new("empty", ActivityConfig::default());
    let r = e.finish();
    assert_eq!(r.duration, 0.0);
    assert!(r.timeline.is_empty());
}

#[test]
fn report_json_field_names_match_the_seed() {
    let r = run(&trace(300, |_| focused()));
    let v: serde_json::Value = serde_json::to_value(&r).expect("json");
    let obj = v.as_object().expect("object");
    for key in [
        "session_id",
        "focus_time",
        "distraction_time",
        "session_report",
        "started_at",
        "ended_at",
        "duration",
        "other_time",
        "no_data_time",
        "blink_count",
        "blink_rate_per_min",
        "fixation_count",
        "mean_fixation_ms",
        "timeline",
    ] {
        assert!(obj.contains_key(key), "missing {key}");
    }
    let sr = obj["session_report"].as_object().expect("session_report");
    let mut keys: Vec<&str> = sr.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["browsing_time", "reading_time", "watching_time"]);
    let seg = obj["timeline"][0].as_object().expect("segment");
    let mut keys: Vec<&str> = seg.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["activity", "attention", "end_ms", "start_ms"]);
    assert!(seg["activity"].is_string() && seg["attention"].is_string());

    // The seed's example parses into a report with those values.
    let seed = r#"{"session_id": "abc", "focus_time": 1400, "distraction_time": 300,
        "session_report": {"reading_time": 800, "browsing_time": 400, "watching_time": 200},
        "started_at": 0, "ended_at": 1700000, "duration": 1700, "other_time": 0,
        "no_data_time": 0, "blink_count": 0, "blink_rate_per_min": 0, "fixation_count": 0,
        "mean_fixation_ms": 0, "timeline": [{"start_ms": 0, "end_ms": 10, "activity": "reading",
        "attention": "focused"}]}"#;
    let p: SessionReport = serde_json::from_str(seed).expect("seed parses");
    assert_eq!(p.session_report.reading_time, 800.0);
    assert_eq!(p.timeline[0].activity, Activity::Reading);
}

#[test]
fn snapshot_restore_resumes_exactly() {
    let v = trace(900, |t| {
        if (12000.0..14000.0).contains(&t) {
            away()
        } else {
            focused()
        }
    });
    let full = run(&v);
    // In-memory snapshot: bit-exact.
    let mut s = Session::new("s", ActivityConfig::default());
    for (i, x) in v.iter().enumerate() {
        s.push_sample(*x);
        if i == 400 || i == 370 {
            s = Session::restore(s.snapshot()).expect("restore");
        }
    }
    assert_eq!(s.finish(), full);
    // Through JSON: same labels and segments; times equal up to float printing (serde_json
    // without its `float_roundtrip` feature may change the last bit of an f64).
    let mut s = Session::new("s", ActivityConfig::default());
    for (i, x) in v.iter().enumerate() {
        s.push_sample(*x);
        if i == 400 || i == 370 {
            // Checkpoint mid-session (370 is inside the looking-away stretch) and resume.
            let json = s.snapshot_json().expect("snapshot");
            s = Session::restore_json(&json).expect("restore");
        }
    }
    let r = s.finish();
    assert_eq!(r.timeline.len(), full.timeline.len());
    for (a, b) in r.timeline.iter().zip(&full.timeline) {
        assert_eq!((a.activity, a.attention), (b.activity, b.attention));
        assert!((a.start_ms - b.start_ms).abs() < 1e-6 && (a.end_ms - b.end_ms).abs() < 1e-6);
    }
    for (a, b) in [
        (r.focus_time, full.focus_time),
        (r.distraction_time, full.distraction_time),
        (
            r.session_report.reading_time,
            full.session_report.reading_time,
        ),
        (
            r.session_report.watching_time,
            full.session_report.watching_time,
        ),
        (r.mean_fixation_ms, full.mean_fixation_ms),
    ] {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert_eq!(r.fixation_count, full.fixation_count);
    let mut bad = Session::new("s", ActivityConfig::default()).snapshot();
    bad.version = 99;
    assert!(Session::restore(bad).is_err());
}

#[test]
fn running_report_does_not_change_state() {
    let v = trace(300, |_| focused());
    let mut s = Session::new("s", ActivityConfig::default());
    for x in &v {
        s.push_sample(*x);
        let r = s.report();
        assert_sums(&r);
    }
    let a = s.report();
    let b = s.finish();
    assert_eq!(a.duration, b.duration);
}

fn frame(t: f64, screen: Option<Point>, h: f32, blink: Option<BlinkEvent>) -> FrameResult {
    FrameResult {
        timestamp_ms: t,
        gaze: Some(Gaze {
            horizontal: h,
            vertical: 0.0,
            screen,
            confidence: 0.9,
            ..Gaze::default()
        }),
        blink: Blink {
            event: blink,
            ..Blink::default()
        },
        attention: focused(),
        ..FrameResult::default()
    }
}

#[test]
fn push_frame_uses_screen_point_or_ratios_and_counts_blink_events() {
    let cfg = ActivityConfig::with_geometry(ScreenGeometry::from_px(1000.0, 500.0));
    let s = Session::frame_to_sample(&frame(0.0, Some(Point::new(12.0, 34.0)), 0.5, None), &cfg);
    assert!(s.valid && s.x == 12.0 && s.y == 34.0);
    let s = Session::frame_to_sample(&frame(0.0, None, 0.5, None), &cfg);
    // Looking toward the image's right = the user's left = screen left.
    assert!(s.valid && (s.x - 250.0).abs() < 1e-6 && (s.y - 250.0).abs() < 1e-6);
    let no_face = FrameResult {
        timestamp_ms: 5.0,
        ..FrameResult::default()
    };
    let s = Session::frame_to_sample(&no_face, &cfg);
    assert!(!s.valid && !s.evidence.face_present);

    let mut sess = Session::new("f", cfg);
    let blink = BlinkEvent {
        start_ms: 900.0,
        end_ms: 1050.0,
        duration_ms: 150.0,
    };
    let long = BlinkEvent {
        start_ms: 2000.0,
        end_ms: 4000.0,
        duration_ms: 2000.0,
    };
    let mut last = None;
    for i in 0..300 {
        let t = i as f64 * DT;
        let ev = match i {
            32 => Some(blink),
            33 => Some(blink), // the same event reported twice is counted once
            130 => Some(long), // a 2 s closure is not a blink
            _ => None,
        };
        last = Some(sess.push_frame(&frame(t, None, (i % 30) as f32 / 30.0, ev)));
    }
    assert_eq!(last.map(|l| l.blink_count), Some(1));
    let r = sess.finish();
    assert_eq!(r.blink_count, 1);
    assert!(
        r.blink_rate_per_min > 5.0 && r.blink_rate_per_min < 7.0,
        "{}",
        r.blink_rate_per_min
    );
    assert_sums(&r);
}

#[test]
fn deterministic() {
    let v = trace(900, |t| {
        if (12000.0..14000.0).contains(&t) {
            away()
        } else {
            focused()
        }
    });
    assert_eq!(run(&v), run(&v));
}

#[test]
fn thresholds_are_independent_per_kind() {
    // Closures count from 500 ms, looking away only from 3 s.
    let cfg = ActivityConfig {
        closed_min_ms: 500.0,
        away_min_ms: 3000.0,
        ..ActivityConfig::default()
    };
    let run_cfg = |v: &[GazeSample]| {
        let mut s = Session::new("t", cfg.clone());
        for x in v {
            s.push_sample(*x);
        }
        s.finish()
    };
    let closed_2s = trace(450, |t| {
        if (4000.0..6000.0).contains(&t) {
            closed()
        } else {
            focused()
        }
    });
    let r = run_cfg(&closed_2s);
    assert!(
        (r.distraction_time - 2.0).abs() <= DT / 1000.0 + 1e-9,
        "{}",
        r.distraction_time
    );
    let away_2s = trace(450, |t| {
        if (4000.0..6000.0).contains(&t) {
            away()
        } else {
            focused()
        }
    });
    assert_eq!(run_cfg(&away_2s).distraction_time, 0.0);
    // Eyes closed, then the head turns away: one stretch, decided by the closure.
    let mixed = trace(450, |t| match t {
        t if (4000.0..4700.0).contains(&t) => closed(),
        t if (4700.0..6000.0).contains(&t) => away(),
        _ => focused(),
    });
    let r = run_cfg(&mixed);
    assert!(
        (r.distraction_time - 2.0).abs() <= DT / 1000.0 + 1e-9,
        "{}",
        r.distraction_time
    );
    assert_sums(&r);
}

#[test]
fn random_streams_keep_the_invariants() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20 {
        let mut s = Session::new(format!("r{round}"), ActivityConfig::default());
        let mut t = 0.0;
        for _ in 0..3000 {
            let r = next();
            // Mostly forward steps of ~33 ms, sometimes gaps, duplicates or steps back.
            t += match r % 50 {
                0 => -200.0,
                1 => 0.0,
                2 => 2500.0,
                _ => 20.0 + (r % 30) as f64,
            };
            let ev = AttentionEvidence {
                face_present: (r >> 8) % 40 != 0,
                eyes_closed: (r >> 16) % 30 == 0,
                head_away: (r >> 24) % 60 == 0,
                gaze_off_screen: (r >> 32) % 80 == 0,
            };
            let x = ((r >> 40) % 2400) as f64 - 200.0;
            let y = ((r >> 52) % 1400) as f64 - 100.0;
            let valid = (r >> 12) % 25 != 0;
            let st = s.push_sample(GazeSample {
                t_ms: t,
                x,
                y,
                valid,
                evidence: ev,
            });
            assert!(st.totals.total_time().is_finite());
        }
        let rep = s.report();
        assert_sums(&rep);
        let fin = s.finish();
        assert_sums(&fin);
        let json = serde_json::to_string(&fin).expect("json");
        assert!(!json.contains("null"));
        Session::restore_json(&s.snapshot_json().expect("snapshot")).expect("restore");
    }
}

#[test]
fn heatmap_over_the_screen_holds_each_sample_until_the_next() {
    // 10 s of the reading-like scan (x 300..1500, y 300..660 on a 1920×1080 screen).
    let v = trace(300, |_| focused());
    let r = run(&v);
    let h = r.gaze_heatmap.as_ref().expect("heatmap");
    assert_eq!(h.plane, HeatmapPlane::Screen);
    assert_eq!((h.cols, h.rows), (32, 18));
    assert_eq!(
        (h.x_min, h.x_max, h.y_min, h.y_max),
        (0.0, 1920.0, 0.0, 1080.0)
    );
    assert_eq!(h.cells.len(), 32 * 18);
    // Every interval but the one after the last sample is counted, all on screen.
    let held = (v.len() - 1) as f64 * DT / 1000.0;
    assert!((h.total() - held).abs() < 1e-9, "{} vs {held}", h.total());
    assert_eq!(h.outside, 0.0);
    // 60 px cells: nothing left of x = 300 (column 5) or above y = 300 (row 5).
    for row in 0..18 {
        for col in 0..32 {
            if !(5..=25).contains(&col) || !(5..=11).contains(&row) {
                assert_eq!(h.cell(col, row), 0.0, "cell {col},{row}");
            }
        }
    }
    assert!(h.cell(10, 5) > 0.0);
    assert_eq!(h.cell(99, 0), 0.0);
}

#[test]
fn heatmap_uses_ratios_without_calibration_and_the_screen_with_it() {
    let cfg = ActivityConfig::with_geometry(ScreenGeometry::from_px(1000.0, 500.0));
    let mut s = Session::new("ratio", cfg.clone());
    for i in 0..100 {
        // Looking at ratio (0.25, 0.0), then a gap of 2 s (not counted), then at (-0.45, 0.45).
        let t = if i < 50 {
            i as f64 * 40.0
        } else {
            4000.0 + i as f64 * 40.0
        };
        let (hz, vt) = if i < 50 { (0.25, 0.0) } else { (-0.45, 0.45) };
        let mut f = frame(t, None, hz, None);
        if let Some(g) = f.gaze.as_mut() {
            g.vertical = vt;
        }
        s.push_frame(&f);
    }
    // One frame beyond the plotted ratios.
    let mut f = frame(9000.0, None, 0.9, None);
    if let Some(g) = f.gaze.as_mut() {
        g.vertical = 0.0;
    }
    s.push_frame(&f);
    s.push_frame(&frame(9040.0, None, 0.0, None));
    let r = s.finish();
    let h = r.gaze_heatmap.expect("heatmap");
    assert_eq!(h.plane, HeatmapPlane::Ratio);
    assert_eq!((h.x_min, h.x_max, h.y_min, h.y_max), (-0.5, 0.5, -0.5, 0.5));
    assert_eq!((h.cols, h.rows), (32, 32));
    // (0.25, 0): column 24, row 16; (-0.45, 0.45): column 1, row 30.
    assert!(
        (h.cell(24, 16) - 49.0 * 0.04).abs() < 1e-9,
        "{}",
        h.cell(24, 16)
    );
    assert!(
        (h.cell(1, 30) - 49.0 * 0.04).abs() < 1e-9,
        "{}",
        h.cell(1, 30)
    );
    assert!((h.outside - 0.04).abs() < 1e-9, "{}", h.outside);
    assert!((h.total() - 99.0 * 0.04).abs() < 1e-9);

    // Calibrated frames (screen point set) go on the screen grid; off-screen → outside.
    let mut s = Session::new("screen", cfg);
    for i in 0..20 {
        let p = if i < 10 {
            Point::new(999.0, 499.0)
        } else {
            Point::new(1200.0, 100.0)
        };
        s.push_frame(&frame(i as f64 * 40.0, Some(p), 0.0, None));
    }
    let h = s.report().gaze_heatmap.expect("heatmap");
    assert_eq!(h.plane, HeatmapPlane::Screen);
    assert_eq!((h.x_max, h.y_max), (1000.0, 500.0));
    assert!((h.cell(31, 17) - 0.4).abs() < 1e-9, "{}", h.cell(31, 17));
    assert!((h.outside - 0.36).abs() < 1e-9, "{}", h.outside);

    // No gaze at all: no heatmap, and none in the JSON.
    let mut e = Session::new("none", ActivityConfig::default());
    for i in 0..10 {
        e.push_frame(&FrameResult {
            timestamp_ms: i as f64 * 40.0,
            ..FrameResult::default()
        });
    }
    let r = e.finish();
    assert!(r.gaze_heatmap.is_none());
    assert!(
        !serde_json::to_string(&r)
            .expect("json")
            .contains("gaze_heatmap")
    );
}

#[test]
fn blink_onsets_from_events_and_from_closed_samples() {
    let mut s = Session::new("f", ActivityConfig::default());
    let blink = BlinkEvent {
        start_ms: 900.0,
        end_ms: 1050.0,
        duration_ms: 150.0,
    };
    for i in 0..100 {
        let ev = (i == 32 || i == 33).then_some(blink);
        s.push_frame(&frame(i as f64 * DT, None, 0.1, ev));
    }
    assert_eq!(s.finish().blink_onsets_ms, vec![900.0]);

    // Samples: closures of 200 ms from 2 s and 5 s (blinks), 1.5 s from 7 s (not a blink).
    let v = trace(300, |t| {
        if (2000.0..2200.0).contains(&t)
            || (5000.0..5200.0).contains(&t)
            || (7000.0..8500.0).contains(&t)
        {
            closed()
        } else {
            focused()
        }
    });
    let r = run(&v);
    assert_eq!(r.blink_count, 2);
    assert_eq!(r.blink_onsets_ms.len(), 2);
    let first = v.iter().find(|x| x.t_ms >= 2000.0).map(|x| x.t_ms);
    assert_eq!(r.blink_onsets_ms.first().copied(), first);
    assert!(r.blink_onsets_ms[1] >= 5000.0 && r.blink_onsets_ms[1] < 5000.0 + DT);
}

#[test]
fn reports_and_snapshots_without_the_new_fields_still_load() {
    let v = trace(300, |_| focused());
    let mut s = Session::new("old", ActivityConfig::default());
    for x in &v[..150] {
        s.push_sample(*x);
    }
    // A checkpoint written before the heatmap / blink-onset fields existed.
    let mut snap: serde_json::Value =
        serde_json::from_str(&s.snapshot_json().expect("snapshot")).expect("json");
    let sess = snap["session"].as_object_mut().expect("session");
    for k in ["heat_screen", "heat_ratio", "heat_last", "blink_onsets"] {
        assert!(sess.remove(k).is_some(), "{k} is in the snapshot");
    }
    let cls = sess["classifier"].as_object_mut().expect("classifier");
    assert!(cls.remove("last_blink_start_ms").is_some());
    let mut old = Session::restore_json(&snap.to_string()).expect("old snapshot restores");
    for x in &v[150..] {
        old.push_sample(*x);
    }
    let r = old.finish();
    assert_sums(&r);
    // The heatmap restarts at the checkpoint: it holds only the second half.
    let h = r.gaze_heatmap.as_ref().expect("heatmap");
    assert!(
        (h.total() - 149.0 * DT / 1000.0).abs() < 1e-6,
        "{}",
        h.total()
    );
    // A report written before the new fields existed.
    let mut j = serde_json::to_value(&r).expect("json");
    let o = j.as_object_mut().expect("object");
    o.remove("gaze_heatmap");
    o.remove("blink_onsets_ms");
    let back: SessionReport = serde_json::from_value(j).expect("old report parses");
    assert!(back.gaze_heatmap.is_none() && back.blink_onsets_ms.is_empty());
    assert_eq!(back.focus_time, r.focus_time);
}

#[test]
fn try_new_refuses_an_invalid_config_with_the_field_named() {
    let bad = ActivityConfig {
        ivt_velocity_deg_s: f64::NAN,
        ..ActivityConfig::default()
    };
    let Err(err) = gaze_activity::Session::try_new("s", bad.clone()) else {
        panic!("a NaN threshold must be refused");
    };
    assert!(err.to_string().contains("ivt_velocity_deg_s"), "{err}");
    assert!(gaze_activity::activity::ActivityClassifier::try_new(bad.clone()).is_err());
    // The lenient constructor still works (defaults replace the bad values).
    let _ = gaze_activity::Session::new("s", bad);
    assert!(gaze_activity::Session::try_new("s", ActivityConfig::default()).is_ok());
}
