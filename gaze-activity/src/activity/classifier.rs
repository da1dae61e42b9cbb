//! Streaming activity and attention classifier, and the batch API on top of it.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::accounting::{Accountant, ActivityTotals, normalise};
use super::config::{ActivityConfig, ActivityModel};
use super::events::{EventDetector, EyeEvent, EyeMovement};
use super::features::{
    Bin, BinAux, FixRec, StepChain, WindowFeatures, compute_features_fast, scores_with,
    sorted_insert, sorted_remove,
};
#[cfg(test)]
use super::features::{compute_features, scores};
use super::sample::GazeSample;
use super::trees::{FlatTrees, TreeMemo, builtin_flat};
use crate::session::{Activity, Attention, TimelineSegment};

/// Largest accepted |timestamp| in ms (about 31,700 years): keeps every interval and total
/// finite, so reports and snapshots always serialise.
pub const MAX_ABS_TIME_MS: f64 = 1e15;

/// What [`ActivityClassifier::push`] returns: the live label and the running totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActivityState {
    /// Time of the sample (ms).
    pub t_ms: f64,
    /// False when the sample was rejected (non-finite, duplicate or out-of-order time);
    /// the rest of the state is then unchanged.
    pub accepted: bool,
    /// Current activity (`None` while distracted or without data).
    pub activity: Activity,
    /// Current attention. A looking-away or eyes-closed stretch is reported as the previous
    /// label until it lasts long enough to count; it is then booked as distraction from its
    /// start.
    pub attention: Attention,
    /// Running totals (seconds), including the still-undecided stretch at its provisional label.
    pub totals: ActivityTotals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum SampleKind {
    Ok,
    Away,
    Closed,
    Dropout,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Held {
    /// The interval after the last sample is decided.
    Decided(Activity, Attention),
    /// It belongs to the undecided stretch.
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct RunInfo {
    start_ms: f64,
    /// Invalid samples with the face present (tracker dropout) rather than distraction
    /// evidence.
    dropout: bool,
    /// Every sample of the run had the eyes closed (a blink candidate).
    all_closed: bool,
    /// The run lasted long enough and was booked as distraction / no data.
    decided: bool,
}

impl RunInfo {
    fn is_blink(&self) -> bool {
        self.all_closed && !self.dropout && !self.decided
    }
}

/// Derived state of the fast scoring path, rebuilt from the rest of the classifier when it
/// is missing (after a restore from JSON): per-bin quantities parallel to the bin queue, the
/// bin-step speeds of the window in ascending order, and the flattened trees of the model.
#[derive(Debug, Clone, Default)]
struct FastPath {
    /// `aux[i]` belongs to `bins[i]` (same length, except after a restore).
    aux: VecDeque<BinAux>,
    /// Speeds of the steps into `bins[1..]`, ascending by `f64::total_cmp`.
    speeds: Vec<f64>,
    /// The last bin step since the last invalid bin (for the next bin's step).
    chain: StepChain,
    /// The model's trees flattened (`None` for the linear model).
    flat: Option<Arc<FlatTrees>>,
    flat_ready: bool,
    /// The previous walk of `flat` (trees re-walked only where the features moved).
    memo: TreeMemo,
    /// Test oracle: score with the straightforward reference computation instead.
    #[cfg(test)]
    reference: bool,
}

/// The fast path is a cache determined by the rest of the state: it never makes two
/// classifiers differ.
impl PartialEq for FastPath {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Streaming classifier. Feed samples with [`push`](Self::push) in time order; each call
/// returns the current activity, attention and running totals.
///
/// **Ordering:** samples whose timestamp is not finite (or beyond [`MAX_ABS_TIME_MS`]), or
/// not strictly later than the last accepted one (duplicates, out of order), are **rejected** (counted in
/// [`rejected`](Self::rejected)) and change nothing. Use [`classify_trace`] for unsorted
/// batches: it reorders.
///
/// Deterministic: the same samples always give the same labels and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityClassifier {
    config: ActivityConfig,
    px_per_deg: (f64, f64),
    detector: EventDetector,
    #[serde(skip)]
    event_buf: Vec<EyeEvent>,
    first_t: Option<f64>,
    last_t: Option<f64>,
    held: Held,
    run: Option<RunInfo>,
    accountant: Accountant,
    /// Activity of the last focused stretch (the live activity label).
    activity: Activity,
    /// Smoothed class scores: reading, browsing, watching.
    smoothed: [f64; 3],
    labelled_once: bool,
    bin_index: Option<i64>,
    bin_sum: (f64, f64, f64),
    bins: VecDeque<Bin>,
    fixes: VecDeque<FixRec>,
    last_features: WindowFeatures,
    fixation_count: u64,
    fixation_total_ms: f64,
    blink_count: u64,
    /// Onset of the last blink counted in `blink_count` (absent in older checkpoints).
    #[serde(default)]
    last_blink_start_ms: Option<f64>,
    /// Bins closed since the features were last recomputed (absent in older checkpoints).
    #[serde(default)]
    bins_since_score: u32,
    /// The current focused label is `Other` because no class is confident (absent in older
    /// checkpoints).
    #[serde(default)]
    uncertain: bool,
    rejected: u64,
    #[serde(skip)]
    fast: FastPath,
}

impl ActivityClassifier {
    /// A classifier with `config`, refusing an invalid one
    /// ([`Error::Config`](crate::Error::Config) naming the field and its range).
    pub fn try_new(config: ActivityConfig) -> crate::error::Result<Self> {
        config.validate()?;
        Ok(Self::new(config))
    }

    /// A classifier with `config` (invalid values are replaced by defaults; use
    /// [`ActivityClassifier::try_new`] to get an error instead).
    pub fn new(config: ActivityConfig) -> Self {
        let config = if config.validate().is_ok() {
            config
        } else {
            ActivityConfig {
                geometry: if ActivityConfig::with_geometry(config.geometry)
                    .validate()
                    .is_ok()
                {
                    config.geometry
                } else {
                    ActivityConfig::default().geometry
                },
                ..ActivityConfig::default()
            }
        };
        ActivityClassifier {
            px_per_deg: config.geometry.px_per_deg(),
            detector: EventDetector::new(&config),
            config,
            event_buf: Vec::with_capacity(8),
            first_t: None,
            last_t: None,
            held: Held::Decided(Activity::None, Attention::NoData),
            run: None,
            accountant: Accountant::default(),
            activity: Activity::Other,
            smoothed: [0.0; 3],
            labelled_once: false,
            bin_index: None,
            bin_sum: (0.0, 0.0, 0.0),
            bins: VecDeque::new(),
            fixes: VecDeque::new(),
            last_features: WindowFeatures::default(),
            fixation_count: 0,
            fixation_total_ms: 0.0,
            blink_count: 0,
            last_blink_start_ms: None,
            bins_since_score: 0,
            uncertain: false,
            rejected: 0,
            fast: FastPath::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ActivityConfig {
        &self.config
    }

    /// First accepted sample time (ms).
    pub fn started_at(&self) -> Option<f64> {
        self.first_t
    }

    /// Last accepted sample time (ms).
    pub fn ended_at(&self) -> Option<f64> {
        self.last_t
    }

    /// Samples rejected for bad, duplicate or out-of-order timestamps.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Fixations detected so far (pursuit excluded).
    pub fn fixation_count(&self) -> u64 {
        self.fixation_count
    }

    /// Mean fixation duration (ms), 0 without fixations.
    pub fn mean_fixation_ms(&self) -> f64 {
        if self.fixation_count == 0 {
            0.0
        } else {
            self.fixation_total_ms / self.fixation_count as f64
        }
    }

    /// Eye closures shorter than [`ActivityConfig::closed_min_ms`] seen in the samples'
    /// `eyes_closed` evidence.
    pub fn closed_blinks(&self) -> u64 {
        self.blink_count
    }

    /// Onset (ms) of the last closure counted by [`closed_blinks`](Self::closed_blinks).
    pub fn last_blink_start_ms(&self) -> Option<f64> {
        self.last_blink_start_ms
    }

    /// Features of the current window (for inspection and tuning).
    pub fn features(&self) -> &WindowFeatures {
        &self.last_features
    }

    /// Smoothed scores for reading, browsing, watching.
    pub fn scores(&self) -> [f64; 3] {
        self.smoothed
    }

    /// Running totals (undecided stretch at its provisional label).
    pub fn totals(&self) -> ActivityTotals {
        self.accountant.provisional_totals()
    }

    /// Totals and merged timeline as if the stream ended now.
    pub fn provisional(&self) -> (ActivityTotals, Vec<TimelineSegment>) {
        self.accountant.provisional()
    }

    /// Ends the stream: flushes the event detector and decides the undecided stretch (an
    /// unfinished looking-away stretch shorter than the threshold counts as its fallback).
    pub fn finish(&mut self) -> (ActivityTotals, Vec<TimelineSegment>) {
        let mut buf = std::mem::take(&mut self.event_buf);
        buf.clear();
        self.detector.flush(&mut buf);
        self.take_events(&buf);
        buf.clear();
        self.event_buf = buf;
        self.accountant.resolve(None);
        (self.accountant.totals, self.accountant.timeline.clone())
    }

    fn live(&self, t: f64, accepted: bool) -> ActivityState {
        let (activity, attention) = match self.held {
            Held::Decided(a, b) => normalise(a, b),
            Held::Pending => self
                .accountant
                .pending
                .map(|p| normalise(p.fallback.0, p.fallback.1))
                .unwrap_or((Activity::None, Attention::NoData)),
        };
        ActivityState {
            t_ms: t,
            accepted,
            activity,
            attention,
            totals: self.accountant.provisional_totals(),
        }
    }

    fn kind_of(&self, s: &GazeSample) -> SampleKind {
        let e = &s.evidence;
        if !e.face_present || e.head_away || e.gaze_off_screen {
            return SampleKind::Away;
        }
        if e.eyes_closed {
            return SampleKind::Closed;
        }
        if !s.has_point() {
            return SampleKind::Dropout;
        }
        let g = &self.config.geometry;
        let m = self.config.off_screen_margin;
        if !g.contains(s.x, s.y, m * g.width().max(g.height())) {
            return SampleKind::Away;
        }
        SampleKind::Ok
    }

    /// Pushes one sample and returns the live state.
    pub fn push(&mut self, s: GazeSample) -> ActivityState {
        let t = s.t_ms;
        if !t.is_finite() || t.abs() > MAX_ABS_TIME_MS || self.last_t.is_some_and(|l| t <= l) {
            self.rejected += 1;
            return self.live(t, false);
        }
        let kind = self.kind_of(&s);

        // 1. Book the interval since the previous sample with the label held since then.
        if let Some(prev) = self.last_t {
            if t - prev > self.config.max_gap_ms {
                self.accountant.resolve(None);
                self.accountant
                    .book(prev, t, Activity::None, Attention::NoData);
                // A stretch interrupted by a gap ends (a closure cut by a gap is no blink).
                self.run = None;
            } else {
                match self.held {
                    Held::Decided(a, b) => {
                        if b == Attention::Focused && self.uncertain {
                            self.accountant.totals.uncertain_time += (t - prev) / 1000.0;
                        }
                        self.accountant.book(prev, t, a, b)
                    }
                    Held::Pending => {
                        let fb = self.accountant.pending.map(|p| p.fallback);
                        self.accountant.book_pending(
                            prev,
                            t,
                            fb.unwrap_or((Activity::None, Attention::NoData)),
                        )
                    }
                }
            }
        } else {
            self.first_t = Some(t);
        }
        self.last_t = Some(t);

        // 2. Eye-movement events and activity features (every sample feeds the detector so
        //    that dropouts break fixations).
        let (xd, yd) = (s.x / self.px_per_deg.0, s.y / self.px_per_deg.1);
        let ok = kind == SampleKind::Ok;
        let mut buf = std::mem::take(&mut self.event_buf);
        buf.clear();
        self.detector.push(t, xd, yd, ok, &mut buf);
        self.take_events(&buf);
        self.event_buf = buf;
        self.update_bins(t, xd, yd, ok);

        // 3. Attention for this sample (and the interval that follows it).
        self.held = match kind {
            SampleKind::Ok => {
                if let Some(r) = self.run.take().filter(|r| r.is_blink()) {
                    self.blink_count += 1;
                    self.last_blink_start_ms = Some(r.start_ms);
                }
                self.accountant.resolve(None);
                Held::Decided(self.activity, Attention::Focused)
            }
            _ => {
                let dropout = kind == SampleKind::Dropout;
                let closed = kind == SampleKind::Closed;
                match &mut self.run {
                    Some(r) if r.dropout == dropout => r.all_closed &= closed,
                    _ => {
                        // A new kind of stretch: the previous undecided one ended early.
                        if let Some(r) = self.run.filter(|r| r.is_blink()) {
                            self.blink_count += 1;
                            self.last_blink_start_ms = Some(r.start_ms);
                        }
                        self.accountant.resolve(None);
                        self.run = Some(RunInfo {
                            start_ms: t,
                            dropout,
                            all_closed: closed,
                            decided: false,
                        });
                    }
                }
                let r = self.run.unwrap_or(RunInfo {
                    start_ms: t,
                    dropout,
                    all_closed: closed,
                    decided: false,
                });
                let threshold = if r.dropout {
                    self.config.max_gap_ms
                } else if r.all_closed {
                    self.config.closed_min_ms
                } else {
                    self.config.away_min_ms
                };
                let decided = if r.dropout {
                    (Activity::None, Attention::NoData)
                } else {
                    (Activity::None, Attention::Distracted)
                };
                if r.decided || t - r.start_ms >= threshold {
                    self.accountant.resolve(Some(decided));
                    // Once decided the stretch stays decided (and is no longer a blink).
                    if let Some(r) = &mut self.run {
                        r.decided = true;
                    }
                    Held::Decided(decided.0, decided.1)
                } else {
                    let fallback = match self.held {
                        Held::Decided(a, b) if b == Attention::Focused => (a, b),
                        Held::Pending => self
                            .accountant
                            .pending
                            .map(|p| p.fallback)
                            .unwrap_or((self.activity, Attention::Focused)),
                        _ if r.dropout => (Activity::None, Attention::NoData),
                        _ => (self.activity, Attention::Focused),
                    };
                    if self.accountant.pending.is_none() {
                        // Open the stretch now so that its fallback is fixed at its start.
                        self.accountant.pending = Some(super::accounting::Pending {
                            start_ms: t,
                            end_ms: t,
                            fallback,
                        });
                    }
                    Held::Pending
                }
            }
        };
        self.live(t, true)
    }

    fn take_events(&mut self, events: &[EyeEvent]) {
        for e in events {
            match e.kind {
                EyeMovement::Fixation | EyeMovement::Pursuit => {
                    if e.kind == EyeMovement::Fixation {
                        self.fixation_count += 1;
                        self.fixation_total_ms += e.duration_ms();
                    }
                    self.fixes.push_back(FixRec {
                        start_ms: e.start_ms,
                        end_ms: e.end_ms,
                        x: e.x_deg,
                        y: e.y_deg,
                        pursuit: e.kind == EyeMovement::Pursuit,
                    });
                }
                EyeMovement::Saccade | EyeMovement::Unknown => {}
            }
        }
    }

    fn update_bins(&mut self, t: f64, x: f64, y: f64, ok: bool) {
        let idx = (t / self.config.bin_ms).floor();
        let idx = if idx.is_finite() {
            idx.clamp(-9e15, 9e15) as i64
        } else {
            0
        };
        match self.bin_index {
            Some(cur) if cur == idx => {}
            Some(cur) => {
                let (n, sx, sy) = self.bin_sum;
                let bin = Bin {
                    index: cur,
                    x: if n > 0.0 { sx / n } else { 0.0 },
                    y: if n > 0.0 { sy / n } else { 0.0 },
                    valid: n > 0.0,
                };
                self.sync_fast();
                let aux = BinAux::new(
                    &bin,
                    self.bins.back(),
                    &mut self.fast.chain,
                    self.config.bin_ms,
                );
                if !self.bins.is_empty()
                    && let Some(v) = aux.speed()
                {
                    sorted_insert(&mut self.fast.speeds, v);
                }
                self.bins.push_back(bin);
                if self.fast.aux.len() == self.fast.aux.capacity() {
                    // Room for about two windows: `make_contiguous` then moves the queue
                    // once per window at most.
                    let keep = (self.config.window_ms / self.config.bin_ms).ceil() as usize;
                    self.fast.aux.reserve(keep.max(16));
                }
                self.fast.aux.push_back(aux);
                self.bin_sum = (0.0, 0.0, 0.0);
                self.bin_index = Some(idx);
                self.decide(cur);
            }
            None => self.bin_index = Some(idx),
        }
        if ok {
            self.bin_sum.0 += 1.0;
            self.bin_sum.1 += x;
            self.bin_sum.2 += y;
        }
    }

    /// Rebuilds the fast path's per-bin quantities when they are out of step with the bins
    /// (after a restore).
    fn sync_fast(&mut self) {
        if self.fast.aux.len() == self.bins.len() {
            return;
        }
        let bin_ms = self.config.bin_ms;
        self.fast.aux.clear();
        self.fast.speeds.clear();
        self.fast.chain = None;
        let mut prev: Option<&Bin> = None;
        for b in &self.bins {
            let aux = BinAux::new(b, prev, &mut self.fast.chain, bin_ms);
            if prev.is_some()
                && let Some(v) = aux.speed()
            {
                self.fast.speeds.push(v);
            }
            self.fast.aux.push_back(aux);
            prev = Some(b);
        }
        self.fast.speeds.sort_unstable_by(f64::total_cmp);
    }

    /// Features of the window that starts at `window_start`.
    fn window_features(&mut self, window_start: f64) -> WindowFeatures {
        #[cfg(test)]
        if self.fast.reference {
            return compute_features(&self.bins, &self.fixes, &self.config, window_start);
        }
        self.sync_fast();
        // Contiguous queues iterate as plain slices (a rotation only when the ring wrapped).
        compute_features_fast(
            self.bins.make_contiguous(),
            self.fast.aux.make_contiguous(),
            &self.fast.speeds,
            self.fixes.make_contiguous(),
            &self.config,
            window_start,
        )
    }

    /// Class probabilities of the model for `f`.
    fn class_scores(&mut self, f: &WindowFeatures, lab: bool) -> [f64; 3] {
        #[cfg(test)]
        if self.fast.reference {
            return scores(f, &self.config, lab);
        }
        if !self.fast.flat_ready {
            self.fast.flat = match &self.config.model {
                ActivityModel::Builtin => builtin_flat(),
                ActivityModel::Trees(m) => FlatTrees::new(m).map(Arc::new),
                ActivityModel::Linear => None,
            };
            self.fast.flat_ready = true;
        }
        let flat = self.fast.flat.as_deref().map(|t| (t, &mut self.fast.memo));
        scores_with(f, &self.config, lab, flat)
    }

    /// Recomputes the activity after bin `closed` was completed.
    fn decide(&mut self, closed: i64) {
        let bin_ms = self.config.bin_ms;
        let keep = (self.config.window_ms / bin_ms).ceil() as i64;
        self.sync_fast();
        while self.bins.front().is_some_and(|b| b.index <= closed - keep) {
            self.bins.pop_front();
            self.fast.aux.pop_front();
            // The new first bin's step starts outside the window now.
            if let Some(v) = self.fast.aux.front().and_then(BinAux::speed) {
                sorted_remove(&mut self.fast.speeds, v);
            }
        }
        let window_start = (closed + 1 - keep) as f64 * bin_ms;
        while self.fixes.front().is_some_and(|f| f.end_ms <= window_start) {
            self.fixes.pop_front();
        }
        // Recompute every `score_every_ms` (whole bins), and at every bin until the first
        // label so that it comes as soon as there is enough evidence.
        let every = ((self.config.score_every_ms / bin_ms).round() as u32).max(1);
        self.bins_since_score += 1;
        if self.labelled_once && self.bins_since_score < every {
            return;
        }
        let step_ms = f64::from(self.bins_since_score) * bin_ms;
        self.bins_since_score = 0;
        let mut f = self.window_features(window_start);
        let lab = self.detector.mode() == Some(super::events::DetectorMode::Velocity);
        f.lab = if lab { 1.0 } else { 0.0 };
        f.reading_score = self.config.reading.score(&f);
        self.last_features = f;
        if f.valid_ms < self.config.min_evidence_ms {
            return;
        }
        let raw = self.class_scores(&f, lab);
        let alpha = if self.labelled_once && self.config.score_tau_ms > 0.0 {
            1.0 - (-step_ms / self.config.score_tau_ms).exp()
        } else {
            1.0
        };
        for (s, r) in self.smoothed.iter_mut().zip(raw) {
            *s += alpha * (r - *s);
        }
        let classes = [Activity::Reading, Activity::Browsing, Activity::Watching];
        let mut best = 0;
        for i in 1..3 {
            if self.smoothed[i] > self.smoothed[best] {
                best = i;
            }
        }
        let best_score = self.smoothed[best];
        let candidate = if best_score >= self.config.min_score {
            classes[best]
        } else {
            Activity::Other
        };
        if !self.labelled_once {
            self.activity = candidate;
            self.labelled_once = true;
        } else if candidate != self.activity {
            let current = match self.activity {
                Activity::Reading => self.smoothed[0],
                Activity::Browsing => self.smoothed[1],
                Activity::Watching => self.smoothed[2],
                _ => self.config.min_score,
            };
            if best_score >= current + self.config.switch_margin
                || (candidate == Activity::Other
                    && current < self.config.min_score - self.config.switch_margin)
            {
                self.activity = candidate;
            }
        }
        self.uncertain = self.activity == Activity::Other;
        if let Held::Decided(_, Attention::Focused) = self.held {
            self.held = Held::Decided(self.activity, Attention::Focused);
        }
    }
}

/// Per-sample output of [`classify_trace_labels`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleLabel {
    /// Sample time (ms).
    pub t_ms: f64,
    /// Streaming activity label after this sample.
    pub activity: Activity,
    /// Streaming attention label after this sample.
    pub attention: Attention,
}

fn sorted_indices(samples: &[GazeSample]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].t_ms.is_finite())
        .collect();
    // Stable: equal timestamps keep their input order; the first one wins.
    idx.sort_by(|&a, &b| samples[a].t_ms.total_cmp(&samples[b].t_ms));
    idx
}

/// Batch API: classifies a whole trace into merged timeline segments.
///
/// Unlike the streaming classifier, the batch functions **reorder**: samples are sorted by
/// time (stable), samples with non-finite times are dropped, and of several samples with the
/// same timestamp the first one in input order is used. The result equals streaming the
/// sorted samples and calling [`ActivityClassifier::finish`].
pub fn classify_trace(samples: &[GazeSample], config: &ActivityConfig) -> Vec<TimelineSegment> {
    let mut c = ActivityClassifier::new(config.clone());
    for i in sorted_indices(samples) {
        c.push(samples[i]);
    }
    c.finish().1
}

/// Batch API: the streaming label after each sample, in input order (see
/// [`classify_trace`] for the ordering rules; a duplicate gets the label of the sample
/// used in its place, a non-finite time gets `None`/`NoData`).
pub fn classify_trace_labels(samples: &[GazeSample], config: &ActivityConfig) -> Vec<SampleLabel> {
    let mut c = ActivityClassifier::new(config.clone());
    let mut out = vec![
        SampleLabel {
            t_ms: f64::NAN,
            activity: Activity::None,
            attention: Attention::NoData,
        };
        samples.len()
    ];
    let mut last: Option<SampleLabel> = None;
    for i in sorted_indices(samples) {
        let st = c.push(samples[i]);
        let label = if st.accepted {
            SampleLabel {
                t_ms: st.t_ms,
                activity: st.activity,
                attention: st.attention,
            }
        } else {
            last.unwrap_or(SampleLabel {
                t_ms: st.t_ms,
                activity: Activity::None,
                attention: Attention::NoData,
            })
        };
        last = Some(label);
        out[i] = SampleLabel {
            t_ms: samples[i].t_ms,
            ..label
        };
    }
    out
}

#[cfg(test)]
mod tests {
    //! The streaming path (per-bin quantities kept as bins enter and leave the window,
    //! sorted step speeds, flattened trees) against the straightforward reference
    //! computation (every feature recomputed from the window, node-walk trees).

    use super::*;
    use crate::AttentionEvidence;
    use crate::activity::{BoostedTrees, ScreenGeometry};

    fn reference(config: ActivityConfig) -> ActivityClassifier {
        let mut c = ActivityClassifier::new(config);
        c.fast.reference = true;
        c
    }

    /// Streams `samples` through the fast and the reference classifier and asserts the same
    /// output after every sample: states (labels, attention, totals), features bit for bit,
    /// smoothed probabilities. Returns the number of windows scored (features recomputed).
    fn assert_same(samples: &[GazeSample], config: &ActivityConfig, what: &str) -> usize {
        let mut fast = ActivityClassifier::new(config.clone());
        let mut slow = reference(config.clone());
        let mut scored = 0;
        let mut last = WindowFeatures::default();
        for (i, s) in samples.iter().enumerate() {
            // Halfway, the fast one is checkpointed and restored (its caches rebuilt).
            if i == samples.len() / 2 {
                let json = serde_json::to_string(&fast).expect("checkpoint");
                fast = serde_json::from_str(&json).expect("restore");
                assert!(fast.fast.aux.is_empty());
            }
            let a = fast.push(*s);
            let b = slow.push(*s);
            assert_eq!(a, b, "{what}: state after sample {i}");
            let (fa, fb) = (fast.features().extended(), slow.features().extended());
            assert_eq!(
                fa.map(f64::to_bits),
                fb.map(f64::to_bits),
                "{what}: features after sample {i}"
            );
            assert_eq!(fast.features(), slow.features(), "{what}: sample {i}");
            let (pa, pb) = (fast.scores(), slow.scores());
            for c in 0..3 {
                assert!(
                    (pa[c] - pb[c]).abs() <= 1e-12,
                    "{what}: probabilities after sample {i}: {pa:?} vs {pb:?}"
                );
            }
            if *slow.features() != last {
                scored += 1;
                last = *slow.features();
            }
        }
        assert_eq!(fast.finish(), slow.finish(), "{what}: final totals");
        scored
    }

    fn recordings() -> Vec<(String, ScreenGeometry, Vec<GazeSample>)> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/activity");
        let index = std::fs::read_to_string(dir.join("index.csv")).expect("index.csv");
        let mut out = Vec::new();
        for line in index.lines().skip(1) {
            let f: Vec<&str> = line.splitn(6, ',').collect();
            let (w, h) = (f[3].parse().expect("w"), f[4].parse().expect("h"));
            let text = std::fs::read_to_string(dir.join(f[0])).expect("recording");
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
            out.push((f[0].to_string(), ScreenGeometry::from_px(w, h), samples));
        }
        out
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Alternating reading, browsing and watching stretches with jittered timing, noise,
    /// blinks, tracker dropouts, looking away and a few gaps longer than `max_gap_ms`.
    fn synthetic(hz: f64, secs: f64, seed: u64) -> Vec<GazeSample> {
        let mut r = Rng(seed);
        let dt = 1000.0 / hz;
        let mut out = Vec::new();
        let mut t = 0.0;
        let (mut fx, mut fy, mut fix_end) = (200.0, 200.0, 0.0);
        let (mut line, mut word) = (0.0, 0.0);
        while t < secs * 1000.0 {
            let phase = ((t / 7000.0) as u64) % 3;
            if t >= fix_end {
                match phase {
                    0 => {
                        word += 1.0;
                        if word > 10.0 {
                            word = 0.0;
                            line += 1.0;
                        }
                        fx = 150.0 + word * 110.0 + 20.0 * r.next();
                        fy = 150.0 + (line % 16.0) * 42.0;
                        fix_end = t + 150.0 + 200.0 * r.next();
                    }
                    1 => {
                        fx = 100.0 + 1300.0 * r.next();
                        fy = 100.0 + 700.0 * r.next();
                        fix_end = t + 200.0 + 600.0 * r.next();
                    }
                    _ => fix_end = t + 1000.0,
                }
            }
            let (x, y) = if phase == 2 {
                // A target moving smoothly across the screen.
                (
                    760.0 + 500.0 * (t / 2300.0).sin(),
                    430.0 + 250.0 * (t / 3100.0).cos(),
                )
            } else {
                (fx, fy)
            };
            let noise = if hz < 100.0 { 25.0 } else { 4.0 };
            let (x, y) = (x + noise * (r.next() - 0.5), y + noise * (r.next() - 0.5));
            let u = r.next();
            let s = if t % 4100.0 < 160.0 {
                GazeSample::invalid(
                    t,
                    AttentionEvidence {
                        face_present: true,
                        eyes_closed: true,
                        ..AttentionEvidence::default()
                    },
                )
            } else if u < 0.02 {
                GazeSample::new(t, f64::NAN, f64::NAN)
            } else if t % 23_000.0 > 21_500.0 {
                GazeSample::new(t, x, y).with_evidence(AttentionEvidence {
                    face_present: true,
                    head_away: true,
                    ..AttentionEvidence::default()
                })
            } else {
                GazeSample::new(t, x, y)
            };
            out.push(s);
            t += dt * (0.8 + 0.4 * r.next());
            if r.next() < 0.0005 {
                t += 2500.0;
            }
        }
        out
    }

    #[test]
    fn fast_path_matches_the_reference_on_committed_recordings() {
        for (name, geometry, samples) in recordings() {
            let config = ActivityConfig::with_geometry(geometry);
            let scored = assert_same(&samples, &config, &name);
            assert!(scored >= 10, "{name}: only {scored} windows scored");
        }
    }

    #[test]
    fn fast_path_matches_the_reference_on_synthetic_traces() {
        let custom = ActivityConfig {
            model: ActivityModel::Trees(Box::new(
                BoostedTrees::builtin().expect("builtin model").clone(),
            )),
            class_bias: [0.3, -0.2, 0.1],
            ..ActivityConfig::default()
        };
        // A long window of short bins: more than 128 steps (the capped speed median) and
        // more than 512 bins (the capped cell count).
        let long = ActivityConfig {
            bin_ms: 20.0,
            window_ms: 30_000.0,
            ..ActivityConfig::default()
        };
        let cases = [
            ("30 Hz default", 30.0, ActivityConfig::default()),
            ("500 Hz default", 500.0, ActivityConfig::default()),
            ("30 Hz legacy", 30.0, ActivityConfig::legacy()),
            ("500 Hz legacy", 500.0, ActivityConfig::legacy()),
            ("60 Hz custom trees + bias", 60.0, custom),
            ("120 Hz long window", 120.0, long),
        ];
        for (k, (what, hz, config)) in cases.into_iter().enumerate() {
            let samples = synthetic(hz, 70.0, 0x9E37_79B9 + k as u64);
            let scored = assert_same(&samples, &config, what);
            assert!(scored >= 100, "{what}: only {scored} windows scored");
        }
    }

    #[test]
    fn sorted_speed_set_keeps_order_and_multiplicity() {
        use super::super::features::{sorted_insert, sorted_remove};
        let mut v = Vec::new();
        for x in [3.0, 1.0, 2.0, 1.0, 5.0] {
            sorted_insert(&mut v, x);
        }
        assert_eq!(v, [1.0, 1.0, 2.0, 3.0, 5.0]);
        sorted_remove(&mut v, 1.0);
        sorted_remove(&mut v, 4.0);
        assert_eq!(v, [1.0, 2.0, 3.0, 5.0]);
    }
}
