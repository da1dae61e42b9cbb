//! The per-frame engine: face → eyes → iris → head pose → gaze → blink.

use crate::calibration::Calibration;
use crate::error::Result;
use crate::frame::Frame;
use crate::result::{AttentionEvidence, Direction, FrameResult};
use serde::{Deserialize, Serialize};

/// Tracker settings. All fields have sensible defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerConfig {
    /// Minimum BlazeFace score to accept a face.
    pub min_face_score: f32,
    /// Re-run the face detector at least every this many frames while tracking (0 = every frame).
    pub redetect_every: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_face_score: 0.5,
            redetect_every: 30,
        }
    }
}

/// Turns frames into [`FrameResult`]s. Holds per-stream state (tracking, smoothing, blinks),
/// so use one tracker per video stream. A `Tracker` is `Send` but not `Sync`.
pub struct Tracker {
    config: TrackerConfig,
    calibration: Option<Calibration>,
}

impl Tracker {
    /// Builds a tracker with the embedded models.
    pub fn new(config: TrackerConfig) -> Result<Self> {
        Ok(Tracker {
            config,
            calibration: None,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Sets (or clears) the calibration used to fill `gaze.screen`.
    pub fn set_calibration(&mut self, calibration: Option<Calibration>) {
        self.calibration = calibration;
    }

    /// The calibration in use.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Processes one frame. A frame with no face is a normal result, not an error.
    pub fn process(&mut self, frame: &Frame<'_>) -> Result<FrameResult> {
        Ok(FrameResult {
            timestamp_ms: frame.timestamp_ms(),
            width: frame.width(),
            height: frame.height(),
            direction: Direction::NoFace,
            attention: AttentionEvidence::default(),
            ..FrameResult::default()
        })
    }
}
