//! [`gaze_activity::Calibration`]: fit from samples, predict, JSON round trip.

use gaze_activity::{Calibration, CalibrationSample, GazeFeatures, Point};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{py_to_value, to_py};
use crate::error::{BindingError, core_err};
use crate::result::PyFrameResult;

/// Reads gaze features from a `FrameResult` or from a mapping with the feature names.
pub fn features_from_py(obj: &Bound<'_, PyAny>, what: &str) -> Result<GazeFeatures, BindingError> {
    if let Ok(r) = obj.cast::<PyFrameResult>() {
        return GazeFeatures::from_result(&r.get().0).ok_or_else(|| {
            BindingError::value_error(format!("{what}: the frame result has no gaze (no face)"))
        });
    }
    if obj.cast::<PyDict>().is_ok() {
        let value = py_to_value(obj, what)?;
        return serde_json::from_value(value)
            .map_err(|e| BindingError::value_error(format!("{what}: {e}")));
    }
    Err(BindingError::type_error(format!(
        "{what}: expected a FrameResult or a dict of gaze features"
    )))
}

/// A fitted gaze → screen mapping (ridge-regularised polynomial regression).
#[pyclass(module = "gaze", name = "Calibration", frozen)]
#[derive(Clone)]
pub struct PyCalibration(pub Calibration);

#[pymethods]
impl PyCalibration {
    /// Fits a calibration for a `screen = (width, height)` screen.
    ///
    /// `samples` are `FrameResult`s or feature dicts (see `FrameResult.features()`), one per
    /// target; `targets` are the matching `(x, y)` screen points. At least 5 samples; the
    /// quadratic basis is used from 9 on.
    #[staticmethod]
    #[pyo3(signature = (samples, targets, screen))]
    fn fit(
        samples: Vec<Bound<'_, PyAny>>,
        targets: Vec<(f32, f32)>,
        screen: (f32, f32),
    ) -> PyResult<Self> {
        if samples.len() != targets.len() {
            return Err(BindingError::value_error(format!(
                "got {} samples but {} targets",
                samples.len(),
                targets.len()
            ))
            .into());
        }
        let mut out = Vec::with_capacity(samples.len());
        for (i, (s, (x, y))) in samples.iter().zip(targets).enumerate() {
            out.push(CalibrationSample {
                features: features_from_py(s, &format!("samples[{i}]"))?,
                target: Point::new(x, y),
            });
        }
        Calibration::fit(&out, screen.0, screen.1)
            .map(PyCalibration)
            .map_err(core_err)
    }

    /// Maps gaze features (a `FrameResult` or a feature dict) to a screen point `(x, y)`, or
    /// None when no point can be computed.
    fn predict(&self, features: &Bound<'_, PyAny>) -> PyResult<Option<(f32, f32)>> {
        let f = features_from_py(features, "features")?;
        Ok(self.0.predict(&f).map(|p| (p.x, p.y)))
    }

    /// Serialises to JSON.
    fn to_json(&self) -> PyResult<String> {
        self.0.to_json().map_err(core_err)
    }

    /// Parses JSON produced by `to_json`.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        Calibration::from_json(json)
            .map(PyCalibration)
            .map_err(core_err)
    }

    /// The calibration as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.0)
    }

    /// Screen size `(width, height)` in pixels.
    #[getter]
    fn screen(&self) -> (f32, f32) {
        (self.0.screen_width, self.0.screen_height)
    }

    /// Number of samples used.
    #[getter]
    fn n_samples(&self) -> usize {
        self.0.n_samples
    }

    /// Leave-one-out mean error of the fit, pixels.
    #[getter]
    fn validation_error_px(&self) -> f64 {
        self.0.validation_error_px
    }

    /// Training mean error, pixels.
    #[getter]
    fn training_error_px(&self) -> f64 {
        self.0.training_error_px
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyCalibration>()
            .map(|o| o.get().0 == self.0)
            .unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Calibration(screen=({}, {}), n_samples={}, validation_error_px={:.1})",
            self.0.screen_width, self.0.screen_height, self.0.n_samples, self.0.validation_error_px
        )
    }
}
