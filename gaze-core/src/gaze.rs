//! Gaze from eye geometry: per-eye ratios, fusion over both eyes, an eyeball model for
//! angles with head-pose compensation, a direction label and a confidence.

use crate::result::{Direction, Eye, HeadPose, Point};
use serde::{Deserialize, Serialize};

/// Human iris radius in millimetres (≈ 11.7 mm diameter, nearly constant across adults).
pub const IRIS_RADIUS_MM: f32 = 5.85;
/// Distance from the eyeball's rotation centre to the iris centre (mm).
pub const EYEBALL_RADIUS_MM: f32 = 11.5;
/// How far the corner midpoint lies in front of the eyeball centre (mm).
pub const CORNER_DEPTH_MM: f32 = 4.0;

/// Thresholds for the direction label and the "away" evidence (degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectionConfig {
    /// |gaze yaw| beyond this is `left` / `right`.
    pub horizontal_deg: f32,
    /// Gaze pitch above this is `up`.
    pub up_deg: f32,
    /// Gaze pitch below this is `down` (negative; the screen usually sits below the camera).
    pub down_deg: f32,
    /// |head yaw| beyond this is `away`.
    pub head_away_yaw_deg: f32,
    /// |head pitch| beyond this is `away`.
    pub head_away_pitch_deg: f32,
    /// |gaze yaw| beyond this counts as off screen when uncalibrated.
    pub off_screen_yaw_deg: f32,
    /// Gaze pitch outside ±this (after the down bias) counts as off screen when uncalibrated.
    pub off_screen_pitch_deg: f32,
}

impl Default for DirectionConfig {
    fn default() -> Self {
        DirectionConfig {
            horizontal_deg: 12.0,
            up_deg: 10.0,
            down_deg: -22.0,
            head_away_yaw_deg: 35.0,
            head_away_pitch_deg: 30.0,
            off_screen_yaw_deg: 30.0,
            off_screen_pitch_deg: 35.0,
        }
    }
}

/// Gaze features of one eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EyeGaze {
    /// Iris position on the corner axis, −1 image left … 1 image right.
    pub horizontal: f32,
    /// Iris position between the lids, −1 up … 1 down.
    pub vertical: f32,
    /// Iris displacement from the corner midpoint, mm, in the eye's own axes (x right, y up).
    pub offset_mm: (f32, f32),
    /// Weight of this eye in the fusion (visibility × openness).
    pub weight: f32,
}

fn project(p: Point, a: Point, b: Point) -> f32 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 <= 1e-6 {
        return 0.5;
    }
    ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2
}

/// Computes one eye's gaze features.
pub fn eye_gaze(eye: &Eye) -> EyeGaze {
    let (a, b) = if eye.corners.outer.x <= eye.corners.inner.x {
        (eye.corners.outer, eye.corners.inner)
    } else {
        (eye.corners.inner, eye.corners.outer)
    };
    let t = project(eye.center, a, b);
    let s = project(eye.center, eye.upper_lid, eye.lower_lid);
    // Displacement from the corner midpoint in the eye's rotated frame.
    let mid = a.mid(b);
    let width = a.dist(b).max(1e-3);
    let (ux, uy) = ((b.x - a.x) / width, (b.y - a.y) / width);
    let (dx, dy) = (eye.center.x - mid.x, eye.center.y - mid.y);
    let along = dx * ux + dy * uy;
    let across = -(dx * -uy + dy * ux); // up positive
    let mm_per_px = IRIS_RADIUS_MM / eye.radius.max(0.5);
    let open = ((eye.openness - 0.08) / 0.12).clamp(0.0, 1.0);
    EyeGaze {
        horizontal: (2.0 * t - 1.0).clamp(-1.5, 1.5),
        vertical: (2.0 * s - 1.0).clamp(-1.5, 1.5),
        offset_mm: (along * mm_per_px, across * mm_per_px),
        weight: width * open + 1e-3,
    }
}

