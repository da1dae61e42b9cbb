//! The per-frame engine: face → eyes → iris → head pose → gaze → blink.
//!
//! Tracking mode: once a face is found, the next frame's eye crops come from this frame's
//! eye corners, so the face detector only runs every `redetect_every` frames or when the
//! eye landmarks stop looking like eyes.

use crate::blink::{BlinkConfig, BlinkDetector, EyeObservation};
use crate::calibration::{Calibration, GazeFeatures};
use crate::error::{GazeError, Result};
pub use crate::face::FaceDetector;
use crate::frame::{Frame, PixelFormat};
use crate::gaze::{self, DirectionConfig, EyeGaze};
use crate::head_pose::{HeadPoseEstimator, PosePoints};
use crate::inference::{Engine, InferenceConfig};
use crate::iris::{EyeLandmarks, EyeRoi, IrisModel, crop_motion, crop_texture};
use crate::keypoint_flow::KeypointFlow;
use crate::models::ModelPaths;
use crate::result::{
    AttentionEvidence, BoundingBox, Direction, Eye, Face, FaceKeypoints, FrameResult, Gaze,
    HeadPose, Point,
};
use crate::smoothing::{OneEuro, OneEuroParams};
use opencv::core::{self, Mat};
use opencv::imgproc;
use serde::{Deserialize, Serialize};

/// Eye crops flatter than this (mean absolute deviation, grey levels) are not eyes.
const MIN_EYE_TEXTURE: f32 = 3.0;

/// Tracker settings. All fields have sensible defaults; the struct deserialises from partial
/// JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerConfig {
    /// Minimum BlazeFace score to accept a face.
    pub min_face_score: f32,
    /// While tracking, re-run the face detector at least every this many frames.
    pub redetect_every: u32,
    /// Run the face detector on every frame (no tracking mode).
    pub detect_every_frame: bool,
    /// Eye crop side as a fraction of the distance between the eyes (the detector's eye
    /// keypoints right after a detection, the eye-corner midpoints while tracking).
    pub detection_eye_crop: f32,
    /// Reuse the last iris-network landmarks (moved by the measured shift of the eye crop) when,
    /// after aligning the new eye crop with the one that produced them, no 8×8 block differs by
    /// more than this mean absolute difference (grey levels, 0–255). 0 disables reuse. This skips
    /// the iris network on frames where the eyes only moved rigidly with the head.
    pub reuse_max_diff: f32,
    /// Largest crop shift (crop pixels of 64) that reuse follows before the network runs again.
    pub reuse_max_shift: i32,
    /// Keep the eye crops in place while the eyes move less than this fraction of the crop
    /// size (steadier landmarks, and it lets `reuse_max_diff` apply).
    pub crop_hold: f32,
    /// When the whole frame has no face, also search overlapping tiles for small faces
    /// (stills, group photos, faces far from the camera). Up to ~20 extra detector runs on
    /// such frames, so it is off by default for video.
    pub search_tiles: bool,
    /// Right after a detection, run the iris network a second time on crops centred on the
    /// irises it found (sharper landmarks on the first frame, one extra network run).
    pub refine_after_detect: bool,
    /// Gaze smoothing (None: raw values).
    pub smoothing: Option<OneEuroParams>,
    /// Blink detection.
    pub blink: BlinkConfig,
    /// Direction labels and away thresholds.
    pub direction: DirectionConfig,
    /// Replacement model files (None: the embedded models).
    pub models: ModelPaths,
    /// Inference engine (`auto` | `openvino` | `opencv`), OpenVINO library location and
    /// threads per network run; see [`crate::inference`].
    pub inference: InferenceConfig,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_face_score: 0.5,
            redetect_every: 30,
            detect_every_frame: false,
            detection_eye_crop: 1.0,
            reuse_max_diff: 6.0,
            reuse_max_shift: 3,
            search_tiles: false,
            refine_after_detect: true,
            crop_hold: 0.02,
            smoothing: Some(OneEuroParams::default()),
            blink: BlinkConfig::default(),
            direction: DirectionConfig::default(),
            models: ModelPaths::default(),
            inference: InferenceConfig::default(),
        }
    }
}

