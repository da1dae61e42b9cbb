//! Status codes, the error type behind them, and the thread-local last error message.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use gaze_core::GazeError;
use thiserror::Error;

/// Result of every fallible function. `GAZE_OK` is 0; anything else is an error whose
/// details `gaze_last_error_message()` returns on the same thread.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum gaze_status {
    /// Success.
    GAZE_OK = 0,
    /// A required pointer argument was NULL.
    GAZE_ERROR_NULL_POINTER = 1,
    /// An argument was unusable (unknown pixel format, string not UTF-8, ...).
    GAZE_ERROR_INVALID_ARGUMENT = 2,
    /// The frame geometry was inconsistent (empty, stride too small, too large, bad time).
    GAZE_ERROR_INVALID_FRAME = 3,
    /// A configuration (JSON) was malformed or out of range.
    GAZE_ERROR_CONFIG = 4,
    /// Calibration data was unusable.
    GAZE_ERROR_CALIBRATION = 5,
    /// Activity / session input was rejected.
    GAZE_ERROR_ACTIVITY = 6,
    /// A model could not be loaded.
    GAZE_ERROR_MODEL = 7,
    /// OpenCV reported an error.
    GAZE_ERROR_OPENCV = 8,
    /// The tracker has processed no frame yet.
    GAZE_ERROR_NO_RESULT = 9,
    /// A Rust panic was caught at the boundary (a bug in gaze; please report it).
    GAZE_ERROR_PANIC = 10,
    /// Any other error.
    GAZE_ERROR_INTERNAL = 11,
    /// The requested inference engine could not be loaded (e.g. `GAZE_ENGINE_OPENVINO`
    /// without a loadable `libopenvino_c`).
    GAZE_ERROR_ENGINE = 12,
}

impl gaze_status {
    /// A fixed description of the status.
    pub fn message(self) -> &'static std::ffi::CStr {
        match self {
            gaze_status::GAZE_OK => c"ok",
            gaze_status::GAZE_ERROR_NULL_POINTER => c"a required pointer argument was NULL",
            gaze_status::GAZE_ERROR_INVALID_ARGUMENT => c"invalid argument",
            gaze_status::GAZE_ERROR_INVALID_FRAME => c"invalid frame geometry or timestamp",
            gaze_status::GAZE_ERROR_CONFIG => c"invalid configuration",
            gaze_status::GAZE_ERROR_CALIBRATION => c"invalid calibration",
            gaze_status::GAZE_ERROR_ACTIVITY => c"activity input rejected",
            gaze_status::GAZE_ERROR_MODEL => c"model could not be loaded",
            gaze_status::GAZE_ERROR_OPENCV => c"OpenCV error",
            gaze_status::GAZE_ERROR_NO_RESULT => c"no frame has been processed yet",
            gaze_status::GAZE_ERROR_PANIC => c"internal panic caught at the C boundary",
            gaze_status::GAZE_ERROR_INTERNAL => c"internal error",
            gaze_status::GAZE_ERROR_ENGINE => c"inference engine could not be loaded",
        }
    }

    /// The status with this numeric value, if any.
    pub fn from_code(code: u32) -> Option<Self> {
        use gaze_status::*;
        [
            GAZE_OK,
            GAZE_ERROR_NULL_POINTER,
            GAZE_ERROR_INVALID_ARGUMENT,
            GAZE_ERROR_INVALID_FRAME,
            GAZE_ERROR_CONFIG,
            GAZE_ERROR_CALIBRATION,
            GAZE_ERROR_ACTIVITY,
            GAZE_ERROR_MODEL,
            GAZE_ERROR_OPENCV,
            GAZE_ERROR_NO_RESULT,
            GAZE_ERROR_PANIC,
            GAZE_ERROR_INTERNAL,
            GAZE_ERROR_ENGINE,
        ]
        .into_iter()
        .find(|s| *s as u32 == code)
    }
}

/// Everything that can fail behind the C boundary.
#[derive(Debug, Error)]
pub enum Error {
    /// A required pointer was NULL.
    #[error("argument `{0}` is NULL")]
    Null(&'static str),
    /// An argument was unusable.
    #[error("{0}")]
    InvalidArgument(String),
    /// No frame processed yet.
    #[error("the tracker has processed no frame yet")]
    NoResult,
    /// A gaze-core error.
    #[error(transparent)]
    Core(#[from] GazeError),
    /// A JSON (de)serialisation error outside gaze-core.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A panic caught at the boundary.
    #[error("panic: {0}")]
    Panic(String),
}

/// An error of the pure half (sessions, activity, calibration) maps like the same-named
/// [`GazeError`] variant.
impl From<gaze_core::ActivityError> for Error {
    fn from(err: gaze_core::ActivityError) -> Self {
        Error::Core(err.into())
    }
}

impl Error {
    /// The status code this error maps to.
    pub fn status(&self) -> gaze_status {
        use gaze_status::*;
        match self {
            Error::Null(_) => GAZE_ERROR_NULL_POINTER,
            Error::InvalidArgument(_) => GAZE_ERROR_INVALID_ARGUMENT,
            Error::NoResult => GAZE_ERROR_NO_RESULT,
            Error::Json(_) => GAZE_ERROR_CONFIG,
            Error::Panic(_) => GAZE_ERROR_PANIC,
            Error::Core(core) => match core {
                GazeError::EmptyFrame { .. }
                | GazeError::StrideTooSmall { .. }
                | GazeError::BufferTooSmall { .. }
                | GazeError::FrameTooLarge { .. }
                | GazeError::BadTimestamp(_) => GAZE_ERROR_INVALID_FRAME,
                GazeError::UnknownFormat(_) => GAZE_ERROR_INVALID_ARGUMENT,
                GazeError::Config(_) | GazeError::Json(_) => GAZE_ERROR_CONFIG,
                GazeError::Calibration(_) => GAZE_ERROR_CALIBRATION,
                GazeError::Activity(_) => GAZE_ERROR_ACTIVITY,
                GazeError::Model {
                    name: "openvino", ..
                } => GAZE_ERROR_ENGINE,
                GazeError::Model { .. } => GAZE_ERROR_MODEL,
                GazeError::OpenCv(_) => GAZE_ERROR_OPENCV,
                _ => GAZE_ERROR_INTERNAL,
            },
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error (interior NUL bytes are dropped).
pub fn set_last_error(message: &str) {
    let clean: Vec<u8> = message.bytes().filter(|&b| b != 0).collect();
    let text = CString::new(clean).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

/// Pointer to this thread's last error message; valid until the next failing call on the
/// same thread.
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}
