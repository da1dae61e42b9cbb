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
        calibrate(self.raw(x), self.temperature, bias)
    }
}

/// Deepest tree [`FlatTrees`] pads to a complete binary tree (deeper models keep the
/// node-walk of [`BoostedTrees::raw`]).
const FLAT_MAX_DEPTH: usize = 8;
const _: () = assert!(N_EXT_FEATURES <= 64);

/// One padded split: go right when `!(x[feature] <= threshold)`.
#[derive(Debug, Clone, Copy)]
struct FlatNode {
    threshold: f64,
    feature: u32,
}

/// A [`BoostedTrees`] model laid out for fast streaming inference: every tree padded to a
/// complete binary tree of the model's depth (splits level by level, then the leaves), so a
/// walk is `depth` branch-free steps over one contiguous array, and the splits indexed by
/// feature so that a stream of inputs re-walks only the trees a change reaches
/// ([`FlatTrees::raw_memo`]). Padding splits under an early
/// leaf send every input to copies of that leaf, so the result is exactly that of
/// [`BoostedTrees::raw`] (same leaves, added in the same order, same comparisons).
#[derive(Debug, Clone)]
pub(crate) struct FlatTrees {
    depth: usize,
    init: [f64; N_CLASSES],
    temperature: f64,
    /// `2^depth` slots per tree: `2^depth − 1` splits level by level, one unused.
    nodes: Vec<FlatNode>,
    /// `2^depth` leaves per tree.
    leaves: Vec<f64>,
    /// Trees are grouped by class: class `c` owns trees `class_start[c]..class_start[c + 1]`.
    class_start: [usize; N_CLASSES + 1],
    /// Every split as (threshold, tree), grouped by feature (`feature_start`), ascending
    /// thresholds within a feature: the trees whose walk may change when a feature moves.
    splits: Vec<(f64, u32)>,
    feature_start: [usize; N_EXT_FEATURES + 1],
}

/// The last input and per-tree leaves of a [`FlatTrees`] walk, kept by a streaming
/// classifier so that the next score re-walks only the trees with a split between the old
/// and the new value of a feature.
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeMemo {
    /// Input of the memoised walk (only finite inputs are memoised).
    x: Option<[f64; N_EXT_FEATURES]>,
    /// Leaf value per tree (in [`FlatTrees`] order).
    leaf: Vec<f64>,
    /// Trees queued for a re-walk, and the queue.
    mark: Vec<bool>,
    dirty: Vec<usize>,
}

impl FlatTrees {
    /// Flattens a validated model; `None` when a tree is deeper than [`FLAT_MAX_DEPTH`].
    pub(crate) fn new(m: &BoostedTrees) -> Option<Self> {
        fn depth(t: &Tree, i: usize) -> usize {
            if t.feature[i] < 0 {
                0
            } else {
                1 + depth(t, t.left[i] as usize).max(depth(t, t.right[i] as usize))
            }
        }
        // At least one level, so that every tree has a split array (a lone leaf is padded).
        let d = m
            .trees
            .iter()
            .map(|t| depth(t, 0))
            .max()
            .unwrap_or(0)
            .max(1);
        if d > FLAT_MAX_DEPTH {
            return None;
        }
        let n_split = (1usize << d) - 1;
        let n_leaf = 1usize << d;
        let pad = FlatNode {
            threshold: f64::INFINITY,
            feature: 0,
        };
        // `n_leaf` node slots per tree: the splits and one unused slot.
        let mut nodes = vec![pad; n_leaf * m.trees.len()];
        let mut leaves = vec![0.0; n_leaf * m.trees.len()];
        let mut order: Vec<&Tree> = m.trees.iter().collect();
        order.sort_by_key(|t| t.class); // stable: model order within a class
        let mut class_start = [0usize; N_CLASSES + 1];
        for c in 0..N_CLASSES {
            class_start[c + 1] = class_start[c] + m.trees.iter().filter(|t| t.class == c).count();
        }
        for (k, t) in order.into_iter().enumerate() {
            let nodes = &mut nodes[k * n_leaf..(k + 1) * n_leaf];
            let leaves = &mut leaves[k * n_leaf..(k + 1) * n_leaf];
            // (original node, padded position, level)
            let mut stack = vec![(0usize, 0usize, 0usize)];
            while let Some((i, pos, level)) = stack.pop() {
                if t.feature[i] < 0 {
                    // Every padded leaf below `pos` gets this leaf's value.
                    let below = d - level;
                    let first = ((pos + 1) << below) - 1 - n_split;
                    for l in &mut leaves[first..first + (1 << below)] {
                        *l = t.value[i];
                    }
                } else {
                    nodes[pos] = FlatNode {
                        threshold: t.threshold[i],
                        feature: t.feature[i] as u32,
                    };
                    stack.push((t.left[i] as usize, 2 * pos + 1, level + 1));
                    stack.push((t.right[i] as usize, 2 * pos + 2, level + 1));
                }
            }
        }
        // Padding splits (threshold +inf) never change direction for a non-NaN input.
        let mut splits: Vec<(usize, f64, u32)> = Vec::new();
        for (k, tree) in nodes.chunks_exact(n_leaf).enumerate() {
            for n in &tree[..n_split] {
                if n.threshold != f64::INFINITY {
                    splits.push((n.feature as usize, n.threshold, k as u32));
                }
            }
        }
        splits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut feature_start = [0usize; N_EXT_FEATURES + 1];
        for f in 0..N_EXT_FEATURES {
            feature_start[f + 1] = feature_start[f] + splits.iter().filter(|s| s.0 == f).count();
        }
        Some(FlatTrees {
            depth: d,
            init: m.init,
            temperature: m.temperature,
            nodes,
            leaves,
            class_start,
            splits: splits.into_iter().map(|(_, t, k)| (t, k)).collect(),
            feature_start,
        })
    }

