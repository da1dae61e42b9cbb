//! The input of the activity model: one gaze sample with its attention evidence.

use serde::{Deserialize, Serialize};

use super::geometry::ScreenGeometry;
use crate::result::AttentionEvidence;

/// One gaze sample.
///
/// `x`, `y` are screen pixels (origin top-left, +y down) when the tracker is calibrated.
/// Without a calibration, pass the normalised gaze ratios through
/// [`ScreenGeometry::ratios_to_px`] (or use [`GazeSample::from_ratios`]): ratio −1…1 maps
/// linearly onto the screen edges, with the horizontal axis mirrored because the camera faces
/// the user. `valid` is false when the tracker produced no usable gaze point for this
/// frame; `x`, `y` are then ignored (the constructors set them to 0 so the sample stays
/// serialisable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GazeSample {
    /// Timestamp in milliseconds (any monotonic clock; Unix epoch ms is fine).
    pub t_ms: f64,
    /// Horizontal gaze position in screen pixels.
    pub x: f64,
    /// Vertical gaze position in screen pixels (+y down).
    pub y: f64,
    /// Whether `x`, `y` hold a usable gaze point.
    pub valid: bool,
    /// Per-frame attention evidence (face present, eyes closed, head away, gaze off screen).
    pub evidence: AttentionEvidence,
}

impl Default for GazeSample {
    fn default() -> Self {
        GazeSample {
            t_ms: 0.0,
            x: 0.0,
            y: 0.0,
            valid: false,
            evidence: AttentionEvidence {
                face_present: true,
                ..AttentionEvidence::default()
            },
        }
    }
}

impl GazeSample {
    /// A sample at screen pixel (`x`, `y`) with a face present and no distraction evidence.
    /// The sample is valid when both coordinates are finite.
    pub fn new(t_ms: f64, x: f64, y: f64) -> Self {
        let valid = x.is_finite() && y.is_finite();
        GazeSample {
            t_ms,
            x: if valid { x } else { 0.0 },
            y: if valid { y } else { 0.0 },
            valid,
            ..GazeSample::default()
        }
    }

    /// A sample without a gaze point (tracking dropout), with the given evidence.
    pub fn invalid(t_ms: f64, evidence: AttentionEvidence) -> Self {
        GazeSample {
            t_ms,
            x: 0.0,
            y: 0.0,
            valid: false,
            evidence,
        }
    }

    /// A sample from uncalibrated gaze ratios (see [`ScreenGeometry::ratios_to_px`]).
    pub fn from_ratios(
        t_ms: f64,
        horizontal: f64,
        vertical: f64,
        geometry: &ScreenGeometry,
    ) -> Self {
        let (x, y) = geometry.ratios_to_px(horizontal, vertical);
        GazeSample::new(t_ms, x, y)
    }

    /// Replaces the attention evidence.
    pub fn with_evidence(mut self, evidence: AttentionEvidence) -> Self {
        self.evidence = evidence;
        self
    }

    /// True when the sample has a finite gaze point and is marked valid.
    pub fn has_point(&self) -> bool {
        self.valid && self.x.is_finite() && self.y.is_finite()
    }
}
