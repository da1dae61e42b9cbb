//! `gaze_frame_result`: the per-frame result as a flat C struct (points, eyes, gaze, blink,
//! attention). The full result, landmarks included, is available as JSON through
//! `gaze_tracker_last_json`.

use gaze_core::{Direction, Eye, FrameResult, Point};

/// A point in image pixels.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct gaze_point {
    /// Horizontal pixel coordinate.
    pub x: f32,
    /// Vertical pixel coordinate.
    pub y: f32,
}

impl From<Point> for gaze_point {
    fn from(p: Point) -> Self {
        gaze_point { x: p.x, y: p.y }
    }
}

/// One eye (the subject's).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct gaze_eye {
    /// Iris centre.
    pub center: gaze_point,
    /// Iris radius in pixels.
    pub radius: f32,
    /// Eye corner toward the ear.
    pub outer_corner: gaze_point,
    /// Eye corner toward the nose.
    pub inner_corner: gaze_point,
    /// Middle of the upper lid.
    pub upper_lid: gaze_point,
    /// Middle of the lower lid.
    pub lower_lid: gaze_point,
    /// Eye aspect ratio (≈0.25–0.35 open, < 0.12 closed).
    pub openness: f32,
}

impl From<&Eye> for gaze_eye {
    fn from(e: &Eye) -> Self {
        gaze_eye {
            center: e.center.into(),
            radius: e.radius,
            outer_corner: e.corners.outer.into(),
            inner_corner: e.corners.inner.into(),
            upper_lid: e.upper_lid.into(),
            lower_lid: e.lower_lid.into(),
            openness: e.openness,
        }
    }
}

/// Coarse gaze direction.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum gaze_direction {
    /// Looking at the camera / screen centre.
    #[default]
    GAZE_DIRECTION_CENTER = 0,
    /// Toward the image's left.
    GAZE_DIRECTION_LEFT = 1,
    /// Toward the image's right.
    GAZE_DIRECTION_RIGHT = 2,
    /// Up.
    GAZE_DIRECTION_UP = 3,
    /// Down.
    GAZE_DIRECTION_DOWN = 4,
    /// Eyes closed.
    GAZE_DIRECTION_CLOSED = 5,
    /// No face in the frame.
    GAZE_DIRECTION_NO_FACE = 6,
    /// Head turned away.
    GAZE_DIRECTION_AWAY = 7,
}

impl From<Direction> for gaze_direction {
    fn from(d: Direction) -> Self {
        use gaze_direction::*;
        match d {
            Direction::Center => GAZE_DIRECTION_CENTER,
            Direction::Left => GAZE_DIRECTION_LEFT,
            Direction::Right => GAZE_DIRECTION_RIGHT,
            Direction::Up => GAZE_DIRECTION_UP,
            Direction::Down => GAZE_DIRECTION_DOWN,
            Direction::Closed => GAZE_DIRECTION_CLOSED,
            Direction::NoFace => GAZE_DIRECTION_NO_FACE,
            Direction::Away => GAZE_DIRECTION_AWAY,
        }
    }
}