impl TrackerConfig {
    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_face_score) {
            return Err(GazeError::Config(format!(
                "min_face_score must be in 0..1, got {}",
                self.min_face_score
            )));
        }
        if !(self.detection_eye_crop > 0.2 && self.detection_eye_crop < 5.0) {
            return Err(GazeError::Config(format!(
                "detection_eye_crop must be in 0.2..5, got {}",
                self.detection_eye_crop
            )));
        }
        self.inference.validate()
    }
}

#[derive(Debug, Clone)]
struct TrackState {
    /// Next frame's crops: [image-left eye, image-right eye].
    rois: [EyeRoi; 2],
    /// Face from the last detection.
    detected: Face,
    /// Eye centres (corner midpoints) when the face was detected.
    anchor: (Point, Point),
    frames_since_detect: u32,
    /// Reference for reuse: crops the iris network last ran on, the landmarks it gave, and
    /// the crops' regions then.
    last: Option<(Vec<Mat>, [EyeLandmarks; 2], [EyeRoi; 2])>,
}

impl TrackState {
    /// The detected face moved along with the eyes since the detection.
    fn face_now(&self) -> Face {
        let s = self;
        let now = (s.rois[0].center, s.rois[1].center);
        let f = similarity(s.anchor, now);
        let d = &s.detected;
        let p0 = f(Point::new(d.bbox.x, d.bbox.y));
        let p1 = f(Point::new(d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h));
        let k = d.keypoints;
        Face {
            bbox: BoundingBox {
                x: p0.x.min(p1.x),
                y: p0.y.min(p1.y),
                w: (p1.x - p0.x).abs(),
                h: (p1.y - p0.y).abs(),
            },
            keypoints: FaceKeypoints {
                right_eye: f(k.right_eye),
                left_eye: f(k.left_eye),
                nose_tip: f(k.nose_tip),
                mouth: f(k.mouth),
                right_ear: f(k.right_ear),
                left_ear: f(k.left_ear),
            },
            score: d.score,
        }
    }
}

struct Smoothers {
    h: OneEuro,
    v: OneEuro,
    yaw: OneEuro,
    pitch: OneEuro,
    sx: OneEuro,
    sy: OneEuro,
}

impl Smoothers {
    fn new(p: OneEuroParams) -> Self {
        Smoothers {
            h: OneEuro::new(p),
            v: OneEuro::new(p),
            yaw: OneEuro::new(p),
            pitch: OneEuro::new(p),
            sx: OneEuro::new(p),
            sy: OneEuro::new(p),
        }
    }
    fn reset(&mut self) {
        for f in [
            &mut self.h,
            &mut self.v,
            &mut self.yaw,
            &mut self.pitch,
            &mut self.sx,
            &mut self.sy,
        ] {
            f.reset();
        }
    }
}

/// Turns frames into [`FrameResult`]s. Holds per-stream state (tracking, smoothing, blinks),
/// so use one tracker per video stream. A `Tracker` is `Send` but not `Sync`: share it
/// between threads behind a mutex, or give each thread its own.
pub struct Tracker {
    config: TrackerConfig,
    calibration: Option<Calibration>,
    detector: FaceDetector,
    iris: IrisModel,
    head: HeadPoseEstimator,
    blink: BlinkDetector,
    smooth: Option<Smoothers>,
    state: Option<TrackState>,
    /// The current frame's landmarks were reused (crops kept in place).
    reused: bool,
    /// The crops in the state come straight from detector keypoints.
    fresh_rois: bool,
    /// Nose tip and mouth followed by optical flow between detections.
    flow: KeypointFlow,
}

/// A similarity transform (scale·rotation + translation) mapping `from` eye pair to `to`.
fn similarity(from: (Point, Point), to: (Point, Point)) -> impl Fn(Point) -> Point {
    let (fx, fy) = (from.1.x - from.0.x, from.1.y - from.0.y);
    let (tx, ty) = (to.1.x - to.0.x, to.1.y - to.0.y);
    let d = (fx * fx + fy * fy).max(1e-6);
    // Complex division (tx + i ty) / (fx + i fy).
    let a = (tx * fx + ty * fy) / d;
    let b = (ty * fx - tx * fy) / d;
    let (o, t) = (from.0, to.0);
    move |p: Point| {
        let (x, y) = (p.x - o.x, p.y - o.y);
        Point::new(t.x + a * x - b * y, t.y + b * x + a * y)
    }
}

