//! Evaluates the activity model on labelled eye-movement recordings.
//!
//! ```text
//! cargo run --release -p gaze-examples --bin eval_activity -- /work/shared/testdata/activity \
//!     [--verbose] [--features] [--train] [--no-cv] [--open-only]
//! ```
//!
//! Reads `index.csv` in that folder (see its README) and prints:
//! * per recording: the share of time given each label by the streaming classifier
//!   (`--verbose` adds the label at every whole second: R/B/W/o);
//! * confusion matrices and macro-F1 over reading / watching (video) / browsing (scene), at the
//!   recording level (label with the most time) and at the time level (all samples, and the
//!   streaming label at every whole second), for webcam-rate files, lab-rate files, and
//!   lab-rate files resampled to 30 Hz with webcam-like noise — once for the shipped models
//!   (fitted on this same data, so in-sample) and once in 5-fold cross-validation grouped by
//!   subject (models refitted without the held-out subjects);
//! * reading recall (share of reading time labelled reading) on the webcam readers, and the
//!   effect of per-user adaptation ([`ActivityConfig::adapt_from`]) on it;
//! * per-sample Cohen's kappa of the fixation / saccade detector against the Lund2013 hand
//!   labels, next to the kappa between the two human annotators.
//!
//! `--train` also prints the refitted models as Rust code for `activity/config.rs`;
//! `--features` prints feature quartiles per class.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gaze_core::activity::{
    ActivityClassifier, ActivityConfig, EyeMovement, FEATURE_NAMES, GazeSample, LinearModel,
    N_FEATURES, ScreenGeometry, WindowFeatures, label_samples,
};
use gaze_core::{Activity, Attention};

// ------------------------------------------------------------------------------------ CSV

/// Splits one CSV line with `"` quoting.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[derive(Debug, Clone)]
struct Entry {
    recording: String,
    label: String,
    subject: String,
    units: String,
    geometry: ScreenGeometry,
    /// `open` when the recording's licence allows redistribution (index.csv column).
    redistribution: String,
}

fn read_index(dir: &Path) -> Result<Vec<Entry>, String> {
    let text =
        std::fs::read_to_string(dir.join("index.csv")).map_err(|e| format!("index.csv: {e}"))?;
    let mut lines = text.lines();
    let header = split_csv(lines.next().ok_or("empty index.csv")?);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("index.csv: no column {name}"))
    };
    let (c_rec, c_lab, c_units) = (col("recording")?, col("label")?, col("units")?);
    let c_subj = col("subject")?;
    let c_redist = col("redistribution")?;
    let (c_w, c_h, c_wmm, c_hmm, c_d) = (
        col("screen_w")?,
        col("screen_h")?,
        col("screen_w_mm")?,
        col("screen_h_mm")?,
        col("viewing_distance_mm")?,
    );
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f = split_csv(line);
        let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
        let num = |i: usize| {
            get(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let geometry = ScreenGeometry {
            width_px: num(c_w).unwrap_or(1920.0),
            height_px: num(c_h).unwrap_or(1080.0),
            width_mm: num(c_wmm),
            height_mm: num(c_hmm),
            distance_mm: num(c_d),
        };
        out.push(Entry {
            recording: get(c_rec).to_string(),
            label: get(c_lab).to_string(),
            subject: get(c_subj).to_string(),
            units: get(c_units).to_string(),
            geometry,
            redistribution: get(c_redist).to_string(),
        });
    }
    Ok(out)
}

struct Recording {
    t: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    event: Option<Vec<String>>,
    event2: Option<Vec<String>>,
}

