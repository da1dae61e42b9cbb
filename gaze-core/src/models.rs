//! The embedded networks and how to load them (or replacements from disk).
//!
//! Both are MediaPipe models (Apache-2.0) converted from TFLite to ONNX; see
//! `gaze-core/models/README.md` for provenance and `gaze-core/models/convert.sh` to reproduce.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// MediaPipe BlazeFace short-range face detector, ONNX (input 1×3×128×128).
pub static FACE_DETECTOR_ONNX: &[u8] = include_bytes!("../models/face_detection_short_range.onnx");
/// MediaPipe Iris landmark model, ONNX (input N×3×64×64).
pub static IRIS_LANDMARK_ONNX: &[u8] = include_bytes!("../models/iris_landmark.onnx");
/// The same iris network after int8 post-training quantisation (NNCF; the iris branch and the
/// contour head stay float), for OpenVINO only: see [`crate::InferenceConfig::iris_int8`] and
/// `gaze-core/models/quantize_iris.sh`.
pub static IRIS_LANDMARK_INT8_ONNX: &[u8] = include_bytes!("../models/iris_landmark_int8.onnx");

/// Where the tracker's networks come from: `None` means the embedded copy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelPaths {
    /// Path of a replacement face detector ONNX file.
    pub face_detector: Option<PathBuf>,
    /// Path of a replacement iris landmark ONNX file.
    pub iris_landmark: Option<PathBuf>,
}
