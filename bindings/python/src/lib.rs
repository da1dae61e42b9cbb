//! Python bindings for gaze: the `gaze._gaze` extension module behind the `gaze` package.
//!
//! Feature `vision` (default) adds the `Tracker` (gaze-core, OpenCV); without it the module
//! holds only the pixel-free half (activity, sessions, calibration, result types) over
//! gaze-activity and links no OpenCV.
//!
//! One file per gaze-core concept, each a thin skin: convert the Python arguments, call
//! gaze-core, convert the result back. numpy frames are read in place ([`frame`]), the GIL is
//! released while a frame is processed ([`tracker`]), and every gaze-core error becomes a
//! Python exception ([`error`]).

pub mod activity;
pub mod calibration;
pub mod convert;
pub mod error;
#[cfg(feature = "vision")]
pub mod frame;
pub mod result;
pub mod session;
#[cfg(feature = "vision")]
pub mod tracker;

use pyo3::prelude::*;

/// The native module; the `gaze` package re-exports everything in it.
#[pymodule]
#[pyo3(name = "_gaze")]
fn gaze_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Whether this build has the vision half (`Tracker`); kept out of `__all__`.
    m.setattr("_has_vision", cfg!(feature = "vision"))?;
    #[cfg(feature = "vision")]
    {
        m.add_class::<tracker::PyTracker>()?;
        m.add_function(wrap_pyfunction!(tracker::py_set_num_threads, m)?)?;
        // Diagnostics, kept out of `__all__` (and so out of `from gaze._gaze import *`).
        m.setattr(
            "_frame_is_borrowed",
            wrap_pyfunction!(frame::frame_is_borrowed, m)?,
        )?;
    }
    m.add_class::<calibration::PyCalibration>()?;
    m.add_class::<activity::PyActivityClassifier>()?;
    m.add_function(wrap_pyfunction!(activity::py_classify_trace, m)?)?;
    m.add_class::<session::PySession>()?;
    result::register(m)?;
    Ok(())
}
