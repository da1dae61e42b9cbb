//! Face detection with MediaPipe BlazeFace (short range): letterboxed 128×128 input in
//! [−1, 1], 896 SSD anchors, sigmoid scores, weighted non-maximum suppression.

use crate::error::{GazeError, Result};
use crate::inference::{Engine, InferenceConfig, Network, write_planar};
use crate::models::FACE_DETECTOR_ONNX;
use crate::result::{BoundingBox, Face, FaceKeypoints, Point};
use opencv::core::{self, Mat, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use std::path::PathBuf;

const INPUT: i32 = 128;
const NUM_ANCHORS: usize = 896;
const NUM_COORDS: usize = 16;

/// An anchor centre in normalised input coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Anchor {
    pub x: f32,
    pub y: f32,
}

/// Generates the 896 BlazeFace short-range anchors: a 16×16 grid with 2 anchors per cell
/// (stride 8) followed by an 8×8 grid with 6 anchors per cell (three stride-16 layers of 2).
/// With fixed anchor size every anchor has unit width and height, so only centres matter.
pub(crate) fn blazeface_anchors() -> Vec<Anchor> {
    // (stride, anchors per cell)
    let layers = [(8usize, 2usize), (16, 6)];
    let mut out = Vec::with_capacity(NUM_ANCHORS);
    for (stride, per_cell) in layers {
        let cells = INPUT as usize / stride;
        for y in 0..cells {
            for x in 0..cells {
                let a = Anchor {
                    x: (x as f32 + 0.5) / cells as f32,
                    y: (y as f32 + 0.5) / cells as f32,
                };
                out.extend(std::iter::repeat_n(a, per_cell));
            }
        }
    }
    out
}

/// A raw detection in normalised letterbox coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RawDetection {
    /// xmin, ymin, xmax, ymax.
    pub bbox: [f32; 4],
    /// Six keypoints (x, y).
    pub keypoints: [[f32; 2]; 6],
    pub score: f32,
}

