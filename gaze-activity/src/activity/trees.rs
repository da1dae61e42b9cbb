//! Gradient-boosted decision trees over [`WindowFeatures::extended`]: the shipped activity
//! model and custom or per-user models in the same format.
//!
//! The format is plain JSON written by `gaze-activity/training/train_activity.py` (LightGBM,
//! multiclass softmax): per class a sum of regression trees gives a raw score, the raw scores
//! are divided by a calibration temperature and turned into probabilities with a softmax.
//! The shipped model is embedded in the crate ([`BoostedTrees::builtin`]); nothing is
//! downloaded.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::features::{EXT_FEATURE_NAMES, N_EXT_FEATURES};
use crate::error::{Error, Result};

/// Format tag of the model JSON.
pub const TREES_FORMAT: &str = "gaze-activity-trees-1";

/// Number of classes the model scores: reading, browsing, watching.
pub const N_CLASSES: usize = 3;

/// One regression tree in flat arrays. Node `i` is a leaf when `feature[i] < 0` (its value
/// is `value[i]`); otherwise the walk goes to `left[i]` when
/// `x[feature[i]] <= threshold[i]`, else to `right[i]`. Children always have larger
/// indices than their parent (checked by [`BoostedTrees::validate`]), so a walk ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Class whose raw score this tree adds to (0 reading, 1 browsing, 2 watching).
    pub class: usize,
    /// Split feature per node (index into [`EXT_FEATURE_NAMES`]), −1 for leaves.
    pub feature: Vec<i32>,
    /// Split threshold per node.
    pub threshold: Vec<f64>,
    /// Left child per node (unused for leaves).
    pub left: Vec<u32>,
    /// Right child per node (unused for leaves).
    pub right: Vec<u32>,
    /// Leaf value per node (unused for splits).
    pub value: Vec<f64>,
}

impl Tree {
    fn eval(&self, x: &[f64; N_EXT_FEATURES]) -> f64 {
        let mut i = 0usize;
        loop {
            let f = self.feature[i];
            if f < 0 {
                return self.value[i];
            }
            i = if x[f as usize] <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
        }
    }
}

/// A feature row with the probabilities the training library gave it, shipped with the
/// model so that a test can check the Rust inference reproduces the training library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    /// Feature vector (same order as [`EXT_FEATURE_NAMES`]).
    pub x: Vec<f64>,
    /// Calibrated probabilities (reading, browsing, watching).
    pub p: [f64; N_CLASSES],
}

/// A boosted-tree activity model (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTrees {
    /// Must be [`TREES_FORMAT`].
    pub format: String,
    /// Input names; must equal [`EXT_FEATURE_NAMES`].
    pub features: Vec<String>,
    /// Initial raw score per class.
    pub init: [f64; N_CLASSES],
    /// Calibration temperature (raw scores are divided by it before the softmax).
    pub temperature: f64,
    /// The trees.
    pub trees: Vec<Tree>,
    /// Rows with the training library's probabilities (may be empty).
    #[serde(default)]
    pub checks: Vec<CheckRow>,
    /// Free-form provenance (training data, seeds, library versions).
    #[serde(default)]
    pub meta: serde_json::Value,
}

static BUILTIN_JSON: &str = include_str!("activity_trees.json");
static BUILTIN: OnceLock<Option<BoostedTrees>> = OnceLock::new();

