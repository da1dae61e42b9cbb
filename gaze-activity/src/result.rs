//! What gaze-core's `Tracker::process` returns for one frame. Everything serialises to
//! snake_case JSON; the server and the bindings reuse these shapes.
//!
//! **Left and right are the subject's.** `left_eye` is the person's left eye, which appears on
//! the *image's right side* in an unmirrored camera frame. Gaze `horizontal` is positive when
//! the person looks toward the image's right side, i.e. to the subject's left in an
//! unmirrored frame. Directions (`left`/`right`) are image directions, as the viewer sees them.

use serde::{Deserialize, Serialize};

/// A point in image pixels (0-based, (0,0) is the centre of the top-left pixel).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal pixel coordinate.
    pub x: f32,
    /// Vertical pixel coordinate.
    pub y: f32,
}

impl Point {
    /// Builds a point.
    pub const fn new(x: f32, y: f32) -> Self {
        Point { x, y }
    }
    /// Euclidean distance to `other`.
    pub fn dist(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
    /// Midpoint between `self` and `other`.
    pub fn mid(self, other: Point) -> Point {
        Point::new((self.x + other.x) * 0.5, (self.y + other.y) * 0.5)
    }
}

/// An axis-aligned box in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl BoundingBox {
    /// Intersection over union with `other` (0 when either is empty).
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.w * self.h + other.w * other.h - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// The six BlazeFace keypoints, named for the subject.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FaceKeypoints {
    /// Subject's right eye centre (image left in an unmirrored frame).
    pub right_eye: Point,
    /// Subject's left eye centre (image right in an unmirrored frame).
    pub left_eye: Point,
    /// Nose tip.
    pub nose_tip: Point,
    /// Mouth centre.
    pub mouth: Point,
    /// Subject's right ear tragion.
    pub right_ear: Point,
    /// Subject's left ear tragion.
    pub left_ear: Point,
}

/// A detected face.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Face {
    /// Face box in pixels.
    pub bbox: BoundingBox,
    /// Keypoints in pixels.
    pub keypoints: FaceKeypoints,
    /// Detector confidence in 0..1 (the last detection's score while tracking).
    pub score: f32,
}

/// The two corners of one eye.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EyeCorners {
    /// Corner toward the ear.
    pub outer: Point,
    /// Corner toward the nose.
    pub inner: Point,
}

/// One eye: iris, contour, lids and openness.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Eye {
    /// Iris centre in pixels.
    pub center: Point,
    /// Iris radius in pixels.
    pub radius: f32,
    /// Iris centre followed by four iris edge points, in pixels.
    pub iris: Vec<Point>,
    /// Eye corners.
    pub corners: EyeCorners,
    /// Middle of the upper lid.
    pub upper_lid: Point,
    /// Middle of the lower lid.
    pub lower_lid: Point,
    /// Eye aspect ratio: lid distance over corner distance (≈0.25–0.35 open, < 0.12 closed).
    pub openness: f32,
    /// The model's 71 eye-contour and brow points, in pixels. The first 16 are the eye
    /// outline: 0 = outer corner, 1–7 lower lid (outer → inner), 8 = inner corner,
    /// 9–15 upper lid (outer → inner).
    pub landmarks: Vec<Point>,
}

/// Head orientation in degrees (camera frame; 0,0,0 = facing the camera upright).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HeadPose {
    /// Turn; positive when the face turns toward the image's right side.
    pub yaw_deg: f32,
    /// Nod; positive when the face tilts up.
    pub pitch_deg: f32,
    /// Tilt; positive when the head tilts clockwise in the image.
    pub roll_deg: f32,
}

/// Coarse gaze direction label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Looking at the camera / screen centre.
    #[default]
    Center,
    /// Looking toward the image's left.
    Left,
    /// Looking toward the image's right.
    Right,
    /// Looking up.
    Up,
    /// Looking down.
    Down,
    /// Eyes closed.
    Closed,
    /// No face in the frame.
    NoFace,
    /// Head turned away from the screen.
    Away,
}

impl Direction {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Center => "center",
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Closed => "closed",
            Direction::NoFace => "no_face",
            Direction::Away => "away",
        }
    }
}

/// Fused gaze estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Gaze {
    /// Iris position along the corner axis, −1 (image left) … 1 (image right), fused over eyes.
    pub horizontal: f32,
    /// Iris position between the lids, −1 (up) … 1 (down), fused over eyes.
    pub vertical: f32,
    /// Gaze yaw in degrees, head pose compensated; positive toward the image's right.
    pub yaw_deg: f32,
    /// Gaze pitch in degrees, head pose compensated; positive up.
    pub pitch_deg: f32,
    /// Coarse direction label.
    pub direction: Direction,
    /// Screen point in pixels when a calibration is set.
    pub screen: Option<Point>,
    /// Confidence in 0..1.
    pub confidence: f32,
}

/// A completed blink.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BlinkEvent {
    /// When the eyes closed (ms).
    pub start_ms: f64,
    /// When they opened again (ms).
    pub end_ms: f64,
    /// `end_ms - start_ms`.
    pub duration_ms: f64,
}

/// Blink state after this frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Blink {
    /// Eyes currently closed.
    pub closed: bool,
    /// How long they have been closed (ms), 0 when open.
    pub closed_ms: f64,
    /// A blink that ended on this frame.
    pub event: Option<BlinkEvent>,
    /// Blinks completed since the tracker was created or reset.
    pub count: u32,
    /// Lowered lids with the eye still open: the person looks down (desk, phone, keyboard)
    /// rather than closing the eyes. Never set together with `closed`. Absent (false) in
    /// results from before this field existed.
    #[serde(default)]
    pub looking_down: bool,
}

/// Per-frame evidence for the attention model.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AttentionEvidence {
    /// A face was found.
    pub face_present: bool,
    /// Both eyes closed.
    pub eyes_closed: bool,
    /// Head turned beyond the configured yaw/pitch limits.
    pub head_away: bool,
    /// Gaze estimated to be off the screen (calibrated) or at an extreme angle.
    pub gaze_off_screen: bool,
}

/// Everything known about one frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameResult {
    /// Frame timestamp (ms).
    pub timestamp_ms: f64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The tracked face, if any.
    pub face: Option<Face>,
    /// The subject's left eye (image right in an unmirrored frame).
    pub left_eye: Option<Eye>,
    /// The subject's right eye (image left in an unmirrored frame).
    pub right_eye: Option<Eye>,
    /// Head orientation.
    pub head_pose: Option<HeadPose>,
    /// Gaze estimate (None without a face).
    pub gaze: Option<Gaze>,
    /// Direction label (also inside `gaze`, but present even with no face).
    pub direction: Direction,
    /// Blink state.
    pub blink: Blink,
    /// Attention evidence.
    pub attention: AttentionEvidence,
    /// True when the face detector ran on this frame (false: tracked from the last frame).
    pub detected: bool,
}
