//! [`gaze_activity::Session`]: frame results in, the session report (the original API's field
//! names) out.

use gaze_activity::Session;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::activity::{activity_config, sample};
use crate::convert::to_py;
use crate::error::core_err;
use crate::result::PyFrameResult;

/// One session's accounting (focus / distraction, reading / browsing / watching, blinks).
#[pyclass(module = "gaze", name = "Session")]
pub struct PySession {
    inner: Session,
}

#[pymethods]
impl PySession {
    /// A new session. `screen=(width_px, height_px)` and the keyword arguments configure the
    /// activity model as for `ActivityClassifier`.
    #[new]
    #[pyo3(signature = (session_id, screen=None, **config))]
    fn new(
        session_id: String,
        screen: Option<(f64, f64)>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let cfg = activity_config(screen, config, "Session")?;
        Ok(PySession {
            inner: Session::new(session_id, cfg),
        })
    }

    /// The session id.
    #[getter]
    fn session_id(&self) -> &str {
        self.inner.session_id()
    }

    /// Blinks counted so far.
    #[getter]
    fn blink_count(&self) -> u32 {
        self.inner.blink_count()
    }

    /// Adds one tracker result. Returns the live status `{"t_ms", "accepted", "activity",
    /// "attention", "totals", "duration", "blink_count", "rejected"}`.
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        result: PyRef<'_, PyFrameResult>,
    ) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.push_frame(&result.0))
    }

    /// Adds one gaze sample (screen pixels), like `ActivityClassifier.push`.
    #[pyo3(signature = (t_ms, x, y, valid=true, face_present=true, eyes_closed=false, head_away=false, gaze_off_screen=false))]
    #[allow(clippy::too_many_arguments)]
    fn push_sample<'py>(
        &mut self,
        py: Python<'py>,
        t_ms: f64,
        x: f64,
        y: f64,
        valid: bool,
        face_present: bool,
        eyes_closed: bool,
        head_away: bool,
        gaze_off_screen: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = sample(
            t_ms,
            x,
            y,
            valid,
            face_present,
            eyes_closed,
            head_away,
            gaze_off_screen,
        );
        to_py(py, &self.inner.push_sample(s))
    }

    /// The report so far as a dict (`session_id`, `focus_time`, `distraction_time`,
    /// `session_report: {reading_time, browsing_time, watching_time}`, `started_at`,
    /// `ended_at`, `duration`, ..., `timeline`).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.report())
    }

    /// Ends the session and returns the final report dict.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.finish())
    }

    /// A JSON checkpoint of the complete live state (see `Session.restore_json`).
    fn snapshot_json(&self) -> PyResult<String> {
        self.inner.snapshot_json().map_err(core_err)
    }

    /// Resumes a session from `snapshot_json` output.
    #[staticmethod]
    fn restore_json(json: &str) -> PyResult<Self> {
        Session::restore_json(json)
            .map(|inner| PySession { inner })
            .map_err(core_err)
    }

    fn __repr__(&self) -> String {
        format!("Session({:?})", self.inner.session_id())
    }
}
