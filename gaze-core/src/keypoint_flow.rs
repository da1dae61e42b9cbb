//! Follows the face keypoints the eye model does not see (nose tip, mouth) from one frame to
//! the next with pyramidal Lucas–Kanade optical flow, so head pose stays current between face
//! detections.

use crate::error::Result;
use crate::result::Point;
use opencv::core::{Mat, Point2f, Size, TermCriteria, TermCriteria_Type, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use opencv::video;

/// Largest accepted LK matching error (mean absolute difference per window pixel).
const MAX_ERROR: f32 = 25.0;

/// Optical-flow tracker for a few points; keeps the previous grey frame.
#[derive(Default)]
pub struct KeypointFlow {
    prev: Option<Mat>,
    points: Vec<Point>,
}

impl KeypointFlow {
    /// Forgets the previous frame and points.
    pub fn reset(&mut self) {
        self.prev = None;
        self.points.clear();
    }

    /// Converts `image` to grey with `to_gray` (`None`: already grey) and keeps it as the
    /// reference for the next call; `points` are the positions to follow from here.
    pub fn set(&mut self, image: &Mat, to_gray: Option<i32>, points: &[Point]) -> Result<()> {
        self.prev = Some(grey(image, to_gray)?);
        self.points = points.to_vec();
        Ok(())
    }

    /// Moves the points into `image`. Returns the new positions, `None` for points the flow
    /// lost (then the caller keeps its own estimate). The new frame becomes the reference.
    pub fn follow(&mut self, image: &Mat, to_gray: Option<i32>) -> Result<Vec<Option<Point>>> {
        let next = grey(image, to_gray)?;
        let Some(prev) = self.prev.take() else {
            self.prev = Some(next);
            return Ok(vec![None; self.points.len()]);
        };
        if self.points.is_empty() || prev.size()? != next.size()? {
            self.prev = Some(next);
            return Ok(vec![None; self.points.len()]);
        }
        let from: Vector<Point2f> = self.points.iter().map(|p| Point2f::new(p.x, p.y)).collect();
        let mut to = Vector::<Point2f>::new();
        let mut status = Vector::<u8>::new();
        let mut err = Vector::<f32>::new();
        video::calc_optical_flow_pyr_lk(
            &prev,
            &next,
            &from,
            &mut to,
            &mut status,
            &mut err,
            Size::new(21, 21),
            2,
            TermCriteria::new(
                TermCriteria_Type::COUNT as i32 + TermCriteria_Type::EPS as i32,
                20,
                0.03,
            )?,
            0,
            1e-4,
        )?;
        let (w, h) = (next.cols() as f32, next.rows() as f32);
        let out: Vec<Option<Point>> = (0..self.points.len())
            .map(|i| {
                let ok = status.get(i).map(|s| s == 1).unwrap_or(false)
                    && err.get(i).map(|e| e < MAX_ERROR).unwrap_or(false);
                let p = to.get(i).ok()?;
                (ok && p.x.is_finite()
                    && p.y.is_finite()
                    && p.x >= 0.0
                    && p.y >= 0.0
                    && p.x < w
                    && p.y < h)
                    .then(|| Point::new(p.x, p.y))
            })
            .collect();
        for (p, o) in self.points.iter_mut().zip(&out) {
            if let Some(o) = o {
                *p = *o;
            }
        }
        self.prev = Some(next);
        Ok(out)
    }

    /// Overwrites the followed positions (e.g. with a fallback estimate for lost points).
    pub fn update_points(&mut self, points: &[Point]) {
        self.points = points.to_vec();
    }
}

fn grey(image: &Mat, to_gray: Option<i32>) -> Result<Mat> {
    let mut g = Mat::default();
    match to_gray {
        Some(code) => imgproc::cvt_color_def(image, &mut g, code)?,
        None => image.copy_to(&mut g)?,
    }
    Ok(g)
}
