//! Eye crops and the MediaPipe Iris landmark model: a rotated square crop around each eye,
//! resized to 64×64 RGB in [0, 1]; the image-right eye is mirrored so both look like the
//! eye the model was trained on. Outputs (71 contour/brow points and 5 iris points, in crop
//! pixels) are mapped back to image coordinates through the inverse of the crop transform.

use crate::error::{GazeError, Result};
use crate::inference::{Engine, InferenceConfig, Network, write_planar};
use crate::models::{IRIS_LANDMARK_INT8_ONNX, IRIS_LANDMARK_ONNX};
use crate::result::{Eye, EyeCorners, Point};
use opencv::core::{self, Mat, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use std::borrow::Cow;
use std::path::PathBuf;

const INPUT: i32 = 64;
const CONTOUR_POINTS: usize = 71;
const IRIS_POINTS: usize = 5;

/// Contour index of the outer eye corner.
pub const OUTER_CORNER: usize = 0;
/// Contour index of the inner eye corner.
pub const INNER_CORNER: usize = 8;
/// Contour indices of (upper lid, lower lid) pairs, outer → inner.
pub const LID_PAIRS: [(usize, usize); 3] = [(10, 2), (12, 4), (14, 6)];

/// A rotated square region around one eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EyeRoi {
    /// Centre in image pixels.
    pub center: Point,
    /// Side length in image pixels.
    pub size: f32,
    /// Rotation of the eye's corner axis (radians, image coordinates, y down).
    pub angle: f32,
    /// Mirror horizontally (true for the eye on the image's right side).
    pub flip: bool,
}

impl EyeRoi {
    /// Crops for both eyes of a face: centred on `a` (the eye on the image's left) and `b`,
    /// each `scale` × their distance wide, rotated along the line between them; the eye on the
    /// image's right is mirrored (the network was trained on the other eye).
    pub fn pair(a: Point, b: Point, scale: f32) -> [EyeRoi; 2] {
        let size = a.dist(b) * scale;
        let angle = (b.y - a.y).atan2(b.x - a.x);
        [
            EyeRoi {
                center: a,
                size,
                angle,
                flip: false,
            },
            EyeRoi {
                center: b,
                size,
                angle,
                flip: true,
            },
        ]
    }

    /// MediaPipe's convention: a square 2.3 times the corner distance, aligned with the corners.
    /// `a` is the corner on the image's left, `b` the one on the image's right.
    pub fn from_corners(a: Point, b: Point, flip: bool) -> Self {
        EyeRoi {
            center: a.mid(b),
            size: a.dist(b) * 2.3,
            angle: (b.y - a.y).atan2(b.x - a.x),
            flip,
        }
    }

    /// Forward transform image → crop as a 2×3 matrix (pixel-index coordinates).
    fn forward(&self) -> [[f64; 3]; 2] {
        let k = INPUT as f64 / self.size.max(1e-3) as f64;
        let (s, c) = (self.angle as f64).sin_cos();
        let f = if self.flip { -1.0 } else { 1.0 };
        // A = F * k * R(-angle)
        let a = [[f * k * c, f * k * s], [-k * s, k * c]];
        let half = (INPUT as f64 - 1.0) / 2.0;
        let (cx, cy) = (self.center.x as f64, self.center.y as f64);
        [
            [a[0][0], a[0][1], half - (a[0][0] * cx + a[0][1] * cy)],
            [a[1][0], a[1][1], half - (a[1][0] * cx + a[1][1] * cy)],
        ]
    }

    /// Maps a model output (crop pixels, continuous coordinates 0..64) to the image.
    pub fn to_image(&self, u: f32, v: f32) -> Point {
        let k = self.size as f64 / INPUT as f64;
        let (s, c) = (self.angle as f64).sin_cos();
        let f = if self.flip { -1.0 } else { 1.0 };
        let du = f * (u as f64 - INPUT as f64 / 2.0);
        let dv = v as f64 - INPUT as f64 / 2.0;
        Point::new(
            (self.center.x as f64 + k * (c * du - s * dv)) as f32,
            (self.center.y as f64 + k * (s * du + c * dv)) as f32,
        )
    }
}

/// Raw model output for one eye, mapped to image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeLandmarks {
    /// 71 contour and brow points.
    pub contour: Vec<Point>,
    /// Iris centre and 4 edge points.
    pub iris: Vec<Point>,
}