/// Fused gaze over the visible eyes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedGaze {
    /// Fused horizontal ratio.
    pub horizontal: f32,
    /// Fused vertical ratio.
    pub vertical: f32,
    /// Gaze yaw (deg), camera frame, toward the image's right positive.
    pub yaw_deg: f32,
    /// Gaze pitch (deg), camera frame, up positive.
    pub pitch_deg: f32,
    /// Disagreement between the eyes' horizontal ratios (0 = identical).
    pub disagreement: f32,
}

fn angle_deg(offset_mm: f32, head_deg: f32) -> f32 {
    let head = head_deg.to_radians();
    let s = ((offset_mm + CORNER_DEPTH_MM * head.sin()) / EYEBALL_RADIUS_MM).clamp(-1.0, 1.0);
    s.asin().to_degrees()
}

/// Fuses per-eye features and converts them to angles, compensating head pose.
pub fn fuse(eyes: &[EyeGaze], head: Option<&HeadPose>) -> Option<FusedGaze> {
    let total: f32 = eyes.iter().map(|e| e.weight).sum();
    if eyes.is_empty() || total <= 0.0 {
        return None;
    }
    let avg =
        |f: &dyn Fn(&EyeGaze) -> f32| eyes.iter().map(|e| f(e) * e.weight).sum::<f32>() / total;
    let horizontal = avg(&|e| e.horizontal);
    let vertical = avg(&|e| e.vertical);
    let ox = avg(&|e| e.offset_mm.0);
    let oy = avg(&|e| e.offset_mm.1);
    let (hy, hp) = head.map(|h| (h.yaw_deg, h.pitch_deg)).unwrap_or((0.0, 0.0));
    let disagreement = if eyes.len() == 2 {
        (eyes[0].horizontal - eyes[1].horizontal).abs()
    } else {
        0.0
    };
    Some(FusedGaze {
        horizontal,
        vertical,
        yaw_deg: angle_deg(ox, hy),
        pitch_deg: angle_deg(oy, hp),
        disagreement,
    })
}

/// The direction label for a gaze (uncalibrated: angles; calibrated: screen point).
pub fn direction(
    cfg: &DirectionConfig,
    yaw_deg: f32,
    pitch_deg: f32,
    screen: Option<(Point, f32, f32)>,
) -> Direction {
    if let Some((p, w, h)) = screen {
        let (mx, my) = (0.1 * w, 0.1 * h);
        return if p.x < -mx {
            Direction::Left
        } else if p.x > w + mx {
            Direction::Right
        } else if p.y < -my {
            Direction::Up
        } else if p.y > h + my {
            Direction::Down
        } else {
            Direction::Center
        };
    }
    if yaw_deg < -cfg.horizontal_deg {
        Direction::Left
    } else if yaw_deg > cfg.horizontal_deg {
        Direction::Right
    } else if pitch_deg > cfg.up_deg {
        Direction::Up
    } else if pitch_deg < cfg.down_deg {
        Direction::Down
    } else {
        Direction::Center
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::EyeCorners;

    fn eye(iris_x: f32) -> Eye {
        Eye {
            center: Point::new(iris_x, 100.0),
            radius: 6.0,
            corners: EyeCorners {
                outer: Point::new(80.0, 100.0),
                inner: Point::new(120.0, 100.0),
            },
            upper_lid: Point::new(100.0, 92.0),
            lower_lid: Point::new(100.0, 108.0),
            openness: 0.3,
            ..Eye::default()
        }
    }

    #[test]
    fn iris_position_maps_to_ratio_and_angle() {
        let centred = eye_gaze(&eye(100.0));
        assert!(centred.horizontal.abs() < 1e-5 && centred.vertical.abs() < 1e-5);
        let right = eye_gaze(&eye(110.0));
        assert!((right.horizontal - 0.5).abs() < 1e-5);
        let g = fuse(&[right, right], None).expect("fused");
        // 10 px at 6 px iris radius = 9.75 mm → asin(9.75/11.5) ≈ 58°.
        assert!(g.yaw_deg > 50.0 && g.yaw_deg < 65.0, "{g:?}");
        assert_eq!(
            direction(&DirectionConfig::default(), g.yaw_deg, 0.0, None),
            Direction::Right
        );
    }
}
