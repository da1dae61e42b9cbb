//! The two embedded networks and how to load them (or replacements from disk).
//!
//! Both are MediaPipe models (Apache-2.0) converted from TFLite to ONNX; see
//! `gaze-core/models/README.md` for provenance and `gaze-core/models/convert.sh` to reproduce.

use crate::error::{GazeError, Result};
use opencv::core::Vector;
use opencv::dnn::{self, Net};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// MediaPipe BlazeFace short-range face detector, ONNX (input 1×3×128×128).
pub static FACE_DETECTOR_ONNX: &[u8] = include_bytes!("../models/face_detection_short_range.onnx");
/// MediaPipe Iris landmark model, ONNX (input N×3×64×64).
pub static IRIS_LANDMARK_ONNX: &[u8] = include_bytes!("../models/iris_landmark.onnx");

/// Where the tracker's networks come from: `None` means the embedded copy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelPaths {
    /// Path of a replacement face detector ONNX file.
    pub face_detector: Option<PathBuf>,
    /// Path of a replacement iris landmark ONNX file.
    pub iris_landmark: Option<PathBuf>,
}

/// Loads an ONNX network from `path`, or from `embedded` when `path` is `None`.
pub(crate) fn load_net(
    name: &'static str,
    embedded: &'static [u8],
    path: Option<&PathBuf>,
) -> Result<Net> {
    let bytes: Vec<u8> = match path {
        Some(p) => std::fs::read(p).map_err(|e| GazeError::Model {
            name,
            message: format!("cannot read {}: {e}", p.display()),
        })?,
        None => embedded.to_vec(),
    };
    let buf = Vector::<u8>::from_iter(bytes);
    let mut net = dnn::read_net_from_onnx_buffer(&buf).map_err(|e| GazeError::Model {
        name,
        message: format!("cannot parse ONNX: {e}"),
    })?;
    net.set_preferable_backend(dnn::DNN_BACKEND_OPENCV)?;
    net.set_preferable_target(dnn::DNN_TARGET_CPU)?;
    Ok(net)
}
