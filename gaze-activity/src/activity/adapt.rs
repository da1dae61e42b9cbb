//! Per-user adaptation of the boosted-tree activity model from the user's own labels
//! ("this stretch was reading").

use serde::{Deserialize, Serialize};

use super::classifier::ActivityClassifier;
use super::config::{ActivityConfig, ActivityModel};
use super::geometry::ScreenGeometry;
use super::sample::GazeSample;
use super::trees::{BoostedTrees, N_CLASSES};
use crate::error::{Error, Result};
use crate::session::Activity;

/// A stretch of a user's gaze samples with the activity the user says it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledSpan {
    /// The samples (screen px of `geometry`), in time order.
    pub samples: Vec<GazeSample>,
    /// What the user was doing: reading, browsing or watching.
    pub activity: Activity,
    /// Screen the samples were recorded on.
    pub geometry: ScreenGeometry,
}

/// Largest |offset| the adaptation gives a class (log-odds).
pub const MAX_CLASS_BIAS: f64 = 3.0;

/// L2 penalty on the offsets (per unit of mean log-loss): keeps a few minutes of labels,
/// whose windows overlap heavily, from moving the model far.
const BIAS_L2: f64 = 0.05;

fn class_index(a: Activity) -> Option<usize> {
    match a {
        Activity::Reading => Some(0),
        Activity::Browsing => Some(1),
        Activity::Watching => Some(2),
        _ => None,
    }
}

impl ActivityConfig {
    /// Per-user adaptation from labelled stretches: streams each span through the
    /// classifier, collects the model's calibrated class log-odds at every scoring step,
    /// and fits per-class offsets ([`ActivityConfig::class_bias`], |offset| ≤
    /// [`MAX_CLASS_BIAS`]) that maximise the likelihood of the user's labels (classes
    /// weighted equally, L2-regularised). Returns the adapted config (everything else
    /// unchanged). Store it with [`ActivityConfig::to_json`] and use it for the user's next
    /// sessions.
    ///
    /// Errors: the config does not use a boosted-tree model, a span is labelled with
    /// something other than reading / browsing / watching, or the spans hold less than 5 s
    /// of usable windows in all.
    pub fn adapt_to_labels(&self, spans: &[LabelledSpan]) -> Result<ActivityConfig> {
        let model: &BoostedTrees = match &self.model {
            ActivityModel::Builtin => BoostedTrees::builtin().ok_or_else(|| {
                Error::Activity("adapt_to_labels: the built-in model is unavailable".into())
            })?,
            ActivityModel::Trees(m) => m,
            ActivityModel::Linear => {
                return Err(Error::Activity(
                    "adapt_to_labels needs a boosted-tree model (not the linear one)".into(),
                ));
            }
        };
        let mut rows: Vec<([f64; N_CLASSES], usize)> = Vec::new();
        for span in spans {
            let class = class_index(span.activity).ok_or_else(|| {
                Error::Activity(format!(
                    "adapt_to_labels: a span is labelled {:?}; only reading, browsing and watching can be learned",
                    span.activity
                ))
            })?;
            let cfg = ActivityConfig {
                geometry: span.geometry,
                class_bias: [0.0; N_CLASSES],
                ..self.clone()
            };
            cfg.validate()?;
            let mut c = ActivityClassifier::new(cfg.clone());
            let mut last: Option<[f64; crate::activity::N_EXT_FEATURES]> = None;
            for s in &span.samples {
                if !c.push(*s).accepted {
                    continue;
                }
                let f = c.features();
                if f.valid_ms < cfg.min_evidence_ms {
                    continue;
                }
                let x = f.extended();
                if last != Some(x) {
                    last = Some(x);
                    let raw = model.raw(&x);
                    rows.push((raw.map(|v| v / model.temperature), class));
                }
            }
        }
        // Scoring steps are `score_every_ms` apart: 5 s of windows at the default.
        let min_rows = (5000.0 / self.score_every_ms.max(self.bin_ms)).ceil() as usize;
        if rows.len() < min_rows.max(5) {
            return Err(Error::Activity(format!(
                "adapt_to_labels: only {} usable windows in the labelled spans (need {})",
                rows.len(),
                min_rows.max(5)
            )));
        }
        let mut counts = [0.0f64; N_CLASSES];
        for (_, c) in &rows {
            counts[*c] += 1.0;
        }
        let present = counts.iter().filter(|n| **n > 0.0).count() as f64;
        let weight = counts.map(|n| if n > 0.0 { 1.0 / (present * n) } else { 0.0 });
        // Gradient descent on the weighted mean log-loss + L2 (convex; 500 steps are plenty).
        let mut b = self.class_bias;
        for _ in 0..500 {
            let mut g = [0.0; N_CLASSES];
            for (z, c) in &rows {
                let mut zz = *z;
                for k in 0..N_CLASSES {
                    zz[k] += b[k];
                }
                let p = super::trees::softmax(zz);
                for k in 0..N_CLASSES {
                    let y = if k == *c { 1.0 } else { 0.0 };
                    g[k] += weight[*c] * (p[k] - y);
                }
            }
            for k in 0..N_CLASSES {
                b[k] -= 1.0 * (g[k] + 2.0 * BIAS_L2 * b[k]);
                b[k] = b[k].clamp(-MAX_CLASS_BIAS, MAX_CLASS_BIAS);
            }
        }
        // Only differences between the offsets matter: centre them, keep 4 decimals.
        let mean = b.iter().sum::<f64>() / N_CLASSES as f64;
        let out = ActivityConfig {
            class_bias: b.map(|v| ((v - mean) * 1e4).round() / 1e4),
            ..self.clone()
        };
        out.validate()?;
        Ok(out)
    }
}
