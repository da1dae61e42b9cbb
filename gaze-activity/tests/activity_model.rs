//! Activity model on committed WebQAmGaze data (CC BY 4.0, see testdata/activity/README.md)
//! and on constructed traces with known answers.

use std::path::PathBuf;

use gaze_activity::activity::{
    ActivityClassifier, ActivityConfig, DetectorMode, EventDetector, EyeMovement, GazeSample,
    ScreenGeometry, classify_trace, classify_trace_labels, label_samples,
};
use gaze_activity::{Activity, Attention};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/activity")
}

struct Rec {
    name: String,
    label: String,
    geometry: ScreenGeometry,
    samples: Vec<GazeSample>,
}

fn load() -> Vec<Rec> {
    let index = std::fs::read_to_string(data_dir().join("index.csv")).expect("index.csv");
    let mut out = Vec::new();
    for line in index.lines().skip(1) {
        // recording,label,sampling_hz,screen_w,screen_h,... (no quotes in the first 5 fields)
        let f: Vec<&str> = line.splitn(6, ',').collect();
        let (w, h) = (f[3].parse().expect("w"), f[4].parse().expect("h"));
        let text = std::fs::read_to_string(data_dir().join(f[0])).expect("recording");
        let samples = text
            .lines()
            .skip(1)
            .map(|l| {
                let v: Vec<f64> = l
                    .split(',')
                    .take(3)
                    .map(|x| x.parse().unwrap_or(f64::NAN))
                    .collect();
                GazeSample::new(v[0], v[1], v[2])
            })
            .collect();
        out.push(Rec {
            name: f[0].to_string(),
            label: f[1].to_string(),
            geometry: ScreenGeometry::from_px(w, h),
            samples,
        });
    }
    out
}

/// Seconds per activity over a streamed recording.
fn time_per_label(samples: &[GazeSample], cfg: &ActivityConfig) -> [f64; 5] {
    let labels = classify_trace_labels(samples, cfg);
    let mut secs = [0.0; 5];
    for w in labels.windows(2) {
        let i = match w[0].activity {
            Activity::Reading => 0,
            Activity::Browsing => 1,
            Activity::Watching => 2,
            Activity::Other => 3,
            Activity::None => 4,
        };
        secs[i] += (w[1].t_ms - w[0].t_ms) / 1000.0;
    }
    secs
}

#[test]
fn webcam_readers_are_recognised_as_reading() {
    let recs = load();
    let (mut read, mut total) = (0.0, 0.0);
    for r in recs.iter().filter(|r| r.label == "reading") {
        let cfg = ActivityConfig::with_geometry(r.geometry);
        let secs = time_per_label(&r.samples, &cfg);
        let t: f64 = secs.iter().sum();
        eprintln!("{}: reading {:.2} of {t:.1} s", r.name, secs[0] / t);
        assert!(
            secs[0] / t > 0.6,
            "{}: reading share {:.2}",
            r.name,
            secs[0] / t
        );
        read += secs[0];
        total += t;
    }
    assert!(total > 150.0);
    assert!(read / total > 0.8, "reading share {:.3}", read / total);
}

#[test]
fn fixating_dots_is_not_reading() {
    for r in load().iter().filter(|r| r.label == "fixation") {
        let cfg = ActivityConfig::with_geometry(r.geometry);
        let secs = time_per_label(&r.samples, &cfg);
        let t: f64 = secs.iter().sum();
        assert!(
            secs[0] / t < 0.3,
            "{}: reading share {:.2}",
            r.name,
            secs[0] / t
        );
    }
}

#[test]
fn labels_do_not_flicker() {
    for r in load().iter().filter(|r| r.label == "reading") {
        let cfg = ActivityConfig::with_geometry(r.geometry);
        let seg = classify_trace(&r.samples, &cfg);
        let dur = (seg.last().map_or(0.0, |s| s.end_ms) - seg.first().map_or(0.0, |s| s.start_ms))
            / 1000.0;
        // At most one label change per 5 s on average, and no segment shorter than 300 ms
        // except the first (warm-up).
        assert!(
            seg.len() as f64 <= 2.0 + dur / 5.0,
            "{}: {} segments in {dur:.0} s",
            r.name,
            seg.len()
        );
        for s in seg.iter().skip(1) {
            assert!(
                s.end_ms - s.start_ms >= 300.0 || s.end_ms == seg[seg.len() - 1].end_ms,
                "{}: {s:?}",
                r.name
            );
        }
    }
}

