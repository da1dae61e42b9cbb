//! Typed errors of gaze-activity.

use thiserror::Error as ThisError;

/// Everything that can go wrong in gaze-activity. Bad input always maps to one of these; the
/// library never panics on input it is given.
///
/// gaze-core's `GazeError` has a variant of the same name for each of these and converts
/// from this type with `From`, so `?` carries an activity error into vision code unchanged.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Calibration input was unusable (too few points, degenerate, non-finite values).
    #[error("calibration: {0}")]
    Calibration(String),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An activity/accounting input was rejected.
    #[error("activity: {0}")]
    Activity(String),
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias for gaze-activity.
pub type Result<T, E = Error> = std::result::Result<T, E>;