fn to_gray_code(format: PixelFormat) -> Option<i32> {
    match format {
        PixelFormat::Gray8 => None,
        PixelFormat::Bgr8 => Some(imgproc::COLOR_BGR2GRAY),
        PixelFormat::Rgb8 => Some(imgproc::COLOR_RGB2GRAY),
        PixelFormat::Bgra8 => Some(imgproc::COLOR_BGRA2GRAY),
        PixelFormat::Rgba8 => Some(imgproc::COLOR_RGBA2GRAY),
    }
}

fn to_rgb_code(format: PixelFormat) -> Option<i32> {
    match format {
        PixelFormat::Gray8 => Some(imgproc::COLOR_GRAY2RGB),
        PixelFormat::Bgr8 => Some(imgproc::COLOR_BGR2RGB),
        PixelFormat::Rgb8 => None,
        PixelFormat::Bgra8 => Some(imgproc::COLOR_BGRA2RGB),
        PixelFormat::Rgba8 => Some(imgproc::COLOR_RGBA2RGB),
    }
}

/// Wraps the frame's pixels in an OpenCV header without copying.
fn wrap(frame: &Frame<'_>) -> Result<Mat> {
    let typ = match frame.format().bytes_per_pixel() {
        1 => core::CV_8UC1,
        3 => core::CV_8UC3,
        _ => core::CV_8UC4,
    };
    // SAFETY: `Frame::new` checked that `data` holds `height` rows of `stride` bytes (the last
    // one at least `width * bpp`). The header borrows the slice only for this call, and
    // OpenCV only reads through it (it is used as an input array).
    let mat = unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            frame.height() as i32,
            frame.width() as i32,
            typ,
            frame.data().as_ptr() as *mut std::ffi::c_void,
            frame.stride(),
        )?
    };
    Ok(mat)
}

/// Checks that the model output looks like an eye in the crop it came from.
fn plausible(lm: &EyeLandmarks, roi: &EyeRoi) -> bool {
    let eye = &lm.contour;
    let width = eye[crate::iris::OUTER_CORNER].dist(eye[crate::iris::INNER_CORNER]);
    let ratio = width / roi.size.max(1e-3);
    let iris_off = lm.iris[0].dist(roi.center) / roi.size.max(1e-3);
    lm.iris
        .iter()
        .chain(eye.iter())
        .all(|p| p.x.is_finite() && p.y.is_finite())
        && (0.18..0.7).contains(&ratio)
        && iris_off < 0.3
}

/// The iris network still sees an iris between the lids: the lid gap covers at least half
/// the iris radius (lids that came together leave no gap).
fn iris_visible(eye: &Eye) -> bool {
    eye.radius > 0.0 && eye.upper_lid.dist(eye.lower_lid) >= 0.5 * eye.radius
}

/// Both eyes look like a pair: similar widths (head yaw foreshortens one, within reason).
fn plausible_pair(a: &EyeLandmarks, b: &EyeLandmarks) -> bool {
    let w = |lm: &EyeLandmarks| {
        lm.contour[crate::iris::OUTER_CORNER].dist(lm.contour[crate::iris::INNER_CORNER])
    };
    let r = w(a) / w(b).max(1e-3);
    (0.55..1.8).contains(&r)
}

impl Tracker {
    /// Builds a tracker (embedded models unless `config.models` names files) on the engine
    /// `config.inference` chooses: `auto` takes OpenVINO when its library can be loaded and
    /// falls back to OpenCV DNN otherwise; an explicit `openvino` that cannot be loaded is a
    /// [`GazeError::Model`] error. [`Tracker::engine`] tells which engine runs.
    pub fn new(config: TrackerConfig) -> Result<Self> {
        config.validate()?;
        let engine = config.inference.resolve()?;
        let fixed = InferenceConfig {
            iris_int8: config.inference.iris_int8,
            ..InferenceConfig::fixed(engine, config.inference.threads)
        };
        let detector = FaceDetector::with_inference(
            config.models.face_detector.as_ref(),
            config.min_face_score,
            &fixed,
        )?;
        let iris = IrisModel::with_inference(config.models.iris_landmark.as_ref(), &fixed)?;
        Ok(Tracker {
            smooth: config.smoothing.map(Smoothers::new),
            blink: BlinkDetector::new(config.blink),
            config,
            calibration: None,
            detector,
            iris,
            head: HeadPoseEstimator::default(),
            state: None,
            reused: false,
            fresh_rois: false,
            flow: KeypointFlow::default(),
        })
    }

