//! Shared application state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gaze_store::Store;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::live::{FrameLimits, LiveRegistry};
use crate::metrics::Metrics;
use crate::routes::calibration::CalibrationRun;
use crate::workers::FrameWorkers;

/// Everything handlers share.
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// The store (Redis or memory).
    pub store: Arc<dyn Store>,
    /// Live sessions of this instance.
    pub live: LiveRegistry,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// The threads that decode and track frames (`config.worker_count()` of them).
    pub workers: FrameWorkers,
    /// Calibration runs in progress, by user id.
    pub calibrations: Mutex<HashMap<String, Arc<Mutex<CalibrationRun>>>>,
    /// Login / registration rate limits.
    pub limits: crate::limits::AuthLimits,
    /// This instance's name in session leases.
    pub instance_id: String,
    /// Takeovers of sessions in progress on this instance.
    pub takeovers: crate::live::Takeovers,
    /// Set once the tracking networks are loaded (and, on OpenVINO, compiled once per
    /// worker) at start-up; sessions before that wait for them.
    pub networks_ready: std::sync::atomic::AtomicBool,
    shutdown_tx: watch::Sender<bool>,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("bind", &self.config.bind)
            .field("live", &self.live.len())
            .finish()
    }
}

impl AppState {
    /// Builds the state around a connected store and starts the frame workers (an error only
    /// when the OS refuses to start a thread).
    pub fn new(config: Config, store: Arc<dyn Store>) -> AppResult<SharedState> {
        let workers = FrameWorkers::new(config.worker_count())
            .map_err(|e| AppError::Internal(format!("cannot start the frame workers: {e}")))?;
        // Each worker runs one frame at a time; OpenCV threads inside a frame would only
        // oversubscribe the cores the worker pool already uses.
        if let Err(e) = gaze_core::set_num_threads(1) {
            tracing::warn!("cannot set OpenCV threads: {e}");
        }
        let (shutdown_tx, _) = watch::channel(false);
        let limits = if config.local_limits {
            crate::limits::AuthLimits::from_config(&config)
        } else {
            crate::limits::AuthLimits::shared(&config, store.clone())
        };
        let instance_id = config
            .instance_id
            .clone()
            .unwrap_or_else(random_instance_id);
        Ok(Arc::new(AppState {
            config,
            store,
            live: LiveRegistry::default(),
            metrics: Metrics::default(),
            workers,
            calibrations: Mutex::new(HashMap::new()),
            limits,
            instance_id,
            takeovers: Default::default(),
            networks_ready: Default::default(),
            shutdown_tx,
        }))
    }

    /// Frame size limits from the configuration.
    pub fn frame_limits(&self) -> FrameLimits {
        FrameLimits {
            max_bytes: self.config.max_frame_bytes,
            max_side: self.config.max_frame_side,
        }
    }

    /// A receiver that changes to `true` when the server starts shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Tells every socket to close (graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown_tx.borrow()
    }
}

/// `<pid>-<8 hex>`: unique per process (a restarted instance is a new holder).
fn random_instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}-{:08x}", std::process::id(), h.finish() as u32)
}