impl BoostedTrees {
    /// The shipped model (embedded JSON, parsed once). `None` only if the embedded file were
    /// broken, which a unit test rules out; callers then fall back to the linear model.
    pub fn builtin() -> Option<&'static BoostedTrees> {
        BUILTIN
            .get_or_init(|| BoostedTrees::from_json(BUILTIN_JSON).ok())
            .as_ref()
    }

    /// Parses and validates a model.
    pub fn from_json(json: &str) -> Result<Self> {
        let m: BoostedTrees = serde_json::from_str(json)?;
        m.validate()?;
        Ok(m)
    }

    /// Serialises the model.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Checks the format tag, the feature names and every tree's structure.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("activity trees: {m}")));
        if self.format != TREES_FORMAT {
            return bad(format!(
                "format {:?}, expected {TREES_FORMAT:?}",
                self.format
            ));
        }
        if self.features.len() != N_EXT_FEATURES
            || self
                .features
                .iter()
                .zip(EXT_FEATURE_NAMES)
                .any(|(a, b)| a != b)
        {
            return bad("feature names differ from this version's EXT_FEATURE_NAMES".into());
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(format!("temperature {} is not positive", self.temperature));
        }
        if self.init.iter().any(|v| !v.is_finite()) {
            return bad("init is not finite".into());
        }
        for (k, t) in self.trees.iter().enumerate() {
            let n = t.feature.len();
            if n == 0
                || t.class >= N_CLASSES
                || t.threshold.len() != n
                || t.left.len() != n
                || t.right.len() != n
                || t.value.len() != n
            {
                return bad(format!("tree {k}: inconsistent arrays or class"));
            }
            for i in 0..n {
                let f = t.feature[i];
                if f < 0 {
                    if !t.value[i].is_finite() {
                        return bad(format!("tree {k} node {i}: leaf value not finite"));
                    }
                    continue;
                }
                let (l, r) = (t.left[i] as usize, t.right[i] as usize);
                if f as usize >= N_EXT_FEATURES
                    || t.threshold[i].is_nan()
                    || l <= i
                    || r <= i
                    || l >= n
                    || r >= n
                {
                    return bad(format!("tree {k} node {i}: bad split"));
                }
            }
        }
        Ok(())
    }

    /// Raw (uncalibrated) class scores.
    pub fn raw(&self, x: &[f64; N_EXT_FEATURES]) -> [f64; N_CLASSES] {
        let mut z = self.init;
        for t in &self.trees {
            z[t.class] += t.eval(x);
        }
        z
    }

    /// Calibrated probabilities (reading, browsing, watching), with per-class offsets added
    /// to the calibrated log-odds (per-user adaptation; zeros for none).
    pub fn probabilities(
        &self,
        x: &[f64; N_EXT_FEATURES],
        bias: &[f64; N_CLASSES],
    ) -> [f64; N_CLASSES] {
        let raw = self.raw(x);
        let mut z = [0.0; N_CLASSES];
        for c in 0..N_CLASSES {
            z[c] = raw[c] / self.temperature + bias[c];
        }
        softmax(z)
    }
}

/// Softmax of three scores; uniform when they are not finite.
pub(crate) fn softmax(z: [f64; N_CLASSES]) -> [f64; N_CLASSES] {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return [1.0 / N_CLASSES as f64; N_CLASSES];
    }
    let e = z.map(|v| (v - m).exp());
    let s: f64 = e.iter().sum();
    e.map(|v| v / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_reproduces_the_training_library() {
        let m = BoostedTrees::builtin().expect("embedded model parses and validates");
        assert!(!m.trees.is_empty());
        assert!(m.checks.len() >= 10, "the model ships check rows");
        for row in &m.checks {
            let mut x = [0.0; N_EXT_FEATURES];
            x.copy_from_slice(&row.x);
            let p = m.probabilities(&x, &[0.0; N_CLASSES]);
            for c in 0..N_CLASSES {
                assert!((p[c] - row.p[c]).abs() < 1e-6, "{p:?} vs {:?}", row.p);
            }
        }
    }

    #[test]
    fn broken_models_are_refused() {
        let m = BoostedTrees::builtin().expect("model").clone();
        let mut bad = m.clone();
        bad.features[0] = "x".into();
        assert!(bad.validate().is_err());
        let mut bad = m.clone();
        if let Some(t) = bad.trees.first_mut() {
            t.left[0] = 0;
        }
        assert!(bad.validate().is_err());
        let mut bad = m;
        bad.temperature = 0.0;
        assert!(bad.validate().is_err());
        assert!(BoostedTrees::from_json("{}").is_err());
    }
}