    /// The inference engine that runs the networks.
    pub fn engine(&self) -> Engine {
        self.iris.engine()
    }

    /// The configuration in use.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Sets (or clears) the calibration used to fill `gaze.screen`.
    pub fn set_calibration(&mut self, calibration: Option<Calibration>) {
        self.calibration = calibration;
    }

    /// The calibration in use.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Forgets the tracked face, smoothing and blink state (e.g. when the stream restarts).
    pub fn reset(&mut self) {
        self.state = None;
        self.head.reset();
        self.flow.reset();
        self.blink = BlinkDetector::new(self.config.blink);
        if let Some(s) = self.smooth.as_mut() {
            s.reset();
        }
    }

    /// Processes one frame. A frame with no face is a normal result, not an error.
    pub fn process(&mut self, frame: &Frame<'_>) -> Result<FrameResult> {
        let mat = wrap(frame)?;
        let to_rgb = to_rgb_code(frame.format());
        let must_detect = match &self.state {
            None => true,
            Some(s) => {
                self.config.detect_every_frame
                    || s.frames_since_detect + 1 >= self.config.redetect_every.max(1)
            }
        };
        let mut detected_now = false;
        if must_detect {
            detected_now = true;
            if !self.detect(&mat, to_rgb)? {
                return Ok(self.no_face(frame));
            }
        }
        self.reused = false;
        let mut landmarks = self.run_iris(&mat, to_rgb, !detected_now)?;
        if landmarks.is_none() && !detected_now {
            // Lost track: look for the face again on this same frame.
            detected_now = true;
            self.state = None;
            if !self.detect(&mat, to_rgb)? {
                return Ok(self.no_face(frame));
            }
            landmarks = self.run_iris(&mat, to_rgb, false)?;
        }
        self.complete(frame, &mat, to_rgb, landmarks, detected_now)
    }

    /// Processes a frame using `face` (e.g. one of several that [`FaceDetector::detect`]
    /// found) instead of running the detector: for multi-face images or an external detector.
    /// Tracking continues from this face on later [`Tracker::process`] calls.
    pub fn process_with_face(&mut self, frame: &Frame<'_>, face: &Face) -> Result<FrameResult> {
        let mat = wrap(frame)?;
        let to_rgb = to_rgb_code(frame.format());
        self.state = None;
        self.adopt_face(*face);
        self.reused = false;
        let landmarks = self.run_iris(&mat, to_rgb, false)?;
        self.complete(frame, &mat, to_rgb, landmarks, true)
    }

    /// Refines fresh crops if configured, then builds the result.
    fn complete(
        &mut self,
        frame: &Frame<'_>,
        mat: &Mat,
        to_rgb: Option<i32>,
        mut landmarks: Option<[EyeLandmarks; 2]>,
        detected_now: bool,
    ) -> Result<FrameResult> {
        if let (true, true, Some([l, r])) =
            (self.fresh_rois, self.config.refine_after_detect, &landmarks)
        {
            let rois = EyeRoi::pair(l.iris[0], r.iris[0], self.config.detection_eye_crop);
            if let Some(s) = self.state.as_mut() {
                s.rois = rois;
                s.last = None;
            }
            if let Some(refined) = self.run_iris(mat, to_rgb, false)? {
                landmarks = Some(refined);
            }
        }
        self.fresh_rois = false;
        let Some([left_img, right_img]) = landmarks else {
            self.state = None;
            return Ok(self.no_face(frame));
        };
        // Nose tip and mouth: from the detector on detection frames, followed by optical flow
        // in between (the eye model does not see them; head pose needs them).
        let to_gray = to_gray_code(frame.format());
        let flowed = if detected_now {
            if let Some(s) = &self.state {
                let k = s.detected.keypoints;
                self.flow.set(mat, to_gray, &[k.nose_tip, k.mouth])?;
            }
            [None, None]
        } else {
            let f = self.flow.follow(mat, to_gray)?;
            [f.first().copied().flatten(), f.get(1).copied().flatten()]
        };
        let ts = frame.timestamp_ms();
        let result = self.finish(frame, ts, left_img, right_img, detected_now, flowed);
        if let Some(face) = &result.face {
            self.flow
                .update_points(&[face.keypoints.nose_tip, face.keypoints.mouth]);
        }
        Ok(result)
    }