fn read_recording(path: &Path, entry: &Entry) -> Result<Recording, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let ev = header.iter().position(|h| *h == "event");
    let ev2 = header.iter().position(|h| *h == "event2");
    let mut r = Recording {
        t: Vec::new(),
        x: Vec::new(),
        y: Vec::new(),
        event: ev.map(|_| Vec::new()),
        event2: ev2.map(|_| Vec::new()),
    };
    let (cx, cy) = (
        entry.geometry.width_px / 2.0,
        entry.geometry.height_px / 2.0,
    );
    let (ppx, ppy) = entry.geometry.px_per_deg();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 3 {
            continue;
        }
        let p = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
        let (t, mut x, mut y) = (p(f[0]), p(f[1]), p(f[2]));
        if entry.units == "deg" {
            // Degrees, origin at the centre, +y up → screen px, +y down.
            x = cx + x * ppx;
            y = cy - y * ppy;
        }
        r.t.push(t);
        r.x.push(x);
        r.y.push(y);
        if let (Some(i), Some(v)) = (ev, r.event.as_mut()) {
            v.push(f.get(i).unwrap_or(&"").to_string());
        }
        if let (Some(i), Some(v)) = (ev2, r.event2.as_mut()) {
            v.push(f.get(i).unwrap_or(&"").to_string());
        }
    }
    Ok(r)
}

// ------------------------------------------------------------------------- noise model

/// splitmix64: a small deterministic generator for the noise model.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Webcam-like noise, measured on the WebQAmGaze validation trials (29 Hz WebGazer while
/// fixating dots): within-dot SD ≈ 0.7–1.2 deg, slowly wandering (median sample-to-sample
/// step ≈ 0.2 deg). Modelled as AR(1) per axis (φ = 0.9, stationary SD `ar_sd` deg) plus
/// white jitter (`white_sd` deg), followed by WebGazer-like exponential smoothing (α = 0.5).
const AR_PHI: f64 = 0.9;
const AR_SD: f64 = 0.8;
const WHITE_SD: f64 = 0.2;
const EMA_ALPHA: f64 = 0.5;
const WEBCAM_HZ: f64 = 30.0;

fn resample_noisy(r: &Recording, g: &ScreenGeometry, name: &str) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Rng(seed_of(name));
    let (ppx, ppy) = g.px_per_deg();
    let (mut ts, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    let Some(&t0) = r.t.first() else {
        return (ts, xs, ys);
    };
    let t_end = r.t.last().copied().unwrap_or(t0);
    let step = 1000.0 / WEBCAM_HZ;
    let innov = AR_SD * (1.0 - AR_PHI * AR_PHI).sqrt();
    let (mut nx, mut ny) = (rng.gauss() * AR_SD, rng.gauss() * AR_SD);
    let mut ema: Option<(f64, f64)> = None;
    let mut j = 0;
    let mut k = 0.0;
    loop {
        let tau = t0 + k * step;
        if tau > t_end {
            break;
        }
        k += 1.0;
        while j + 1 < r.t.len() && r.t[j + 1] <= tau {
            j += 1;
        }
        nx = AR_PHI * nx + innov * rng.gauss();
        ny = AR_PHI * ny + innov * rng.gauss();
        let (x, y) = (r.x[j], r.y[j]);
        ts.push(tau);
        if !(x.is_finite() && y.is_finite()) {
            xs.push(f64::NAN);
            ys.push(f64::NAN);
            ema = None;
            continue;
        }
        let xn = x + (nx + WHITE_SD * rng.gauss()) * ppx;
        let yn = y + (ny + WHITE_SD * rng.gauss()) * ppy;
        let (ex, ey) = match ema {
            Some((ex, ey)) => (ex + EMA_ALPHA * (xn - ex), ey + EMA_ALPHA * (yn - ey)),
            None => (xn, yn),
        };
        ema = Some((ex, ey));
        xs.push(ex);
        ys.push(ey);
    }
    (ts, xs, ys)
}

// ---------------------------------------------------------------------------- scoring

const CLASSES: [&str; 3] = ["reading", "browsing", "watching"];
const PRED: [&str; 5] = ["reading", "browsing", "watching", "other", "none"];

