//! [`gaze_core::Tracker`]: frames in, [`crate::result::PyFrameResult`]s out.
//!
//! The GIL is released while a frame is processed. A `Tracker` holds per-stream state
//! (tracking, smoothing, blinks), so give each video stream — and, for parallel work, each
//! thread — its own tracker. Sharing one between threads is safe: calls are serialised by a
//! mutex (they wait for each other), and the frames are treated as one stream.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use gaze_core::{EngineChoice, Tracker, TrackerConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::calibration::PyCalibration;
use crate::convert::{config_from_kwargs, to_py};
use crate::error::BindingError;
use crate::frame::PixelView;
use crate::result::PyFrameResult;

/// Wall-clock milliseconds since the Unix epoch (used when no timestamp is given).
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Turns webcam frames into gaze. Keyword arguments are `TrackerConfig` fields.
#[pyclass(module = "gaze", name = "Tracker", frozen)]
pub struct PyTracker {
    inner: Mutex<Tracker>,
}

impl PyTracker {
    fn with<R>(&self, f: impl FnOnce(&mut Tracker) -> R) -> Result<R, BindingError> {
        let mut guard = self.inner.lock().map_err(|_| BindingError::Poisoned)?;
        Ok(f(&mut guard))
    }
}

#[pymethods]
impl PyTracker {
    /// Builds a tracker with the embedded models. `engine` is "auto" (OpenVINO when its
    /// library loads, else OpenCV DNN), "openvino" or "opencv" (shorthand for
    /// `inference={"engine": ...}`). Keyword arguments override `TrackerConfig` defaults
    /// (see `Tracker.default_config()`); unknown names raise `TypeError`, bad values
    /// `ValueError`; an explicit "openvino" that cannot be loaded raises `RuntimeError`.
    #[new]
    #[pyo3(signature = (engine=None, **config))]
    fn new(
        py: Python<'_>,
        engine: Option<&str>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut config: TrackerConfig = config_from_kwargs(config, "Tracker")?;
        if let Some(name) = engine {
            config.inference.engine = EngineChoice::parse(name).map_err(BindingError::from)?;
        }
        let tracker = py
            .detach(|| Tracker::new(config))
            .map_err(BindingError::from)?;
        Ok(PyTracker {
            inner: Mutex::new(tracker),
        })
    }

    /// The default configuration as a dict.
    #[staticmethod]
    fn default_config<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &TrackerConfig::default())
    }

    /// The inference engine that runs the networks: "openvino" or "opencv".
    #[getter]
    fn engine(&self) -> PyResult<&'static str> {
        Ok(self.with(|t| t.engine().name())?)
    }

    /// The configuration in use, as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let config = self.with(|t| t.config().clone())?;
        to_py(py, &config)
    }

    /// Processes one frame: a uint8 numpy array H×W (gray), H×W×3 or H×W×4.
    ///
    /// `format` is "gray", "bgr", "rgb", "bgra" or "rgba"; by default it follows the shape
    /// (bgr for 3 channels, bgra for 4, gray for 2-D). `timestamp_ms` defaults to the wall
    /// clock. The array is read in place (see the module docs for the layouts that are
    /// copied) and must not be modified by another thread during the call.
    #[pyo3(signature = (frame, timestamp_ms=None, format=None))]
    fn process(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        timestamp_ms: Option<f64>,
        format: Option<&str>,
    ) -> PyResult<PyFrameResult> {
        let view = PixelView::new(frame, format)?;
        let parts = view.parts();
        let t = timestamp_ms.unwrap_or_else(now_ms);
        let result = py.detach(|| -> Result<_, BindingError> {
            let frame = parts.frame(t)?;
            Ok(self.with(|tracker| tracker.process(&frame))??)
        })?;
        Ok(PyFrameResult(result))
    }

    /// The calibration used to fill `gaze.screen` (None: uncalibrated). Assign None to clear.
    #[getter]
    fn get_calibration(&self) -> PyResult<Option<PyCalibration>> {
        Ok(self.with(|t| t.calibration().cloned())?.map(PyCalibration))
    }

    #[setter]
    fn set_calibration(&self, calibration: Option<PyRef<'_, PyCalibration>>) -> PyResult<()> {
        let cal = calibration.map(|c| c.0.clone());
        Ok(self.with(|t| t.set_calibration(cal))?)
    }

    /// Forgets the tracked face, smoothing and blink state (e.g. when the stream restarts).
    fn reset(&self) -> PyResult<()> {
        Ok(self.with(|t| t.reset())?)
    }
}

/// Sets how many threads OpenCV may use for one network run, process-wide (0 = OpenCV's
/// default, one per core). Programs running one tracker per worker thread should set 1.
#[pyfunction]
#[pyo3(name = "set_num_threads")]
pub fn py_set_num_threads(threads: u32) -> PyResult<()> {
    Ok(gaze_core::set_num_threads(threads).map_err(BindingError::from)?)
}