impl EyeLandmarks {
    /// Derives the eye geometry (corners, lids, openness, iris centre and radius).
    pub fn to_eye(&self) -> Eye {
        let c = &self.contour;
        let outer = c[OUTER_CORNER];
        let inner = c[INNER_CORNER];
        let width = outer.dist(inner).max(1e-3);
        let lid_gap: f32 =
            LID_PAIRS.iter().map(|&(u, l)| c[u].dist(c[l])).sum::<f32>() / LID_PAIRS.len() as f32;
        let center = self.iris[0];
        let radius =
            self.iris[1..].iter().map(|p| p.dist(center)).sum::<f32>() / (IRIS_POINTS - 1) as f32;
        Eye {
            center,
            radius,
            iris: self.iris.clone(),
            corners: EyeCorners { outer, inner },
            upper_lid: c[LID_PAIRS[1].0],
            lower_lid: c[LID_PAIRS[1].1],
            openness: lid_gap / width,
            landmarks: c.clone(),
        }
    }
}

/// The iris landmark network with reusable buffers.
pub struct IrisModel {
    net: Network,
    scratch: Mat,
    batched: bool,
}

impl IrisModel {
    /// Loads the model (embedded unless `path` is given) on the default engine (`auto`:
    /// OpenVINO when it can be loaded, else OpenCV DNN).
    pub fn new(path: Option<&PathBuf>) -> Result<Self> {
        Self::with_inference(path, &InferenceConfig::default())
    }

    /// Loads the model on the engine `inference` chooses: the embedded int8 copy on OpenVINO
    /// when [`InferenceConfig::iris_int8`] is set and `path` is `None`, else the float network.
    pub fn with_inference(path: Option<&PathBuf>, inference: &InferenceConfig) -> Result<Self> {
        let engine = inference.resolve()?;
        let embedded = if engine == Engine::OpenVino && inference.iris_int8 {
            IRIS_LANDMARK_INT8_ONNX
        } else {
            IRIS_LANDMARK_ONNX
        };
        let net = Network::load(
            "iris_landmark",
            embedded,
            path,
            &["output_eyes_contours_and_brows", "output_iris"],
            engine,
            inference.threads,
        )?;
        let mut model = IrisModel {
            net,
            scratch: Mat::default(),
            batched: true,
        };
        // The tracker runs both eyes in one batch: compile and warm that up now, not on the
        // first frame (one batch at a time when the network cannot take two).
        let side = INPUT as usize;
        if model.net.warm_up([2, 3, side, side]).is_err() {
            model.batched = false;
            model.net.warm_up([1, 3, side, side])?;
        }
        Ok(model)
    }

    /// The engine the network runs on.
    pub fn engine(&self) -> Engine {
        self.net.engine()
    }

    fn crop(&mut self, image: &Mat, roi: &EyeRoi, to_rgb: Option<i32>) -> Result<Mat> {
        let m = Mat::from_slice_2d(&roi.forward())?;
        imgproc::warp_affine(
            image,
            &mut self.scratch,
            &m,
            Size::new(INPUT, INPUT),
            imgproc::INTER_LINEAR,
            core::BORDER_REPLICATE,
            Scalar::default(),
        )?;
        match to_rgb {
            Some(code) => {
                let mut rgb = Mat::default();
                imgproc::cvt_color_def(&self.scratch, &mut rgb, code)?;
                Ok(rgb)
            }
            None => Ok(self.scratch.try_clone()?),
        }
    }

    /// Runs the network on `crops` (64×64 RGB) in one batch.
    fn forward(&mut self, crops: &[&Mat]) -> Result<(Vec<f32>, Vec<f32>)> {
        let n = crops.len();
        let side = INPUT as usize;
        let mut pixels: Vec<Cow<'_, [u8]>> = Vec::with_capacity(n);
        for c in crops {
            if c.rows() != INPUT
                || c.cols() != INPUT
                || c.channels() != 3
                || c.depth() != core::CV_8U
            {
                return Err(GazeError::Model {
                    name: "iris_landmark",
                    message: format!(
                        "crops must be {INPUT}x{INPUT} RGB, got {}x{}x{}",
                        c.cols(),
                        c.rows(),
                        c.channels()
                    ),
                });
            }
            pixels.push(if c.is_continuous() {
                Cow::Borrowed(c.data_bytes()?)
            } else {
                Cow::Owned(c.try_clone()?.data_bytes()?.to_vec())
            });
        }
        let item = 3 * side * side;
        let outputs = self.net.run_with([n, 3, side, side], |buf| {
            for (dst, px) in buf.chunks_exact_mut(item).zip(&pixels) {
                write_planar(dst, px, side, side, side * 3, 0.0, 1.0 / 255.0);
            }
        })?;
        let (contour, iris) = (&outputs[0], &outputs[1]);
        if contour.len() != n * CONTOUR_POINTS * 3 || iris.len() != n * IRIS_POINTS * 3 {
            return Err(GazeError::Model {
                name: "iris_landmark",
                message: format!(
                    "unexpected output sizes {} and {} for batch {n}",
                    contour.len(),
                    iris.len()
                ),
            });
        }
        Ok((contour.clone(), iris.clone()))
    }

