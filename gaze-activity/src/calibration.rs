//! Calibration: maps gaze features (gaze angles + head pose) to screen pixels with a
//! ridge-regularised polynomial regression fitted from N ≥ 5 (usually 9) fixation targets.
//! The fitted model serialises with serde so a user's calibration can be stored and reloaded.

use crate::error::{Error, Result};
use crate::result::{FrameResult, Point};
use serde::{Deserialize, Serialize};

/// Minimum number of samples [`Calibration::fit`] accepts.
pub const MIN_SAMPLES: usize = 5;

/// The gaze features one calibration sample records.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GazeFeatures {
    /// Gaze yaw (deg), head compensated.
    pub yaw_deg: f64,
    /// Gaze pitch (deg), head compensated.
    pub pitch_deg: f64,
    /// Fused horizontal iris ratio.
    pub horizontal: f64,
    /// Fused vertical iris ratio.
    pub vertical: f64,
    /// Head yaw (deg).
    pub head_yaw_deg: f64,
    /// Head pitch (deg).
    pub head_pitch_deg: f64,
}

impl GazeFeatures {
    /// Extracts the features from a frame result (None without gaze).
    pub fn from_result(r: &FrameResult) -> Option<Self> {
        let g = r.gaze.as_ref()?;
        let h = r.head_pose.unwrap_or_default();
        Some(GazeFeatures {
            yaw_deg: g.yaw_deg as f64,
            pitch_deg: g.pitch_deg as f64,
            horizontal: g.horizontal as f64,
            vertical: g.vertical as f64,
            head_yaw_deg: h.yaw_deg as f64,
            head_pitch_deg: h.pitch_deg as f64,
        })
    }

