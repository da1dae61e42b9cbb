//! The inference seam: "run this embedded network on this input", on one of two engines.
//!
//! - **OpenVINO** (the fast one) through the `openvino` crate, with its C library
//!   (`libopenvino_c`) loaded at run time — nothing is linked at build time and nothing is
//!   downloaded. The PyPI `openvino` wheel carries the library (`openvino/libs/`).
//! - **OpenCV DNN**, always available (gaze-core links OpenCV anyway): the fallback.
//!
//! [`InferenceConfig`] chooses `auto` (OpenVINO when its library loads, else OpenCV DNN),
//! `openvino` (an error when it cannot be loaded) or `opencv`.
//!
//! Where the OpenVINO library comes from, in this order:
//! 1. [`InferenceConfig::openvino_library`] (a file, or a directory holding
//!    `libopenvino_c.so*`);
//! 2. the environment variable `GAZE_OPENVINO_LIB` (file or directory, same rules);
//! 3. the usual library path: `libopenvino_c.so` through the dynamic loader (`LD_LIBRARY_PATH`,
//!    the loader cache), then versioned `libopenvino_c.so.*` files in the `LD_LIBRARY_PATH`
//!    directories, then the places the `openvino-finder` crate knows (`INTEL_OPENVINO_DIR`,
//!    `/opt/intel/openvino`, …);
//! 4. none found: `auto` runs OpenCV DNN, `openvino` is an error.
//!
//! When steps 1 or 2 name a location, that location is the only one tried. The library is
//! loaded once per process; later trackers reuse it.
//!
//! Both engines get the same input (NCHW f32, prepared by the caller) and return the named
//! outputs as f32, so face.rs and iris.rs do not know which engine runs.

mod opencv_dnn;
mod openvino;

use crate::error::{GazeError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// The environment variable naming the OpenVINO C library (a file or a directory).
pub const OPENVINO_LIB_ENV: &str = "GAZE_OPENVINO_LIB";

/// Which inference engine to use (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// OpenVINO when its library can be loaded, otherwise OpenCV DNN.
    #[default]
    Auto,
    /// OpenVINO; an error when its library cannot be loaded.
    #[serde(rename = "openvino")]
    OpenVino,
    /// OpenCV DNN.
    #[serde(rename = "opencv")]
    OpenCv,
}

impl EngineChoice {
    /// Parses `auto`, `openvino` or `opencv` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EngineChoice::Auto),
            "openvino" => Ok(EngineChoice::OpenVino),
            "opencv" => Ok(EngineChoice::OpenCv),
            other => Err(GazeError::Config(format!(
                "unknown inference engine {other:?} (expected auto, openvino or opencv)"
            ))),
        }
    }
}

/// The engine that runs the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Engine {
    /// OpenVINO (runtime-loaded `libopenvino_c`).
    #[serde(rename = "openvino")]
    OpenVino,
    /// OpenCV DNN.
    #[serde(rename = "opencv")]
    OpenCv,
}

impl Engine {
    /// `"openvino"` or `"opencv"`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::OpenVino => "openvino",
            Engine::OpenCv => "opencv",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the networks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InferenceConfig {
    /// `auto`, `openvino` or `opencv`.
    pub engine: EngineChoice,
    /// The OpenVINO C library (`libopenvino_c.so*`) or a directory holding it; `None` follows
    /// the lookup order in the [module docs](self).
    pub openvino_library: Option<PathBuf>,
    /// Threads per network run on OpenVINO (≥ 1; default 1: one per tracker, which suits
    /// servers with one tracker per worker). OpenCV DNN's thread count is process-wide: see
    /// [`crate::set_num_threads`].
    pub threads: u32,
    /// On OpenVINO, run the int8 post-training-quantised copy of the embedded iris network
    /// (default true: about 1.5× faster on CPUs with int8 dot products; its iris centres stay
    /// within 0.3 px of the float network's on the committed webcam clip). OpenCV DNN always
    /// runs the float network, and so does a replacement file from
    /// [`crate::models::ModelPaths`].
    pub iris_int8: bool,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            engine: EngineChoice::Auto,
            openvino_library: None,
            threads: 1,
            iris_int8: true,
        }
    }
}

