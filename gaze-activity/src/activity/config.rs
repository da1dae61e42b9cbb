//! Thresholds of the activity model, with per-user adaptation.

use serde::{Deserialize, Serialize};

use super::events::{EventDetector, EyeEvent, EyeMovement};
use super::features::{LinearModel, ReadingRule};
use super::geometry::ScreenGeometry;
use super::sample::GazeSample;
use super::trees::{BoostedTrees, N_CLASSES};
use crate::error::{Error, Result};

/// Which fixation detector to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorChoice {
    /// Choose from the measured sampling rate (I-VT at lab rates, I-DT below).
    #[default]
    Auto,
    /// Always I-DT with smoothing.
    Dispersion,
    /// Always I-VT.
    Velocity,
}

/// Which scorer turns the window features into class probabilities.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityModel {
    /// The shipped gradient-boosted trees ([`BoostedTrees::builtin`]) over the extended
    /// features, with calibrated probabilities.
    #[default]
    Builtin,
    /// The earlier multinomial logistic models ([`ActivityConfig::model_webcam`] /
    /// [`ActivityConfig::model_lab`]) plus the hand-set [`ReadingRule`].
    Linear,
    /// A custom boosted-tree model in the same format (e.g. a cross-validation fold).
    Trees(Box<BoostedTrees>),
}

/// Every threshold of the activity model. Serialisable (JSON) so it can be stored with the
/// user's calibration; unknown or missing fields fall back to the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityConfig {
    /// Screen geometry used to convert pixels to degrees.
    pub geometry: ScreenGeometry,
    /// Detector selection.
    pub detector: DetectorChoice,
    /// Sampling rate (Hz) from which I-VT is used instead of I-DT.
    pub lab_rate_min_hz: f64,
    /// I-VT saccade velocity threshold (deg/s).
    pub ivt_velocity_deg_s: f64,
    /// I-VT minimum fixation duration (ms).
    pub ivt_min_fixation_ms: f64,
    /// I-DT dispersion threshold (x range + y range, degrees).
    pub idt_dispersion_deg: f64,
    /// I-DT minimum fixation duration (ms).
    pub idt_min_fixation_ms: f64,
    /// I-DT running-median length (samples).
    pub idt_smoothing_samples: usize,
    /// A slow run drifting faster than this (deg/s) is smooth pursuit.
    pub pursuit_min_deg_s: f64,

    /// Width of the coarse time bins the activity features use (ms).
    pub bin_ms: f64,
    /// Length of the sliding feature window (ms).
    pub window_ms: f64,
    /// Valid data needed in the window before a first activity label is given (ms).
    pub min_evidence_ms: f64,
    /// Time constant of the score smoothing (ms).
    pub score_tau_ms: f64,
    /// A challenger label must beat the current one by this much (smoothed score units).
    pub switch_margin: f64,
    /// Below this smoothed probability no activity is confident and the label is `Other`
    /// (default 0.5: the best class must be more likely than not).
    pub min_score: f64,
    /// Reading evidence rule (hand-set, rate independent).
    pub reading: ReadingRule,
    /// Browsing-vs-watching scorer at webcam rates (I-DT): logistic model over the window
    /// features (only the browsing and watching rows are used).
    pub model_webcam: LinearModel,
    /// Activity scorer at lab rates (I-VT).
    pub model_lab: LinearModel,
    /// Which scorer runs (default: the shipped boosted trees). Configs stored before this
    /// field existed load with the default.
    pub model: ActivityModel,
    /// Per-class offsets (reading, browsing, watching) added to the boosted-tree model's
    /// calibrated log-odds: the per-user adaptation learned from a user's own labels
    /// ([`ActivityConfig::adapt_to_labels`]). Zeros for none.
    pub class_bias: [f64; N_CLASSES],
    /// Features and class scores are recomputed every this many milliseconds (rounded to
    /// whole bins, at least one).
    pub score_every_ms: f64,

    /// Reading: smallest forward step that counts as a reading saccade (deg).
    pub read_forward_min_deg: f64,
    /// Reading: largest forward step that counts as a reading saccade (deg).
    pub read_forward_max_deg: f64,
    /// Reading: largest vertical component of a forward reading saccade (deg).
    pub read_line_tolerance_deg: f64,
    /// Reading: smallest leftward jump that counts as a return sweep (deg).
    pub return_sweep_min_deg: f64,

    /// Eyes closed longer than this is distraction; shorter closures are blinks (ms).
    pub closed_min_ms: f64,
    /// Looking away / no face / head turned longer than this is distraction (ms).
    pub away_min_ms: f64,
    /// Sample gaps and invalid-sample runs longer than this are `no_data` (ms); shorter
    /// dropouts keep the current label.
    pub max_gap_ms: f64,
    /// Gaze this far outside the screen (fraction of the screen size) counts as looking away
    /// even when the tracker did not flag it.
    pub off_screen_margin: f64,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            geometry: ScreenGeometry::default(),
            detector: DetectorChoice::Auto,
            lab_rate_min_hz: 100.0,
            ivt_velocity_deg_s: 50.0,
            ivt_min_fixation_ms: 50.0,
            idt_dispersion_deg: 2.0,
            idt_min_fixation_ms: 100.0,
            idt_smoothing_samples: 3,
            pursuit_min_deg_s: 3.0,
            bin_ms: 100.0,
            window_ms: 10000.0,
            min_evidence_ms: 500.0,
            score_tau_ms: 800.0,
            switch_margin: 0.1,
            min_score: 0.5,
            reading: ReadingRule::default(),
            model_webcam: default_webcam_model(),
            model_lab: default_lab_model(),
            model: ActivityModel::Builtin,
            class_bias: [0.0; N_CLASSES],
            score_every_ms: 300.0,
            read_forward_min_deg: 0.3,
            read_forward_max_deg: 6.0,
            read_line_tolerance_deg: 1.5,
            return_sweep_min_deg: 6.0,
            closed_min_ms: 1000.0,
            away_min_ms: 1000.0,
            max_gap_ms: 500.0,
            off_screen_margin: 0.25,
        }
    }
}