    /// Runs the detector; on success updates the track state. Returns whether a face was found.
    fn detect(&mut self, mat: &Mat, to_rgb: Option<i32>) -> Result<bool> {
        let mut faces = self.detector.detect(mat, to_rgb)?;
        if faces.is_empty() && self.config.search_tiles {
            faces = self.detector.detect_tiled(mat, to_rgb, 64.0)?;
        }
        let Some(face) = faces.into_iter().next() else {
            self.state = None;
            return Ok(false);
        };
        self.adopt_face(face);
        Ok(true)
    }

    /// Makes `face` the tracked face (after a detection, or one chosen by the caller).
    fn adopt_face(&mut self, face: Face) {
        let k = face.keypoints;
        // Image-left eye is the subject's right in an unmirrored frame.
        let (a, b) = if k.right_eye.x <= k.left_eye.x {
            (k.right_eye, k.left_eye)
        } else {
            (k.left_eye, k.right_eye)
        };
        // Keep the tracked crops when the detection agrees with them (eye keypoints within a
        // quarter of the eye distance); otherwise start again from the keypoints.
        let keep_rois = self.state.as_ref().and_then(|s| {
            let tol = 0.25 * a.dist(b);
            (s.rois[0].center.dist(a) < tol && s.rois[1].center.dist(b) < tol).then_some(s.rois)
        });
        self.fresh_rois = keep_rois.is_none();
        let rois = keep_rois.unwrap_or_else(|| EyeRoi::pair(a, b, self.config.detection_eye_crop));
        let anchor = match &self.state {
            Some(_) if keep_rois.is_some() => (rois[0].center, rois[1].center),
            _ => (a, b),
        };
        self.state = Some(TrackState {
            rois,
            detected: face,
            anchor,
            frames_since_detect: 0,
            last: None,
        });
    }

    fn run_iris(
        &mut self,
        mat: &Mat,
        to_rgb: Option<i32>,
        allow_reuse: bool,
    ) -> Result<Option<[EyeLandmarks; 2]>> {
        let Some(state) = &self.state else {
            return Ok(None);
        };
        let rois = state.rois;
        let crops = self.iris.crops(mat, &rois, to_rgb)?;
        if allow_reuse && self.config.reuse_max_diff > 0.0 {
            if let Some(reused) = self.try_reuse(&crops, &rois) {
                return Ok(Some(reused));
            }
        }
        if crops.iter().any(|c| crop_texture(c) < MIN_EYE_TEXTURE) {
            return Ok(None);
        }
        let mut out = self.iris.infer(&crops, &rois)?;
        if out.len() != 2
            || !plausible(&out[0], &rois[0])
            || !plausible(&out[1], &rois[1])
            || !plausible_pair(&out[0], &out[1])
        {
            return Ok(None);
        }
        let right = out.pop();
        let left = out.pop();
        let result = left.zip(right).map(|(l, r)| [l, r]);
        if let (Some(s), Some(r)) = (self.state.as_mut(), result.as_ref()) {
            s.last = Some((crops, r.clone(), rois));
        }
        Ok(result)
    }

    /// Follows the eyes without the network when the new crops are the reference crops moved
    /// rigidly (see [`TrackerConfig::reuse_max_diff`]); moves the crops along.
    fn try_reuse(&mut self, crops: &[Mat], rois: &[EyeRoi; 2]) -> Option<[EyeLandmarks; 2]> {
        let limit = self.config.reuse_max_shift;
        let max_diff = self.config.reuse_max_diff;
        let state = self.state.as_mut()?;
        let (ref_crops, ref_lm, ref_rois) = state.last.as_ref()?;
        let mut out: Vec<EyeLandmarks> = Vec::with_capacity(2);
        let mut centers = [rois[0].center, rois[1].center];
        for i in 0..2 {
            let m = crop_motion(&ref_crops[i], crops.get(i)?, limit)?;
            if m.residual > max_diff || m.dx.abs() >= limit as f32 || m.dy.abs() >= limit as f32 {
                return None;
            }
            let (sx, sy) = rois[i].crop_shift_to_image(m.dx, m.dy);
            let tx = rois[i].center.x - ref_rois[i].center.x + sx;
            let ty = rois[i].center.y - ref_rois[i].center.y + sy;
            out.push(ref_lm[i].translated(tx, ty));
            centers[i] = Point::new(ref_rois[i].center.x + tx, ref_rois[i].center.y + ty);
        }
        for (roi, c) in state.rois.iter_mut().zip(centers) {
            roi.center = c;
        }
        self.reused = true;
        let right = out.pop()?;
        let left = out.pop()?;
        Some([left, right])
    }