fn truth_class(label: &str) -> Option<usize> {
    match label {
        "reading" => Some(0),
        "scene" => Some(1),
        "video" => Some(2),
        _ => None,
    }
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

#[derive(Default, Clone)]
struct Confusion {
    m: [[f64; 5]; 3],
}

impl Confusion {
    fn add(&mut self, truth: usize, pred: usize, w: f64) {
        self.m[truth][pred] += w;
    }
    fn f1(&self, c: usize) -> Option<f64> {
        let tp = self.m[c][c];
        let fn_: f64 = self.m[c].iter().sum::<f64>() - tp;
        let fp: f64 = (0..3).map(|r| self.m[r][c]).sum::<f64>() - tp;
        if tp + fn_ == 0.0 {
            return None; // class absent from the truth
        }
        Some(if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (2.0 * tp + fp + fn_)
        })
    }
    fn macro_f1(&self) -> (f64, usize) {
        let f: Vec<f64> = (0..3).filter_map(|c| self.f1(c)).collect();
        if f.is_empty() {
            (f64::NAN, 0)
        } else {
            (f.iter().sum::<f64>() / f.len() as f64, f.len())
        }
    }
    fn print(&self, title: &str, unit: &str) {
        let (mf, n) = self.macro_f1();
        println!("\n{title}  [{unit}]  macro-F1 = {mf:.3} over {n} class(es) present");
        print!("{:>10} |", "truth\\pred");
        for p in PRED {
            print!("{p:>10}");
        }
        println!(" | {:>7} {:>6}", "recall", "F1");
        for (r, name) in CLASSES.iter().enumerate() {
            let tot: f64 = self.m[r].iter().sum();
            if tot == 0.0 {
                continue;
            }
            print!("{name:>10} |");
            for v in self.m[r] {
                print!("{v:>10.0}");
            }
            println!(
                " | {:>7.3} {:>6.3}",
                self.m[r][r] / tot,
                self.f1(r).unwrap_or(f64::NAN)
            );
        }
    }
}

/// Streams one trace and returns (per-label seconds, per-second labels, features at each second).
fn run_trace(
    t: &[f64],
    x: &[f64],
    y: &[f64],
    config: &ActivityConfig,
) -> ([f64; 5], Vec<Activity>, Vec<WindowFeatures>) {
    let mut c = ActivityClassifier::new(config.clone());
    let mut secs = [0.0; 5];
    let mut per_second = Vec::new();
    let mut feats = Vec::new();
    let Some(&t0) = t.first() else {
        return (secs, per_second, feats);
    };
    let mut next_mark = t0 + 1000.0;
    let mut prev: Option<(f64, Activity)> = None;
    for i in 0..t.len() {
        let s = GazeSample::new(t[i], x[i], y[i]);
        // Score the label held at each whole second (before this sample changes it).
        while t[i] >= next_mark {
            if let Some((_, a)) = prev {
                per_second.push(a);
                feats.push(*c.features());
            }
            next_mark += 1000.0;
        }
        let st = c.push(s);
        if !st.accepted {
            continue;
        }
        let a = if st.attention == Attention::Focused {
            st.activity
        } else {
            Activity::None
        };
        if let Some((tp, ap)) = prev {
            secs[pred_index(ap)] += (t[i] - tp) / 1000.0;
        }
        prev = Some((t[i], a));
    }
    (secs, per_second, feats)
}

fn cohen_kappa(a: &[usize], b: &[usize], k: usize) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return f64::NAN;
    }
    let mut m = vec![vec![0.0f64; k]; k];
    for i in 0..n {
        m[a[i]][b[i]] += 1.0;
    }
    let nn = n as f64;
    let po: f64 = (0..k).map(|i| m[i][i]).sum::<f64>() / nn;
    let pe: f64 = (0..k)
        .map(|i| {
            let ra: f64 = m[i].iter().sum::<f64>() / nn;
            let cb: f64 = (0..k).map(|r| m[r][i]).sum::<f64>() / nn;
            ra * cb
        })
        .sum();
    if (1.0 - pe).abs() < 1e-12 {
        f64::NAN
    } else {
        (po - pe) / (1.0 - pe)
    }
}

/// 0 fixation, 1 saccade, 2 everything else (pso, pursuit, blink, undefined, noise).
fn hand3(s: &str) -> usize {
    match s {
        "fixation" => 0,
        "saccade" => 1,
        _ => 2,
    }
}

fn alg3(m: EyeMovement) -> usize {
    match m {
        EyeMovement::Fixation => 0,
        EyeMovement::Saccade => 1,
        EyeMovement::Pursuit | EyeMovement::Unknown => 2,
    }
}