fn check(name: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::Config(format!("{name} = {v} outside [{lo}, {hi}]")))
    }
}

impl ActivityConfig {
    /// The configuration of the earlier releases: the linear models with the hand-set
    /// reading rule, scored every bin with the earlier smoothing (a baseline for
    /// evaluations).
    pub fn legacy() -> Self {
        ActivityConfig {
            model: ActivityModel::Linear,
            score_every_ms: 100.0,
            score_tau_ms: 800.0,
            min_score: 0.4,
            ..ActivityConfig::default()
        }
    }

    /// Default thresholds for a given screen.
    pub fn with_geometry(geometry: ScreenGeometry) -> Self {
        ActivityConfig {
            geometry,
            ..ActivityConfig::default()
        }
    }

    /// Checks every value is finite and in a sensible range.
    pub fn validate(&self) -> Result<()> {
        check("geometry.width_px", self.geometry.width_px, 1.0, 1e6)?;
        check("geometry.height_px", self.geometry.height_px, 1.0, 1e6)?;
        check("lab_rate_min_hz", self.lab_rate_min_hz, 1.0, 1e5)?;
        check("ivt_velocity_deg_s", self.ivt_velocity_deg_s, 1.0, 1000.0)?;
        check("ivt_min_fixation_ms", self.ivt_min_fixation_ms, 0.0, 2000.0)?;
        check("idt_dispersion_deg", self.idt_dispersion_deg, 0.05, 30.0)?;
        check("idt_min_fixation_ms", self.idt_min_fixation_ms, 0.0, 2000.0)?;
        check(
            "idt_smoothing_samples",
            self.idt_smoothing_samples as f64,
            1.0,
            15.0,
        )?;
        check("pursuit_min_deg_s", self.pursuit_min_deg_s, 0.0, 200.0)?;
        check("bin_ms", self.bin_ms, 10.0, 1000.0)?;
        check("window_ms", self.window_ms, self.bin_ms * 4.0, 120_000.0)?;
        check("min_evidence_ms", self.min_evidence_ms, 0.0, self.window_ms)?;
        check("score_tau_ms", self.score_tau_ms, 0.0, 60_000.0)?;
        check("switch_margin", self.switch_margin, 0.0, 1.0)?;
        check("min_score", self.min_score, 0.0, 1.0)?;
        check("read_forward_min_deg", self.read_forward_min_deg, 0.0, 20.0)?;
        check(
            "read_forward_max_deg",
            self.read_forward_max_deg,
            self.read_forward_min_deg,
            40.0,
        )?;
        check(
            "read_line_tolerance_deg",
            self.read_line_tolerance_deg,
            0.0,
            20.0,
        )?;
        check("return_sweep_min_deg", self.return_sweep_min_deg, 0.5, 90.0)?;
        check("closed_min_ms", self.closed_min_ms, 0.0, 600_000.0)?;
        check("away_min_ms", self.away_min_ms, 0.0, 600_000.0)?;
        check("max_gap_ms", self.max_gap_ms, 1.0, 600_000.0)?;
        check("off_screen_margin", self.off_screen_margin, 0.0, 100.0)?;
        check("score_every_ms", self.score_every_ms, 0.0, self.window_ms)?;
        for (i, b) in self.class_bias.iter().enumerate() {
            check(&format!("class_bias[{i}]"), *b, -20.0, 20.0)?;
        }
        if let ActivityModel::Trees(m) = &self.model {
            m.validate()?;
        }
        Ok(())
    }

