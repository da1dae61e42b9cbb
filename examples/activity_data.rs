//! Shared by the activity protocol binaries: reads the labelled recordings of an activity
//! data folder (`index.csv` + one CSV per recording, see its README), maps task labels to
//! the three scored classes, and degrades a recording to webcam conditions.

use std::path::Path;

use gaze_core::AttentionEvidence;
use gaze_core::activity::{GazeSample, ScreenGeometry};

/// The scored classes.
pub const CLASSES: [&str; 3] = ["reading", "browsing", "watching"];

/// Task label → scored class: reading; browse + search → browsing; video → watching.
/// Everything else (scene, code reading, writing, games, fixation dots, pursuit dots) is
/// neither trained on nor scored.
pub fn class_of(label: &str) -> Option<usize> {
    match label {
        "reading" => Some(0),
        "browse" | "search" => Some(1),
        "video" => Some(2),
        _ => None,
    }
}

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

/// One row of `index.csv` with a scored class.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the data folder.
    pub recording: String,
    /// Dataset = first path component.
    pub dataset: String,
    /// Subject id, prefixed with the dataset.
    pub subject: String,
    /// Scored class.
    pub class: usize,
    /// `px` or `deg`.
    pub units: String,
    /// Screen geometry (index values, else the per-dataset assumption, else 1920×1080).
    pub geometry: ScreenGeometry,
}

/// Screen sizes of sets whose index leaves them blank (from each set's notes).
fn assumed_screen(dataset: &str) -> (f64, f64) {
    match dataset {
        "ved100_eyetribe" => (3840.0, 2160.0),
        "tobii_lecture_scrollbarvis" => (1366.0, 768.0),
        _ => (1920.0, 1080.0),
    }
}

