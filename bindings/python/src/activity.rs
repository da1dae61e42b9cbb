//! The activity model: [`gaze_activity::ActivityClassifier`] (streaming) and
//! [`gaze_activity::activity::classify_trace`] (batch, numpy arrays in).

use gaze_activity::activity::{
    ActivityClassifier, ActivityConfig, GazeSample, ScreenGeometry, classify_trace,
};
use gaze_activity::{AttentionEvidence, Session};
use numpy::{AllowTypeChange, PyArrayLike1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{config_from_kwargs, to_py};
use crate::error::{BindingError, core_err};
use crate::result::PyFrameResult;

/// Builds an `ActivityConfig` from keyword arguments; `screen=(width_px, height_px)`
/// replaces the geometry's pixel size (physical size unknown: laptop defaults). The result
/// is validated so a bad threshold is a `ValueError` rather than silently replaced.
pub fn activity_config(
    screen: Option<(f64, f64)>,
    config: Option<&Bound<'_, PyDict>>,
    what: &str,
) -> Result<ActivityConfig, BindingError> {
    let mut cfg: ActivityConfig = config_from_kwargs(config, what)?;
    if let Some((w, h)) = screen {
        cfg.geometry = ScreenGeometry::from_px(w, h);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// One gaze sample from Python arguments (see `ActivityClassifier.push`).
#[allow(clippy::too_many_arguments)]
pub fn sample(
    t_ms: f64,
    x: f64,
    y: f64,
    valid: bool,
    face_present: bool,
    eyes_closed: bool,
    head_away: bool,
    gaze_off_screen: bool,
) -> GazeSample {
    let evidence = AttentionEvidence {
        face_present,
        eyes_closed,
        head_away,
        gaze_off_screen,
    };
    if valid {
        GazeSample::new(t_ms, x, y).with_evidence(evidence)
    } else {
        GazeSample::invalid(t_ms, evidence)
    }
}

/// Streaming reading / browsing / watching and attention classifier over screen gaze points.
#[pyclass(module = "gaze", name = "ActivityClassifier")]
pub struct PyActivityClassifier {
    inner: ActivityClassifier,
}

#[pymethods]
impl PyActivityClassifier {
    /// `screen=(width_px, height_px)`; other keyword arguments are `ActivityConfig` fields
    /// (see `ActivityClassifier.default_config()`).
    #[new]
    #[pyo3(signature = (screen=None, **config))]
    fn new(screen: Option<(f64, f64)>, config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let cfg = activity_config(screen, config, "ActivityClassifier")?;
        Ok(PyActivityClassifier {
            inner: ActivityClassifier::new(cfg),
        })
    }

    /// The default `ActivityConfig` as a dict.
    #[staticmethod]
    fn default_config<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ActivityConfig::default())
    }

    /// The configuration in use, as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.config())
    }

    /// Adds one sample at time `t_ms` and screen pixel (`x`, `y`); `valid=False` (or a
    /// non-finite coordinate) marks a tracking dropout. Returns the live state
    /// `{"t_ms", "accepted", "activity", "attention", "totals"}`. Samples must come in time
    /// order; late or duplicate ones are rejected (`accepted` is False).
    #[pyo3(signature = (t_ms, x, y, valid=true, face_present=true, eyes_closed=false, head_away=false, gaze_off_screen=false))]
    #[allow(clippy::too_many_arguments)]
    fn push<'py>(
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
        to_py(py, &self.inner.push(s))
    }

    /// Adds a tracker result (calibrated screen point, or the gaze ratios mapped onto the
    /// screen) with its attention evidence. Returns the live state like `push`.
    fn push_result<'py>(
        &mut self,
        py: Python<'py>,
        result: PyRef<'_, PyFrameResult>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = Session::frame_to_sample(&result.0, self.inner.config());
        to_py(py, &self.inner.push(s))
    }

    /// Running totals in seconds and the timeline so far (a still-undecided stretch at its
    /// provisional label): `{"totals": {...}, "timeline": [segments]}`.
    fn provisional<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (totals, timeline) = self.inner.provisional();
        to_py(
            py,
            &serde_json::json!({ "totals": totals, "timeline": timeline }),
        )
    }

    /// Closes the trace: final totals and timeline, like `provisional`.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (totals, timeline) = self.inner.finish();
        to_py(
            py,
            &serde_json::json!({ "totals": totals, "timeline": timeline }),
        )
    }

    /// Fixations detected so far.
    #[getter]
    fn fixation_count(&self) -> u64 {
        self.inner.fixation_count()
    }

    /// Mean fixation duration (ms).
    #[getter]
    fn mean_fixation_ms(&self) -> f64 {
        self.inner.mean_fixation_ms()
    }

    /// Samples rejected (non-finite, duplicate or out-of-order time).
    #[getter]
    fn rejected(&self) -> u64 {
        self.inner.rejected()
    }
}

fn column(a: &PyArrayLike1<'_, f64, AllowTypeChange>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

/// Classifies a whole gaze trace into merged timeline segments
/// `[{"start_ms", "end_ms", "activity", "attention"}, ...]`.
///
/// `t_ms`, `x`, `y` (and optionally `valid`) are equal-length 1-D arrays (any numeric
/// dtype; lists work too). Samples are sorted by time; non-finite times are dropped.
/// `screen=(width_px, height_px)` and the keyword arguments configure the model as for
/// `ActivityClassifier`.
#[pyfunction]
#[pyo3(name = "classify_trace", signature = (t_ms, x, y, valid=None, screen=None, **config))]
pub fn py_classify_trace<'py>(
    py: Python<'py>,
    t_ms: PyArrayLike1<'py, f64, AllowTypeChange>,
    x: PyArrayLike1<'py, f64, AllowTypeChange>,
    y: PyArrayLike1<'py, f64, AllowTypeChange>,
    valid: Option<PyArrayLike1<'py, bool, AllowTypeChange>>,
    screen: Option<(f64, f64)>,
    config: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = activity_config(screen, config, "classify_trace")?;
    let n = t_ms.len();
    let valid_len = valid.as_ref().map(|v| v.len()).unwrap_or(n);
    if x.len() != n || y.len() != n || valid_len != n {
        return Err(BindingError::value_error(format!(
            "t_ms, x, y and valid must have the same length, got {}, {}, {} and {}",
            n,
            x.len(),
            y.len(),
            valid_len
        ))
        .into());
    }
    let (t, xs, ys) = (column(&t_ms), column(&x), column(&y));
    let valid: Option<Vec<bool>> = valid.map(|v| v.as_array().iter().copied().collect());
    let samples: Vec<GazeSample> = (0..n)
        .map(|i| {
            let ok = valid.as_ref().map(|v| v[i]).unwrap_or(true);
            sample(t[i], xs[i], ys[i], ok, true, false, false, false)
        })
        .collect();
    let segments = py.detach(|| classify_trace(&samples, &cfg));
    to_py(py, &segments).map_err(|e| core_err(gaze_activity::Error::Activity(e.to_string())))
}