fn binary(v: &[usize], class: usize) -> Vec<usize> {
    v.iter().map(|&c| usize::from(c == class)).collect()
}

#[derive(Default)]
struct FeatStats {
    rows: BTreeMap<(String, usize), Vec<WindowFeatures>>,
}

fn print_feature_stats(stats: &FeatStats) {
    let names = [
        "valid_ms", "n_fix", "mean_fix", "pursuit", "n_trans", "fwd", "sweep", "regress", "unrel",
        "amp", "h_frac", "right", "ljump", "spread", "spd_med", "still", "jump", "sw_rate",
        "cycles", "progr",
    ];
    let vals = |f: &WindowFeatures| {
        [
            f.valid_ms,
            f.n_fix,
            f.mean_fix_ms,
            f.pursuit_frac,
            f.n_trans,
            f.fwd_frac,
            f.sweep_frac,
            f.regress_frac,
            f.unrelated_frac,
            f.mean_amp,
            f.h_frac,
            f.right_frac,
            f.left_jump_frac,
            f.spread,
            f.speed_med,
            f.still_frac,
            f.jump_frac,
            f.sweep_rate,
            f.line_cycles,
            f.progression,
        ]
    };
    println!("\nFeature quartiles (25/50/75 %) per group and true class, at each scored second");
    for ((group, class), rows) in &stats.rows {
        println!("  {group} / {} (n={})", CLASSES[*class], rows.len());
        for (k, name) in names.iter().enumerate() {
            let mut v: Vec<f64> = rows.iter().map(|f| vals(f)[k]).collect();
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
            if !v.is_empty() {
                println!(
                    "    {name:>9}: {:>8.2} {:>8.2} {:>8.2}",
                    q(0.25),
                    q(0.5),
                    q(0.75)
                );
            }
        }
    }
}

// --------------------------------------------------------------------------- training

/// One training row: recording id, group, class, feature vector.
struct Row {
    rec: u64,
    group: usize,
    class: usize,
    x: [f64; N_FEATURES],
}

impl Row {
    fn copy(&self) -> Row {
        Row {
            rec: self.rec,
            group: self.group,
            class: self.class,
            x: self.x,
        }
    }
}

/// Fits a class-balanced multinomial logistic regression (L2, full-batch gradient descent)
/// on the rows whose `rec % folds != fold` (all rows when `fold` is None).
// Index loops read best for this small dense linear algebra.
#[allow(clippy::needless_range_loop)]
fn fit(rows: &[Row], fold: Option<(u64, u64)>) -> LinearModel {
    let train: Vec<&Row> = rows
        .iter()
        .filter(|r| fold.is_none_or(|(k, f)| r.rec % k != f))
        .collect();
    let n = train.len().max(1) as f64;
    let mut mean = [0.0; N_FEATURES];
    let mut scale = [0.0; N_FEATURES];
    for r in &train {
        for j in 0..N_FEATURES {
            mean[j] += r.x[j] / n;
        }
    }
    for r in &train {
        for j in 0..N_FEATURES {
            scale[j] += (r.x[j] - mean[j]).powi(2) / n;
        }
    }
    let scale = scale.map(|v| v.sqrt().max(1e-6));
    let xs: Vec<[f64; N_FEATURES]> = train
        .iter()
        .map(|r| std::array::from_fn(|j| ((r.x[j] - mean[j]) / scale[j]).clamp(-6.0, 6.0)))
        .collect();
    let mut counts = [0.0f64; 3];
    for r in &train {
        counts[r.class] += 1.0;
    }
    let wts: Vec<f64> = train
        .iter()
        .map(|r| 1.0 / (3.0 * counts[r.class].max(1.0)))
        .collect();
    let mut w = [[0.0; N_FEATURES]; 3];
    let mut b = [0.0; 3];
    let lambda = 3e-3;
    let lr = 0.5;
    for _ in 0..3000 {
        let mut gw = [[0.0; N_FEATURES]; 3];
        let mut gb = [0.0; 3];
        for (i, x) in xs.iter().enumerate() {
            let mut z = b;
            for c in 0..3 {
                for j in 0..N_FEATURES {
                    z[c] += w[c][j] * x[j];
                }
            }
            let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e = z.map(|v| (v - m).exp());
            let sum: f64 = e.iter().sum();
            for c in 0..3 {
                let g = (e[c] / sum - f64::from(u8::from(train[i].class == c))) * wts[i];
                gb[c] += g;
                for j in 0..N_FEATURES {
                    gw[c][j] += g * x[j];
                }
            }
        }
        for c in 0..3 {
            b[c] -= lr * gb[c];
            for j in 0..N_FEATURES {
                w[c][j] -= lr * (gw[c][j] + lambda * w[c][j]);
            }
        }
    }
    LinearModel {
        mean,
        scale,
        weights: w,
        bias: b,
    }
}

