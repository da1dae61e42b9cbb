//! # gaze-activity
//!
//! The pure-Rust half of gaze: everything that needs no pixels. It holds the per-frame result
//! types ([`FrameResult`] and its parts), the compact wire form ([`FrameMessage`]), the
//! activity model (fixations / saccades / pursuit → reading / browsing / watching, attention;
//! [`activity`]), session accounting and its report ([`Session`] → [`SessionReport`]), and
//! gaze calibration ([`Calibration`]).
//!
//! It has no OpenCV, network, database or Python dependency: a program that already has gaze
//! samples (a browser tracker, a lab eye tracker, a recorded trace) gets an activity report
//! from this crate alone. `gaze-core` (the vision half: frames in, [`FrameResult`] out)
//! builds on it and re-exports all of it, so `gaze_core::Session` and `gaze_activity::Session`
//! are the same type.
//!
//! # Example: classify a gaze trace
//!
//! A synthetic reader on a 1920×1080 screen, sampled at 30 Hz like a webcam tracker: lines of
//! text read left to right in 250 ms fixations, a return sweep at the end of each line.
//!
//! ```
//! use gaze_activity::activity::{ScreenGeometry, classify_trace};
//! use gaze_activity::{Activity, ActivityConfig, GazeSample, Session};
//!
//! let mut samples = Vec::new();
//! let mut t_ms = 0.0;
//! for line in 0..40 {
//!     let y = 200.0 + 32.0 * (line % 20) as f64;
//!     for word in 0..10 {
//!         let x = 300.0 + 120.0 * word as f64;
//!         for i in 0..8 {
//!             // ±3 px of deterministic jitter, as a webcam tracker would add.
//!             let jitter = ((line * 31 + word * 7 + i * 3) % 7) as f64 - 3.0;
//!             samples.push(GazeSample::new(t_ms, x + jitter, y - jitter));
//!             t_ms += 1000.0 / 30.0;
//!         }
//!     }
//! }
//! let config = ActivityConfig::with_geometry(ScreenGeometry::from_px(1920.0, 1080.0));
//!
//! // Batch: merged timeline segments.
//! let timeline = classify_trace(&samples, &config);
//! let reading_ms: f64 = timeline
//!     .iter()
//!     .filter(|s| s.activity == Activity::Reading)
//!     .map(|s| s.end_ms - s.start_ms)
//!     .sum();
//! assert!(reading_ms > 0.6 * t_ms, "read {reading_ms} of {t_ms} ms");
//!
//! // Streaming: a session that accounts time and ends in a report.
//! let mut session = Session::try_new("reader", config)?;
//! for sample in &samples {
//!     session.push_sample(*sample);
//! }
//! let report = session.finish();
//! assert!(report.session_report.reading_time > 0.6 * report.focus_time);
//! # Ok::<(), gaze_activity::Error>(())
//! ```
//!
//! **Left and right are the subject's**: `left_eye` is the person's left eye, on the image's
//! right side in an unmirrored frame.

#![deny(missing_docs)]

pub mod activity;
pub mod calibration;
pub mod error;
pub mod result;
pub mod session;
pub mod wire;

pub use activity::{ActivityClassifier, ActivityConfig, GazeSample, ScreenGeometry};
pub use calibration::{Calibration, CalibrationSample, GazeFeatures};
pub use error::{Error, Result};
pub use result::*;
pub use session::{Activity, ActivityTimes, Attention, SessionReport, TimelineSegment};
pub use session::{GazeHeatmap, HeatmapPlane, LiveStatus, Session, SessionSnapshot};
pub use session::{
    HEATMAP_RATIO_CELLS, HEATMAP_RATIO_EXTENT, HEATMAP_SCREEN_COLS, HEATMAP_SCREEN_ROWS,
};
pub use wire::FrameMessage;
