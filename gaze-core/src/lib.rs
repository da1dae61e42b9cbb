//! # gaze-core
//!
//! Webcam frames in, gaze and activity out. One frame travels
//! [`Frame`] → [`Tracker::process`] → [`FrameResult`]; a stream of results travels through the
//! activity model into a [`SessionReport`].
//!
//! gaze-core has no network, database, HTTP or Python dependency. Its two neural networks
//! (MediaPipe BlazeFace short-range and MediaPipe Iris, Apache-2.0) are embedded in the
//! library, so no download is needed.
//!
//! **Left and right are the subject's**: `left_eye` is the person's left eye, on the image's
//! right side in an unmirrored frame.

#![deny(missing_docs)]

pub mod blink;
pub mod error;
pub mod face;
pub mod frame;
pub mod gaze;
pub mod head_pose;
pub mod inference;
pub mod iris;
pub mod keypoint_flow;
pub mod models;
pub mod smoothing;
pub mod tracker;

// The pure-Rust half (result types, activity model, sessions, calibration) lives in
// gaze-activity; its modules and names are re-exported here so `gaze_core::…` paths keep
// working and `gaze_core::Session` is `gaze_activity::Session`.
pub use gaze_activity;
pub use gaze_activity::{activity, calibration, result, session, wire};

pub use error::{GazeError, Result};
pub use frame::{Frame, PixelFormat};
pub use gaze_activity::Error as ActivityError;
pub use gaze_activity::FrameMessage;
pub use gaze_activity::result::*;
pub use gaze_activity::{Activity, ActivityTimes, Attention, SessionReport, TimelineSegment};
pub use gaze_activity::{ActivityClassifier, ActivityConfig, GazeSample, ScreenGeometry};
pub use gaze_activity::{Calibration, CalibrationSample, GazeFeatures};
pub use gaze_activity::{GazeHeatmap, HeatmapPlane, LiveStatus, Session, SessionSnapshot};
pub use gaze_activity::{
    HEATMAP_RATIO_CELLS, HEATMAP_RATIO_EXTENT, HEATMAP_SCREEN_COLS, HEATMAP_SCREEN_ROWS,
};
pub use inference::{Engine, EngineChoice, InferenceConfig};
pub use tracker::{Tracker, TrackerConfig, set_num_threads};