/// Reads `index.csv` and keeps the rows of the scored classes.
pub fn read_index(dir: &Path) -> Result<Vec<Entry>, String> {
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
    let (c_rec, c_lab, c_units, c_subj) = (
        col("recording")?,
        col("label")?,
        col("units")?,
        col("subject")?,
    );
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
        let Some(class) = class_of(get(c_lab)) else {
            continue;
        };
        let num = |i: usize| {
            get(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let recording = get(c_rec).to_string();
        let dataset = recording.split('/').next().unwrap_or("").to_string();
        let (aw, ah) = assumed_screen(&dataset);
        out.push(Entry {
            subject: format!("{dataset}:{}", get(c_subj)),
            dataset,
            recording,
            class,
            units: get(c_units).to_string(),
            geometry: ScreenGeometry {
                width_px: num(c_w).unwrap_or(aw),
                height_px: num(c_h).unwrap_or(ah),
                width_mm: num(c_wmm),
                height_mm: num(c_hmm),
                distance_mm: num(c_d),
            },
        });
    }
    Ok(out)
}

/// A recording as screen-pixel samples (NaN = invalid).
pub struct Trace {
    /// Times (ms).
    pub t: Vec<f64>,
    /// x (px).
    pub x: Vec<f64>,
    /// y (px, +down).
    pub y: Vec<f64>,
}

/// Reads one recording (degrees are converted to screen pixels).
pub fn read_trace(dir: &Path, e: &Entry) -> Result<Trace, String> {
    let path = dir.join(&e.recording);
    let text =
        std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let (cx, cy) = (e.geometry.width_px / 2.0, e.geometry.height_px / 2.0);
    let (ppx, ppy) = e.geometry.px_per_deg();
    let mut tr = Trace {
        t: Vec::new(),
        x: Vec::new(),
        y: Vec::new(),
    };
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        let mut p = || {
            it.next()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let (t, mut x, mut y) = (p(), p(), p());
        if !t.is_finite() {
            continue;
        }
        if e.units == "deg" {
            x = cx + x * ppx;
            y = cy - y * ppy;
        }
        tr.t.push(t);
        tr.x.push(x);
        tr.y.push(y);
    }
    Ok(tr)
}

/// The recording as classifier input at its native rate.
pub fn native_samples(tr: &Trace) -> Vec<GazeSample> {
    (0..tr.t.len())
        .map(|i| GazeSample::new(tr.t[i], tr.x[i], tr.y[i]))
        .collect()
}

/// splitmix64: a small deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Uniform in (lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal.
    pub fn gauss(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// FNV-1a of a string (seeds).
pub fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Degrades a recording to webcam conditions, deterministically from `seed`:
/// resampled to 30 Hz (±3 ms timing jitter; a sample falling in a source gap is a dropout),
/// a per-recording scale error (±15 % per axis, about the screen centre), a constant offset
/// (SD 1°) plus a slow sinusoidal drift (0.5–2°, period 20–60 s), 1–2° of jitter (AR(1),
/// φ 0.9, plus white noise, then WebGazer-like exponential smoothing), 2 % single-sample
/// dropouts plus 0.2–0.8 s dropout bursts (5 % chance per second), and blinks every 2–6 s
/// (100–300 ms of eyes-closed samples without a gaze point).
pub fn degrade(tr: &Trace, g: &ScreenGeometry, seed: u64) -> Vec<GazeSample> {
    degrade_scaled(tr, g, seed, 1.0)
}

/// [`degrade`] with the offset, drift and jitter multiplied by `noise` (1 = [`degrade`];
/// smaller = a cleaner webcam, for training copies).
pub fn degrade_scaled(tr: &Trace, g: &ScreenGeometry, seed: u64, noise: f64) -> Vec<GazeSample> {
    let mut rng = Rng(seed);
    let (ppx, ppy) = g.px_per_deg();
    let (cx, cy) = (g.width() / 2.0, g.height() / 2.0);
    let mut out = Vec::new();
    let (Some(&t0), Some(&t_end)) = (tr.t.first(), tr.t.last()) else {
        return out;
    };
    let mut dts: Vec<f64> =
        tr.t.windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .collect();
    dts.sort_by(f64::total_cmp);
    let src_dt = dts.get(dts.len() / 2).copied().unwrap_or(33.3);
    let max_hold = (3.0 * src_dt).max(50.0);
    let (sx, sy) = (rng.range(0.85, 1.15), rng.range(0.85, 1.15));
    let (ox, oy) = (noise * rng.gauss(), noise * rng.gauss());
    let (ax, ay) = (noise * rng.range(0.5, 2.0), noise * rng.range(0.5, 2.0));
    let (px, py) = (rng.range(20_000.0, 60_000.0), rng.range(20_000.0, 60_000.0));
    let (phx, phy) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let jitter = noise * rng.range(1.0, 2.0);
    // AR(1) SD and white SD so that the total jitter SD is about `jitter`.
    let (phi, ar_sd, white_sd) = (0.9, 0.8 * jitter, 0.6 * jitter);
    let innov = ar_sd * (1.0f64 - phi * phi).sqrt();
    let (mut nx, mut ny) = (rng.gauss() * ar_sd, rng.gauss() * ar_sd);
    let mut ema: Option<(f64, f64)> = None;
    let step = 1000.0 / 30.0;
    let mut next_blink = t0 + rng.range(2000.0, 6000.0);
    let mut blink_end = f64::NEG_INFINITY;
    let mut burst_end = f64::NEG_INFINITY;
    let mut next_burst_check = t0 + 1000.0;
    let closed = AttentionEvidence {
        face_present: true,
        eyes_closed: true,
        ..AttentionEvidence::default()
    };
    let open = AttentionEvidence {
        face_present: true,
        ..AttentionEvidence::default()
    };
    let mut j = 0usize;
    let mut k = 0.0;
    let mut last_t = f64::NEG_INFINITY;
    loop {
        let tau0 = t0 + k * step;
        if tau0 > t_end {
            break;
        }
        k += 1.0;
        let tau = (tau0 + rng.range(-3.0, 3.0)).max(last_t + 1.0);
        last_t = tau;
        while j + 1 < tr.t.len() && tr.t[j + 1] <= tau {
            j += 1;
        }
        nx = phi * nx + innov * rng.gauss();
        ny = phi * ny + innov * rng.gauss();
        if tau >= next_blink {
            blink_end = tau + rng.range(100.0, 300.0);
            next_blink = tau + rng.range(2000.0, 6000.0);
        }
        if tau >= next_burst_check {
            next_burst_check += 1000.0;
            if rng.uniform() < 0.05 {
                burst_end = tau + rng.range(200.0, 800.0);
            }
        }
        if tau < blink_end {
            out.push(GazeSample::invalid(tau, closed));
            ema = None;
            continue;
        }
        let (x, y) = (tr.x[j], tr.y[j]);
        let held_too_long = tau - tr.t[j] > max_hold;
        if tau < burst_end
            || rng.uniform() < 0.02
            || held_too_long
            || !(x.is_finite() && y.is_finite())
        {
            out.push(GazeSample::invalid(tau, open));
            ema = None;
            continue;
        }
        let s = (tau - t0) * std::f64::consts::TAU;
        let dx = ox + ax * (s / px + phx).sin() + nx + white_sd * rng.gauss();
        let dy = oy + ay * (s / py + phy).sin() + ny + white_sd * rng.gauss();
        let xn = cx + (x - cx) * sx + dx * ppx;
        let yn = cy + (y - cy) * sy + dy * ppy;
        let (ex, ey) = match ema {
            Some((ex, ey)) => (ex + 0.5 * (xn - ex), ey + 0.5 * (yn - ey)),
            None => (xn, yn),
        };
        ema = Some((ex, ey));
        out.push(GazeSample::new(tau, ex, ey));
    }
    out
}