impl InferenceConfig {
    /// A config that runs `engine` (already resolved) with `threads` (other fields default).
    pub fn fixed(engine: Engine, threads: u32) -> Self {
        InferenceConfig {
            engine: match engine {
                Engine::OpenVino => EngineChoice::OpenVino,
                Engine::OpenCv => EngineChoice::OpenCv,
            },
            threads,
            ..InferenceConfig::default()
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if !(1..=256).contains(&self.threads) {
            return Err(GazeError::Config(format!(
                "inference threads must be in 1..=256, got {}",
                self.threads
            )));
        }
        Ok(())
    }

    /// Decides which engine runs: loads the OpenVINO library when the choice allows it.
    /// `auto` falls back to OpenCV DNN (and says why once through the `log` crate, info level); `openvino` returns a
    /// [`GazeError::Model`] naming the lookup that failed.
    pub fn resolve(&self) -> Result<Engine> {
        self.validate()?;
        match self.engine {
            EngineChoice::OpenCv => Ok(Engine::OpenCv),
            EngineChoice::OpenVino => {
                openvino::load(self.openvino_library.as_deref()).map_err(|message| {
                    GazeError::Model {
                        name: "openvino",
                        message,
                    }
                })?;
                Ok(Engine::OpenVino)
            }
            EngineChoice::Auto => match openvino::load(self.openvino_library.as_deref()) {
                Ok(()) => Ok(Engine::OpenVino),
                Err(message) => {
                    announce_fallback(&message);
                    Ok(Engine::OpenCv)
                }
            },
        }
    }
}

/// Says once per process (a `log` record, info level) which engine `auto` picked and why.
fn announce_fallback(reason: &str) {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::info!("gaze: inference engine opencv (OpenVINO not used: {reason})");
    });
}

/// Says once per process (a `log` record, info level) that OpenVINO runs, and from where.
fn announce_openvino(path: &std::path::Path) {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::info!("gaze: inference engine openvino ({})", path.display());
    });
}

/// The path of the OpenVINO library this process loaded, if it loaded one.
pub fn openvino_library() -> Option<PathBuf> {
    openvino::loaded_path()
}

/// OpenVINO networks compiled in this process: (network name, compiled copies), one entry per
/// network and configuration (float or int8 iris, thread count).
///
/// Trackers do not compile networks of their own: every inference takes an idle compiled
/// copy of its network from a process-wide pool and gives it back, so a process holds at
/// most one copy per `threads` cores of each network however many trackers it runs (a
/// server with 50 live sessions on 2 cores: 2), and a tracker created after the first
/// compiles nothing. Empty when OpenVINO is not in use.
pub fn openvino_compiled_copies() -> Vec<(&'static str, usize)> {
    if openvino::loaded_path().is_none() {
        return Vec::new();
    }
    openvino::compiled_copies()
}

/// Compiles `copies` copies of every OpenVINO network loaded so far (at most one per
/// `threads` cores; see [`openvino_compiled_copies`]), so that the first frames of
/// concurrent trackers do not wait for compilations: a server calls it at start-up with its
/// worker count, after creating one tracker. Does nothing when OpenVINO is not in use.
pub fn openvino_prepare_copies(copies: usize) -> Result<()> {
    if openvino::loaded_path().is_none() {
        return Ok(());
    }
    openvino::prepare_copies(copies)
}

/// One network on one engine. Inputs are NCHW f32 (`[n, 3, h, w]`); outputs come back in the
/// order of the names given at load time, as f32.
pub(crate) struct Network {
    backend: Backend,
}

enum Backend {
    OpenCv(opencv_dnn::CvNetwork),
    OpenVino(Box<openvino::OvNetwork>),
}

