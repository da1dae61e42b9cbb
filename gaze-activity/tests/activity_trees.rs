//! The boosted-tree activity model: calibrated `other` / uncertain time, per-user
//! adaptation from labelled spans, old configs and reports loading. Real data: the committed
//! WebQAmGaze readers (CC BY 4.0, see testdata/activity/README.md).

use std::path::PathBuf;

use gaze_activity::activity::{
    ActivityClassifier, ActivityConfig, ActivityModel, BoostedTrees, GazeSample, LabelledSpan,
    MAX_CLASS_BIAS, ScreenGeometry,
};
use gaze_activity::{Activity, SessionReport};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/activity")
}

/// (label, geometry, samples) of every committed recording.
fn load() -> Vec<(String, ScreenGeometry, Vec<GazeSample>)> {
    let index = std::fs::read_to_string(data_dir().join("index.csv")).expect("index.csv");
    index
        .lines()
        .skip(1)
        .map(|line| {
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
            (f[1].to_string(), ScreenGeometry::from_px(w, h), samples)
        })
        .collect()
}

fn readers() -> Vec<(ScreenGeometry, Vec<GazeSample>)> {
    load()
        .into_iter()
        .filter(|r| r.0 == "reading")
        .map(|r| (r.1, r.2))
        .collect()
}

fn totals(samples: &[GazeSample], cfg: ActivityConfig) -> gaze_activity::activity::ActivityTotals {
    let mut c = ActivityClassifier::new(cfg);
    for s in samples {
        c.push(*s);
    }
    c.finish().0
}

#[test]
fn shipped_model_is_the_boosted_trees() {
    let cfg = ActivityConfig::default();
    assert_eq!(cfg.model, ActivityModel::Builtin);
    let m = BoostedTrees::builtin().expect("embedded model");
    assert!(m.trees.len() >= 30, "{} trees", m.trees.len());
    assert!(m.temperature > 0.0);
    // The legacy linear model is still selectable and gives different scores.
    let (g, s) = &readers()[0];
    let mut a = ActivityClassifier::new(ActivityConfig::with_geometry(*g));
    let mut b = ActivityClassifier::new(ActivityConfig {
        geometry: *g,
        ..ActivityConfig::legacy()
    });
    for x in s {
        a.push(*x);
        b.push(*x);
    }
    assert_ne!(a.scores(), b.scores());
    let p: f64 = a.scores().iter().sum();
    assert!((p - 1.0).abs() < 1e-6, "probabilities sum to 1: {p}");
}

#[test]
fn unconfident_time_goes_to_other_and_is_reported_as_uncertain() {
    for (g, s) in readers().iter().take(3) {
        // Nothing is ever confident enough: everything after the warm-up is uncertain.
        let strict = totals(
            s,
            ActivityConfig {
                min_score: 0.999,
                ..ActivityConfig::with_geometry(*g)
            },
        );
        assert!(
            strict.uncertain_time > 0.5 * strict.focus_time(),
            "{strict:?}"
        );
        assert!(
            strict.uncertain_time <= strict.other_time + 1e-9,
            "{strict:?}"
        );
        assert!(strict.reading_time + strict.browsing_time + strict.watching_time < 1e-9);
        // Everything is confident enough: nothing is uncertain.
        let lax = totals(
            s,
            ActivityConfig {
                min_score: 0.0,
                ..ActivityConfig::with_geometry(*g)
            },
        );
        assert_eq!(lax.uncertain_time, 0.0, "{lax:?}");
        assert!(lax.reading_time > 0.0);
    }
}

#[test]
fn reports_and_configs_from_before_the_new_fields_load() {
    let old_report = r#"{"session_id":"s","focus_time":1,"distraction_time":0,
        "session_report":{"reading_time":1,"browsing_time":0,"watching_time":0},
        "started_at":0,"ended_at":1000,"duration":1,"other_time":0,"no_data_time":0,
        "blink_count":0,"blink_rate_per_min":0,"fixation_count":0,"mean_fixation_ms":0,
        "timeline":[]}"#;
    let r: SessionReport = serde_json::from_str(old_report).expect("old report loads");
    assert_eq!(r.uncertain_time, 0.0);
    let c = ActivityConfig::from_json(r#"{"max_gap_ms": 700}"#).expect("old config loads");
    assert_eq!(c.model, ActivityModel::Builtin);
    assert_eq!(c.class_bias, [0.0; 3]);
    let legacy = ActivityConfig::from_json(&ActivityConfig::legacy().to_json().expect("json"))
        .expect("round trip");
    assert_eq!(legacy.model, ActivityModel::Linear);
    assert!(ActivityConfig::from_json(r#"{"class_bias": [0, 100, 0]}"#).is_err());
}

#[test]
fn adaptation_learns_from_a_users_labels() {
    let readers = readers();
    let spans: Vec<LabelledSpan> = readers
        .iter()
        .take(2)
        .map(|(g, s)| LabelledSpan {
            samples: s.clone(),
            activity: Activity::Reading,
            geometry: *g,
        })
        .collect();
    let base = ActivityConfig::default();
    let adapted = base.adapt_to_labels(&spans).expect("adapts");
    let b = adapted.class_bias;
    assert!(b[0] > b[1] && b[0] > b[2], "reading is favoured: {b:?}");
    assert!(b.iter().all(|v| v.abs() <= MAX_CLASS_BIAS));
    assert_eq!(
        ActivityConfig::from_json(&adapted.to_json().expect("json")).expect("parse"),
        adapted
    );
    // The user's other reading sessions get at least as much reading time.
    let (g, s) = &readers[2];
    let before = totals(s, ActivityConfig::with_geometry(*g));
    let after = totals(
        s,
        ActivityConfig {
            geometry: *g,
            ..adapted.clone()
        },
    );
    assert!(
        after.reading_time >= before.reading_time,
        "{before:?} {after:?}"
    );

    // Bad input: typed errors.
    let other = LabelledSpan {
        activity: Activity::Other,
        ..spans[0].clone()
    };
    assert!(base.adapt_to_labels(&[other]).is_err());
    let short = LabelledSpan {
        samples: spans[0].samples[..20].to_vec(),
        ..spans[0].clone()
    };
    assert!(base.adapt_to_labels(&[short]).is_err());
    assert!(base.adapt_to_labels(&[]).is_err());
    assert!(ActivityConfig::legacy().adapt_to_labels(&spans).is_err());
}
