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
//! # Example: frames in, a session report out
//!
//! A runnable sketch of the whole path. The frames here are synthetic (a flat grey 640×480
//! image, in which no face can be found) so the example needs no files; `examples/track.rs`
//! runs the same loop over a real webcam clip.
//!
//! ```
//! use gaze_core::{ActivityConfig, Frame, PixelFormat, Session, Tracker, TrackerConfig};
//!
//! // The networks are embedded; `auto` runs OpenVINO when its library can be loaded and
//! // OpenCV DNN otherwise. `engine()` says which one runs.
//! let mut tracker = Tracker::new(TrackerConfig::default())?;
//! println!("inference engine: {:?}", tracker.engine());
//!
//! let mut session = Session::try_new("demo", ActivityConfig::default())?;
//! let pixels = vec![128u8; 640 * 480 * 3];
//! for i in 0..90 {
//!     // 3 s at 30 frames/s; timestamps are milliseconds.
//!     let frame = Frame::packed(&pixels, 640, 480, PixelFormat::Bgr8, i as f64 * 1000.0 / 30.0)?;
//!     let result = tracker.process(&frame)?;
//!     assert!(result.face.is_none() && result.gaze.is_none());
//!     session.push_frame(&result);
//! }
//! let report = session.finish();
//! // No face in view for longer than `away_min_ms`: the person is away, which is
//! // distraction (from its start), never focus or an activity.
//! assert_eq!(report.focus_time, 0.0);
//! assert!(report.distraction_time > 2.0, "{report:?}");
//!
//! // A buffer too short for its declared size is a typed error, never a panic.
//! assert!(Frame::packed(&pixels[..100], 640, 480, PixelFormat::Bgr8, 0.0).is_err());
//! # Ok::<(), gaze_core::GazeError>(())
//! ```
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
