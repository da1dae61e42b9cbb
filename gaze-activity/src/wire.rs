//! The per-frame JSON message shared by the server's WebSocket, the Python binding's
//! `to_dict()` and the C binding: the original FastAPI client's shape
//! (`{"gaze": {"horizontal", "vertical", "eyes": {"left": {x,y}, "right": {x,y}}} | null,
//! "face": {x,y,w,h} | null}`) plus the richer fields of [`FrameResult`].

use crate::result::{Blink, BoundingBox, Direction, FrameResult, HeadPose, Point};
use serde::{Deserialize, Serialize};

/// Iris centres of both eyes (subject's left and right).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WireEyes {
    /// Subject's left eye iris centre (image right in an unmirrored frame).
    pub left: Option<Point>,
    /// Subject's right eye iris centre.
    pub right: Option<Point>,
}

/// The `gaze` object of the original protocol, extended with angles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WireGaze {
    /// Fused horizontal ratio, −1 image left … 1 image right.
    pub horizontal: f32,
    /// Fused vertical ratio, −1 up … 1 down.
    pub vertical: f32,
    /// Iris centres.
    pub eyes: WireEyes,
    /// Gaze yaw (deg).
    pub yaw_deg: f32,
    /// Gaze pitch (deg).
    pub pitch_deg: f32,
}

/// One frame as sent over the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameMessage {
    /// Frame timestamp (ms).
    pub timestamp_ms: f64,
    /// Gaze (null without a face).
    pub gaze: Option<WireGaze>,
    /// Face box (null without a face).
    pub face: Option<BoundingBox>,
    /// Direction label.
    pub direction: Direction,
    /// Blink state.
    pub blink: Blink,
    /// Head pose.
    pub head_pose: Option<HeadPose>,
    /// Screen point when calibrated.
    pub screen: Option<Point>,
    /// Gaze confidence 0..1 (0 without a face).
    pub confidence: f32,
}

impl From<&FrameResult> for FrameMessage {
    fn from(r: &FrameResult) -> Self {
        FrameMessage {
            timestamp_ms: r.timestamp_ms,
            gaze: r.gaze.map(|g| WireGaze {
                horizontal: g.horizontal,
                vertical: g.vertical,
                eyes: WireEyes {
                    left: r.left_eye.as_ref().map(|e| e.center),
                    right: r.right_eye.as_ref().map(|e| e.center),
                },
                yaw_deg: g.yaw_deg,
                pitch_deg: g.pitch_deg,
            }),
            face: r.face.map(|f| f.bbox),
            direction: r.direction,
            blink: r.blink,
            head_pose: r.head_pose,
            screen: r.gaze.and_then(|g| g.screen),
            confidence: r.gaze.map(|g| g.confidence).unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_face_serialises_with_null_gaze_and_face() {
        let r = FrameResult {
            direction: Direction::NoFace,
            ..FrameResult::default()
        };
        let v = serde_json::to_value(FrameMessage::from(&r)).expect("json");
        assert!(v["gaze"].is_null() && v["face"].is_null());
        assert_eq!(v["direction"], "no_face");
    }
}