    fn is_finite(&self) -> bool {
        [
            self.yaw_deg,
            self.pitch_deg,
            self.horizontal,
            self.vertical,
            self.head_yaw_deg,
            self.head_pitch_deg,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

/// One calibration observation: the features while the user looked at `target`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CalibrationSample {
    /// Gaze features (average them over the fixation for best results).
    pub features: GazeFeatures,
    /// The on-screen target, pixels.
    pub target: Point,
}

/// Which regression basis a calibration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// 1, yaw, pitch, head yaw, head pitch (few samples).
    Linear,
    /// Linear plus yaw², yaw·pitch, pitch² (9 or more samples).
    Quadratic,
}

impl Basis {
    fn len(self) -> usize {
        match self {
            Basis::Linear => 5,
            Basis::Quadratic => 8,
        }
    }
    fn expand(self, f: &GazeFeatures, out: &mut Vec<f64>) {
        out.clear();
        out.extend([f.yaw_deg, f.pitch_deg, f.head_yaw_deg, f.head_pitch_deg]);
        if self == Basis::Quadratic {
            let (y, p) = (f.yaw_deg / 10.0, f.pitch_deg / 10.0);
            out.extend([y * y, y * p, p * p]);
        }
    }
}

/// A fitted gaze → screen mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Screen width in pixels.
    pub screen_width: f32,
    /// Screen height in pixels.
    pub screen_height: f32,
    /// Regression basis.
    pub basis: Basis,
    /// Ridge penalty used.
    pub lambda: f64,
    /// Feature means (standardisation).
    pub mean: Vec<f64>,
    /// Feature standard deviations (standardisation).
    pub scale: Vec<f64>,
    /// Weights for x: intercept first, then one per standardised feature.
    pub weights_x: Vec<f64>,
    /// Weights for y.
    pub weights_y: Vec<f64>,
    /// Samples used.
    pub n_samples: usize,
    /// Leave-one-out mean error of the fit, pixels.
    pub validation_error_px: f64,
    /// Training mean error, pixels.
    pub training_error_px: f64,
    /// Free-form per-user data stored with the calibration (e.g. learned activity thresholds).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Solves `a x = b` (n×n, row-major) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            b.swap(col, pivot);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

struct Design {
    rows: Vec<Vec<f64>>, // standardised, with leading 1
    mean: Vec<f64>,
    scale: Vec<f64>,
}

fn design(samples: &[CalibrationSample], basis: Basis) -> Design {
    let m = basis.len() - 1;
    let mut raw = Vec::with_capacity(samples.len());
    let mut buf = Vec::new();
    for s in samples {
        basis.expand(&s.features, &mut buf);
        raw.push(buf.clone());
    }
    let n = raw.len().max(1) as f64;
    let mean: Vec<f64> = (0..m)
        .map(|j| raw.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let scale: Vec<f64> = (0..m)
        .map(|j| {
            let v = raw.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            if v.sqrt() > 1e-6 { v.sqrt() } else { 1.0 }
        })
        .collect();
    let rows = raw
        .iter()
        .map(|r| {
            std::iter::once(1.0)
                .chain((0..m).map(|j| (r[j] - mean[j]) / scale[j]))
                .collect()
        })
        .collect();
    Design { rows, mean, scale }
}

fn ridge(rows: &[&Vec<f64>], y: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let p = rows.first()?.len();
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    for (r, &t) in rows.iter().zip(y) {
        for i in 0..p {
            b[i] += r[i] * t;
            for j in 0..p {
                a[i * p + j] += r[i] * r[j];
            }
        }
    }
    for i in 1..p {
        a[i * p + i] += lambda; // the intercept is not penalised
    }
    solve(a, b, p)
}

fn dot(w: &[f64], r: &[f64]) -> f64 {
    w.iter().zip(r).map(|(a, b)| a * b).sum()
}

impl Calibration {
    /// Fits a calibration for a `screen_width` × `screen_height` screen from `samples`
    /// (at least [`MIN_SAMPLES`]). Uses the quadratic basis from 9 samples on.
    pub fn fit(
        samples: &[CalibrationSample],
        screen_width: f32,
        screen_height: f32,
    ) -> Result<Self> {
        if samples.len() < MIN_SAMPLES {
            return Err(Error::Calibration(format!(
                "need at least {MIN_SAMPLES} samples, got {}",
                samples.len()
            )));
        }
        if !(screen_width > 0.0 && screen_height > 0.0) {
            return Err(Error::Calibration(format!(
                "screen size must be positive, got {screen_width}x{screen_height}"
            )));
        }
        if let Some(bad) = samples.iter().position(|s| {
            !s.features.is_finite() || !s.target.x.is_finite() || !s.target.y.is_finite()
        }) {
            return Err(Error::Calibration(format!(
                "sample {bad} has a non-finite value"
            )));
        }
        let basis = if samples.len() >= 9 {
            Basis::Quadratic
        } else {
            Basis::Linear
        };
        let lambda = 0.5;
        let d = design(samples, basis);
        let xs: Vec<f64> = samples.iter().map(|s| s.target.x as f64).collect();
        let ys: Vec<f64> = samples.iter().map(|s| s.target.y as f64).collect();
        let all: Vec<&Vec<f64>> = d.rows.iter().collect();
        let degenerate = || Error::Calibration("samples are degenerate (no spread)".into());
        let wx = ridge(&all, &xs, lambda).ok_or_else(degenerate)?;
        let wy = ridge(&all, &ys, lambda).ok_or_else(degenerate)?;
        let err = |wx: &[f64], wy: &[f64], i: usize| {
            let r = &d.rows[i];
            ((dot(wx, r) - xs[i]).powi(2) + (dot(wy, r) - ys[i]).powi(2)).sqrt()
        };
        let n = samples.len();
        let training = (0..n).map(|i| err(&wx, &wy, i)).sum::<f64>() / n as f64;
        let mut loo = 0.0;
        for i in 0..n {
            let rows: Vec<&Vec<f64>> = (0..n).filter(|&j| j != i).map(|j| &d.rows[j]).collect();
            let tx: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| xs[j]).collect();
            let ty: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| ys[j]).collect();
            match (ridge(&rows, &tx, lambda), ridge(&rows, &ty, lambda)) {
                (Some(a), Some(b)) => loo += err(&a, &b, i),
                _ => return Err(degenerate()),
            }
        }
        Ok(Calibration {
            screen_width,
            screen_height,
            basis,
            lambda,
            mean: d.mean,
            scale: d.scale,
            weights_x: wx,
            weights_y: wy,
            n_samples: n,
            validation_error_px: loo / n as f64,
            training_error_px: training,
            extra: serde_json::Map::new(),
        })
    }