fn train_and_report(rows: &[Row], _groups: &[&str]) {
    println!(
        "\n=== Fitting the activity models ({} rows, one per scored second) ===",
        rows.len()
    );
    for (name, sel) in [
        ("webcam (webcam + lab@30Hz+noise rows)", [0usize, 2]),
        ("lab", [1, 1]),
    ] {
        let sub: Vec<Row> = rows
            .iter()
            .filter(|r| sel.contains(&r.group))
            .map(|r| Row {
                rec: r.rec,
                group: r.group,
                class: r.class,
                x: r.x,
            })
            .collect();
        print_model(name, &fit(&sub, None));
    }
}

fn print_model(name: &str, m: &LinearModel) {
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\n// {name} model; features: {:?}", FEATURE_NAMES);
    println!("    LinearModel {{");
    println!("        mean: [{}],", fmt(&m.mean));
    println!("        scale: [{}],", fmt(&m.scale));
    println!("        weights: [");
    for c in 0..3 {
        println!("            [{}],", fmt(&m.weights[c]));
    }
    println!("        ],");
    println!("        bias: [{}],", fmt(&m.bias));
    println!("    }}");
}

/// One trace to classify: a recording at its native rate or resampled.
struct Item {
    entry: Entry,
    group: usize,
    rate: f64,
    dur: f64,
    fold: u64,
    t: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
}

#[derive(Default)]
struct Scores {
    rec: Vec<Confusion>,
    time: Vec<Confusion>,
    sec: Vec<Confusion>,
    /// Webcam readers: (reading s, total s, reading seconds scored, seconds scored).
    webcam_reading: [f64; 4],
}

