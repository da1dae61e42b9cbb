//! The OpenVINO engine: finds and loads `libopenvino_c` at run time, compiles a network per
//! batch size on the CPU with one inference thread (configurable), runs it synchronously.
//! Compiled networks are shared by every tracker of the process (see [`Pool`]).

use super::{OPENVINO_LIB_ENV, announce_openvino};
use crate::error::{GazeError, Result};
use openvino::{
    CompiledModel, Core, DeviceType, ElementType, InferRequest, Model, PartialShape, RwPropertyKey,
    Shape, Tensor,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// The file name the dynamic loader is asked for on the usual library path.
const LIB_NAME: &str = "libopenvino_c.so";

/// The library this process loaded (set once).
static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);

fn loaded_guard() -> MutexGuard<'static, Option<PathBuf>> {
    LOADED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The path of the loaded library, if any.
pub(super) fn loaded_path() -> Option<PathBuf> {
    loaded_guard().clone()
}

/// `libopenvino_c.so*` files at `p`: the file itself, or the matching files of a directory
/// (the unversioned name first, then versioned ones, newest name last-sorted first).
fn library_files(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let Ok(dir) = std::fs::read_dir(p) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == LIB_NAME || n.starts_with("libopenvino_c.so."))
        })
        .collect();
    // "libopenvino_c.so" sorts before "libopenvino_c.so.NNNN"; among versioned names prefer
    // the longest/highest.
    files.sort_by(|a, b| {
        let (a, b) = (a.as_os_str().len(), b.as_os_str().len());
        a.cmp(&b)
    });
    files
}

/// Candidates in lookup order, and where they came from (for messages). When the config or the
/// environment names a location, only that location is tried.
fn candidates(explicit: Option<&Path>) -> std::result::Result<(Vec<PathBuf>, String), String> {
    if let Some(p) = explicit {
        let files = library_files(p);
        if files.is_empty() {
            return Err(format!(
                "no libopenvino_c.so* at {} (configured openvino_library)",
                p.display()
            ));
        }
        return Ok((files, "configured openvino_library".into()));
    }
    if let Some(v) = std::env::var_os(OPENVINO_LIB_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        let files = library_files(&p);
        if files.is_empty() {
            return Err(format!(
                "no libopenvino_c.so* at {} ({OPENVINO_LIB_ENV})",
                p.display()
            ));
        }
        return Ok((files, OPENVINO_LIB_ENV.into()));
    }
    // The usual library path: the loader's own search (bare name), versioned files in the
    // LD_LIBRARY_PATH directories, then the places the openvino finder knows.
    let mut out = vec![PathBuf::from(LIB_NAME)];
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        for dir in std::env::split_paths(&paths).filter(|d| !d.as_os_str().is_empty()) {
            out.extend(library_files(&dir));
        }
    }
    if let Some(found) = openvino_sys::library::find() {
        out.push(found);
    }
    Ok((out, "library path".into()))
}