    /// Serialises to JSON (to store next to the user's calibration).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses and validates a stored config.
    pub fn from_json(json: &str) -> Result<Self> {
        let c: ActivityConfig = serde_json::from_str(json)?;
        c.validate()?;
        Ok(c)
    }

    /// Per-user adaptation: learns thresholds from a short calibration recording.
    ///
    /// * `fixation` — samples recorded while the user fixated calibration targets (e.g. the
    ///   9-point calibration, several hundred ms per target). Their jitter sets the I-DT
    ///   dispersion threshold (at webcam rates) or the I-VT velocity threshold (at lab rates):
    ///   the 95th percentile of within-target dispersion / velocity, with a safety factor.
    /// * `reading` — samples recorded while the user read a paragraph. Its fixation sequence
    ///   sets the forward-saccade range (5th–95th percentile of rightward steps) and the
    ///   return-sweep threshold (half the median leftward line jump).
    ///
    /// Either slice may be empty, which keeps the corresponding thresholds. Samples must be
    /// in screen pixels of `self.geometry`. Returns an error when a non-empty snippet holds
    /// too little usable data to learn from.
    pub fn adapt_from(&self, fixation: &[GazeSample], reading: &[GazeSample]) -> Result<Self> {
        let mut out = self.clone();
        let (ppx, ppy) = self.geometry.px_per_deg();
        let clean = |s: &[GazeSample]| -> Vec<(f64, f64, f64)> {
            let mut v: Vec<(f64, f64, f64)> = s
                .iter()
                .filter(|s| s.has_point() && s.t_ms.is_finite())
                .map(|s| (s.t_ms, s.x / ppx, s.y / ppy))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v.dedup_by(|a, b| a.0 == b.0);
            v
        };
        if !fixation.is_empty() {
            let f = clean(fixation);
            if f.len() < 10 {
                return Err(Error::Activity(
                    "adapt_from: fixation snippet has fewer than 10 valid samples".into(),
                ));
            }
            let rate = median_rate(&f);
            if rate >= self.lab_rate_min_hz {
                // Velocity noise during fixation: 95th percentile of sample-to-sample speed,
                // excluding the fast target changes (top 10 % of speeds).
                let mut v: Vec<f64> = f
                    .windows(2)
                    .map(|w| {
                        ((w[1].1 - w[0].1).hypot(w[1].2 - w[0].2)) / (w[1].0 - w[0].0) * 1000.0
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                v.sort_by(f64::total_cmp);
                let p = percentile(&v[..(v.len() * 9 / 10).max(1)], 0.95);
                out.ivt_velocity_deg_s = (p * 2.0).clamp(20.0, 100.0);
            } else {
                // Dispersion of the smoothed signal over min-fixation-long windows.
                let k = self.idt_smoothing_samples.max(1);
                let sm: Vec<(f64, f64, f64)> = (0..f.len())
                    .map(|i| {
                        let lo = (i + 1).saturating_sub(k);
                        let mut xs: Vec<f64> = f[lo..=i].iter().map(|q| q.1).collect();
                        let mut ys: Vec<f64> = f[lo..=i].iter().map(|q| q.2).collect();
                        (f[i].0, median(&mut xs), median(&mut ys))
                    })
                    .collect();
                let span = self.idt_min_fixation_ms.max(60.0) * 1.5;
                let mut disp = Vec::new();
                let mut j = 0;
                for i in 0..sm.len() {
                    while sm[i].0 - sm[j].0 > span {
                        j += 1;
                    }
                    if i > j {
                        let w = &sm[j..=i];
                        let (a, b) = w
                            .iter()
                            .fold((f64::MAX, f64::MIN), |a, q| (a.0.min(q.1), a.1.max(q.1)));
                        let (c, d) = w
                            .iter()
                            .fold((f64::MAX, f64::MIN), |a, q| (a.0.min(q.2), a.1.max(q.2)));
                        disp.push((b - a) + (d - c));
                    }
                }
                if disp.is_empty() {
                    return Err(Error::Activity(
                        "adapt_from: fixation snippet too short".into(),
                    ));
                }
                disp.sort_by(f64::total_cmp);
                // Typical within-fixation dispersion (median, robust to windows that straddle
                // a target change) with head room.
                let p = percentile(&disp, 0.5);
                out.idt_dispersion_deg = (p * 1.5).clamp(1.0, 4.0);
            }
        }
        if !reading.is_empty() {
            let r = clean(reading);
            if r.len() < 20 {
                return Err(Error::Activity(
                    "adapt_from: reading snippet has fewer than 20 valid samples".into(),
                ));
            }
            let mut det = EventDetector::new(&out);
            let mut ev: Vec<EyeEvent> = Vec::new();
            for &(t, x, y) in &r {
                det.push(t, x, y, true, &mut ev);
            }
            det.flush(&mut ev);
            let fix: Vec<&EyeEvent> = ev
                .iter()
                .filter(|e| e.kind == EyeMovement::Fixation)
                .collect();
            let mut fwd = Vec::new();
            let mut back = Vec::new();
            for w in fix.windows(2) {
                let dx = w[1].x_deg - w[0].x_deg;
                let dy = w[1].y_deg - w[0].y_deg;
                if dx > 0.0 && dy.abs() < dx.max(out.read_line_tolerance_deg) {
                    fwd.push(dx);
                } else if dx < 0.0 && dy.abs() < -dx * 0.5 {
                    back.push(-dx);
                }
            }
            if fwd.len() < 5 {
                return Err(Error::Activity(
                    "adapt_from: reading snippet has fewer than 5 forward saccades".into(),
                ));
            }
            fwd.sort_by(f64::total_cmp);
            out.read_forward_min_deg = percentile(&fwd, 0.05).clamp(0.1, 2.0);
            out.read_forward_max_deg =
                (percentile(&fwd, 0.95) * 1.5).clamp(out.read_forward_min_deg + 1.0, 15.0);
            back.sort_by(f64::total_cmp);
            let big: Vec<f64> = back
                .iter()
                .copied()
                .filter(|b| *b > out.read_forward_max_deg)
                .collect();
            if !big.is_empty() {
                out.return_sweep_min_deg = (percentile(&big, 0.5) * 0.5).clamp(2.0, 30.0);
            }
        }
        // Four decimals are plenty and keep the stored JSON short and stable.
        let r4 = |v: f64| (v * 1e4).round() / 1e4;
        out.ivt_velocity_deg_s = r4(out.ivt_velocity_deg_s);
        out.idt_dispersion_deg = r4(out.idt_dispersion_deg);
        out.read_forward_min_deg = r4(out.read_forward_min_deg);
        out.read_forward_max_deg = r4(out.read_forward_max_deg);
        out.return_sweep_min_deg = r4(out.return_sweep_min_deg);
        out.validate()?;
        Ok(out)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn median_rate(v: &[(f64, f64, f64)]) -> f64 {
    let mut d: Vec<f64> = v
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0.0)
        .collect();
    if d.is_empty() {
        return 30.0;
    }
    d.sort_by(f64::total_cmp);
    1000.0 / d[d.len() / 2]
}

/// Percentile of a sorted slice (nearest rank); 0 for an empty slice.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The shipped webcam-rate activity model (fitted with `eval_activity --train --open-only`:
/// only recordings whose licence allows redistribution; see the testdata README).
// Fitted coefficients can land next to well-known constants by chance.
#[allow(clippy::approx_constant)]
pub fn default_webcam_model() -> LinearModel {
    LinearModel {
        mean: [
            0.4363, 0.0757, 0.2002, 0.2869, 1.5590, -0.0783, 0.0000, 0.6593, 0.5913, 0.7811,
            1.9861, 2.6744, 0.0617, 0.1192, 0.3783, 0.2589, 0.2842, 4.2541, 0.1971, 0.4118, 0.0269,
        ],
        scale: [
            0.1808, 0.0617, 0.1231, 0.1607, 0.2765, 0.2416, 0.0000, 0.0946, 0.1052, 0.1775, 0.2409,
            0.3951, 0.0565, 0.0803, 0.2227, 0.1815, 0.3048, 0.6976, 0.0707, 0.1551, 0.0664,
        ],
        weights: [
            [
                0.3218, -0.5024, -0.2218, -0.5116, 0.4529, -1.7324, 0.0000, 0.0133, 0.1283, 0.1153,
                0.1237, 1.3412, -0.7336, -1.0837, 0.0389, 0.2266, -0.0494, -1.0783, -0.1049,
                -0.9155, 0.1067,
            ],
            [
                -0.3942, 0.1086, -0.0112, 0.6745, -0.6169, 0.9361, 0.0000, -0.2549, -0.3612,
                -0.0305, 0.3681, -0.7102, 0.6383, 0.7885, 0.6055, -0.7161, 0.1950, 0.6283, -0.0012,
                0.9692, -0.1697,
            ],
            [
                0.0724, 0.3938, 0.2330, -0.1629, 0.1640, 0.7963, 0.0000, 0.2417, 0.2329, -0.0848,
                -0.4918, -0.6311, 0.0953, 0.2952, -0.6444, 0.4895, -0.1456, 0.4500, 0.1061,
                -0.0537, 0.0630,
            ],
        ],
        bias: [1.7958, -1.4652, -0.3306],
    }
}

/// The shipped lab-rate activity model (fitted with `eval_activity --train --open-only`:
/// Lund2013 (GPL-3.0), GazeBase and Oz recordings; GazeCom, whose licence is unclear, is
/// left out. See the testdata README).
// Fitted coefficients can land next to well-known constants by chance.
#[allow(clippy::approx_constant)]
pub fn default_lab_model() -> LinearModel {
    LinearModel {
        mean: [
            0.2941, 0.1004, 0.2272, 0.3702, 1.6138, 0.5926, 0.1238, 0.6556, 0.5576, 0.6882, 1.8208,
            1.7135, 0.4480, 0.0961, 0.2587, 0.1721, 0.1583, 2.4997, 0.1692, 0.2874, 0.3415,
        ],
        scale: [
            0.2288, 0.0904, 0.1579, 0.2427, 0.3663, 0.4392, 0.1302, 0.1444, 0.1586, 0.2723, 0.3679,
            0.5614, 0.1673, 0.0738, 0.2271, 0.1788, 0.4079, 0.9795, 0.0954, 0.1488, 0.2937,
        ],
        weights: [
            [
                0.8104, -1.1125, -0.5797, 0.0565, 0.1850, -0.9624, -1.3237, -0.1028, 0.6906,
                0.4079, 0.9075, -0.5664, 0.3132, -0.5373, -0.3630, 0.5051, -0.0293, 0.8678,
                -0.4310, 0.0013, -0.1950,
            ],
            [
                -0.7449, 0.9559, -0.1567, 0.1103, -0.3314, 1.1346, -0.4007, -0.6056, -0.6025,
                -0.1880, -0.0295, 0.1742, -0.1567, 0.5298, 0.3269, -0.5652, -0.2213, 0.0724,
                -0.2811, 0.2431, -0.9047,
            ],
            [
                -0.0655, 0.1566, 0.7364, -0.1668, 0.1465, -0.1722, 1.7244, 0.7085, -0.0881,
                -0.2199, -0.8781, 0.3922, -0.1566, 0.0074, 0.0361, 0.0601, 0.2507, -0.9402, 0.7121,
                -0.2444, 1.0997,
            ],
        ],
        bias: [-3.2539, 0.6263, 2.6276],
    }
}
