//! Activity model: fixations / saccades / pursuit, reading / browsing / watching, attention.
//!
//! Pipeline: [`GazeSample`] (screen px, validity, [`crate::AttentionEvidence`]) →
//! [`EventDetector`] (I-DT with smoothing at webcam rates, I-VT at lab rates, chosen from
//! the measured sampling rate) → sliding-window scan-path features → smoothed class scores
//! with hysteresis → [`Activity`](crate::Activity) and [`Attention`](crate::Attention) per
//! moment → time accounting ([`ActivityTotals`], merged [`TimelineSegment`](crate::TimelineSegment)s).
//!
//! * Streaming: [`ActivityClassifier::push`] returns an [`ActivityState`] per sample.
//! * Batch: [`classify_trace`] (segments) and [`classify_trace_labels`] (per-sample labels).
//! * Thresholds: [`ActivityConfig`] (serde; [`ActivityConfig::adapt_from`] learns them per
//!   user from a calibration fixation snippet and a reading snippet).

mod accounting;
mod classifier;
mod config;
mod events;
mod features;
mod geometry;
mod sample;

pub use accounting::ActivityTotals;
pub use classifier::{
    ActivityClassifier, ActivityState, SampleLabel, classify_trace, classify_trace_labels,
};
pub use config::{ActivityConfig, DetectorChoice, default_lab_model, default_webcam_model};
pub use events::{
    DetectorMode, EventDetector, EyeEvent, EyeMovement, RATE_PROBE_SAMPLES, detect_events,
    label_samples,
};
pub use features::{FEATURE_NAMES, LinearModel, N_FEATURES, ReadingRule, WindowFeatures};
pub use geometry::ScreenGeometry;
pub use sample::GazeSample;
