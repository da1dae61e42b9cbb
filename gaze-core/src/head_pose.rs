//! Head pose from 2D landmarks: `solvePnP` against a generic 3D face (millimetres), with a
//! pinhole camera whose focal length is the frame's longer side (≈ 53° field of view).

use crate::error::Result;
use crate::result::{HeadPose, Point};
use opencv::calib3d;
use opencv::core::{Mat, Point2f, Point3f, Vector};
use opencv::prelude::*;

/// Generic face, mm. X toward the image's right, Y down, Z away from the camera; nose tip at
/// the origin. Order: subject's right eye outer, right eye inner, left eye inner, left eye
/// outer, nose tip, mouth centre.
const MODEL: [[f32; 3]; 6] = [
    [-45.0, -31.0, 36.0],
    [-16.0, -33.0, 30.0],
    [16.0, -33.0, 30.0],
    [45.0, -31.0, 36.0],
    [0.0, 0.0, 0.0],
    [0.0, 33.0, 12.0],
];

/// The 2D points [`HeadPoseEstimator::estimate`] needs, in the order of the 3D model points (`MODEL`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosePoints {
    /// Subject's right eye outer corner.
    pub right_outer: Point,
    /// Subject's right eye inner corner.
    pub right_inner: Point,
    /// Subject's left eye inner corner.
    pub left_inner: Point,
    /// Subject's left eye outer corner.
    pub left_outer: Point,
    /// Nose tip.
    pub nose: Point,
    /// Mouth centre.
    pub mouth: Point,
}

/// Stateful estimator: reuses the last solution as the starting guess.
#[derive(Debug, Default)]
pub struct HeadPoseEstimator {
    rvec: Option<Mat>,
    tvec: Option<Mat>,
}

impl HeadPoseEstimator {
    /// Forgets the previous solution.
    pub fn reset(&mut self) {
        self.rvec = None;
        self.tvec = None;
    }

    /// Estimates yaw/pitch/roll for a `width` × `height` frame.
    pub fn estimate(&mut self, p: &PosePoints, width: u32, height: u32) -> Result<HeadPose> {
        let obj: Vector<Point3f> = MODEL
            .iter()
            .map(|m| Point3f::new(m[0], m[1], m[2]))
            .collect();
        let img: Vector<Point2f> = [
            p.right_outer,
            p.right_inner,
            p.left_inner,
            p.left_outer,
            p.nose,
            p.mouth,
        ]
        .iter()
        .map(|q| Point2f::new(q.x, q.y))
        .collect();
        let f = width.max(height) as f64;
        let cam = Mat::from_slice_2d(&[
            [f, 0.0, width as f64 / 2.0],
            [0.0, f, height as f64 / 2.0],
            [0.0, 0.0, 1.0],
        ])?;
        let dist = Mat::default();
        let mut rvec = match &self.rvec {
            Some(r) => r.clone(),
            None => Mat::from_slice(&[0.0f64, 0.0, 0.0])?.try_clone()?,
        };
        let mut tvec = match &self.tvec {
            Some(t) => t.clone(),
            None => {
                let iod_px = p
                    .right_outer
                    .mid(p.right_inner)
                    .dist(p.left_outer.mid(p.left_inner));
                let z = f * 61.0 / iod_px.max(1.0) as f64;
                Mat::from_slice(&[0.0f64, 0.0, z])?.try_clone()?
            }
        };
        let ok = calib3d::solve_pnp(
            &obj,
            &img,
            &cam,
            &dist,
            &mut rvec,
            &mut tvec,
            true,
            calib3d::SOLVEPNP_ITERATIVE,
        )?;
        let mut rot = Mat::default();
        calib3d::rodrigues(&rvec, &mut rot, &mut Mat::default())?;
        let r = |i: i32, j: i32| -> f64 { rot.at_2d::<f64>(i, j).copied().unwrap_or(0.0) };
        // Face normal toward the camera is the model's −Z axis.
        let n = [-r(0, 2), -r(1, 2), -r(2, 2)];
        let yaw = n[0].atan2(-n[2]);
        let pitch = (-n[1]).atan2((n[0] * n[0] + n[2] * n[2]).sqrt());
        let roll = r(1, 0).atan2(r(0, 0));
        let pose = HeadPose {
            yaw_deg: yaw.to_degrees() as f32,
            pitch_deg: pitch.to_degrees() as f32,
            roll_deg: roll.to_degrees() as f32,
        };
        let sane = ok
            && pose.yaw_deg.is_finite()
            && pose.pitch_deg.is_finite()
            && tvec.at::<f64>(2).map(|z| *z > 0.0).unwrap_or(false);
        if sane {
            self.rvec = Some(rvec);
            self.tvec = Some(tvec);
        } else {
            self.reset();
        }
        Ok(pose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::Point3d;

    fn project(yaw_deg: f64) -> PosePoints {
        // Rotate the model about Y by yaw, place it 600 mm away, project with f = 640.
        let (s, c) = yaw_deg.to_radians().sin_cos();
        let pts: Vec<Point> = MODEL
            .iter()
            .map(|m| {
                let p = Point3d::new(m[0] as f64, m[1] as f64, m[2] as f64);
                // Turning toward the image's right moves the nose (z = 0, in front) right.
                let x = c * p.x - s * p.z;
                let z = s * p.x + c * p.z + 600.0;
                Point::new(
                    (320.0 + 640.0 * x / z) as f32,
                    (240.0 + 640.0 * p.y / z) as f32,
                )
            })
            .collect();
        PosePoints {
            right_outer: pts[0],
            right_inner: pts[1],
            left_inner: pts[2],
            left_outer: pts[3],
            nose: pts[4],
            mouth: pts[5],
        }
    }

    #[test]
    fn recovers_yaw_sign_and_size() {
        for yaw in [-30.0, 0.0, 20.0] {
            let mut est = HeadPoseEstimator::default();
            let pose = est.estimate(&project(yaw), 640, 480).expect("pose");
            assert!(
                (pose.yaw_deg as f64 - yaw).abs() < 2.0,
                "yaw {yaw}: {pose:?}"
            );
            assert!(
                pose.pitch_deg.abs() < 2.0 && pose.roll_deg.abs() < 2.0,
                "{pose:?}"
            );
        }
    }
}
