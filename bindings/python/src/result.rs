//! [`gaze_activity::FrameResult`] and its parts as read-only Python objects. Points come back
//! as `float32` numpy arrays (`(2,)` for one point, `(N, 2)` for several).

use gaze_activity::{
    Blink, BlinkEvent, Eye, Face, FrameMessage, FrameResult, Gaze, GazeFeatures, HeadPose, Point,
};
use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;

use crate::convert::to_py;

fn point<'py>(py: Python<'py>, p: Point) -> Bound<'py, PyArray1<f32>> {
    PyArray1::from_slice(py, &[p.x, p.y])
}

fn points<'py>(py: Python<'py>, ps: &[Point]) -> Bound<'py, PyArray2<f32>> {
    let flat: Vec<f32> = ps.iter().flat_map(|p| [p.x, p.y]).collect();
    match Array2::from_shape_vec((ps.len(), 2), flat) {
        Ok(a) => numpy::IntoPyArray::into_pyarray(a, py),
        // Unreachable: the vector has exactly len × 2 elements.
        Err(_) => PyArray2::zeros(py, [0, 2], false),
    }
}

/// The tracked face: box, six keypoints, detector score.
#[pyclass(module = "gaze", name = "Face", frozen)]
#[derive(Clone)]
pub struct PyFace(pub Face);

#[pymethods]
impl PyFace {
    /// Face box `(x, y, w, h)` in pixels.
    #[getter]
    fn bbox(&self) -> (f32, f32, f32, f32) {
        let b = self.0.bbox;
        (b.x, b.y, b.w, b.h)
    }
    /// Keypoints, float32 `(6, 2)`: subject's right eye, left eye, nose tip, mouth, right ear,
    /// left ear.
    #[getter]
    fn keypoints<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let k = self.0.keypoints;
        points(
            py,
            &[
                k.right_eye,
                k.left_eye,
                k.nose_tip,
                k.mouth,
                k.right_ear,
                k.left_ear,
            ],
        )
    }
    /// Detector confidence in 0..1.
    #[getter]
    fn score(&self) -> f32 {
        self.0.score
    }
    /// The face as a dict (gaze-core's JSON shape).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.0)
    }
    fn __repr__(&self) -> String {
        let b = self.0.bbox;
        format!(
            "Face(bbox=({:.1}, {:.1}, {:.1}, {:.1}), score={:.3})",
            b.x, b.y, b.w, b.h, self.0.score
        )
    }
}

/// One eye (the subject's): iris, corners, lids, openness and the 71 contour landmarks.
#[pyclass(module = "gaze", name = "Eye", frozen)]
#[derive(Clone)]
pub struct PyEye(pub Eye);

#[pymethods]
impl PyEye {
    /// Iris centre, float32 `(2,)` pixels.
    #[getter]
    fn center<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        point(py, self.0.center)
    }
    /// Iris radius in pixels.
    #[getter]
    fn radius(&self) -> f32 {
        self.0.radius
    }
    /// Iris centre and four edge points, float32 `(5, 2)`.
    #[getter]
    fn iris<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        points(py, &self.0.iris)
    }
    /// Eye corners, float32 `(2, 2)`: row 0 outer (toward the ear), row 1 inner.
    #[getter]
    fn corners<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        points(py, &[self.0.corners.outer, self.0.corners.inner])
    }
    /// Middle of the upper lid, float32 `(2,)`.
    #[getter]
    fn upper_lid<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        point(py, self.0.upper_lid)
    }
    /// Middle of the lower lid, float32 `(2,)`.
    #[getter]
    fn lower_lid<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        point(py, self.0.lower_lid)
    }
    /// Eye aspect ratio (≈0.25–0.35 open, < 0.12 closed).
    #[getter]
    fn openness(&self) -> f32 {
        self.0.openness
    }
    /// The 71 eye-contour and brow points, float32 `(71, 2)`.
    #[getter]
    fn landmarks<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        points(py, &self.0.landmarks)
    }
    /// The eye as a dict (gaze-core's JSON shape).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Eye(center=({:.1}, {:.1}), radius={:.2}, openness={:.3})",
            self.0.center.x, self.0.center.y, self.0.radius, self.0.openness
        )
    }
}

/// Head orientation in degrees.
#[pyclass(module = "gaze", name = "HeadPose", frozen)]
#[derive(Clone)]
pub struct PyHeadPose(pub HeadPose);

#[pymethods]
impl PyHeadPose {
    /// Turn; positive toward the image's right.
    #[getter]
    fn yaw_deg(&self) -> f32 {
        self.0.yaw_deg
    }
    /// Nod; positive up.
    #[getter]
    fn pitch_deg(&self) -> f32 {
        self.0.pitch_deg
    }
    /// Tilt; positive clockwise in the image.
    #[getter]
    fn roll_deg(&self) -> f32 {
        self.0.roll_deg
    }
    fn __repr__(&self) -> String {
        format!(
            "HeadPose(yaw_deg={:.1}, pitch_deg={:.1}, roll_deg={:.1})",
            self.0.yaw_deg, self.0.pitch_deg, self.0.roll_deg
        )
    }
}

/// Fused gaze estimate.
#[pyclass(module = "gaze", name = "Gaze", frozen)]
#[derive(Clone)]
pub struct PyGaze(pub Gaze);