impl RawDetection {
    fn iou(&self, other: &RawDetection) -> f32 {
        let a = &self.bbox;
        let b = &other.bbox;
        let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let inter = iw * ih;
        let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// Decodes the network outputs into scored detections above `min_score`.
pub(crate) fn decode(
    regressors: &[f32],
    scores: &[f32],
    anchors: &[Anchor],
    min_score: f32,
) -> Vec<RawDetection> {
    let scale = INPUT as f32;
    let mut out = Vec::new();
    let n = anchors
        .len()
        .min(scores.len())
        .min(regressors.len() / NUM_COORDS);
    for i in 0..n {
        let logit = scores[i].clamp(-100.0, 100.0);
        let score = 1.0 / (1.0 + (-logit).exp());
        if score < min_score || !score.is_finite() {
            continue;
        }
        let r = &regressors[i * NUM_COORDS..(i + 1) * NUM_COORDS];
        let a = anchors[i];
        let cx = r[0] / scale + a.x;
        let cy = r[1] / scale + a.y;
        let w = r[2] / scale;
        let h = r[3] / scale;
        let mut keypoints = [[0.0f32; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            kp[0] = r[4 + 2 * k] / scale + a.x;
            kp[1] = r[5 + 2 * k] / scale + a.y;
        }
        if !(w > 0.0 && h > 0.0 && cx.is_finite() && cy.is_finite()) {
            continue;
        }
        out.push(RawDetection {
            bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
            keypoints,
            score,
        });
    }
    out
}

/// Weighted non-maximum suppression: overlapping detections (IoU above `threshold`) are
/// merged into one whose box and keypoints are the score-weighted mean of the cluster and
/// whose score is the cluster's best.
pub(crate) fn weighted_nms(mut dets: Vec<RawDetection>, threshold: f32) -> Vec<RawDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    let mut remaining = dets;
    while let Some(best) = remaining.first().copied() {
        let (cluster, rest): (Vec<_>, Vec<_>) =
            remaining.into_iter().partition(|d| best.iou(d) > threshold);
        remaining = rest;
        let total: f32 = cluster.iter().map(|d| d.score).sum();
        let mut merged = RawDetection {
            bbox: [0.0; 4],
            keypoints: [[0.0; 2]; 6],
            score: best.score,
        };
        for d in &cluster {
            let w = d.score / total;
            for k in 0..4 {
                merged.bbox[k] += d.bbox[k] * w;
            }
            for k in 0..6 {
                merged.keypoints[k][0] += d.keypoints[k][0] * w;
                merged.keypoints[k][1] += d.keypoints[k][1] * w;
            }
        }
        out.push(merged);
    }
    out
}

/// The BlazeFace detector (one network, reusable buffers).
pub struct FaceDetector {
    net: Network,
    anchors: Vec<Anchor>,
    letterbox: Mat,
    rgb: Mat,
    /// Minimum score of a face.
    pub min_score: f32,
    /// IoU above which detections are merged.
    pub nms_threshold: f32,
    /// Minimum score of a face found in a tile by [`FaceDetector::detect_tiled`]; stricter
    /// than `min_score` because many small windows give many chances for false positives.
    pub tile_min_score: f32,
}

impl FaceDetector {
    /// Loads the detector (embedded model unless `path` is given) on the default engine
    /// (`auto`: OpenVINO when it can be loaded, else OpenCV DNN).
    pub fn new(path: Option<&PathBuf>, min_score: f32) -> Result<Self> {
        Self::with_inference(path, min_score, &InferenceConfig::default())
    }

    /// Loads the detector on the engine `inference` chooses.
    pub fn with_inference(
        path: Option<&PathBuf>,
        min_score: f32,
        inference: &InferenceConfig,
    ) -> Result<Self> {
        let engine = inference.resolve()?;
        let mut net = Network::load(
            "face_detector",
            FACE_DETECTOR_ONNX,
            path,
            &["regressors", "classificators"],
            engine,
            inference.threads,
        )?;
        let u = INPUT as usize;
        net.warm_up([1, 3, u, u])?;
        Ok(FaceDetector {
            net,
            anchors: blazeface_anchors(),
            letterbox: Mat::default(),
            rgb: Mat::default(),
            min_score,
            nms_threshold: 0.3,
            tile_min_score: 0.75,
        })
    }

    /// The engine the network runs on.
    pub fn engine(&self) -> Engine {
        self.net.engine()
    }

    /// Detects faces in `image` (any size; `to_rgb` converts its channel layout to RGB, `None`
    /// when it already is RGB). The whole image is letterboxed into the network's 128×128
    /// input, which suits faces larger than about a fifth of the image (webcams). Faces come
    /// back sorted by score.
    pub fn detect(&mut self, image: &Mat, to_rgb: Option<i32>) -> Result<Vec<Face>> {
        let (w, h) = (image.cols() as f32, image.rows() as f32);
        if w < 1.0 || h < 1.0 {
            return Ok(Vec::new());
        }
        let side = w.max(h);
        let dets = self.run_window(image, (w - side) / 2.0, (h - side) / 2.0, side, to_rgb)?;
        Ok(weighted_nms(dets, self.nms_threshold)
            .into_iter()
            .map(to_face)
            .collect())
    }

    /// Like [`FaceDetector::detect`], and also searches overlapping square tiles (half, quarter,
    /// … of the long side, down to `min_tile` pixels) for faces too small for the whole-image
    /// pass (group photos, stills from a distance). Costs one network run per tile.
    pub fn detect_tiled(
        &mut self,
        image: &Mat,
        to_rgb: Option<i32>,
        min_tile: f32,
    ) -> Result<Vec<Face>> {
        let (w, h) = (image.cols() as f32, image.rows() as f32);
        if w < 1.0 || h < 1.0 {
            return Ok(Vec::new());
        }
        let mut side = w.max(h);
        let mut dets = self.run_window(image, (w - side) / 2.0, (h - side) / 2.0, side, to_rgb)?;
        side /= 2.0;
        while side >= min_tile.max(32.0) {
            let step = side / 2.0;
            let nx = ((w - side) / step).ceil().max(0.0) as usize + 1;
            let ny = ((h - side) / step).ceil().max(0.0) as usize + 1;
            for j in 0..ny {
                for i in 0..nx {
                    let x0 = (i as f32 * step).min((w - side).max(0.0));
                    let y0 = (j as f32 * step).min((h - side).max(0.0));
                    let min = self.tile_min_score.max(self.min_score);
                    dets.extend(
                        self.run_window(image, x0, y0, side, to_rgb)?
                            .into_iter()
                            .filter(|d| d.score >= min),
                    );
                }
            }
            side /= 2.0;
        }
        Ok(weighted_nms(dets, self.nms_threshold)
            .into_iter()
            .map(to_face)
            .collect())
    }

    /// Runs the network on the square window of side `side` whose top-left corner is at
    /// (`x0`, `y0`) (continuous image coordinates; parts outside the image are black) and
    /// returns raw detections in image pixels.
    fn run_window(
        &mut self,
        image: &Mat,
        x0: f32,
        y0: f32,
        side: f32,
        to_rgb: Option<i32>,
    ) -> Result<Vec<RawDetection>> {
        let s = INPUT as f32 / side;
        // Pixel centres: u + 0.5 = s * (x + 0.5 - x0).
        let tx = s * (0.5 - x0) - 0.5;
        let ty = s * (0.5 - y0) - 0.5;
        let m = Mat::from_slice_2d(&[[s as f64, 0.0, tx as f64], [0.0, s as f64, ty as f64]])?;
        let interpolation = if s < 0.5 {
            imgproc::INTER_AREA
        } else {
            imgproc::INTER_LINEAR
        };
        if s < 0.5 {
            // Area averaging avoids aliasing when shrinking a lot; warpAffine has no area mode.
            let (w, h) = (image.cols(), image.rows());
            let x_lo = x0.max(0.0) as i32;
            let y_lo = y0.max(0.0) as i32;
            let x_hi = ((x0 + side).ceil() as i32).min(w);
            let y_hi = ((y0 + side).ceil() as i32).min(h);
            let roi = Mat::roi(
                image,
                core::Rect::new(x_lo, y_lo, (x_hi - x_lo).max(1), (y_hi - y_lo).max(1)),
            )?;
            let small_w = (((x_hi - x_lo) as f32) * s).round().max(1.0) as i32;
            let small_h = (((y_hi - y_lo) as f32) * s).round().max(1.0) as i32;
            let mut small = Mat::default();
            imgproc::resize(
                &roi,
                &mut small,
                Size::new(small_w, small_h),
                0.0,
                0.0,
                interpolation,
            )?;
            self.letterbox =
                Mat::new_rows_cols_with_default(INPUT, INPUT, small.typ(), Scalar::all(0.0))?;
            let dx = ((x_lo as f32 - x0) * s)
                .round()
                .clamp(0.0, (INPUT - small_w).max(0) as f32) as i32;
            let dy = ((y_lo as f32 - y0) * s)
                .round()
                .clamp(0.0, (INPUT - small_h).max(0) as f32) as i32;
            let cw = small_w.min(INPUT - dx);
            let ch = small_h.min(INPUT - dy);
            let src = Mat::roi(&small, core::Rect::new(0, 0, cw, ch))?;
            let mut dst = Mat::roi_mut(&mut self.letterbox, core::Rect::new(dx, dy, cw, ch))?;
            src.copy_to(&mut dst)?;
        } else {
            imgproc::warp_affine(
                image,
                &mut self.letterbox,
                &m,
                Size::new(INPUT, INPUT),
                interpolation,
                core::BORDER_CONSTANT,
                Scalar::all(0.0),
            )?;
        }
        let rgb = match to_rgb {
            Some(code) => {
                imgproc::cvt_color_def(&self.letterbox, &mut self.rgb, code)?;
                &self.rgb
            }
            None => &self.letterbox,
        };
        if rgb.rows() != INPUT || rgb.cols() != INPUT || rgb.channels() != 3 {
            return Err(GazeError::Model {
                name: "face_detector",
                message: format!(
                    "input must be {INPUT}x{INPUT} with 3 channels, got {}x{}x{}",
                    rgb.cols(),
                    rgb.rows(),
                    rgb.channels()
                ),
            });
        }
        let (u, i) = (INPUT as usize, 3usize);
        let bytes = rgb.data_bytes()?;
        let outputs = self.net.run_with([1, i, u, u], |buf| {
            write_planar(buf, bytes, u, u, 3 * u, 127.5, 1.0 / 127.5)
        })?;
        let (reg, sc) = (&outputs[0], &outputs[1]);
        if reg.len() != NUM_ANCHORS * NUM_COORDS || sc.len() != NUM_ANCHORS {
            return Err(GazeError::Model {
                name: "face_detector",
                message: format!(
                    "unexpected output sizes {} and {} (want {} and {})",
                    reg.len(),
                    sc.len(),
                    NUM_ANCHORS * NUM_COORDS,
                    NUM_ANCHORS
                ),
            });
        }
        // Normalised window coordinates → image pixel indices.
        let to_img = |n: f32, o: f32| n * side + o - 0.5;
        Ok(decode(reg, sc, &self.anchors, self.min_score)
            .into_iter()
            .map(|mut d| {
                d.bbox = [
                    to_img(d.bbox[0], x0),
                    to_img(d.bbox[1], y0),
                    to_img(d.bbox[2], x0),
                    to_img(d.bbox[3], y0),
                ];
                for k in d.keypoints.iter_mut() {
                    *k = [to_img(k[0], x0), to_img(k[1], y0)];
                }
                d
            })
            .collect())
    }
}

fn to_face(d: RawDetection) -> Face {
    let p = |k: usize| Point::new(d.keypoints[k][0], d.keypoints[k][1]);
    Face {
        bbox: BoundingBox {
            x: d.bbox[0],
            y: d.bbox[1],
            w: d.bbox[2] - d.bbox[0],
            h: d.bbox[3] - d.bbox[1],
        },
        keypoints: FaceKeypoints {
            right_eye: p(0),
            left_eye: p(1),
            nose_tip: p(2),
            mouth: p(3),
            right_ear: p(4),
            left_ear: p(5),
        },
        score: d.score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_cover_the_input() {
        let a = blazeface_anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        assert_eq!(
            a[0],
            Anchor {
                x: 0.5 / 16.0,
                y: 0.5 / 16.0
            }
        );
        assert_eq!(a[1], a[0]);
        assert_eq!(
            a[512],
            Anchor {
                x: 0.5 / 8.0,
                y: 0.5 / 8.0
            }
        );
        assert_eq!(
            a[895],
            Anchor {
                x: 7.5 / 8.0,
                y: 7.5 / 8.0
            }
        );
    }

    #[test]
    fn weighted_nms_merges_overlaps_and_keeps_separate_faces() {
        let d = |x: f32, s: f32| RawDetection {
            bbox: [x, 0.1, x + 0.2, 0.3],
            keypoints: [[x + 0.1, 0.2]; 6],
            score: s,
        };
        let out = weighted_nms(vec![d(0.1, 0.9), d(0.12, 0.6), d(0.6, 0.8)], 0.3);
        assert_eq!(out.len(), 2);
        assert!((out[0].score - 0.9).abs() < 1e-6);
        // Merged box lies between the two inputs, weighted toward the stronger one.
        assert!(out[0].bbox[0] > 0.1 && out[0].bbox[0] < 0.11);
    }
}
