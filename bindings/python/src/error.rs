//! How errors cross into Python: one conversion from [`BindingError`] to a Python exception.
//!
//! Bad input (sizes, strides, formats, timestamps, configuration, calibration data) becomes
//! `ValueError`; a wrong Python type becomes `TypeError`; model and OpenCV failures become
//! `RuntimeError`.

#[cfg(feature = "vision")]
use gaze_core::GazeError;
use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use thiserror::Error;

/// Errors raised by the binding layer.
#[derive(Debug, Error)]
pub enum BindingError {
    /// An error reported by gaze-core (frames, models, OpenCV).
    #[cfg(feature = "vision")]
    #[error(transparent)]
    Core(#[from] GazeError),
    /// An error of the part that needs no pixels (sessions, activity, calibration, JSON),
    /// reported by gaze-activity.
    #[error(transparent)]
    Activity(#[from] gaze_activity::Error),
    /// A value of the wrong Python type (e.g. a float array as a frame).
    #[error("{0}")]
    Type(String),
    /// A value of the right type but unusable (e.g. a 5-channel image).
    #[error("{0}")]
    Value(String),
    /// A previous call panicked while holding the tracker; its state is unknown.
    #[error("the tracker is unusable: an earlier call panicked while using it")]
    Poisoned,
}

impl BindingError {
    /// Shorthand for a [`BindingError::Type`].
    pub fn type_error(message: impl Into<String>) -> Self {
        BindingError::Type(message.into())
    }

    /// Shorthand for a [`BindingError::Value`].
    pub fn value_error(message: impl Into<String>) -> Self {
        BindingError::Value(message.into())
    }
}

/// A JSON failure maps like gaze-activity's `Json` error.
impl From<serde_json::Error> for BindingError {
    fn from(err: serde_json::Error) -> Self {
        BindingError::Activity(err.into())
    }
}

impl From<BindingError> for PyErr {
    fn from(err: BindingError) -> PyErr {
        let message = err.to_string();
        match err {
            BindingError::Type(_) => PyTypeError::new_err(message),
            BindingError::Value(_) | BindingError::Activity(_) => PyValueError::new_err(message),
            BindingError::Poisoned => PyRuntimeError::new_err(message),
            #[cfg(feature = "vision")]
            BindingError::Core(core) => match core {
                GazeError::Model { .. } | GazeError::OpenCv(_) => PyRuntimeError::new_err(message),
                _ => PyValueError::new_err(message),
            },
        }
    }
}

/// Converts a gaze-core, gaze-activity or JSON error straight into a Python exception.
pub fn core_err(err: impl Into<BindingError>) -> PyErr {
    err.into().into()
}
