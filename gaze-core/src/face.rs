//! Face detection with MediaPipe BlazeFace (short range): letterboxed 128×128 input in
//! [−1, 1], 896 SSD anchors, sigmoid scores, weighted non-maximum suppression.

use crate::error::{GazeError, Result};
use crate::models::{FACE_DETECTOR_ONNX, load_net};
use crate::result::{BoundingBox, Face, FaceKeypoints, Point};
use opencv::core::{self, Mat, Scalar, Size, Vector};
use opencv::dnn::{self, Net};
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
    net: Net,
    anchors: Vec<Anchor>,
    letterbox: Mat,
    rgb: Mat,
    out_names: Vector<String>,
    outputs: Vector<Mat>,
    /// Minimum score of a face.
    pub min_score: f32,
    /// IoU above which detections are merged.
    pub nms_threshold: f32,
}

impl FaceDetector {
    /// Loads the detector (embedded model unless `path` is given).
    pub fn new(path: Option<&PathBuf>, min_score: f32) -> Result<Self> {
        let net = load_net("face_detector", FACE_DETECTOR_ONNX, path)?;
        let mut out_names = Vector::<String>::new();
        out_names.push("regressors");
        out_names.push("classificators");
        Ok(FaceDetector {
            net,
            anchors: blazeface_anchors(),
            letterbox: Mat::default(),
            rgb: Mat::default(),
            out_names,
            outputs: Vector::new(),
            min_score,
            nms_threshold: 0.3,
        })
    }

    /// Detects faces in `image` (any size; `to_rgb` converts its channel layout to RGB, `None`
    /// when it already is RGB). Faces come back sorted by score.
    pub fn detect(&mut self, image: &Mat, to_rgb: Option<i32>) -> Result<Vec<Face>> {
        let (w, h) = (image.cols() as f32, image.rows() as f32);
        if w < 1.0 || h < 1.0 {
            return Ok(Vec::new());
        }
        // Letterbox: scale the long side to 128 and centre the other.
        let s = INPUT as f32 / w.max(h);
        let ox = (INPUT as f32 - w * s) / 2.0;
        let oy = (INPUT as f32 - h * s) / 2.0;
        // Sample pixel centres consistently: dst = s*src + o (with half-pixel alignment).
        let tx = ox + 0.5 * s - 0.5;
        let ty = oy + 0.5 * s - 0.5;
        let m = Mat::from_slice_2d(&[[s as f64, 0.0, tx as f64], [0.0, s as f64, ty as f64]])?;
        imgproc::warp_affine(
            image,
            &mut self.letterbox,
            &m,
            Size::new(INPUT, INPUT),
            imgproc::INTER_LINEAR,
            core::BORDER_CONSTANT,
            Scalar::all(0.0),
        )?;
        let rgb = match to_rgb {
            Some(code) => {
                imgproc::cvt_color_def(&self.letterbox, &mut self.rgb, code)?;
                &self.rgb
            }
            None => &self.letterbox,
        };
        let blob = dnn::blob_from_image(
            rgb,
            1.0 / 127.5,
            Size::new(INPUT, INPUT),
            Scalar::all(127.5),
            false,
            false,
            core::CV_32F,
        )?;
        self.net.set_input(&blob, "", 1.0, Scalar::default())?;
        self.net.forward(&mut self.outputs, &self.out_names)?;
        let regressors = self.outputs.get(0)?;
        let scores = self.outputs.get(1)?;
        let reg = regressors.data_typed::<f32>()?;
        let sc = scores.data_typed::<f32>()?;
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
        let dets = weighted_nms(
            decode(reg, sc, &self.anchors, self.min_score),
            self.nms_threshold,
        );
        let to_img = |nx: f32, ny: f32| {
            Point::new(
                (nx * INPUT as f32 - ox) / s - 0.5,
                (ny * INPUT as f32 - oy) / s - 0.5,
            )
        };
        Ok(dets
            .into_iter()
            .map(|d| {
                let p0 = to_img(d.bbox[0], d.bbox[1]);
                let p1 = to_img(d.bbox[2], d.bbox[3]);
                let kp = |k: usize| to_img(d.keypoints[k][0], d.keypoints[k][1]);
                Face {
                    bbox: BoundingBox {
                        x: p0.x,
                        y: p0.y,
                        w: p1.x - p0.x,
                        h: p1.y - p0.y,
                    },
                    keypoints: FaceKeypoints {
                        right_eye: kp(0),
                        left_eye: kp(1),
                        nose_tip: kp(2),
                        mouth: kp(3),
                        right_ear: kp(4),
                        left_ear: kp(5),
                    },
                    score: d.score,
                }
            })
            .collect())
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
