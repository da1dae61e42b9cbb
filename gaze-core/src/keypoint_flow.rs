//! Follows the face keypoints the eye model does not see (nose tip, mouth) from one frame to
//! the next with pyramidal Lucas–Kanade optical flow, so head pose stays current between face
//! detections.

use crate::error::Result;
use crate::result::Point;
use opencv::core::{Mat, Point2f, Rect, Size, TermCriteria, TermCriteria_Type, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use opencv::video;

/// Largest accepted LK matching error (mean absolute difference per window pixel).
const MAX_ERROR: f32 = 25.0;

/// Pixels kept around the followed points: the flow runs on this region of both frames, not
/// on the whole frame (the 21×21 window at pyramid level 2 reaches 42 px, plus the motion).
const MARGIN: f32 = 80.0;

/// Optical-flow tracker for a few points; keeps the previous frame's grey region around them.
#[derive(Default)]
pub struct KeypointFlow {
    /// Grey pixels of `region` in the previous frame, and that frame's size.
    prev: Option<(Mat, Rect, Size)>,
    points: Vec<Point>,
}

/// The region (clipped to `size`) that holds `points` with [`MARGIN`] around them; `None` when
/// there are no points or they lie outside the image.
fn region(points: &[Point], size: Size) -> Option<Rect> {
    let finite = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite());
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in finite {
        (x0, y0, x1, y1) = (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y));
    }
    if x0 > x1 {
        return None;
    }
    let (w, h) = (size.width as f32, size.height as f32);
    let lx = (x0 - MARGIN).floor().clamp(0.0, w) as i32;
    let ly = (y0 - MARGIN).floor().clamp(0.0, h) as i32;
    let hx = (x1 + MARGIN).ceil().clamp(0.0, w) as i32;
    let hy = (y1 + MARGIN).ceil().clamp(0.0, h) as i32;
    (hx - lx >= 8 && hy - ly >= 8).then(|| Rect::new(lx, ly, hx - lx, hy - ly))
}

/// Every point lies at least half the margin inside `r` (or `r` reaches the image edge there).
fn fits(points: &[Point], r: Rect, size: Size) -> bool {
    let m = MARGIN / 2.0;
    let (x0, y0) = (r.x as f32, r.y as f32);
    let (x1, y1) = ((r.x + r.width) as f32, (r.y + r.height) as f32);
    points.iter().all(|p| {
        (p.x - x0 >= m || r.x == 0)
            && (p.y - y0 >= m || r.y == 0)
            && (x1 - p.x >= m || r.x + r.width == size.width)
            && (y1 - p.y >= m || r.y + r.height == size.height)
            && p.x >= x0
            && p.y >= y0
            && p.x < x1
            && p.y < y1
    })
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
        self.points = points.to_vec();
        self.prev = self.reference(image, to_gray)?;
        Ok(())
    }

    /// The grey region of `image` around the current points (the next call's reference).
    fn reference(&self, image: &Mat, to_gray: Option<i32>) -> Result<Option<(Mat, Rect, Size)>> {
        let size = image.size()?;
        let Some(r) = region(&self.points, size) else {
            return Ok(None);
        };
        Ok(Some((grey(&Mat::roi(image, r)?, to_gray)?, r, size)))
    }

    /// Moves the points into `image`. Returns the new positions, `None` for points the flow
    /// lost (then the caller keeps its own estimate). The new frame becomes the reference.
    pub fn follow(&mut self, image: &Mat, to_gray: Option<i32>) -> Result<Vec<Option<Point>>> {
        let size = image.size()?;
        let lost = vec![None; self.points.len()];
        let Some((prev, r, prev_size)) = self.prev.take() else {
            self.prev = self.reference(image, to_gray)?;
            return Ok(lost);
        };
        if self.points.is_empty() || prev_size != size {
            self.prev = self.reference(image, to_gray)?;
            return Ok(lost);
        }
        // The same region of this frame; points are followed in region coordinates.
        let next = grey(&Mat::roi(image, r)?, to_gray)?;
        let (ox, oy) = (r.x as f32, r.y as f32);
        let from: Vector<Point2f> = self
            .points
            .iter()
            .map(|p| Point2f::new(p.x - ox, p.y - oy))
            .collect();
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
        let (w, h) = (r.width as f32, r.height as f32);
        let inside = |p: &Point| p.x >= ox && p.y >= oy && p.x < ox + w && p.y < oy + h;
        let out: Vec<Option<Point>> = (0..self.points.len())
            .map(|i| {
                let ok = status.get(i).map(|s| s == 1).unwrap_or(false)
                    && err.get(i).map(|e| e < MAX_ERROR).unwrap_or(false)
                    && inside(&self.points[i]);
                let p = to.get(i).ok()?;
                (ok && p.x.is_finite()
                    && p.y.is_finite()
                    && p.x >= 0.0
                    && p.y >= 0.0
                    && p.x < w
                    && p.y < h)
                    .then(|| Point::new(p.x + ox, p.y + oy))
            })
            .collect();
        for (p, o) in self.points.iter_mut().zip(&out) {
            if let Some(o) = o {
                *p = *o;
            }
        }
        // Next reference: the region around the moved points (the converted region when they
        // still fit in it with the margin, which is the usual case).
        self.prev = if fits(&self.points, r, size) {
            Some((next, r, size))
        } else {
            self.reference(image, to_gray)?
        };
        Ok(out)
    }

    /// Overwrites the followed positions (e.g. with a fallback estimate for lost points).
    pub fn update_points(&mut self, points: &[Point]) {
        self.points = points.to_vec();
    }
}

/// A grey copy of `image` (a region header is fine: the copy is continuous).
fn grey(
    image: &(impl MatTraitConst + opencv::core::ToInputArray),
    to_gray: Option<i32>,
) -> Result<Mat> {
    let mut g = Mat::default();
    match to_gray {
        Some(code) => imgproc::cvt_color_def(image, &mut g, code)?,
        None => image.copy_to(&mut g)?,
    }
    Ok(g)
}
