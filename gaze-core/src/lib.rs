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

pub mod activity;
pub mod blink;
pub mod calibration;
pub mod error;
pub mod face;
pub mod frame;
pub mod gaze;
pub mod head_pose;
pub mod inference;
pub mod iris;
pub mod keypoint_flow;
pub mod models;
pub mod result;
pub mod session;
pub mod smoothing;
pub mod tracker;
pub mod wire;

pub use activity::{ActivityClassifier, ActivityConfig, GazeSample, ScreenGeometry};
pub use calibration::{Calibration, CalibrationSample, GazeFeatures};
pub use error::{GazeError, Result};
pub use frame::{Frame, PixelFormat};
pub use inference::{Engine, EngineChoice, InferenceConfig};
pub use result::*;
pub use session::{Activity, ActivityTimes, Attention, SessionReport, TimelineSegment};
pub use session::{GazeHeatmap, HeatmapPlane, LiveStatus, Session, SessionSnapshot};
pub use session::{
    HEATMAP_RATIO_CELLS, HEATMAP_RATIO_EXTENT, HEATMAP_SCREEN_COLS, HEATMAP_SCREEN_ROWS,
};
pub use tracker::{Tracker, TrackerConfig, set_num_threads};
pub use wire::FrameMessage;