/// Makes sure the OpenVINO C library is loaded (see the lookup order in the module docs of
/// `inference`). Errors are plain messages; the caller decides between fallback and error.
pub(super) fn load(explicit: Option<&Path>) -> std::result::Result<(), String> {
    if explicit.is_none() && loaded_guard().is_some() {
        return Ok(());
    }
    let (files, source) = candidates(explicit)?;
    let mut loaded = loaded_guard();
    if let Some(have) = loaded.as_ref() {
        // One OpenVINO per process: a named location must be the loaded library.
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if explicit.is_none() || files.iter().any(|f| canon(f) == canon(have)) {
            return Ok(());
        }
        return Err(format!(
            "OpenVINO is already loaded from {} in this process, not from {} ({source})",
            have.display(),
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut errors = Vec::new();
    for f in &files {
        match openvino_sys::library::load_from(f.clone()) {
            Ok(()) => {
                // A library that loads but cannot make a Core (broken install) is no engine.
                if let Err(e) = Core::new() {
                    return Err(format!("{} loaded but OpenVINO failed: {e}", f.display()));
                }
                announce_openvino(f);
                *loaded = Some(f.clone());
                return Ok(());
            }
            Err(e) => errors.push(e),
        }
    }
    Err(format!(
        "cannot load libopenvino_c ({source}): {}",
        if errors.is_empty() {
            "not found".to_string()
        } else {
            errors.join("; ")
        }
    ))
}

/// One Core per process, used to read and compile (not to run) networks.
fn core() -> Result<&'static Mutex<Core>> {
    static CORE: OnceLock<std::result::Result<Mutex<Core>, String>> = OnceLock::new();
    CORE.get_or_init(|| Core::new().map(Mutex::new).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| GazeError::Model {
            name: "openvino",
            message: e.clone(),
        })
}

fn ov_err(name: &'static str, what: &str) -> impl Fn(openvino::InferenceError) -> GazeError {
    let what = what.to_string();
    move |e| GazeError::Model {
        name,
        message: format!("openvino {what}: {e}"),
    }
}

/// A network compiled for one batch size, with its request.
struct Compiled {
    batch: usize,
    request: InferRequest,
    /// Kept alive for the request.
    _model: CompiledModel,
}

/// One compiled copy of a network: its own model (reshaped per batch size) and one request
/// per batch size. Runs one inference at a time.
struct Instance {
    name: &'static str,
    model: Model,
    threads: u32,
    outputs: Vec<&'static str>,
    compiled: Vec<Compiled>,
    /// Input dims (C, H, W) of the model.
    input_hw: [usize; 3],
}

// SAFETY: `Model` and `CompiledModel`/`InferRequest` are used only through `&mut self` from one
// thread at a time (an instance is either idle in its pool, behind the pool's mutex, or checked
// out by exactly one caller); OpenVINO objects may move between threads (the crate marks them
// Send, `Model` also Sync).
unsafe impl Send for Instance {}

/// Every compiled copy of one network (same ONNX bytes, outputs and thread count) in this
/// process, shared by all trackers.
///
/// Compiling a network takes hundreds of milliseconds (seconds when several trackers start
/// at once), and a compiled copy can run one inference at a time. A tracker therefore does
/// not own a compiled copy: each inference takes an idle one from the pool and puts it back,
/// so a process holds as many copies as it ran inferences of this network at the same time
/// (a server: about one per worker thread), however many trackers it has, and a new tracker
/// compiles nothing once the first one did.
struct Pool {
    name: &'static str,
    onnx: Vec<u8>,
    outputs: Vec<&'static str>,
    threads: u32,
    /// Most copies: one per `threads` cores (more copies than that would only queue for the
    /// same cores). A caller finding every copy busy waits for one.
    cap: usize,
    state: Mutex<PoolState>,
    /// Signalled when a copy goes back idle (or a compilation failed).
    returned: Condvar,
    /// Batch sizes compiled so far: a new copy compiles (and runs once) all of them, so no
    /// frame pays for a compilation once a batch size was used.
    batches: Mutex<Vec<usize>>,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Instance>,
    /// Copies made (idle or checked out) or being compiled.
    made: usize,
    /// Input dims (C, H, W), known once a copy was read.
    input_hw: Option<[usize; 3]>,
}

/// Identity of a pool: network name, size and hash of the ONNX bytes, outputs, threads.
type PoolKey = (&'static str, usize, u64, Vec<&'static str>, u32);

fn pools() -> MutexGuard<'static, Vec<(PoolKey, Arc<Pool>)>> {
    static POOLS: Mutex<Vec<(PoolKey, Arc<Pool>)>> = Mutex::new(Vec::new());
    POOLS.lock().unwrap_or_else(|e| e.into_inner())
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// The pool of this network, made (empty) on first use.
    fn of(name: &'static str, onnx: &[u8], outputs: &[&'static str], threads: u32) -> Arc<Pool> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        onnx.hash(&mut h);
        let key: PoolKey = (name, onnx.len(), h.finish(), outputs.to_vec(), threads);
        let mut all = pools();
        if let Some((_, p)) = all.iter().find(|(k, _)| *k == key) {
            return p.clone();
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let p = Arc::new(Pool {
            name,
            onnx: onnx.to_vec(),
            outputs: outputs.to_vec(),
            threads,
            cap: (cores / threads.max(1) as usize).max(1),
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
            batches: Mutex::new(vec![1]),
        });
        all.push((key, p.clone()));
        p
    }

    /// An idle copy; a new one (compiled for every batch size used so far) while fewer than
    /// `cap` exist; otherwise waits until one is given back.
    fn take(&self) -> Result<Instance> {
        let mut st = relock(&self.state);
        loop {
            if let Some(i) = st.idle.pop() {
                return Ok(i);
            }
            if st.made < self.cap {
                st.made += 1;
                drop(st);
                return self.compile_reserved();
            }
            st = self.returned.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// [`Pool::compile`] for a copy already counted in `made`; on failure the count is given
    /// back and a waiter woken (it may compile instead).
    fn compile_reserved(&self) -> Result<Instance> {
        let made = self.compile();
        if made.is_err() {
            relock(&self.state).made -= 1;
            self.returned.notify_one();
        }
        made
    }

    /// A new copy, compiled and run once for every batch size used so far.
    fn compile(&self) -> Result<Instance> {
        let mut inst = Instance::read(self.name, &self.onnx, &self.outputs, self.threads)?;
        let batches = relock(&self.batches).clone();
        let mut scratch = vec![Vec::new(); self.outputs.len()];
        for b in batches {
            let [c, h, w] = inst.input_hw;
            inst.run_with([b, c, h, w], |buf| buf.fill(0.0), &mut scratch)?;
        }
        relock(&self.state).input_hw = Some(inst.input_hw);
        Ok(inst)
    }

    /// Puts a copy back for the next inference.
    fn give_back(&self, inst: Instance) {
        {
            let mut b = relock(&self.batches);
            for c in &inst.compiled {
                if !b.contains(&c.batch) {
                    b.push(c.batch);
                }
            }
        }
        relock(&self.state).idle.push(inst);
        self.returned.notify_one();
    }

    /// Input dims (C, H, W): from an existing copy, or by compiling (or waiting for) one.
    fn input_hw(&self) -> Result<[usize; 3]> {
        if let Some(hw) = relock(&self.state).input_hw {
            return Ok(hw);
        }
        let inst = self.take()?;
        let hw = inst.input_hw;
        self.give_back(inst);
        Ok(hw)
    }
}

/// Compiled copies (idle or running) of each network in this process, by network name.
pub(super) fn compiled_copies() -> Vec<(&'static str, usize)> {
    pools()
        .iter()
        .map(|(_, p)| (p.name, relock(&p.state).made))
        .collect()
}

/// Grows the pool of every network loaded so far to `copies` compiled copies (at most its
/// cap), each compiled and run once for every batch size used so far.
///
/// Never waits for a copy in use: it only compiles the missing ones, so callers in several
/// threads (e.g. several servers in one process) cannot block one another.
pub(super) fn prepare_copies(copies: usize) -> Result<()> {
    let all: Vec<Arc<Pool>> = pools().iter().map(|(_, p)| p.clone()).collect();
    for p in all {
        let want = copies.min(p.cap);
        loop {
            {
                let mut st = relock(&p.state);
                if st.made >= want {
                    break;
                }
                st.made += 1;
            }
            p.give_back(p.compile_reserved()?);
        }
    }
    Ok(())
}

/// A network on OpenVINO: a handle on the process-wide [`Pool`] of its compiled copies, with
/// the outputs of its last run.
pub(crate) struct OvNetwork {
    pub(super) name: &'static str,
    pool: Arc<Pool>,
    /// Input dims (C, H, W) of the model.
    input_hw: [usize; 3],
    /// Output buffers handed back by [`OvNetwork::run`].
    results: Vec<Vec<f32>>,
}

impl OvNetwork {
    /// The network of these ONNX bytes, compiled for batch 1 unless this process already has
    /// a compiled copy of it (then nothing is compiled).
    pub(super) fn load(
        name: &'static str,
        onnx: &[u8],
        outputs: &[&'static str],
        threads: u32,
    ) -> Result<Self> {
        let pool = Pool::of(name, onnx, outputs, threads);
        let input_hw = pool.input_hw()?;
        Ok(OvNetwork {
            name,
            pool,
            input_hw,
            results: vec![Vec::new(); outputs.len()],
        })
    }

    /// Runs the network on the input `fill` writes into the request's input tensor; see
    /// `Network::run_with`.
    pub(super) fn run_with(
        &mut self,
        shape: [usize; 4],
        fill: impl FnOnce(&mut [f32]),
    ) -> Result<&[Vec<f32>]> {
        let hw = self.input_hw;
        if hw != [shape[1], shape[2], shape[3]] {
            return Err(GazeError::Model {
                name: self.name,
                message: format!("input shape {shape:?} does not fit the network ({hw:?})"),
            });
        }
        let mut inst = self.pool.take()?;
        let out = inst.run_with(shape, fill, &mut self.results);
        // A failed run leaves the copy usable (the next run writes a whole new input).
        self.pool.give_back(inst);
        out?;
        Ok(&self.results)
    }
}

impl Instance {
    /// Reads the ONNX bytes and compiles the network for batch 1.
    fn read(
        name: &'static str,
        onnx: &[u8],
        outputs: &[&'static str],
        threads: u32,
    ) -> Result<Self> {
        let core = core()?;
        let model = {
            let mut core = core.lock().unwrap_or_else(|e| e.into_inner());
            let empty = Tensor::new(
                ElementType::U8,
                &Shape::new(&[0]).map_err(ov_err(name, "shape"))?,
            )
            .map_err(ov_err(name, "tensor"))?;
            core.read_model_from_buffer(onnx, Some(&empty))
                .map_err(ov_err(name, "cannot parse ONNX"))?
        };
        let input = model.get_input_by_index(0).map_err(ov_err(name, "input"))?;
        let shape = input
            .get_partial_shape()
            .map_err(ov_err(name, "input shape"))?;
        let dims: Vec<i64> = shape.get_dimensions().iter().map(|d| d.get_min()).collect();
        if dims.len() != 4 || dims[1..].iter().any(|&d| d <= 0) {
            return Err(GazeError::Model {
                name,
                message: format!("expected a 4-d input with fixed C, H, W; the model has {dims:?}"),
            });
        }
        let mut inst = Instance {
            name,
            model,
            threads,
            outputs: outputs.to_vec(),
            compiled: Vec::new(),
            input_hw: [dims[1] as usize, dims[2] as usize, dims[3] as usize],
        };
        inst.compiled_for(1)?;
        Ok(inst)
    }

    /// The request compiled for `batch` (compiled on first use).
    fn compiled_for(&mut self, batch: usize) -> Result<usize> {
        if let Some(i) = self.compiled.iter().position(|c| c.batch == batch) {
            return Ok(i);
        }
        let name = self.name;
        let input = self
            .model
            .get_input_by_index(0)
            .map_err(ov_err(name, "input"))?;
        let shape = input
            .get_partial_shape()
            .map_err(ov_err(name, "input shape"))?;
        let first = shape.get_dimensions().first().map(|d| d.get_min());
        if first != Some(batch as i64) {
            let [c, h, w] = self.input_hw;
            let want = [batch as i64, c as i64, h as i64, w as i64];
            let ps = PartialShape::new_static(4, &want).map_err(ov_err(name, "shape"))?;
            self.model
                .reshape_single_input(&ps)
                .map_err(ov_err(name, "reshape"))?;
        }
        let threads = self.threads.to_string();
        let mut compiled = {
            let mut core = core()?.lock().unwrap_or_else(|e| e.into_inner());
            let cpu = DeviceType::CPU;
            core.set_properties(
                &cpu,
                [
                    (RwPropertyKey::InferenceNumThreads, threads.as_str()),
                    (RwPropertyKey::NumStreams, "1"),
                    (RwPropertyKey::HintPerformanceMode, "LATENCY"),
                    (RwPropertyKey::HintInferencePrecision, "f32"),
                    (RwPropertyKey::HintEnableCpuPinning, "NO"),
                ],
            )
            .map_err(ov_err(name, "properties"))?;
            core.compile_model(&self.model, DeviceType::CPU)
                .map_err(ov_err(name, "compile"))?
        };
        let request = compiled
            .create_infer_request()
            .map_err(ov_err(name, "request"))?;
        self.compiled.push(Compiled {
            batch,
            request,
            _model: compiled,
        });
        Ok(self.compiled.len() - 1)
    }

    /// Runs the copy on the input `fill` writes into the request's input tensor and copies
    /// its outputs into `results` (one buffer per output name, in order).
    fn run_with(
        &mut self,
        shape: [usize; 4],
        fill: impl FnOnce(&mut [f32]),
        results: &mut [Vec<f32>],
    ) -> Result<()> {
        let name = self.name;
        let i = self.compiled_for(shape[0])?;
        let c = &mut self.compiled[i];
        {
            let mut t = c
                .request
                .get_input_tensor()
                .map_err(ov_err(name, "input tensor"))?;
            let data = t
                .get_data_mut::<f32>()
                .map_err(ov_err(name, "input data"))?;
            let want: usize = shape.iter().product();
            if data.len() != want {
                return Err(GazeError::Model {
                    name,
                    message: format!(
                        "input tensor holds {} values, shape {shape:?} needs {want}",
                        data.len()
                    ),
                });
            }
            fill(data);
        }
        c.request.infer().map_err(ov_err(name, "infer"))?;
        for (out_name, buf) in self.outputs.iter().zip(results.iter_mut()) {
            let t = c
                .request
                .get_tensor(out_name)
                .map_err(ov_err(name, "output"))?;
            let typ = t.get_element_type().map_err(ov_err(name, "output type"))?;
            if typ != ElementType::F32 {
                return Err(GazeError::Model {
                    name,
                    message: format!("output {out_name} is {typ}, expected f32"),
                });
            }
            let data = t.get_data::<f32>().map_err(ov_err(name, "output data"))?;
            buf.clear();
            buf.extend_from_slice(data);
        }
        Ok(())
    }
}