#[test]
fn adaptation_learns_from_calibration_and_reading_snippets() {
    let recs = load();
    let fix = recs
        .iter()
        .find(|r| r.label == "fixation")
        .expect("validation file");
    let read = recs
        .iter()
        .find(|r| {
            r.label == "reading" && r.name.contains(fix.name.split('_').nth(1).unwrap_or("?"))
        })
        .expect("reading file of the same person");
    let base = ActivityConfig::with_geometry(fix.geometry);
    let snippet: Vec<GazeSample> = read.samples.iter().copied().take(300).collect();
    let adapted = base.adapt_from(&fix.samples, &snippet).expect("adapts");
    adapted.validate().expect("valid");
    assert_ne!(adapted, base);
    assert!(adapted.idt_dispersion_deg > 0.3 && adapted.idt_dispersion_deg < 6.0);
    assert!(adapted.read_forward_max_deg > adapted.read_forward_min_deg);
    // Stored with the calibration and read back.
    let json = adapted.to_json().expect("json");
    assert_eq!(ActivityConfig::from_json(&json).expect("parse"), adapted);
    eprintln!(
        "adapted: disp {} fwd {}..{} sweep {}",
        adapted.idt_dispersion_deg,
        adapted.read_forward_min_deg,
        adapted.read_forward_max_deg,
        adapted.return_sweep_min_deg
    );
    // Still recognises this person's reading.
    let secs = time_per_label(&read.samples, &adapted);
    assert!(secs[0] / secs.iter().sum::<f64>() > 0.6);
    // Empty snippets keep everything; unusable ones are errors, not panics.
    assert_eq!(base.adapt_from(&[], &[]).expect("no-op"), base);
    assert!(base.adapt_from(&fix.samples[..3], &[]).is_err());
    let nan: Vec<GazeSample> = (0..50)
        .map(|i| GazeSample::new(i as f64, f64::NAN, 1.0))
        .collect();
    assert!(base.adapt_from(&nan, &nan).is_err());
}