    /// Crops and converts each ROI of `image` to the model's 64×64 RGB input.
    /// `to_rgb` converts the image's channel layout to RGB (`None`: already RGB).
    pub fn crops(&mut self, image: &Mat, rois: &[EyeRoi], to_rgb: Option<i32>) -> Result<Vec<Mat>> {
        rois.iter()
            .map(|roi| self.crop(image, roi, to_rgb))
            .collect()
    }

    /// Runs the model on crops made by [`IrisModel::crops`] for `rois` — in one batch when the
    /// network allows it — and maps the landmarks back to the image.
    pub fn infer(&mut self, crops: &[Mat], rois: &[EyeRoi]) -> Result<Vec<EyeLandmarks>> {
        let mut outputs: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
        if self.batched && crops.len() > 1 {
            let all: Vec<&Mat> = crops.iter().collect();
            match self.forward(&all) {
                Ok((contour, iris)) => {
                    for i in 0..crops.len() {
                        outputs.push((
                            contour[i * CONTOUR_POINTS * 3..(i + 1) * CONTOUR_POINTS * 3].to_vec(),
                            iris[i * IRIS_POINTS * 3..(i + 1) * IRIS_POINTS * 3].to_vec(),
                        ));
                    }
                }
                Err(_) => self.batched = false,
            }
        }
        if outputs.is_empty() {
            for c in crops {
                outputs.push(self.forward(&[c])?);
            }
        }
        Ok(rois
            .iter()
            .zip(outputs)
            .map(|(roi, (contour, iris))| {
                let map = |v: &[f32], n: usize| -> Vec<Point> {
                    (0..n)
                        .map(|i| roi.to_image(v[i * 3], v[i * 3 + 1]))
                        .collect()
                };
                EyeLandmarks {
                    contour: map(&contour, CONTOUR_POINTS),
                    iris: map(&iris, IRIS_POINTS),
                }
            })
            .collect())
    }

    /// Crops and runs the model on each ROI of `image`.
    pub fn run(
        &mut self,
        image: &Mat,
        rois: &[EyeRoi],
        to_rgb: Option<i32>,
    ) -> Result<Vec<EyeLandmarks>> {
        let crops = self.crops(image, rois, to_rgb)?;
        self.infer(&crops, rois)
    }
}

/// How a new eye crop relates to a reference crop taken at the same place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropMotion {
    /// Shift of the content (crop pixels, subpixel): reference (x, y) is now at (x+dx, y+dy).
    pub dx: f32,
    /// Vertical shift (crop pixels).
    pub dy: f32,
    /// Largest mean absolute difference over 8×8 blocks after the shift (grey levels).
    pub residual: f32,
}

fn grey(m: &Mat) -> Option<Vec<i16>> {
    let d = m.data_bytes().ok()?;
    if d.len() != (INPUT * INPUT * 3) as usize {
        return None;
    }
    Some(
        d.chunks_exact(3)
            .map(|p| (p[0] as i16 + 2 * p[1] as i16 + p[2] as i16) / 4)
            .collect(),
    )
}