    /// Leaf of tree `k` (`N = 2^depth`) for the padded input `x`.
    fn leaf_one<const N: usize>(&self, k: usize, x: &[f64; 64]) -> f64 {
        let t: &[FlatNode; N] = self.nodes[k * N..(k + 1) * N]
            .try_into()
            .expect("N nodes per tree");
        let l: &[f64; N] = self.leaves[k * N..(k + 1) * N]
            .try_into()
            .expect("N leaves per tree");
        let mut p = 0usize;
        for _ in 0..N.trailing_zeros() {
            let n = t[p & (N - 1)];
            let left = x[(n.feature & 63) as usize] <= n.threshold;
            p = 2 * p + 1 + usize::from(!left);
        }
        l[(p + 1) & (N - 1)]
    }

    fn leaf(&self, k: usize, x: &[f64; 64]) -> f64 {
        match self.depth {
            1 => self.leaf_one::<2>(k, x),
            2 => self.leaf_one::<4>(k, x),
            3 => self.leaf_one::<8>(k, x),
            4 => self.leaf_one::<16>(k, x),
            5 => self.leaf_one::<32>(k, x),
            6 => self.leaf_one::<64>(k, x),
            7 => self.leaf_one::<128>(k, x),
            _ => self.leaf_one::<256>(k, x),
        }
    }

    /// [`raw`](Self::raw) for a stream of inputs: `memo` holds the previous input and every
    /// tree's leaf, and only the trees with a split threshold between a feature's old and new
    /// value are walked again (a comparison `x <= t` changes only for such `t`). The class
    /// sums are then added over all leaves in the same order, so the result is the same.
    pub(crate) fn raw_memo(
        &self,
        x: &[f64; N_EXT_FEATURES],
        memo: &mut TreeMemo,
    ) -> [f64; N_CLASSES] {
        let n = self.class_start[N_CLASSES];
        let mut xp = [0.0f64; 64];
        xp[..N_EXT_FEATURES].copy_from_slice(x);
        let finite = x.iter().all(|v| v.is_finite());
        match memo.x {
            Some(old) if finite && memo.leaf.len() == n && memo.mark.len() == n => {
                for f in 0..N_EXT_FEATURES {
                    let (a, b) = (old[f], x[f]);
                    if a.to_bits() == b.to_bits() {
                        continue;
                    }
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    let s = &self.splits[self.feature_start[f]..self.feature_start[f + 1]];
                    let first = s.partition_point(|e| e.0 < lo);
                    for &(t, k) in &s[first..] {
                        if t >= hi {
                            break;
                        }
                        let k = k as usize;
                        if !memo.mark[k] {
                            memo.mark[k] = true;
                            memo.dirty.push(k);
                        }
                    }
                }
                for k in memo.dirty.drain(..) {
                    memo.leaf[k] = self.leaf(k, &xp);
                    memo.mark[k] = false;
                }
            }
            _ => {
                memo.leaf.clear();
                memo.leaf.extend((0..n).map(|k| self.leaf(k, &xp)));
                memo.mark.clear();
                memo.mark.resize(n, false);
                memo.dirty.clear();
            }
        }
        memo.x = finite.then_some(*x);
        let mut z = self.init;
        for (c, zc) in z.iter_mut().enumerate() {
            let mut sum = *zc;
            for v in &memo.leaf[self.class_start[c]..self.class_start[c + 1]] {
                sum += v;
            }
            *zc = sum;
        }
        z
    }

    /// [`probabilities`](Self::probabilities) through [`raw_memo`](Self::raw_memo).
    pub(crate) fn probabilities_memo(
        &self,
        x: &[f64; N_EXT_FEATURES],
        bias: &[f64; N_CLASSES],
        memo: &mut TreeMemo,
    ) -> [f64; N_CLASSES] {
        calibrate(self.raw_memo(x, memo), self.temperature, bias)
    }
}