#[test]
fn config_rejects_nonsense_and_fills_missing_fields() {
    let c = ActivityConfig {
        window_ms: f64::NAN,
        ..ActivityConfig::default()
    };
    assert!(c.validate().is_err());
    let c = ActivityConfig::from_json(r#"{"max_gap_ms": 800}"#).expect("partial json");
    assert_eq!(c.max_gap_ms, 800.0);
    assert_eq!(c.closed_min_ms, ActivityConfig::default().closed_min_ms);
    assert!(ActivityConfig::from_json(r#"{"max_gap_ms": -1}"#).is_err());
    // An invalid config does not make the classifier panic.
    let bad = ActivityConfig {
        bin_ms: -3.0,
        ..ActivityConfig::default()
    };
    let mut c = ActivityClassifier::new(bad);
    for i in 0..100 {
        c.push(GazeSample::new(i as f64 * 33.0, 100.0, 100.0));
    }
}

/// A 500 Hz trace: fixations of 250 ms joined by 40 ms saccades of 5 deg (minimum-jerk).
fn lab_trace(geometry: &ScreenGeometry) -> (Vec<GazeSample>, Vec<EyeMovement>) {
    let (ppx, _) = geometry.px_per_deg();
    let mut samples = Vec::new();
    let mut truth = Vec::new();
    let mut x = 200.0;
    let mut t = 0.0;
    for k in 0..20 {
        for i in 0..125 {
            let jitter = ((i * 7 + k * 3) % 5) as f64 * 0.004 * ppx;
            samples.push(GazeSample::new(t, x + jitter, 400.0));
            truth.push(EyeMovement::Fixation);
            t += 2.0;
        }
        let amp = 5.0 * ppx;
        for i in 0..20 {
            let s = (i as f64 + 0.5) / 20.0;
            let p = 10.0 * s.powi(3) - 15.0 * s.powi(4) + 6.0 * s.powi(5);
            samples.push(GazeSample::new(t, x + amp * p, 400.0));
            truth.push(EyeMovement::Saccade);
            t += 2.0;
        }
        x += amp;
        if x > geometry.width_px - 300.0 {
            x = 200.0;
        }
    }
    (samples, truth)
}

#[test]
fn ivt_at_lab_rate_finds_fixations_and_saccades() {
    let g = ScreenGeometry::new(1920.0, 1080.0, 530.0, 300.0, 650.0);
    let cfg = ActivityConfig::with_geometry(g);
    let (samples, truth) = lab_trace(&g);
    let labels = label_samples(&samples, &cfg);
    let agree =
        labels.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    assert!(agree > 0.9, "agreement {agree}");
    let mut det = EventDetector::new(&cfg);
    let mut out = Vec::new();
    let (ppx, ppy) = g.px_per_deg();
    for s in &samples {
        det.push(s.t_ms, s.x / ppx, s.y / ppy, true, &mut out);
    }
    det.flush(&mut out);
    assert_eq!(det.mode(), Some(DetectorMode::Velocity));
    let fixations = out
        .iter()
        .filter(|e| e.kind == EyeMovement::Fixation)
        .count();
    assert_eq!(fixations, 20);
}

#[test]
fn idt_at_webcam_rate_finds_fixations() {
    let g = ScreenGeometry::default();
    let cfg = ActivityConfig::with_geometry(g);
    let (ppx, _) = g.px_per_deg();
    // 30 Hz: 10 fixations of 500 ms, 4 deg apart, with 0.3 deg jitter, one-frame jumps.
    let mut samples = Vec::new();
    let mut t = 0.0;
    for k in 0..10 {
        for i in 0..15 {
            let j = (((i * 13 + k * 7) % 7) as f64 - 3.0) * 0.1 * ppx;
            samples.push(GazeSample::new(
                t,
                200.0 + k as f64 * 4.0 * ppx + j,
                500.0 - j,
            ));
            t += 1000.0 / 30.0;
        }
    }
    let mut det = EventDetector::new(&cfg);
    let mut out = Vec::new();
    let (px, py) = g.px_per_deg();
    for s in &samples {
        det.push(s.t_ms, s.x / px, s.y / py, true, &mut out);
    }
    det.flush(&mut out);
    assert_eq!(det.mode(), Some(DetectorMode::Dispersion));
    let n = out
        .iter()
        .filter(|e| e.kind == EyeMovement::Fixation)
        .count();
    assert_eq!(n, 10, "{out:?}");
}

#[test]
fn batch_reorders_streaming_rejects() {
    let r = &load()[0];
    let cfg = ActivityConfig::with_geometry(r.geometry);
    let sorted = classify_trace(&r.samples, &cfg);
    // Deterministic shuffle plus duplicates.
    let mut shuffled = r.samples.clone();
    let n = shuffled.len();
    for i in 0..n {
        shuffled.swap(i, (i * 7919 + 13) % n);
    }
    shuffled.extend_from_slice(&r.samples[..20]);
    assert_eq!(classify_trace(&shuffled, &cfg), sorted);
    let labels = classify_trace_labels(&shuffled, &cfg);
    assert_eq!(labels.len(), shuffled.len());
    // Streaming the shuffled trace rejects the out-of-order samples instead.
    let mut c = ActivityClassifier::new(cfg);
    for s in &shuffled {
        c.push(*s);
    }
    assert!(c.rejected() > 0);
}

#[test]
fn streaming_state_has_running_totals() {
    let r = &load()[0];
    let mut c = ActivityClassifier::new(ActivityConfig::with_geometry(r.geometry));
    let mut last = None;
    for s in &r.samples {
        let st = c.push(*s);
        assert!(st.accepted);
        assert_eq!(st.attention, Attention::Focused);
        last = Some(st);
    }
    let st = last.expect("samples");
    let dur = (r.samples[r.samples.len() - 1].t_ms - r.samples[0].t_ms) / 1000.0;
    assert!((st.totals.total_time() - dur).abs() < 1e-6);
    assert!(st.totals.reading_time > 0.5 * dur);
}

#[test]
fn label_follows_a_change_of_activity() {
    let recs = load();
    let read = recs
        .iter()
        .find(|r| r.name.contains("ENv18_lab14_a_Oxygen_1"))
        .expect("reading file");
    let dots = recs
        .iter()
        .find(|r| r.name.contains("ENv18_lab14_validation"))
        .expect("validation file");
    let cfg = ActivityConfig::with_geometry(read.geometry);
    let end = read.samples.last().map_or(0.0, |s| s.t_ms);
    let switch_at = end + 40.0;
    let mut trace = read.samples.clone();
    trace.extend(dots.samples.iter().map(|s| GazeSample {
        t_ms: s.t_ms + switch_at,
        ..*s
    }));
    let labels = classify_trace_labels(&trace, &cfg);
    let at = |t: f64| {
        labels
            .iter()
            .take_while(|l| l.t_ms <= t)
            .last()
            .map(|l| l.activity)
    };
    assert_eq!(at(switch_at - 100.0), Some(Activity::Reading));
    let first_other = labels
        .iter()
        .find(|l| l.t_ms >= switch_at && l.activity != Activity::Reading)
        .map(|l| l.t_ms - switch_at)
        .expect("label never left reading");
    eprintln!("left reading {first_other:.0} ms after the switch");
    assert!(first_other < 8000.0, "{first_other}");
    assert_ne!(labels.last().map(|l| l.activity), Some(Activity::Reading));
}
