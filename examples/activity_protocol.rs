//! The activity evaluation protocol (issue 12): features for training, and
//! leave-one-dataset-out / leave-one-subject-out scoring, second by second.
//!
//! ```text
//! # 1. per-second feature rows (native rate + N webcam-degraded copies) for the training script
//! activity_protocol dump <activity data folder> <rows.csv> [--augment N] [--augment-mild M]
//! # 2. score fold models written by gaze-activity/training/train_activity.py (and the baseline)
//! activity_protocol eval <activity data folder> --models <dir> [--json <summary.json>] [--schemes main,loso,switch] [--datasets a,b]
//! ```
//! (`make eval-activity DATA=…` runs both with the training script in between.)
//! `--window-ms W` / `--bin-ms B` (both commands) override the feature window length and the
//! time-bin width, for experiments.
//!
//! Classes: reading; browsing = browse + search; watching = video (other task labels are
//! neither trained on nor scored). Scoring: every recording streams through a fresh
//! classifier; the label held at every whole second is compared with the recording's label
//! (time level; `other` / `none` count as misses). Macro-F1 over the three classes, with
//! per-class precision and recall, is computed on the confusion pooled over the held-out
//! folds (seconds summed over datasets: the large never-trained video sets dominate the
//! watching row). The dataset-balanced figure rescales every (dataset, class) row to the
//! same total first, so each dataset weighs the same within its class. Per-dataset lines of
//! single-class sets show F1 = 2R / (1 + R) (precision is 1 there): read them as recall.
//!
//! Conditions: `native` (the recording as it is) and `webcam` (resampled to 30 Hz with
//! 1–2° jitter, slow drift, ±15 % scale error, dropouts and blinks: see
//! `activity_data::degrade`; the evaluation seed differs from the training seeds; the real
//! webcam readers of WebQAmGaze are left as they are).
//!
//! Schemes: `baseline` = [`ActivityConfig::legacy`] (the earlier linear model); `shipped` =
//! the embedded model (trained on all of the data: in-sample, for reference only);
//! `lodo` = each dataset scored by the model trained without it; `loso` = each
//! srivastava_desktop and WebQAmGaze subject scored by the model trained without that
//! subject;
//! `switch` (only with `--schemes …,switch`) = responsiveness: pairs of a srivastava subject's
//! recordings joined, scored after the join with the subject's LOSO model;
//! `loso+adapt` = as `loso`, with per-class offsets fitted on the first 2 minutes of that
//! subject's own labelled data ([`ActivityConfig::adapt_to_labels`]) and scored on the rest.

#[path = "activity_data.rs"]
mod activity_data;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use activity_data::{
    CLASSES, Entry, Rng, Trace, degrade, degrade_scaled, native_samples, read_index, read_trace,
    seed_of,
};
use gaze_core::activity::{
    ActivityClassifier, ActivityConfig, ActivityModel, BoostedTrees, EXT_FEATURE_NAMES, GazeSample,
    LabelledSpan, ScreenGeometry,
};
use gaze_core::{Activity, Attention};

