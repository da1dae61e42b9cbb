//! Thresholds of the activity model, with per-user adaptation.

use serde::{Deserialize, Serialize};

use super::events::{EventDetector, EyeEvent, EyeMovement};
use super::features::{LinearModel, ReadingRule};
use super::geometry::ScreenGeometry;
use super::sample::GazeSample;
use crate::error::{GazeError, Result};

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
    /// Below this smoothed score no activity fits and the label is `Other`.
    pub min_score: f64,
    /// Reading evidence rule (hand-set, rate independent).
    pub reading: ReadingRule,
    /// Browsing-vs-watching scorer at webcam rates (I-DT): logistic model over the window
    /// features (only the browsing and watching rows are used).
    pub model_webcam: LinearModel,
    /// Activity scorer at lab rates (I-VT).
    pub model_lab: LinearModel,

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
            min_score: 0.4,
            reading: ReadingRule::default(),
            model_webcam: default_webcam_model(),
            model_lab: default_lab_model(),
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
        Err(GazeError::Config(format!(
            "{name} = {v} outside [{lo}, {hi}]"
        )))
    }
}

impl ActivityConfig {
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
                return Err(GazeError::Activity(
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
                    return Err(GazeError::Activity(
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
                return Err(GazeError::Activity(
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
                return Err(GazeError::Activity(
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

/// The shipped webcam-rate activity model (fitted with `eval_activity --train`, see the
/// testdata README).
// Fitted coefficients can land next to well-known constants by chance.
#[allow(clippy::approx_constant)]
pub fn default_webcam_model() -> LinearModel {
    LinearModel {
        mean: [
            0.4297, 0.0753, 0.2029, 0.2912, 1.5684, -0.0739, 0.0000, 0.6576, 0.5901, 0.7797,
            2.0035, 2.6686, 0.0627, 0.1214, 0.3737, 0.2553, 0.2769, 4.2459, 0.1985, 0.4147, 0.0280,
        ],
        scale: [
            0.1818, 0.0611, 0.1230, 0.1619, 0.2797, 0.2391, 0.0000, 0.0952, 0.1051, 0.1786, 0.2584,
            0.3941, 0.0560, 0.0811, 0.2215, 0.1804, 0.3043, 0.6915, 0.0703, 0.1551, 0.0682,
        ],
        weights: [
            [
                0.3955, -0.4269, -0.2753, -0.5454, 0.3050, -1.7447, 0.0000, -0.0540, 0.0829,
                0.2334, -0.0785, 1.3670, -0.7768, -1.1616, 0.1176, 0.2253, -0.1223, -1.1215,
                -0.1139, -0.9442, 0.1440,
            ],
            [
                -0.3770, 0.2245, -0.1408, 0.7300, -0.7755, 0.8833, 0.0000, -0.1924, -0.4671,
                0.0942, 0.1301, -0.7746, 0.6987, 0.6971, 0.5992, -0.6307, 0.1029, 0.6779, 0.0253,
                0.8978, -0.2836,
            ],
            [
                -0.0186, 0.2024, 0.4160, -0.1846, 0.4705, 0.8615, 0.0000, 0.2464, 0.3842, -0.3276,
                -0.0516, -0.5924, 0.0781, 0.4645, -0.7168, 0.4054, 0.0194, 0.4436, 0.0886, 0.0464,
                0.1396,
            ],
        ],
        bias: [1.5473, -1.4442, -0.1031],
    }
}

/// The shipped lab-rate activity model (fitted with `eval_activity --train`).
// Fitted coefficients can land next to well-known constants by chance.
#[allow(clippy::approx_constant)]
pub fn default_lab_model() -> LinearModel {
    LinearModel {
        mean: [
            0.2747, 0.1003, 0.2176, 0.4007, 1.6956, 0.5643, 0.1415, 0.6533, 0.5633, 0.7131, 1.9158,
            1.7772, 0.4305, 0.1098, 0.2667, 0.1775, 0.1642, 2.5488, 0.1699, 0.3079, 0.3214,
        ],
        scale: [
            0.2193, 0.0867, 0.1503, 0.2411, 0.3921, 0.4254, 0.1348, 0.1384, 0.1544, 0.2648, 0.4174,
            0.5810, 0.1691, 0.0791, 0.2211, 0.1745, 0.4048, 0.9493, 0.0914, 0.1511, 0.2854,
        ],
        weights: [
            [
                0.7821, -1.0577, -0.4966, 0.0624, 0.1151, -0.9142, -1.3111, -0.1785, 0.6271,
                0.4311, 0.7576, -0.7161, 0.2512, -0.6079, -0.2764, 0.5249, 0.0817, 0.8396, -0.3660,
                0.0567, -0.1598,
            ],
            [
                -0.4865, 1.1510, -0.0602, 0.2384, -0.5267, 1.1725, -0.5828, -0.6405, -0.7049,
                -0.0547, -0.2774, -0.1009, -0.5770, 0.5127, 0.1811, -0.5188, -0.1198, 0.0600,
                -0.1903, 0.2684, -1.0182,
            ],
            [
                -0.2956, -0.0933, 0.5568, -0.3008, 0.4117, -0.2583, 1.8940, 0.8190, 0.0778,
                -0.3763, -0.4802, 0.8170, 0.3258, 0.0952, 0.0953, -0.0061, 0.0381, -0.8996, 0.5563,
                -0.3250, 1.1780,
            ],
        ],
        bias: [-3.2625, 0.4615, 2.8009],
    }
}