    /// Maps gaze features to a screen point (pixels; may lie outside the screen).
    pub fn predict(&self, f: &GazeFeatures) -> Option<Point> {
        let mut raw = Vec::new();
        self.basis.expand(f, &mut raw);
        // A deserialised calibration may have inconsistent lengths: no point, not a panic.
        if raw.len() != self.mean.len()
            || raw.len() != self.scale.len()
            || self.weights_x.len() != raw.len() + 1
            || self.weights_y.len() != raw.len() + 1
        {
            return None;
        }
        let row: Vec<f64> = std::iter::once(1.0)
            .chain(
                raw.iter()
                    .enumerate()
                    .map(|(j, v)| (v - self.mean[j]) / self.scale[j]),
            )
            .collect();
        let p = Point::new(
            dot(&self.weights_x, &row) as f32,
            dot(&self.weights_y, &row) as f32,
        );
        (p.x.is_finite() && p.y.is_finite()).then_some(p)
    }

    /// Serialises to JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses JSON produced by [`Calibration::to_json`].
    pub fn from_json(s: &str) -> Result<Self> {
        Ok(serde_json::from_str(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(noise: f64) -> Vec<CalibrationSample> {
        let mut out = Vec::new();
        let mut k = 0.0;
        for gy in [-1.0, 0.0, 1.0] {
            for gx in [-1.0, 0.0, 1.0] {
                k += 1.0;
                let yaw = 15.0 * gx + noise * (k * 1.7f64).sin();
                let pitch = -10.0 + 8.0 * gy + noise * (k * 2.3f64).cos();
                out.push(CalibrationSample {
                    features: GazeFeatures {
                        yaw_deg: yaw,
                        pitch_deg: pitch,
                        ..Default::default()
                    },
                    target: Point::new((960.0 + 900.0 * gx) as f32, (540.0 - 500.0 * gy) as f32),
                });
            }
        }
        out
    }

    #[test]
    fn fits_a_nine_point_grid_and_round_trips() {
        let cal = Calibration::fit(&grid(0.3), 1920.0, 1080.0).expect("fit");
        assert_eq!(cal.basis, Basis::Quadratic);
        assert!(
            cal.validation_error_px < 150.0,
            "{}",
            cal.validation_error_px
        );
        let p = cal
            .predict(&GazeFeatures {
                yaw_deg: 0.0,
                pitch_deg: -10.0,
                ..Default::default()
            })
            .expect("point");
        assert!(
            (p.x - 960.0).abs() < 60.0 && (p.y - 540.0).abs() < 60.0,
            "{p:?}"
        );
        let back = Calibration::from_json(&cal.to_json().expect("json")).expect("parse");
        assert_eq!(back, cal);
    }

    #[test]
    fn rejects_bad_input() {
        let g = grid(0.0);
        assert!(Calibration::fit(&g[..4], 1920.0, 1080.0).is_err());
        assert!(Calibration::fit(&g, 0.0, 1080.0).is_err());
        let mut bad = g.clone();
        bad[3].features.yaw_deg = f64::NAN;
        assert!(Calibration::fit(&bad, 1920.0, 1080.0).is_err());
        let same = vec![g[0]; 9];
        // All samples identical: the ridge keeps it solvable but every prediction is the mean.
        if let Ok(c) = Calibration::fit(&same, 1920.0, 1080.0) {
            assert!(c.validation_error_px.is_finite());
        }
    }
}
