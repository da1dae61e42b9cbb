//! Typed errors of gaze-core.

use thiserror::Error;

/// Everything that can go wrong in gaze-core. Bad input always maps to one of these; the
/// library never panics on input it is given.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GazeError {
    /// The frame has zero width or height.
    #[error("frame is empty: {width}x{height}")]
    EmptyFrame {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The row stride is shorter than one row of pixels.
    #[error("stride {stride} is smaller than width {width} x {bytes_per_pixel} bytes per pixel")]
    StrideTooSmall {
        /// Row stride in bytes.
        stride: usize,
        /// Width in pixels.
        width: u32,
        /// Bytes per pixel of the format.
        bytes_per_pixel: usize,
    },
    /// The pixel buffer is shorter than `stride * (height - 1) + width * bpp`.
    #[error(
        "buffer has {actual} bytes, a {width}x{height} frame with stride {stride} needs {needed}"
    )]
    BufferTooSmall {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes given.
        actual: usize,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Row stride in bytes.
        stride: usize,
    },
    /// The frame is larger than the library accepts (guards against absurd allocations).
    #[error("frame {width}x{height} exceeds the maximum of {max} pixels per side")]
    FrameTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Largest accepted side.
        max: u32,
    },
    /// A pixel format name could not be parsed.
    #[error("unknown pixel format {0:?} (expected gray, bgr, rgb, bgra or rgba)")]
    UnknownFormat(String),
    /// A timestamp was not finite.
    #[error("timestamp must be finite, got {0}")]
    BadTimestamp(f64),
    /// A model file could not be read or parsed.
    #[error("model {name}: {message}")]
    Model {
        /// Which model.
        name: &'static str,
        /// What went wrong.
        message: String,
    },
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
    /// OpenCV reported an error.
    #[error("opencv: {0}")]
    OpenCv(#[from] opencv::Error),
}

/// Result alias for gaze-core.
pub type Result<T, E = GazeError> = std::result::Result<T, E>;

/// An error of the pure half ([`gaze_activity::Error`]) becomes the [`GazeError`] variant of
/// the same name, so `?` carries it through vision code and the bindings see one error type.
impl From<gaze_activity::Error> for GazeError {
    fn from(err: gaze_activity::Error) -> Self {
        match err {
            gaze_activity::Error::Calibration(m) => GazeError::Calibration(m),
            gaze_activity::Error::Config(m) => GazeError::Config(m),
            gaze_activity::Error::Activity(m) => GazeError::Activity(m),
            gaze_activity::Error::Json(e) => GazeError::Json(e),
            other => GazeError::Activity(other.to_string()),
        }
    }
}