impl Network {
    /// Loads an ONNX network (`embedded`, or the file `path`) onto `engine`.
    pub fn load(
        name: &'static str,
        embedded: &'static [u8],
        path: Option<&PathBuf>,
        outputs: &[&'static str],
        engine: Engine,
        threads: u32,
    ) -> Result<Self> {
        let owned;
        let bytes: &[u8] = match path {
            Some(p) => {
                owned = std::fs::read(p).map_err(|e| GazeError::Model {
                    name,
                    message: format!("cannot read {}: {e}", p.display()),
                })?;
                &owned
            }
            None => embedded,
        };
        let backend = match engine {
            Engine::OpenCv => Backend::OpenCv(opencv_dnn::CvNetwork::load(name, bytes, outputs)?),
            Engine::OpenVino => Backend::OpenVino(Box::new(openvino::OvNetwork::load(
                name, bytes, outputs, threads,
            )?)),
        };
        Ok(Network { backend })
    }

    /// The engine this network runs on.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::OpenCv(_) => Engine::OpenCv,
            Backend::OpenVino(_) => Engine::OpenVino,
        }
    }

    /// Prepares the network for inputs of `shape` — OpenVINO compiles per batch size — and
    /// runs it once on zeros, so that the first real frame pays for neither the compilation
    /// nor the engine's first-run allocations.
    pub fn warm_up(&mut self, shape: [usize; 4]) -> Result<()> {
        self.run_with(shape, |buf| buf.fill(0.0)).map(|_| ())
    }

    /// Runs the network on an NCHW f32 input of `shape` that `fill` writes (all of its values)
    /// straight into the engine's input buffer — OpenVINO's input tensor, or a buffer kept for
    /// OpenCV DNN — and returns the outputs (f32, in the order given to [`Network::load`]).
    pub fn run_with(
        &mut self,
        shape: [usize; 4],
        fill: impl FnOnce(&mut [f32]),
    ) -> Result<&[Vec<f32>]> {
        match &mut self.backend {
            Backend::OpenCv(n) => n.run_with(shape, fill),
            Backend::OpenVino(n) => n.run_with(shape, fill),
        }
    }
}

/// Writes an interleaved 8-bit RGB image (`rows` × `cols`, rows `step` bytes apart) into `out`
/// (`3 * rows * cols` values) as planar f32 `(v - mean) * scale` — one NCHW item.
pub(crate) fn write_planar(
    out: &mut [f32],
    rgb: &[u8],
    rows: usize,
    cols: usize,
    step: usize,
    mean: f32,
    scale: f32,
) {
    let plane = rows * cols;
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for y in 0..rows {
        let row = &rgb[y * step..y * step + cols * 3];
        let o = y * cols;
        let (r, g, b) = (
            &mut r[o..o + cols],
            &mut g[o..o + cols],
            &mut b[o..o + cols],
        );
        for (x, px) in row.chunks_exact(3).enumerate() {
            r[x] = (px[0] as f32 - mean) * scale;
            g[x] = (px[1] as f32 - mean) * scale;
            b[x] = (px[2] as f32 - mean) * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_choice_parses_and_serialises() {
        assert_eq!(
            EngineChoice::parse("OpenVINO").ok(),
            Some(EngineChoice::OpenVino)
        );
        assert_eq!(
            EngineChoice::parse("opencv").ok(),
            Some(EngineChoice::OpenCv)
        );
        assert!(matches!(
            EngineChoice::parse("tract"),
            Err(GazeError::Config(_))
        ));
        let c: InferenceConfig =
            serde_json::from_str(r#"{"engine":"openvino"}"#).expect("partial json");
        assert_eq!(c.engine, EngineChoice::OpenVino);
        assert_eq!(c.threads, 1);
    }

    #[test]
    fn planar_conversion_splits_channels() {
        let px = [0u8, 127, 255, 10, 20, 30];
        let mut out = vec![0.0; 6];
        write_planar(&mut out, &px, 1, 2, 6, 0.0, 1.0);
        assert_eq!(out, vec![0.0, 10.0, 127.0, 20.0, 255.0, 30.0]);
    }

    #[test]
    fn zero_threads_is_a_config_error() {
        let c = InferenceConfig {
            threads: 0,
            ..InferenceConfig::default()
        };
        assert!(matches!(c.resolve(), Err(GazeError::Config(_))));
    }
}