/// Everything `gaze_tracker_process` reports about one frame. `has_*` flags tell which
/// optional parts are filled; the others are zero.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct gaze_frame_result {
    /// Frame timestamp (ms).
    pub timestamp_ms: f64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// A face was found (`face_*` are set).
    pub has_face: bool,
    /// Face box left edge.
    pub face_x: f32,
    /// Face box top edge.
    pub face_y: f32,
    /// Face box width.
    pub face_w: f32,
    /// Face box height.
    pub face_h: f32,
    /// Detector confidence 0..1.
    pub face_score: f32,
    /// Both eyes were found (`left_eye`, `right_eye` are set).
    pub has_eyes: bool,
    /// The subject's left eye (image right in an unmirrored frame).
    pub left_eye: gaze_eye,
    /// The subject's right eye (image left in an unmirrored frame).
    pub right_eye: gaze_eye,
    /// `head_*` are set.
    pub has_head_pose: bool,
    /// Head yaw (deg), positive toward the image's right.
    pub head_yaw_deg: f32,
    /// Head pitch (deg), positive up.
    pub head_pitch_deg: f32,
    /// Head roll (deg), positive clockwise.
    pub head_roll_deg: f32,
    /// `gaze_*` are set.
    pub has_gaze: bool,
    /// Iris position along the corner axis, −1 (image left) … 1 (image right).
    pub gaze_horizontal: f32,
    /// Iris position between the lids, −1 (up) … 1 (down).
    pub gaze_vertical: f32,
    /// Gaze yaw (deg), head compensated.
    pub gaze_yaw_deg: f32,
    /// Gaze pitch (deg), head compensated.
    pub gaze_pitch_deg: f32,
    /// Gaze confidence 0..1.
    pub gaze_confidence: f32,
    /// `screen` is set (the tracker has a calibration).
    pub has_screen: bool,
    /// Screen point in pixels.
    pub screen: gaze_point,
    /// Direction label (also set without a face: `GAZE_DIRECTION_NO_FACE`).
    pub direction: gaze_direction,
    /// Eyes currently closed.
    pub blink_closed: bool,
    /// How long they have been closed (ms).
    pub blink_closed_ms: f64,
    /// Blinks since the tracker was created or reset.
    pub blink_count: u32,
    /// A blink ended on this frame (`blink_event_*` are set).
    pub has_blink_event: bool,
    /// When that blink started (ms).
    pub blink_event_start_ms: f64,
    /// When it ended (ms).
    pub blink_event_end_ms: f64,
    /// A face was found.
    pub face_present: bool,
    /// Both eyes closed.
    pub eyes_closed: bool,
    /// Head turned beyond the configured limits.
    pub head_away: bool,
    /// Gaze estimated off the screen.
    pub gaze_off_screen: bool,
    /// The face detector ran on this frame (false: tracked from the previous frame).
    pub detected: bool,
}

impl From<&FrameResult> for gaze_frame_result {
    fn from(r: &FrameResult) -> Self {
        let mut out = gaze_frame_result {
            timestamp_ms: r.timestamp_ms,
            width: r.width,
            height: r.height,
            direction: r.direction.into(),
            blink_closed: r.blink.closed,
            blink_closed_ms: r.blink.closed_ms,
            blink_count: r.blink.count,
            face_present: r.attention.face_present,
            eyes_closed: r.attention.eyes_closed,
            head_away: r.attention.head_away,
            gaze_off_screen: r.attention.gaze_off_screen,
            detected: r.detected,
            ..Default::default()
        };
        if let Some(f) = r.face {
            out.has_face = true;
            (out.face_x, out.face_y, out.face_w, out.face_h) =
                (f.bbox.x, f.bbox.y, f.bbox.w, f.bbox.h);
            out.face_score = f.score;
        }
        if let (Some(l), Some(rt)) = (&r.left_eye, &r.right_eye) {
            out.has_eyes = true;
            out.left_eye = l.into();
            out.right_eye = rt.into();
        }
        if let Some(h) = r.head_pose {
            out.has_head_pose = true;
            (out.head_yaw_deg, out.head_pitch_deg, out.head_roll_deg) =
                (h.yaw_deg, h.pitch_deg, h.roll_deg);
        }
        if let Some(g) = r.gaze {
            out.has_gaze = true;
            out.gaze_horizontal = g.horizontal;
            out.gaze_vertical = g.vertical;
            out.gaze_yaw_deg = g.yaw_deg;
            out.gaze_pitch_deg = g.pitch_deg;
            out.gaze_confidence = g.confidence;
            if let Some(p) = g.screen {
                out.has_screen = true;
                out.screen = p.into();
            }
        }
        if let Some(e) = r.blink.event {
            out.has_blink_event = true;
            out.blink_event_start_ms = e.start_ms;
            out.blink_event_end_ms = e.end_ms;
        }
        out
    }
}