/// Finds the integer shift within ±`max_shift` that best aligns `current` with `reference`
/// (sum of absolute differences over the inner region), refines it to subpixel with a parabola,
/// and reports the worst 8×8 block difference left after the shift. `None` when the crops are
/// not 64×64 RGB.
pub fn crop_motion(reference: &Mat, current: &Mat, max_shift: i32) -> Option<CropMotion> {
    let (r, c) = (grey(reference)?, grey(current)?);
    let n = INPUT;
    let m = max_shift.clamp(0, 16);
    let sad = |sx: i32, sy: i32| -> u32 {
        let mut total = 0u32;
        for y in m..n - m {
            // |sx|, |sy| <= m, so every index below stays inside the 64×64 crop.
            let ro = (y * n + m) as usize;
            let co = ((y + sy) * n + m + sx) as usize;
            let len = (n - 2 * m) as usize;
            for (a, b) in r[ro..ro + len].iter().zip(&c[co..co + len]) {
                total += a.abs_diff(*b) as u32;
            }
        }
        total
    };
    let size = (2 * m + 1) as usize;
    let mut table = vec![0u32; size * size];
    let mut best = (0i32, 0i32, u32::MAX);
    for sy in -m..=m {
        for sx in -m..=m {
            let v = sad(sx, sy);
            table[((sy + m) as usize) * size + (sx + m) as usize] = v;
            if v < best.2 {
                best = (sx, sy, v);
            }
        }
    }
    let at = |sx: i32, sy: i32| table[((sy + m) as usize) * size + (sx + m) as usize] as f32;
    let refine = |lo: f32, mid: f32, hi: f32| {
        let den = lo - 2.0 * mid + hi;
        if den > 0.0 {
            (0.5 * (lo - hi) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let (bx, by, _) = best;
    let fx = if bx > -m && bx < m {
        refine(at(bx - 1, by), at(bx, by), at(bx + 1, by))
    } else {
        0.0
    };
    let fy = if by > -m && by < m {
        refine(at(bx, by - 1), at(bx, by), at(bx, by + 1))
    } else {
        0.0
    };
    // Worst 8×8 block after the integer shift.
    let mut worst = 0u32;
    let mut y0 = m;
    while y0 + 8 <= n - m {
        let mut x0 = m;
        while x0 + 8 <= n - m {
            let mut block = 0u32;
            for y in y0..y0 + 8 {
                for x in x0..x0 + 8 {
                    let ri = (y * n + x) as usize;
                    let ci = ((y + by) * n + x + bx) as usize;
                    block += r[ri].abs_diff(c[ci]) as u32;
                }
            }
            worst = worst.max(block);
            x0 += 8;
        }
        y0 += 8;
    }
    Some(CropMotion {
        dx: bx as f32 + fx,
        dy: by as f32 + fy,
        residual: worst as f32 / 64.0,
    })
}

/// Mean absolute deviation of a crop's grey levels: near 0 for a flat (black, white, blank)
/// crop, well above 5 for any real eye, open or closed.
pub fn crop_texture(crop: &Mat) -> f32 {
    let Some(g) = grey(crop) else {
        return 0.0;
    };
    let mean = g.iter().map(|&v| v as f32).sum::<f32>() / g.len() as f32;
    g.iter().map(|&v| (v as f32 - mean).abs()).sum::<f32>() / g.len() as f32
}

impl EyeLandmarks {
    /// The same landmarks moved by `(tx, ty)` image pixels.
    pub fn translated(&self, tx: f32, ty: f32) -> EyeLandmarks {
        let mv = |p: &Point| Point::new(p.x + tx, p.y + ty);
        EyeLandmarks {
            contour: self.contour.iter().map(mv).collect(),
            iris: self.iris.iter().map(mv).collect(),
        }
    }
}

impl EyeRoi {
    /// A displacement of `(dx, dy)` crop pixels expressed in image pixels.
    pub fn crop_shift_to_image(&self, dx: f32, dy: f32) -> (f32, f32) {
        let c = INPUT as f32 / 2.0;
        let o = self.to_image(c, c);
        let s = self.to_image(c + dx, c + dy);
        (s.x - o.x, s.y - o.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_transform_round_trips() {
        for flip in [false, true] {
            let roi = EyeRoi {
                center: Point::new(200.0, 150.0),
                size: 40.0,
                angle: 0.3,
                flip,
            };
            let m = roi.forward();
            let p = Point::new(210.0, 140.0);
            // image → crop index coords → continuous → back to image
            let u = m[0][0] * p.x as f64 + m[0][1] * p.y as f64 + m[0][2];
            let v = m[1][0] * p.x as f64 + m[1][1] * p.y as f64 + m[1][2];
            let q = roi.to_image(u as f32 + 0.5, v as f32 + 0.5);
            assert!(p.dist(q) < 1e-3, "{flip}: {p:?} vs {q:?}");
        }
    }
}
