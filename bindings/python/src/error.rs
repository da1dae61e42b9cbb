//! How errors cross into Python: one conversion from [`BindingError`] to a Python exception.
//!
//! Bad input (sizes, strides, formats, timestamps, configuration, calibration data) becomes
//! `ValueError`; a wrong Python type becomes `TypeError`; model and OpenCV failures become
//! `RuntimeError`.

use gaze_core::GazeError;
use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use thiserror::Error;

/// Errors raised by the binding layer.
#[derive(Debug, Error)]
pub enum BindingError {
    /// An error reported by gaze-core.
    #[error(transparent)]
    Core(#[from] GazeError),
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

impl From<BindingError> for PyErr {
    fn from(err: BindingError) -> PyErr {
        let message = err.to_string();
        match err {
            BindingError::Type(_) => PyTypeError::new_err(message),
            BindingError::Value(_) => PyValueError::new_err(message),
            BindingError::Poisoned => PyRuntimeError::new_err(message),
            BindingError::Core(core) => match core {
                GazeError::Model { .. } | GazeError::OpenCv(_) => PyRuntimeError::new_err(message),
                _ => PyValueError::new_err(message),
            },
        }
    }
}

/// An error of the pure half (sessions, activity, calibration) maps like the same-named
/// [`GazeError`] variant.
impl From<gaze_core::ActivityError> for BindingError {
    fn from(err: gaze_core::ActivityError) -> Self {
        BindingError::Core(err.into())
    }
}

/// Converts a gaze-core (or gaze-activity) error straight into a Python exception.
pub fn core_err(err: impl Into<GazeError>) -> PyErr {
    BindingError::Core(err.into()).into()
}