impl Scores {
    fn new(groups: usize) -> Self {
        Scores {
            rec: vec![Confusion::default(); groups],
            time: vec![Confusion::default(); groups],
            sec: vec![Confusion::default(); groups],
            webcam_reading: [0.0; 4],
        }
    }
    fn add(&mut self, item: &Item, secs: &[f64; 5], per_second: &[Activity]) {
        let Some(tc) = truth_class(&item.entry.label) else {
            return;
        };
        let g = item.group;
        let best = (0..5)
            .max_by(|&a, &b| secs[a].total_cmp(&secs[b]))
            .unwrap_or(3);
        self.rec[g].add(tc, best, 1.0);
        for (p, s) in secs.iter().enumerate() {
            self.time[g].add(tc, p, *s);
        }
        for a in per_second {
            self.sec[g].add(tc, pred_index(*a), 1.0);
        }
        if g == 0 && tc == 0 {
            self.webcam_reading[0] += secs[0];
            self.webcam_reading[1] += secs.iter().sum::<f64>();
            self.webcam_reading[2] += per_second
                .iter()
                .filter(|a| **a == Activity::Reading)
                .count() as f64;
            self.webcam_reading[3] += per_second.len() as f64;
        }
    }
    fn print(&self, title: &str, groups: &[&str], levels: bool) {
        println!("\n=== {title} ===");
        for (g, name) in groups.iter().enumerate() {
            if levels {
                self.rec[g].print(
                    &format!("{name}: recording level (label with most time)"),
                    "recordings",
                );
                self.time[g].print(&format!("{name}: time level, all samples"), "seconds");
            }
            self.sec[g].print(
                &format!("{name}: time level, streaming label at each whole second"),
                "seconds",
            );
        }
        // Pooled over the native-rate recordings (real webcam + lab).
        let mut pooled = Confusion::default();
        for g in 0..self.sec.len().min(2) {
            for r in 0..3 {
                for c in 0..5 {
                    pooled.m[r][c] += self.sec[g].m[r][c];
                }
            }
        }
        pooled.print(
            "webcam + lab pooled (native rates): time level, streaming label at each whole second",
            "seconds",
        );
        let w = &self.webcam_reading;
        println!(
            "\nWebcam readers: reading recall = {:.3} of time ({:.0} of {:.0} s); {:.3} of scored seconds",
            w[0] / w[1].max(1e-9),
            w[0],
            w[1],
            w[2] / w[3].max(1e-9)
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!(
            "usage: eval_activity <path to activity testdata folder> [--features] [--verbose] [--train] [--no-cv] [--open-only]"
        );
        std::process::exit(2);
    };
    let show_features = args.iter().any(|a| a == "--features");
    let verbose = args.iter().any(|a| a == "--verbose");
    let train = args.iter().any(|a| a == "--train");
    let cv = !args.iter().any(|a| a == "--no-cv");
    // --open-only: leave out recordings whose licence does not allow redistribution (GazeCom),
    // e.g. to fit the shipped models only on data whose terms are clear.
    let open_only = args.iter().any(|a| a == "--open-only");
    let entries = match read_index(&dir) {
        Ok(e) if open_only => e
            .into_iter()
            .filter(|e| e.redistribution == "open")
            .collect(),
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let groups = ["webcam", "lab", "lab@30Hz+noise"];
    let folds = 5u64;

    // ---- load every trace (native, and resampled for lab rates)
    let mut items: Vec<Item> = Vec::new();
    let mut k_alg = Vec::new();
    let mut k_ra = Vec::new();
    let mut k2_alg = Vec::new();
    let mut k2_ra = Vec::new();
    let mut k2_mn = Vec::new();
    for e in &entries {
        let rec = match read_recording(&dir.join(&e.recording), e) {
            Ok(r) => r,
            Err(err) => {
                eprintln!("skipping {}: {err}", e.recording);
                continue;
            }
        };
        if rec.t.len() < 2 {
            continue;
        }
        let dur = (rec.t[rec.t.len() - 1] - rec.t[0]) / 1000.0;
        let mut dts: Vec<f64> = rec
            .t
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .collect();
        dts.sort_by(f64::total_cmp);
        let rate = 1000.0 / dts.get(dts.len() / 2).copied().unwrap_or(33.0);
        let fold = seed_of(&e.subject) % folds;
        let config = ActivityConfig::with_geometry(e.geometry);
        if let Some(ev) = &rec.event {
            // Fixation / saccade agreement with the hand labels (native rate).
            let samples: Vec<GazeSample> = (0..rec.t.len())
                .map(|i| GazeSample::new(rec.t[i], rec.x[i], rec.y[i]))
                .collect();
            let labels = label_samples(&samples, &config);
            let a: Vec<usize> = labels.iter().map(|m| alg3(*m)).collect();
            let ra: Vec<usize> = ev.iter().map(|s| hand3(s)).collect();
            k_alg.extend_from_slice(&a);
            k_ra.extend_from_slice(&ra);
            if let Some(ev2) = &rec.event2 {
                k2_alg.extend_from_slice(&a);
                k2_ra.extend_from_slice(&ra);
                k2_mn.extend(ev2.iter().map(|s| hand3(s)));
            }
        }
        if rate < 100.0 {
            items.push(Item {
                entry: e.clone(),
                group: 0,
                rate,
                dur,
                fold,
                t: rec.t,
                x: rec.x,
                y: rec.y,
            });
        } else {
            let (t, x, y) = resample_noisy(&rec, &e.geometry, &e.recording);
            items.push(Item {
                entry: e.clone(),
                group: 2,
                rate: WEBCAM_HZ,
                dur,
                fold,
                t,
                x,
                y,
            });
            items.push(Item {
                entry: e.clone(),
                group: 1,
                rate,
                dur,
                fold,
                t: rec.t,
                x: rec.x,
                y: rec.y,
            });
        }
    }
    items.sort_by_key(|i| (i.group, i.entry.label.clone(), i.entry.recording.clone()));

    // ---- shipped model
    println!(
        "{:<58} {:>8} {:>5} {:>6} | {:>6} {:>6} {:>6} {:>6} {:>6}",
        "recording (shipped model)",
        "label",
        "Hz",
        "dur_s",
        "read",
        "brows",
        "watch",
        "other",
        "none"
    );
    let mut shipped = Scores::new(groups.len());
    let mut rows: Vec<Row> = Vec::new();
    let mut feat_stats = FeatStats::default();
    for item in &items {
        let config = ActivityConfig::with_geometry(item.entry.geometry);
        let (secs, per_second, feats) = run_trace(&item.t, &item.x, &item.y, &config);
        print_recording(item, &secs, &per_second, groups[item.group], verbose);
        shipped.add(item, &secs, &per_second);
        if let Some(tc) = truth_class(&item.entry.label) {
            rows.extend(feats.iter().map(|f| Row {
                rec: item.fold,
                group: item.group,
                class: tc,
                x: f.vector(),
            }));
            if show_features {
                feat_stats
                    .rows
                    .entry((groups[item.group].to_string(), tc))
                    .or_default()
                    .extend(feats.iter().copied());
            }
        }
    }
    shipped.print(
        "Activity, shipped model (fitted on all of this data: in-sample)",
        &groups,
        true,
    );

    // ---- subject-grouped cross-validation: models fitted without the held-out subjects
    if cv {
        let mut cvs = Scores::new(groups.len());
        for f in 0..folds {
            let cam_rows: Vec<Row> = rows
                .iter()
                .filter(|r| r.group != 1 && r.rec != f)
                .map(Row::copy)
                .collect();
            let lab_rows: Vec<Row> = rows
                .iter()
                .filter(|r| r.group == 1 && r.rec != f)
                .map(Row::copy)
                .collect();
            let cam = fit(&cam_rows, None);
            let lab = fit(&lab_rows, None);
            for item in items.iter().filter(|i| i.fold == f) {
                let config = ActivityConfig {
                    model_webcam: cam.clone(),
                    model_lab: lab.clone(),
                    ..ActivityConfig::with_geometry(item.entry.geometry)
                };
                let (secs, per_second, _) = run_trace(&item.t, &item.x, &item.y, &config);
                cvs.add(item, &secs, &per_second);
            }
        }
        cvs.print(
            &format!("Activity, {folds}-fold cross-validation grouped by subject (held-out subjects never seen in fitting)"),
            &groups,
            true,
        );
    }

    adaptation_report(&items);

    println!(
        "\n=== Fixation / saccade detection vs Lund2013 hand labels (per sample, native rate) ==="
    );
    println!("classes: fixation / saccade / other (pso, pursuit, blink, undefined)");
    println!(
        "all files with labels (n = {} samples): kappa(alg, RA) 3-class = {:.3}, fixation = {:.3}, saccade = {:.3}",
        k_alg.len(),
        cohen_kappa(&k_alg, &k_ra, 3),
        cohen_kappa(&binary(&k_alg, 0), &binary(&k_ra, 0), 2),
        cohen_kappa(&binary(&k_alg, 1), &binary(&k_ra, 1), 2),
    );
    let mut m = [[0usize; 3]; 3];
    for (a, r) in k_alg.iter().zip(&k_ra) {
        m[*r][*a] += 1;
    }
    println!("  samples, RA (rows: fix/sacc/other) vs algorithm (cols): {m:?}");
    println!("files with both annotators (n = {} samples):", k2_alg.len());
    for (name, a, b) in [
        ("alg vs RA", &k2_alg, &k2_ra),
        ("alg vs MN", &k2_alg, &k2_mn),
        ("RA vs MN (human)", &k2_ra, &k2_mn),
    ] {
        println!(
            "  {name:<17} 3-class = {:.3}  fixation = {:.3}  saccade = {:.3}",
            cohen_kappa(a, b, 3),
            cohen_kappa(&binary(a, 0), &binary(b, 0), 2),
            cohen_kappa(&binary(a, 1), &binary(b, 1), 2),
        );
    }
    if show_features {
        print_feature_stats(&feat_stats);
    }
    if train {
        train_and_report(&rows, &groups);
    }
}

fn print_recording(
    item: &Item,
    secs: &[f64; 5],
    per_second: &[Activity],
    group: &str,
    verbose: bool,
) {
    let total: f64 = secs.iter().sum::<f64>().max(1e-9);
    println!(
        "{:<58} {:>8} {:>5.0} {:>6.1} | {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2}  {group}",
        item.entry.recording,
        item.entry.label,
        item.rate,
        item.dur,
        secs[0] / total,
        secs[1] / total,
        secs[2] / total,
        secs[3] / total,
        secs[4] / total,
    );
    if verbose {
        let s: String = per_second
            .iter()
            .map(|a| match a {
                Activity::Reading => 'R',
                Activity::Browsing => 'B',
                Activity::Watching => 'W',
                Activity::Other => 'o',
                Activity::None => '.',
            })
            .collect();
        println!("      {s}");
    }
}

/// Per-user adaptation on the webcam participants: thresholds learned from the participant's
/// 5-dot validation trial and the first 10 s of one reading trial; reading recall measured on
/// the participant's *other* reading trials, with and without adaptation.
fn adaptation_report(items: &[Item]) {
    let webcam: Vec<&Item> = items.iter().filter(|i| i.group == 0).collect();
    let mut subjects: Vec<&str> = webcam.iter().map(|i| i.entry.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    println!(
        "\n=== Per-user adaptation (webcam): ActivityConfig::adapt_from(validation dots, 10 s of one reading trial) ==="
    );
    println!(
        "{:<22} {:>8} {:>8} {:>10} | {:>8} {:>8}",
        "subject", "disp_deg", "fwd_max", "sweep_min", "default", "adapted"
    );
    let (mut tot_d, mut tot_a, mut tot) = (0.0, 0.0, 0.0);
    for subj in subjects {
        let mine: Vec<&&Item> = webcam.iter().filter(|i| i.entry.subject == subj).collect();
        let Some(dots) = mine.iter().find(|i| i.entry.label == "fixation") else {
            continue;
        };
        let reads: Vec<&&&Item> = mine.iter().filter(|i| i.entry.label == "reading").collect();
        let Some(first) = reads.first() else {
            continue;
        };
        let to_samples = |i: &Item, max_ms: f64| -> Vec<GazeSample> {
            let t0 = i.t.first().copied().unwrap_or(0.0);
            (0..i.t.len())
                .filter(|&k| i.t[k] - t0 <= max_ms)
                .map(|k| GazeSample::new(i.t[k], i.x[k], i.y[k]))
                .collect()
        };
        let base = ActivityConfig::with_geometry(first.entry.geometry);
        let adapted = match base.adapt_from(
            &to_samples(dots, f64::INFINITY),
            &to_samples(first, 10_000.0),
        ) {
            Ok(c) => c,
            Err(e) => {
                println!("{subj:<22} adaptation failed: {e}");
                continue;
            }
        };
        let (mut d, mut a, mut t) = (0.0, 0.0, 0.0);
        for r in reads.iter().skip(1) {
            let cfg_d = ActivityConfig::with_geometry(r.entry.geometry);
            let cfg_a = ActivityConfig {
                geometry: r.entry.geometry,
                ..adapted.clone()
            };
            let (sd, _, _) = run_trace(&r.t, &r.x, &r.y, &cfg_d);
            let (sa, _, _) = run_trace(&r.t, &r.x, &r.y, &cfg_a);
            d += sd[0];
            a += sa[0];
            t += sd.iter().sum::<f64>();
        }
        println!(
            "{subj:<22} {:>8.2} {:>8.2} {:>10.2} | {:>8.3} {:>8.3}",
            adapted.idt_dispersion_deg,
            adapted.read_forward_max_deg,
            adapted.return_sweep_min_deg,
            d / t.max(1e-9),
            a / t.max(1e-9)
        );
        tot_d += d;
        tot_a += a;
        tot += t;
    }
    println!(
        "all (reading recall, share of time): default {:.3}, adapted {:.3} over {:.0} s",
        tot_d / tot.max(1e-9),
        tot_a / tot.max(1e-9),
        tot
    );
}
