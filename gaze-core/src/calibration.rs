//! Mapping gaze features to screen pixels. (Skeleton; filled in by the vision issue.)

use serde::{Deserialize, Serialize};

/// A fitted gaze → screen mapping.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Calibration {
    /// Screen width in pixels.
    pub screen_width: f32,
    /// Screen height in pixels.
    pub screen_height: f32,
}