static BUILTIN_FLAT: OnceLock<Option<std::sync::Arc<FlatTrees>>> = OnceLock::new();

/// The shipped model flattened (built once).
pub(crate) fn builtin_flat() -> Option<std::sync::Arc<FlatTrees>> {
    BUILTIN_FLAT
        .get_or_init(|| {
            BoostedTrees::builtin()
                .and_then(FlatTrees::new)
                .map(std::sync::Arc::new)
        })
        .clone()
}

fn calibrate(raw: [f64; N_CLASSES], temperature: f64, bias: &[f64; N_CLASSES]) -> [f64; N_CLASSES] {
    let mut z = [0.0; N_CLASSES];
    for c in 0..N_CLASSES {
        z[c] = raw[c] / temperature + bias[c];
    }
    softmax(z)
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

    /// Feature rows for the flat-vs-node-walk comparison: the check rows, mixes of them, and
    /// for every split a row sitting exactly on its threshold (the `<=` tie) or just above.
    fn probe_rows(m: &BoostedTrees) -> Vec<[f64; N_EXT_FEATURES]> {
        let mut rows: Vec<[f64; N_EXT_FEATURES]> = Vec::new();
        for (i, a) in m.checks.iter().enumerate() {
            let b = &m.checks[(i * 7 + 3) % m.checks.len()];
            let mut x = [0.0; N_EXT_FEATURES];
            x.copy_from_slice(&a.x);
            rows.push(x);
            for (j, v) in x.iter_mut().enumerate() {
                *v = if j % 2 == 0 { a.x[j] } else { b.x[j] };
            }
            rows.push(x);
        }
        let base = rows[0];
        for t in &m.trees {
            for (i, &f) in t.feature.iter().enumerate() {
                if f >= 0 {
                    let mut x = base;
                    x[f as usize] = t.threshold[i];
                    rows.push(x);
                    x[f as usize] = next_up(t.threshold[i]);
                    rows.push(x);
                }
            }
        }
        // Non-finite inputs take the same branches too.
        rows.push([f64::NAN; N_EXT_FEATURES]);
        rows.push([f64::INFINITY; N_EXT_FEATURES]);
        rows
    }

    /// The next larger finite float (`f64::next_up` needs Rust 1.86).
    fn next_up(v: f64) -> f64 {
        if v == 0.0 {
            f64::from_bits(1)
        } else if v > 0.0 {
            f64::from_bits(v.to_bits() + 1)
        } else {
            f64::from_bits(v.to_bits() - 1)
        }
    }

    fn assert_flat_equals_walk(m: &BoostedTrees) {
        let flat = FlatTrees::new(m).expect("flattens");
        let bias = [0.25, -0.5, 0.0];
        // The memoised walk over the probe rows as one stream (each row re-walks only the
        // trees its changes reach), forwards and then backwards.
        let rows = probe_rows(m);
        let mut memo = TreeMemo::default();
        for x in rows.iter().chain(rows.iter().rev()) {
            assert_eq!(
                flat.raw_memo(x, &mut memo).map(f64::to_bits),
                m.raw(x).map(f64::to_bits),
                "memo {x:?}"
            );
        }
        // Each row on its own (a fresh memo: every tree walked).
        for x in probe_rows(m) {
            assert_eq!(
                flat.raw_memo(&x, &mut TreeMemo::default())
                    .map(f64::to_bits),
                m.raw(&x).map(f64::to_bits),
                "{x:?}"
            );
            assert_eq!(
                flat.probabilities_memo(&x, &bias, &mut TreeMemo::default())
                    .map(f64::to_bits),
                m.probabilities(&x, &bias).map(f64::to_bits)
            );
        }
    }

    #[test]
    fn flat_trees_equal_the_node_walk() {
        let m = BoostedTrees::builtin().expect("model");
        assert_flat_equals_walk(m);
        // Uneven depths: a lone leaf, a one-sided chain of depth 3, the shipped trees.
        let mut m = m.clone();
        m.trees.push(Tree {
            class: 1,
            feature: vec![-1],
            threshold: vec![0.0],
            left: vec![0],
            right: vec![0],
            value: vec![0.125],
        });
        m.trees.push(Tree {
            class: 2,
            feature: vec![0, -1, 5, -1, 7, -1, -1],
            threshold: vec![0.5, 0.0, -0.25, 0.0, 1.5, 0.0, 0.0],
            left: vec![1, 0, 3, 0, 5, 0, 0],
            right: vec![2, 0, 4, 0, 6, 0, 0],
            value: vec![0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 4.0],
        });
        m.validate().expect("valid");
        assert_flat_equals_walk(&m);
        // Only lone leaves (depth 0 is padded to one level).
        m.trees.retain(|t| t.feature.len() == 1);
        assert_flat_equals_walk(&m);
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