fn usage() -> ! {
    eprintln!(
        "usage: activity_protocol dump <data dir> <rows.csv> [--augment N]\n       activity_protocol eval <data dir> --models <dir> [--json <out.json>]"
    );
    std::process::exit(2)
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The classifier configuration for `geometry` (with the `--window-ms` / `--bin-ms`
/// overrides, if any).
fn config_for(geometry: ScreenGeometry) -> ActivityConfig {
    let mut c = ActivityConfig::with_geometry(geometry);
    if let Some(w) = numeric_arg("--window-ms") {
        c.window_ms = w;
    }
    if let Some(b) = numeric_arg("--bin-ms") {
        c.bin_ms = b;
    }
    c
}

/// A number given on the command line as `name value`.
fn numeric_arg(name: &str) -> Option<f64> {
    let args: Vec<String> = std::env::args().collect();
    arg_value(&args, name).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(cmd), Some(dir)) = (args.get(1), args.get(2)) else {
        usage()
    };
    let dir = PathBuf::from(dir);
    // --datasets a,b: only these datasets (e.g. to run parts of an evaluation in parallel).
    let only: Option<Vec<String>> =
        arg_value(&args, "--datasets").map(|v| v.split(',').map(str::to_string).collect());
    let entries = match read_index(&dir) {
        Ok(e) => e
            .into_iter()
            .filter(|e| only.as_ref().is_none_or(|o| o.contains(&e.dataset)))
            .collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let result = match cmd.as_str() {
        "dump" => {
            let Some(out) = args.get(3) else { usage() };
            let n_aug = arg_value(&args, "--augment")
                .and_then(|v| v.parse().ok())
                .unwrap_or(2usize);
            let n_mild = arg_value(&args, "--augment-mild")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0usize);
            dump(&dir, &entries, Path::new(out), n_aug, n_mild)
        }
        "eval" => {
            let Some(models) = arg_value(&args, "--models") else {
                usage()
            };
            let schemes = arg_value(&args, "--schemes").unwrap_or_else(|| "main,loso".into());
            eval(
                &dir,
                &entries,
                Path::new(&models),
                arg_value(&args, "--json").as_deref(),
                (
                    schemes.contains("main"),
                    schemes.contains("loso"),
                    schemes.contains("switch"),
                ),
            )
        }
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A geometry whose screen spans `width_deg` at 600 mm (the classifier's px→deg scale).
fn geometry_with_width_deg(g: &ScreenGeometry, width_deg: f64) -> ScreenGeometry {
    let d = 600.0;
    let w_mm = 2.0 * d * (width_deg.to_radians() / 2.0).tan();
    ScreenGeometry {
        width_px: g.width(),
        height_px: g.height(),
        width_mm: Some(w_mm),
        height_mm: Some(w_mm * g.height() / g.width()),
        distance_mm: Some(d),
    }
}

/// Streams `samples` and calls `at_second(t_rel_s, classifier)` at every whole second
/// (before the sample that crosses it).
fn stream(
    samples: &[GazeSample],
    config: &ActivityConfig,
    mut at_second: impl FnMut(f64, &ActivityClassifier, Activity),
) {
    let mut c = ActivityClassifier::new(config.clone());
    let Some(t0) = samples.first().map(|s| s.t_ms) else {
        return;
    };
    let mut next = t0 + 1000.0;
    let mut held: Option<Activity> = None;
    for s in samples {
        while s.t_ms >= next {
            if let Some(a) = held {
                at_second((next - t0) / 1000.0, &c, a);
            }
            next += 1000.0;
        }
        let st = c.push(*s);
        if st.accepted {
            held = Some(if st.attention == Attention::Focused {
                st.activity
            } else {
                Activity::None
            });
        }
    }
}

fn dump(
    dir: &Path,
    entries: &[Entry],
    out: &Path,
    n_aug: usize,
    n_mild: usize,
) -> Result<(), String> {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let io = |e: std::io::Error| e.to_string();
    write!(w, "dataset,subject,recording,class,cond,t_s").map_err(io)?;
    for n in EXT_FEATURE_NAMES {
        write!(w, ",{n}").map_err(io)?;
    }
    writeln!(w).map_err(io)?;
    let mut rows = 0usize;
    for (i, e) in entries.iter().enumerate() {
        let tr = match read_trace(dir, e) {
            Ok(t) if t.t.len() >= 2 => t,
            Ok(_) => continue,
            Err(err) => {
                eprintln!("skipping {}: {err}", e.recording);
                continue;
            }
        };
        let mut conds: Vec<(String, Vec<GazeSample>, ScreenGeometry)> =
            vec![("native".into(), native_samples(&tr), e.geometry)];
        for k in 0..n_aug + n_mild {
            let seed = seed_of(&format!("{}#train{k}", e.recording));
            let mut rng = Rng(seed ^ 0x5555);
            // Unknown screen sizes and distances: the classifier's degrees vary widely.
            let g = geometry_with_width_deg(&e.geometry, rng.range(25.0, 65.0));
            // `--augment-mild` copies: a cleaner webcam (0.3–0.7 × the noise).
            let noise = if k < n_aug { 1.0 } else { rng.range(0.3, 0.7) };
            let samples = if e.dataset == "webqamgaze" {
                native_samples(&tr)
            } else {
                degrade_scaled(&tr, &e.geometry, seed, noise)
            };
            let name = if k < n_aug {
                format!("aug{k}")
            } else {
                format!("mild{}", k - n_aug)
            };
            conds.push((name, samples, g));
        }
        for (cond, samples, g) in &conds {
            let cfg = config_for(*g);
            let mut err = Ok(());
            stream(samples, &cfg, |t, c, _| {
                let f = c.features();
                if f.valid_ms < cfg.min_evidence_ms || err.is_err() {
                    return;
                }
                let x = f.extended();
                let mut line = format!(
                    "{},{},{},{},{},{:.0}",
                    e.dataset,
                    e.subject.replace(',', ";"),
                    e.recording.replace(',', ";"),
                    e.class,
                    cond,
                    t
                );
                for v in x {
                    line.push_str(&format!(",{v:.6}"));
                }
                err = writeln!(w, "{line}").map_err(io);
                rows += 1;
            });
            err?;
        }
        if i % 200 == 0 {
            eprintln!("dump: {}/{} recordings, {rows} rows", i + 1, entries.len());
        }
    }
    w.flush().map_err(io)?;
    eprintln!("dump: {rows} rows → {}", out.display());
    Ok(())
}

// ------------------------------------------------------------------------------ scoring

#[derive(Default, Clone)]
struct Confusion {
    /// truth × predicted (reading, browsing, watching, other, none), seconds.
    m: [[f64; 5]; 3],
    uncertain: f64,
}

fn pred_index(a: Activity) -> usize {
    match a {
        Activity::Reading => 0,
        Activity::Browsing => 1,
        Activity::Watching => 2,
        Activity::Other => 3,
        Activity::None => 4,
    }
}

impl Confusion {
    fn merge(&mut self, o: &Confusion) {
        for r in 0..3 {
            for c in 0..5 {
                self.m[r][c] += o.m[r][c];
            }
        }
        self.uncertain += o.uncertain;
    }
    /// The dataset-balanced pool of `per_ds`: every (dataset, class) row of seconds scaled
    /// to the same total before summing, so that each dataset weighs the same within a
    /// class (the pooled confusion is dominated by the largest sets).
    fn balanced<'a>(per_ds: impl IntoIterator<Item = &'a Confusion>) -> Confusion {
        let mut out = Confusion::default();
        for c in per_ds {
            for r in 0..3 {
                let t: f64 = c.m[r].iter().sum();
                if t > 0.0 {
                    for k in 0..5 {
                        out.m[r][k] += c.m[r][k] / t * 1000.0;
                    }
                }
            }
        }
        out
    }
    fn total(&self) -> f64 {
        self.m.iter().flatten().sum()
    }
    fn recall(&self, c: usize) -> Option<f64> {
        let t: f64 = self.m[c].iter().sum();
        (t > 0.0).then(|| self.m[c][c] / t)
    }
    fn precision(&self, c: usize) -> Option<f64> {
        let p: f64 = (0..3).map(|r| self.m[r][c]).sum();
        (p > 0.0).then(|| self.m[c][c] / p)
    }
    fn f1(&self, c: usize) -> Option<f64> {
        let t: f64 = self.m[c].iter().sum();
        if t == 0.0 {
            return None;
        }
        let (p, r) = (
            self.precision(c).unwrap_or(0.0),
            self.recall(c).unwrap_or(0.0),
        );
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }
    fn macro_f1(&self) -> f64 {
        let f: Vec<f64> = (0..3).filter_map(|c| self.f1(c)).collect();
        if f.is_empty() {
            f64::NAN
        } else {
            f.iter().sum::<f64>() / f.len() as f64
        }
    }
    fn line(&self) -> String {
        let fmt = |v: Option<f64>| v.map_or("  -  ".to_string(), |v| format!("{v:.3}"));
        let mut s = format!("macro-F1 {:.3} |", self.macro_f1());
        for (c, name) in CLASSES.iter().enumerate() {
            s.push_str(&format!(
                " {} F1 {} P {} R {} |",
                &name[..4],
                fmt(self.f1(c)),
                fmt(self.precision(c)),
                fmt(self.recall(c))
            ));
        }
        let tot = self.total().max(1e-9);
        let other: f64 = (0..3).map(|r| self.m[r][3]).sum();
        s.push_str(&format!(
            " other {:.3} (uncertain {:.3}) | {:.0} s",
            other / tot,
            self.uncertain / tot,
            tot
        ));
        s
    }
    fn json(&self) -> serde_json::Value {
        let per: Vec<serde_json::Value> = (0..3)
            .map(|c| {
                serde_json::json!({
                    "class": CLASSES[c],
                    "f1": self.f1(c), "precision": self.precision(c), "recall": self.recall(c),
                    "seconds": self.m[c].iter().sum::<f64>(),
                })
            })
            .collect();
        serde_json::json!({
            "macro_f1": self.macro_f1(),
            "classes": per,
            "confusion_s": self.m,
            "uncertain_share": self.uncertain / self.total().max(1e-9),
        })
    }
}

/// Streams one trace with `config` and scores the label at every whole second from
/// `score_from_s` on.
fn score(
    samples: &[GazeSample],
    config: &ActivityConfig,
    class: usize,
    score_from_s: f64,
) -> Confusion {
    let mut c = Confusion::default();
    stream(samples, config, |t, cl, a| {
        if t < score_from_s {
            return;
        }
        c.m[class][pred_index(a)] += 1.0;
        if a == Activity::Other && cl.scores().iter().copied().fold(0.0, f64::max) > 0.0 {
            c.uncertain += 1.0;
        }
    });
    c
}

fn load_model(dir: &Path, name: &str) -> Result<ActivityModel, String> {
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m = BoostedTrees::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ActivityModel::Trees(Box::new(m)))
}

/// File-name form of a dataset or subject id.
fn file_key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The two conditions of one recording.
fn conditions(tr: &Trace, e: &Entry) -> [(&'static str, Vec<GazeSample>); 2] {
    let webcam = if e.dataset == "webqamgaze" {
        native_samples(tr)
    } else {
        degrade(tr, &e.geometry, seed_of(&format!("{}#eval", e.recording)))
    };
    [("native", native_samples(tr)), ("webcam", webcam)]
}

/// Datasets scored leave-one-subject-out (models `loso__<subject>`).
const LOSO_SETS: [&str; 2] = ["srivastava_desktop", "webqamgaze"];

/// Seconds of the adaptation snippet (the subject's own labels).
const ADAPT_S: f64 = 120.0;

fn eval(
    dir: &Path,
    entries: &[Entry],
    models: &Path,
    json_out: Option<&str>,
    (main_schemes, loso_schemes, switch_scheme): (bool, bool, bool),
) -> Result<(), String> {
    // scheme → condition → dataset → confusion
    type Table = BTreeMap<String, BTreeMap<String, BTreeMap<String, Confusion>>>;
    let mut table: Table = BTreeMap::new();
    let mut add = |scheme: &str, cond: &str, ds: &str, c: Confusion| {
        table
            .entry(scheme.to_string())
            .or_default()
            .entry(cond.to_string())
            .or_default()
            .entry(ds.to_string())
            .or_default()
            .merge(&c);
    };
    let shipped = config_for(ScreenGeometry::default());
    let legacy = ActivityConfig::legacy();
    let mut cache: BTreeMap<String, ActivityModel> = BTreeMap::new();
    let mut get_model = |name: String| -> Result<ActivityModel, String> {
        if let Some(m) = cache.get(&name) {
            return Ok(m.clone());
        }
        let m = load_model(models, &name)?;
        cache.insert(name, m.clone());
        Ok(m)
    };
    for (i, e) in entries.iter().enumerate() {
        let loso_set = LOSO_SETS.contains(&e.dataset.as_str());
        if !(main_schemes || (loso_schemes && loso_set)) {
            continue;
        }
        let tr = match read_trace(dir, e) {
            Ok(t) if t.t.len() >= 2 => t,
            _ => continue,
        };
        let lodo = if main_schemes {
            get_model(format!("lodo__{}", file_key(&e.dataset)))?
        } else {
            ActivityModel::Builtin
        };
        let loso = if loso_schemes && loso_set {
            match get_model(format!("loso__{}", file_key(&e.subject))) {
                Ok(m) => Some(m),
                Err(err) => {
                    eprintln!("no LOSO model, skipped: {err}");
                    None
                }
            }
        } else {
            None
        };
        for (cond, samples) in conditions(&tr, e) {
            let with = |base: &ActivityConfig, m: Option<ActivityModel>| ActivityConfig {
                geometry: e.geometry,
                model: m.unwrap_or_else(|| base.model.clone()),
                ..base.clone()
            };
            if main_schemes {
                add(
                    "baseline",
                    cond,
                    &e.dataset,
                    score(&samples, &with(&legacy, None), e.class, 0.0),
                );
                add(
                    "shipped",
                    cond,
                    &e.dataset,
                    score(&samples, &with(&shipped, None), e.class, 0.0),
                );
                add(
                    "lodo",
                    cond,
                    &e.dataset,
                    score(&samples, &with(&shipped, Some(lodo.clone())), e.class, 0.0),
                );
            }
            if let Some(m) = &loso {
                let cfg = with(&shipped, Some(m.clone()));
                add(
                    "loso",
                    cond,
                    &e.dataset,
                    score(&samples, &cfg, e.class, 0.0),
                );
                add(
                    "baseline@loso",
                    cond,
                    &e.dataset,
                    score(&samples, &with(&legacy, None), e.class, 0.0),
                );
            }
        }
        if i % 200 == 0 {
            eprintln!("eval: {}/{}", i + 1, entries.len());
        }
    }
    // Per-user adaptation on leave-one-subject-out (srivastava_desktop).
    if loso_schemes {
        adapt_eval(dir, entries, &mut get_model, &mut add)?;
    }

    let mut summary = serde_json::Map::new();
    if switch_scheme {
        for (cond, v) in switch_eval(dir, entries, &mut get_model)? {
            summary.insert(format!("switch/{cond}"), v);
        }
    }
    for (scheme, conds) in &table {
        for (cond, per_ds) in conds {
            let mut pooled = Confusion::default();
            for c in per_ds.values() {
                pooled.merge(c);
            }
            let balanced = Confusion::balanced(per_ds.values());
            println!("\n[{scheme} / {cond}] pooled: {}", pooled.line());
            let fmt = |v: Option<f64>| v.map_or("  -  ".to_string(), |v| format!("{v:.3}"));
            println!(
                "    dataset-balanced: macro-F1 {:.3} | F1 R/B/W {} / {} / {}",
                balanced.macro_f1(),
                fmt(balanced.f1(0)),
                fmt(balanced.f1(1)),
                fmt(balanced.f1(2))
            );
            let mut ds_json = serde_json::Map::new();
            for (ds, c) in per_ds {
                println!("    {ds:<28} {}", c.line());
                ds_json.insert(ds.clone(), c.json());
            }
            let wq = per_ds.get("webqamgaze").and_then(|c| c.recall(0));
            if let Some(r) = wq {
                println!(
                    "    webcam readers (WebQAmGaze): reading recall {r:.3} of scored seconds"
                );
            }
            summary.insert(
                format!("{scheme}/{cond}"),
                serde_json::json!({"pooled": pooled.json(), "dataset_balanced": balanced.json(), "datasets": ds_json, "webcam_readers_reading_recall": wq}),
            );
        }
    }
    if let Some(path) = json_out {
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(summary))
            .map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// Seconds after an activity switch that `switch_eval` follows.
const SWITCH_SPAN_S: usize = 60;

/// The srivastava_desktop subjects among `entries`, sorted, each once.
fn srivastava_subjects(entries: &[Entry]) -> Vec<&str> {
    let mut subjects: Vec<&str> = entries
        .iter()
        .filter(|e| e.dataset == "srivastava_desktop")
        .map(|e| e.subject.as_str())
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects
}

/// `switch`: responsiveness. For each srivastava subject, every ordered pair of their
/// reading / browsing / watching recordings is joined (all of the first, then the second),
/// streamed through the subject's leave-one-subject-out model, and the label is read at
/// every whole second after the join: the delay until it first names the second activity,
/// and the share of correct seconds in the first 10 and 30 s.
fn switch_eval(
    dir: &Path,
    entries: &[Entry],
    get_model: &mut impl FnMut(String) -> Result<ActivityModel, String>,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    let subjects = srivastava_subjects(entries);
    let mut out = Vec::new();
    for cond in ["native", "webcam"] {
        let mut delays: Vec<f64> = Vec::new();
        let mut never = 0usize;
        let (mut ok10, mut ok30, mut n10, mut n30) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for subj in &subjects {
            let Ok(model) = get_model(format!("loso__{}", file_key(subj))) else {
                continue;
            };
            // One recording per class (the first listed).
            let mut per_class: [Option<(&Entry, Vec<GazeSample>)>; 3] = [None, None, None];
            for e in entries.iter().filter(|e| e.subject == *subj) {
                if per_class[e.class].is_some() {
                    continue;
                }
                let Ok(tr) = read_trace(dir, e) else { continue };
                if tr.t.len() < 2 {
                    continue;
                }
                let [(_, nat), (_, cam)] = conditions(&tr, e);
                per_class[e.class] = Some((e, if cond == "native" { nat } else { cam }));
            }
            for a in 0..3 {
                for b in 0..3 {
                    let (Some((ea, sa)), Some((_, sb))) = (&per_class[a], &per_class[b]) else {
                        continue;
                    };
                    if a == b {
                        continue;
                    }
                    let (Some(a_end), Some(b0)) = (sa.last(), sb.first()) else {
                        continue;
                    };
                    let join = a_end.t_ms + 1000.0 / 30.0;
                    let shift = join - b0.t_ms;
                    let mut joined = sa.clone();
                    joined.extend(sb.iter().map(|s| GazeSample {
                        t_ms: s.t_ms + shift,
                        ..*s
                    }));
                    let cfg = ActivityConfig {
                        geometry: ea.geometry,
                        model: model.clone(),
                        ..config_for(ea.geometry)
                    };
                    let t0 = joined.first().map_or(0.0, |s| s.t_ms);
                    let join_rel = (join - t0) / 1000.0;
                    let want = [Activity::Reading, Activity::Browsing, Activity::Watching][b];
                    let mut first: Option<f64> = None;
                    stream(&joined, &cfg, |t, _, act| {
                        let after = t - join_rel;
                        if !(0.0..SWITCH_SPAN_S as f64).contains(&after) {
                            return;
                        }
                        let hit = if act == want { 1.0 } else { 0.0 };
                        if hit > 0.0 && first.is_none() {
                            first = Some(after);
                        }
                        if after < 10.0 {
                            ok10 += hit;
                            n10 += 1.0;
                        }
                        if after < 30.0 {
                            ok30 += hit;
                            n30 += 1.0;
                        }
                    });
                    match first {
                        Some(d) => delays.push(d),
                        None => never += 1,
                    }
                }
            }
        }
        delays.sort_by(f64::total_cmp);
        let q = |p: f64| {
            delays
                .get(((delays.len() as f64 - 1.0) * p).round().max(0.0) as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let (acc10, acc30) = (ok10 / n10.max(1.0), ok30 / n30.max(1.0));
        println!(
            "\n[switch / {cond}] srivastava LOSO, {} joins: delay to the new label median {:.0} s, p75 {:.0} s, p90 {:.0} s, never within {SWITCH_SPAN_S} s {never}; correct seconds 0–10 s {acc10:.3}, 0–30 s {acc30:.3}",
            delays.len() + never,
            q(0.5),
            q(0.75),
            q(0.9),
        );
        out.push((
            cond.to_string(),
            serde_json::json!({
                "joins": delays.len() + never,
                "delay_s_median": q(0.5), "delay_s_p75": q(0.75), "delay_s_p90": q(0.9),
                "never": never, "correct_0_10s": acc10, "correct_0_30s": acc30,
            }),
        ));
    }
    Ok(out)
}

/// `loso+adapt`: for each srivastava subject, the first 40 s of each of their reading /
/// browsing / watching recordings (2 minutes of labels in all, at the webcam condition's
/// or the native rate) adapt the subject's fold model; the rest of the recordings (from 40 s
/// on) is scored with and without the adaptation.
fn adapt_eval(
    dir: &Path,
    entries: &[Entry],
    get_model: &mut impl FnMut(String) -> Result<ActivityModel, String>,
    add: &mut impl FnMut(&str, &str, &str, Confusion),
) -> Result<(), String> {
    let subjects = srivastava_subjects(entries);
    let per_class_s = ADAPT_S / 3.0;
    for subj in subjects {
        let Ok(model) = get_model(format!("loso__{}", file_key(subj))) else {
            continue;
        };
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.subject == subj).collect();
        for cond in ["native", "webcam"] {
            let mut traces = Vec::new();
            for e in &mine {
                let tr = match read_trace(dir, e) {
                    Ok(t) if t.t.len() >= 2 => t,
                    _ => continue,
                };
                let [(_, nat), (_, cam)] = conditions(&tr, e);
                traces.push((*e, if cond == "native" { nat } else { cam }));
            }
            let base = ActivityConfig {
                model: model.clone(),
                ..config_for(ScreenGeometry::default())
            };
            let mut spans = Vec::new();
            for (e, s) in &traces {
                let t0 = s.first().map_or(0.0, |s| s.t_ms);
                let snippet: Vec<GazeSample> = s
                    .iter()
                    .copied()
                    .filter(|x| x.t_ms - t0 < per_class_s * 1000.0)
                    .collect();
                spans.push(LabelledSpan {
                    samples: snippet,
                    activity: [Activity::Reading, Activity::Browsing, Activity::Watching][e.class],
                    geometry: e.geometry,
                });
            }
            let adapted = match base.adapt_to_labels(&spans) {
                Ok(c) => c,
                Err(err) => {
                    eprintln!("{subj} {cond}: adaptation failed: {err}");
                    continue;
                }
            };
            for (e, s) in &traces {
                let plain = ActivityConfig {
                    geometry: e.geometry,
                    ..base.clone()
                };
                let ad = ActivityConfig {
                    geometry: e.geometry,
                    ..adapted.clone()
                };
                add(
                    "loso(after 40 s)",
                    cond,
                    &e.dataset,
                    score(s, &plain, e.class, per_class_s),
                );
                add(
                    "loso+adapt(after 40 s)",
                    cond,
                    &e.dataset,
                    score(s, &ad, e.class, per_class_s),
                );
            }
        }
    }
    Ok(())
}