    fn no_face(&mut self, frame: &Frame<'_>) -> FrameResult {
        self.head.reset();
        self.flow.reset();
        if let Some(s) = self.smooth.as_mut() {
            s.reset();
        }
        let blink = self.blink.update(frame.timestamp_ms(), None);
        FrameResult {
            timestamp_ms: frame.timestamp_ms(),
            width: frame.width(),
            height: frame.height(),
            direction: Direction::NoFace,
            blink,
            attention: AttentionEvidence {
                face_present: false,
                ..AttentionEvidence::default()
            },
            detected: true,
            ..FrameResult::default()
        }
    }

    fn finish(
        &mut self,
        frame: &Frame<'_>,
        t: f64,
        left_img: EyeLandmarks,
        right_img: EyeLandmarks,
        detected_now: bool,
        flowed: [Option<Point>; 2],
    ) -> FrameResult {
        // Image-left eye = subject's right eye (unmirrored frame).
        let right_eye: Eye = left_img.to_eye();
        let left_eye: Eye = right_img.to_eye();
        let face = match self.state.as_mut() {
            Some(s) => {
                // Next crops: centred on each iris, sized and rotated from the line between the
                // irises. The iris is the model's steadiest output; centring on the corners lets
                // a crop drift off a turned eye, and sizing from each eye's own width lets the
                // crop scale feed back on itself and shrink.
                let a = right_eye.center;
                let b = left_eye.center;
                let [ra, rb] = EyeRoi::pair(a, b, self.config.detection_eye_crop);
                let (size, angle) = (ra.size, ra.angle);
                let hold = self.config.crop_hold * s.rois[0].size;
                let steady = s.rois[0].center.dist(a) <= hold
                    && s.rois[1].center.dist(b) <= hold
                    && (size - s.rois[0].size).abs() <= 2.0 * hold
                    && (angle - s.rois[0].angle).abs() <= 2.0 * self.config.crop_hold;
                if !steady && !self.reused {
                    s.rois = [ra, rb];
                    s.last = None;
                }
                if detected_now {
                    s.anchor = (s.rois[0].center, s.rois[1].center);
                    s.frames_since_detect = 0;
                } else {
                    s.frames_since_detect += 1;
                }
                s.face_now()
            }
            None => Face::default(),
        };
        let mut face = face;
        if let Some(p) = flowed[0] {
            face.keypoints.nose_tip = p;
        }
        if let Some(p) = flowed[1] {
            face.keypoints.mouth = p;
        }
        let (w, h) = (frame.width(), frame.height());
        let head_pose: Option<HeadPose> = self
            .head
            .estimate(
                &PosePoints {
                    right_outer: right_eye.corners.outer,
                    right_inner: right_eye.corners.inner,
                    left_inner: left_eye.corners.inner,
                    left_outer: left_eye.corners.outer,
                    nose: face.keypoints.nose_tip,
                    mouth: face.keypoints.mouth,
                },
                w,
                h,
            )
            .ok();
        let eye_feats: [EyeGaze; 2] = [gaze::eye_gaze(&right_eye), gaze::eye_gaze(&left_eye)];
        let openness = (right_eye.openness * eye_feats[0].weight.max(1e-3)
            + left_eye.openness * eye_feats[1].weight.max(1e-3))
            / (eye_feats[0].weight.max(1e-3) + eye_feats[1].weight.max(1e-3));
        let blink = self.blink.observe(
            t,
            EyeObservation {
                openness: Some(openness),
                head_pitch_deg: head_pose.map(|p| p.pitch_deg),
                iris_visible: Some(iris_visible(&right_eye) || iris_visible(&left_eye)),
            },
        );
        let fused = gaze::fuse(&eye_feats, head_pose.as_ref());
        let cfg = self.config.direction;
        let head_away = head_pose
            .map(|p| {
                p.yaw_deg.abs() > cfg.head_away_yaw_deg
                    || p.pitch_deg.abs() > cfg.head_away_pitch_deg
            })
            .unwrap_or(false);
        let gaze = fused.map(|g| {
            let (mut hz, mut vt, mut yaw, mut pitch) =
                (g.horizontal, g.vertical, g.yaw_deg, g.pitch_deg);
            if let Some(s) = self.smooth.as_mut() {
                hz = s.h.filter(t, hz as f64) as f32;
                vt = s.v.filter(t, vt as f64) as f32;
                yaw = s.yaw.filter(t, yaw as f64) as f32;
                pitch = s.pitch.filter(t, pitch as f64) as f32;
            }
            let features = GazeFeatures {
                yaw_deg: yaw as f64,
                pitch_deg: pitch as f64,
                horizontal: hz as f64,
                vertical: vt as f64,
                head_yaw_deg: head_pose.map(|p| p.yaw_deg as f64).unwrap_or(0.0),
                head_pitch_deg: head_pose.map(|p| p.pitch_deg as f64).unwrap_or(0.0),
            };
            let screen = self.calibration.as_ref().and_then(|c| c.predict(&features));
            let cal_size = self
                .calibration
                .as_ref()
                .map(|c| (c.screen_width, c.screen_height));
            let mut dir = gaze::direction(
                &cfg,
                yaw,
                pitch,
                screen.zip(cal_size).map(|(p, (sw, sh))| (p, sw, sh)),
            );
            if head_away {
                dir = Direction::Away;
            }
            if blink.closed {
                dir = Direction::Closed;
            } else if blink.looking_down {
                dir = Direction::Down;
            }
            let open = ((openness - 0.08) / 0.12).clamp(0.0, 1.0);
            let frontal = 1.0
                - ((head_pose.map(|p| p.yaw_deg.abs()).unwrap_or(0.0) - 20.0) / 30.0)
                    .clamp(0.0, 1.0);
            let agree = 1.0 - (g.disagreement / 0.8).clamp(0.0, 1.0);
            let confidence =
                (face.score.clamp(0.0, 1.0) * open * frontal * (0.5 + 0.5 * agree)).clamp(0.0, 1.0);
            Gaze {
                horizontal: hz,
                vertical: vt,
                yaw_deg: yaw,
                pitch_deg: pitch,
                direction: dir,
                screen,
                confidence,
            }
        });
        let direction = gaze.map(|g| g.direction).unwrap_or(Direction::Center);
        let gaze_off_screen = match (gaze.and_then(|g| g.screen), self.calibration.as_ref()) {
            (Some(p), Some(c)) => {
                p.x < -0.1 * c.screen_width
                    || p.x > 1.1 * c.screen_width
                    || p.y < -0.1 * c.screen_height
                    || p.y > 1.1 * c.screen_height
            }
            _ => gaze
                .map(|g| {
                    g.yaw_deg.abs() > cfg.off_screen_yaw_deg
                        || (g.pitch_deg - cfg.down_deg / 2.0).abs() > cfg.off_screen_pitch_deg
                })
                .unwrap_or(false),
        };
        FrameResult {
            timestamp_ms: t,
            width: w,
            height: h,
            face: Some(face),
            left_eye: Some(left_eye),
            right_eye: Some(right_eye),
            head_pose,
            gaze,
            direction,
            blink,
            attention: AttentionEvidence {
                face_present: true,
                eyes_closed: blink.closed,
                head_away,
                // Looking down (desk, phone, keyboard) is gaze below the screen.
                gaze_off_screen: gaze_off_screen || blink.looking_down,
            },
            detected: detected_now,
        }
    }
}

/// Sets how many threads OpenCV may use for one network run, process-wide (`0` = OpenCV's
/// default, one per core). Servers that run one tracker per worker thread should set 1 so
/// the workers do not oversubscribe the cores; single-stream programs may leave the default.
pub fn set_num_threads(threads: u32) -> Result<()> {
    let n = i32::try_from(threads).map_err(|_| GazeError::Config(format!("{threads} threads")))?;
    opencv::core::set_num_threads(if n == 0 { -1 } else { n })?;
    Ok(())
}
