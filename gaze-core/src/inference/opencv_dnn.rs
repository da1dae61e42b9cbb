//! The OpenCV DNN engine (always available): the network parsed by `cv::dnn` from the ONNX
//! bytes, run on the CPU with OpenCV's own backend.

use crate::error::{GazeError, Result};
use opencv::core::{self, Mat, Scalar, Vector};
use opencv::dnn::{self, Net};
use opencv::prelude::*;

/// A network on OpenCV DNN.
pub(crate) struct CvNetwork {
    pub(super) name: &'static str,
    net: Net,
    out_names: Vector<String>,
    outputs: Vector<Mat>,
    results: Vec<Vec<f32>>,
    /// Input buffer filled by `run_with`.
    input: Vec<f32>,
}

impl CvNetwork {
    /// Parses the ONNX bytes.
    pub(super) fn load(name: &'static str, onnx: &[u8], outputs: &[&'static str]) -> Result<Self> {
        let buf = Vector::<u8>::from_slice(onnx);
        let mut net = dnn::read_net_from_onnx_buffer(&buf).map_err(|e| GazeError::Model {
            name,
            message: format!("cannot parse ONNX: {e}"),
        })?;
        net.set_preferable_backend(dnn::DNN_BACKEND_OPENCV)?;
        net.set_preferable_target(dnn::DNN_TARGET_CPU)?;
        let mut out_names = Vector::<String>::new();
        for o in outputs {
            out_names.push(o);
        }
        Ok(CvNetwork {
            name,
            net,
            out_names,
            outputs: Vector::new(),
            results: vec![Vec::new(); outputs.len()],
            input: Vec::new(),
        })
    }

    /// Runs the network on the input `fill` writes; see `Network::run_with`.
    pub(super) fn run_with(
        &mut self,
        shape: [usize; 4],
        fill: impl FnOnce(&mut [f32]),
    ) -> Result<&[Vec<f32>]> {
        let mut input = std::mem::take(&mut self.input);
        input.clear();
        input.resize(shape.iter().product(), 0.0);
        fill(&mut input);
        let done = self.forward(&input, shape);
        self.input = input;
        done?;
        Ok(&self.results)
    }

    /// Runs the network on `input` (the product of `shape` values) into `self.results`.
    fn forward(&mut self, input: &[f32], shape: [usize; 4]) -> Result<()> {
        let dims: Vec<i32> = shape
            .iter()
            .map(|&d| i32::try_from(d))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| GazeError::Model {
                name: self.name,
                message: format!("input shape {shape:?} too large"),
            })?;
        // SAFETY: `input` holds exactly the product of `dims` f32 values (`run_with` sized
        // it) and outlives `blob`, which OpenCV only reads (set_input copies it).
        let blob = unsafe {
            Mat::new_nd_with_data_unsafe_def(
                &dims,
                core::CV_32F,
                input.as_ptr() as *mut std::ffi::c_void,
            )?
        };
        self.net.set_input(&blob, "", 1.0, Scalar::default())?;
        self.net.forward(&mut self.outputs, &self.out_names)?;
        for i in 0..self.results.len() {
            let values = self.output_f32(i)?;
            self.results[i] = values;
        }
        Ok(())
    }

    /// Output `i` as f32, dequantising int8 outputs of a quantised network.
    fn output_f32(&self, i: usize) -> Result<Vec<f32>> {
        let m = self.outputs.get(i)?;
        if m.typ() == core::CV_32F {
            return Ok(m.data_typed::<f32>()?.to_vec());
        }
        let mut scales = Vector::<f32>::new();
        let mut zeros = Vector::<i32>::new();
        self.net.get_output_details(&mut scales, &mut zeros)?;
        let (s, z) = (scales.get(i).unwrap_or(1.0), zeros.get(i).unwrap_or(0));
        Ok(m.data_typed::<i8>()?
            .iter()
            .map(|&q| s * (q as i32 - z) as f32)
            .collect())
    }
}
