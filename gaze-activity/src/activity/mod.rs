//! Activity model: fixations / saccades / pursuit, reading / browsing / watching, attention.
//!
//! # Pipeline
//!
//! [`GazeSample`] (screen px, validity, [`crate::AttentionEvidence`]) →
//! [`EventDetector`] → sliding-window scan-path features ([`WindowFeatures`]) → class
//! probabilities → smoothing and hysteresis → [`Activity`](crate::Activity) and
//! [`Attention`](crate::Attention) per moment → time accounting ([`ActivityTotals`] and a
//! merged [`TimelineSegment`](crate::TimelineSegment) timeline).
//!
//! * **Units.** Pixels become degrees of visual angle with [`ScreenGeometry`] (laptop defaults
//!   when the physical size or distance is unknown). Uncalibrated gaze ratios are mapped onto
//!   the screen with [`ScreenGeometry::ratios_to_px`].
//! * **Events.** The sampling rate is measured from the first samples: I-VT (velocity
//!   threshold, 50 deg/s, centred ≈ 6 ms difference) from 100 Hz up, I-DT (dispersion
//!   threshold with a 3-sample running median) below. Slow runs that drift faster than
//!   3 deg/s are smooth pursuit.
//! * **Features** (every 100 ms, over the last 10 s): Campbell & Maglio style transition
//!   classes between consecutive fixations (forward reading saccade, return sweep, short
//!   regression, unrelated jump), plus rate-independent features of a 100 ms-binned track
//!   that survive webcam noise: rightward share and net progression of small steps,
//!   read-line-then-return-sweep cycles, horizontal share of the path, spread, coverage, bin
//!   speed, share of still, jump and coherent (pursuit-like) steps, fixation rate and
//!   duration, pursuit share.
//! * **Scores.** The shipped model ([`ActivityModel::Builtin`]) is a set of gradient-boosted
//!   trees ([`BoostedTrees`], embedded JSON, trained by `gaze-activity/training/train_activity.py`
//!   on features dumped by this very code) over [`WindowFeatures::extended`]: the features
//!   above plus saccade direction and amplitude distributions, fixation-duration quantiles,
//!   per-axis spread and drift (scrolling), coverage, dropout/blink rate, the hand-set
//!   [`ReadingRule`] score and the detector mode. Its probabilities P(reading, browsing,
//!   watching) are temperature-calibrated; per-user offsets ([`ActivityConfig::class_bias`],
//!   learned by [`ActivityConfig::adapt_to_labels`]) shift them. Scores are recomputed every
//!   [`ActivityConfig::score_every_ms`]. The earlier multinomial logistic models plus the
//!   reading rule remain available as [`ActivityModel::Linear`] ([`ActivityConfig::legacy`]).
//! * **Hysteresis.** Probabilities are smoothed exponentially
//!   ([`ActivityConfig::score_tau_ms`]); the label changes only when the challenger beats the
//!   current label by [`ActivityConfig::switch_margin`]. The first label is given after
//!   [`ActivityConfig::min_evidence_ms`] of valid data; before that, and whenever no class
//!   reaches [`ActivityConfig::min_score`], focused time is `Other`; the latter (no class
//!   confident) is also counted in [`ActivityTotals::uncertain_time`].
//! * **Attention.** Eyes closed beyond [`ActivityConfig::closed_min_ms`], and no face / head
//!   away / gaze off screen beyond [`ActivityConfig::away_min_ms`], are distraction from the
//!   start of the stretch (shorter ones — blinks, glances — keep the previous label); sample
//!   gaps and dropouts beyond [`ActivityConfig::max_gap_ms`] are no data.
//!
//! # APIs
//!
//! * Streaming: [`ActivityClassifier::push`] returns an [`ActivityState`] per sample
//!   (rejects non-finite, duplicate and out-of-order timestamps).
//! * Batch: [`classify_trace`] (merged segments) and [`classify_trace_labels`] (the
//!   streaming label after every sample); both sort the input by time first.
//! * Per-sample eye-movement labels: [`label_samples`].
//! * Per-user thresholds: [`ActivityConfig::adapt_from`] (calibration fixations and a
//!   reading snippet), stored as JSON with [`ActivityConfig::to_json`].
//! * Sessions and reports: [`crate::session::Session`].
//!
//! Everything is deterministic and allocation-free per sample in the steady state. The
//! streaming path computes each bin's window-independent quantities (grid cells, the step
//! from the previous bin and its share of each feature) once when the bin closes, keeps the
//! window's step speeds sorted for the median, and walks the trees flattened into padded
//! complete trees, re-walking only those with a threshold that a feature crossed since the
//! previous score. Its labels, features and probabilities are bit-identical to recomputing
//! everything from the window with the node-walk trees (checked by a unit test on the
//! committed recordings and on synthetic traces).

mod accounting;
mod adapt;
mod classifier;
mod config;
mod events;
mod features;
mod geometry;
mod sample;
mod trees;

pub use accounting::ActivityTotals;
pub use adapt::{LabelledSpan, MAX_CLASS_BIAS};
pub use classifier::{
    ActivityClassifier, ActivityState, MAX_ABS_TIME_MS, SampleLabel, classify_trace,
    classify_trace_labels,
};
pub use config::{
    ActivityConfig, ActivityModel, DetectorChoice, default_lab_model, default_webcam_model,
};
pub use events::{
    DetectorMode, EventDetector, EyeEvent, EyeMovement, RATE_PROBE_SAMPLES, detect_events,
    label_samples,
};
pub use features::{
    EXT_FEATURE_NAMES, FEATURE_NAMES, LinearModel, N_EXT_FEATURES, N_FEATURES, ReadingRule,
    WindowFeatures,
};
pub use geometry::{
    LAPTOP_DISTANCE_MM, LAPTOP_HEIGHT_MM, LAPTOP_HEIGHT_PX, LAPTOP_WIDTH_MM, LAPTOP_WIDTH_PX,
    ScreenGeometry,
};
pub use sample::GazeSample;
pub use trees::{BoostedTrees, CheckRow, N_CLASSES, TREES_FORMAT, Tree};