#[pymethods]
impl PyGaze {
    /// Iris position along the corner axis, −1 (image left) … 1 (image right).
    #[getter]
    fn horizontal(&self) -> f32 {
        self.0.horizontal
    }
    /// Iris position between the lids, −1 (up) … 1 (down).
    #[getter]
    fn vertical(&self) -> f32 {
        self.0.vertical
    }
    /// Gaze yaw in degrees (head compensated), positive toward the image's right.
    #[getter]
    fn yaw_deg(&self) -> f32 {
        self.0.yaw_deg
    }
    /// Gaze pitch in degrees (head compensated), positive up.
    #[getter]
    fn pitch_deg(&self) -> f32 {
        self.0.pitch_deg
    }
    /// Direction label: center, left, right, up, down, closed, no_face or away.
    #[getter]
    fn direction(&self) -> &'static str {
        self.0.direction.as_str()
    }
    /// Screen point `(x, y)` in pixels when the tracker has a calibration, else None.
    #[getter]
    fn screen(&self) -> Option<(f32, f32)> {
        self.0.screen.map(|p| (p.x, p.y))
    }
    /// Confidence in 0..1.
    #[getter]
    fn confidence(&self) -> f32 {
        self.0.confidence
    }
    fn __repr__(&self) -> String {
        format!(
            "Gaze(horizontal={:.3}, vertical={:.3}, yaw_deg={:.1}, pitch_deg={:.1}, direction={:?}, confidence={:.2})",
            self.0.horizontal,
            self.0.vertical,
            self.0.yaw_deg,
            self.0.pitch_deg,
            self.0.direction.as_str(),
            self.0.confidence
        )
    }
}

/// Blink state after a frame.
#[pyclass(module = "gaze", name = "Blink", frozen)]
#[derive(Clone)]
pub struct PyBlink(pub Blink);

#[pymethods]
impl PyBlink {
    /// Eyes currently closed.
    #[getter]
    fn closed(&self) -> bool {
        self.0.closed
    }
    /// How long they have been closed (ms), 0 when open.
    #[getter]
    fn closed_ms(&self) -> f64 {
        self.0.closed_ms
    }
    /// Blinks completed since the tracker was created or reset.
    #[getter]
    fn count(&self) -> u32 {
        self.0.count
    }
    /// The blink that ended on this frame as `{"start_ms", "end_ms", "duration_ms"}`, or None.
    #[getter]
    fn event<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0.event.map(|e: BlinkEvent| to_py(py, &e)).transpose()
    }
    fn __repr__(&self) -> String {
        format!(
            "Blink(closed={}, count={})",
            if self.0.closed { "True" } else { "False" },
            self.0.count
        )
    }
}

/// Everything known about one frame, as returned by `Tracker.process`.
#[pyclass(module = "gaze", name = "FrameResult", frozen)]
#[derive(Clone)]
pub struct PyFrameResult(pub FrameResult);

#[pymethods]
impl PyFrameResult {
    /// Frame timestamp (ms).
    #[getter]
    fn timestamp_ms(&self) -> f64 {
        self.0.timestamp_ms
    }
    /// Frame width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.0.width
    }
    /// Frame height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.0.height
    }
    /// The tracked face, or None.
    #[getter]
    fn face(&self) -> Option<PyFace> {
        self.0.face.map(PyFace)
    }
    /// The subject's left eye (image right in an unmirrored frame), or None.
    #[getter]
    fn left_eye(&self) -> Option<PyEye> {
        self.0.left_eye.clone().map(PyEye)
    }
    /// The subject's right eye (image left in an unmirrored frame), or None.
    #[getter]
    fn right_eye(&self) -> Option<PyEye> {
        self.0.right_eye.clone().map(PyEye)
    }
    /// Head orientation, or None.
    #[getter]
    fn head_pose(&self) -> Option<PyHeadPose> {
        self.0.head_pose.map(PyHeadPose)
    }
    /// Gaze estimate, or None without a face.
    #[getter]
    fn gaze(&self) -> Option<PyGaze> {
        self.0.gaze.map(PyGaze)
    }
    /// Direction label (present even without a face: then "no_face").
    #[getter]
    fn direction(&self) -> &'static str {
        self.0.direction.as_str()
    }
    /// Blink state.
    #[getter]
    fn blink(&self) -> PyBlink {
        PyBlink(self.0.blink)
    }
    /// Attention evidence: `{"face_present", "eyes_closed", "head_away", "gaze_off_screen"}`.
    #[getter]
    fn attention<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.0.attention)
    }
    /// True when the face detector ran on this frame (False: tracked from the last frame).
    #[getter]
    fn detected(&self) -> bool {
        self.0.detected
    }
    /// The calibration features of this frame (`yaw_deg`, `pitch_deg`, `horizontal`,
    /// `vertical`, `head_yaw_deg`, `head_pitch_deg`), or None without gaze.
    fn features<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        GazeFeatures::from_result(&self.0)
            .map(|f| to_py(py, &f))
            .transpose()
    }
    /// The per-frame message the server sends over its WebSocket, as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &FrameMessage::from(&self.0))
    }
    /// The same message as a JSON string.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&FrameMessage::from(&self.0)).map_err(crate::error::core_err)
    }
    /// The complete result (every field of gaze-core's `FrameResult`) as a dict.
    fn to_full_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "FrameResult(timestamp_ms={}, face={}, direction={:?})",
            self.0.timestamp_ms,
            if self.0.face.is_some() { "yes" } else { "None" },
            self.0.direction.as_str()
        )
    }
}

/// Registers the result classes.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFrameResult>()?;
    m.add_class::<PyFace>()?;
    m.add_class::<PyEye>()?;
    m.add_class::<PyHeadPose>()?;
    m.add_class::<PyGaze>()?;
    m.add_class::<PyBlink>()?;
    Ok(())
}
