//! # gaze-server
//!
//! REST + WebSocket API (compatible with the original FastAPI app's paths and per-frame JSON),
//! OpenAPI document at `/openapi.json`, Swagger UI at `/docs` (served offline), and a
//! dependency-free web UI at `/`. All vision runs in gaze-core; all persistence in gaze-store.
//!
//! Start it with [`run`] (the `gaze-server` binary) or, in tests, with [`Server::spawn`].

#![deny(missing_docs)]

pub mod accounting;
pub mod auth;
pub mod config;
pub mod error;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod redis_proc;
pub mod routes;
pub mod security;
pub mod state;
pub mod ui;
pub mod workers;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use gaze_store::{Store, StoreConfig, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::Config;
pub use error::{AppError, AppResult};
pub use state::{AppState, SharedState};

/// Store settings derived from the configuration.
pub fn store_config(config: &Config) -> StoreConfig {
    if config.insecure_fast_hash {
        StoreConfig::for_tests()
    } else {
        StoreConfig::default()
    }
}

/// How long [`Server::shutdown`] waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server (in-process).
#[derive(Debug)]
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state.
    pub state: SharedState,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `config.bind` (port 0 picks a free port) and serves in a background task.
    pub async fn spawn(config: Config, store: Arc<dyn Store>) -> AppResult<Server> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| AppError::Internal(format!("cannot bind {}: {e}", config.bind)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let state = AppState::new(config, store)?;
        if state.config.finalize_stale {
            finalize_stale(&state).await;
        }
        spawn_background(&state);
        let workers = state.config.worker_count();
        let ready = state.clone();
        tokio::task::spawn_blocking(move || {
            live::warm_up_networks(workers);
            ready
                .networks_ready
                .store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let app = routes::app(state.clone());
        let mut stop = state.shutdown_signal();
        let task = tokio::spawn(async move {
            // Peer addresses feed the per-IP login / registration limits.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server error");
            }
        });
        Ok(Server { addr, state, task })
    }

    /// Base URL, e.g. `http://127.0.0.1:8000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown: closes every socket, stops accepting requests, then finalises
    /// every live session (their reports are stored).
    ///
    /// Connections still busy after [`SHUTDOWN_GRACE`] are dropped, so a stuck client cannot
    /// hold the shutdown (and the sessions' final reports) forever.
    pub async fn shutdown(self) {
        self.state.begin_shutdown();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "connections still open after the shutdown grace: closing them"
            );
            task.abort();
            let _ = task.await;
        }
        finalize_all(&self.state).await;
    }
}

/// Finalises every live session of this instance (used at shutdown).
pub async fn finalize_all(st: &SharedState) {
    for l in st.live.all() {
        if let Err(e) = live::finalize(st, &l, "server shutdown").await {
            tracing::warn!(session = %l.id, error = %e, "cannot finalise at shutdown");
        }
    }
}

/// Sessions a previous run (or a dead instance) left live: those with a checkpoint are
/// resumed from it (and finalised after the reconnect grace unless their client
/// reconnects); the others are ended with their last stored report. Only sessions whose
/// lease expired are touched (see [`live::adopt_orphans`]).
pub async fn finalize_stale(st: &SharedState) {
    live::adopt_orphans(st).await;
}

/// Background work of an instance: lease renewal of its sessions, and (with
/// `--finalize-stale`) adoption of orphaned sessions every few seconds.
fn spawn_background(st: &SharedState) {
    tokio::spawn(live::keep_leases(st.clone()));
    if st.config.finalize_stale {
        let st = st.clone();
        tokio::spawn(async move {
            let every = (st.config.lease_ttl() * 2).max(std::time::Duration::from_secs(2));
            let mut shutdown = st.shutdown_signal();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => return,
                }
                live::adopt_orphans(&st).await;
            }
        });
    }
}

/// Connects the configured store; without a URL starts a local redis-server first.
pub async fn open_store(
    config: &Config,
) -> AppResult<(Arc<dyn Store>, Option<redis_proc::ManagedRedis>)> {
    let cfg = store_config(config);
    if let Some(url) = &config.store_url {
        let store = gaze_store::connect_with(url, cfg).await?;
        return Ok((store, None));
    }
    let mut redis =
        redis_proc::ManagedRedis::start(&config.redis_server, &config.data_dir, config.redis_port)
            .await?;
    match gaze_store::connect_with(&redis.url(), cfg.clone()).await {
        Ok(store) => Ok((store, Some(redis))),
        Err(StoreError::Unavailable(m)) if m.contains("not implemented") => {
            tracing::warn!(
                "gaze-store has no Redis backend yet ({m}); falling back to memory:// — data will NOT persist"
            );
            redis.stop().await;
            Ok((gaze_store::connect_with("memory://", cfg).await?, None))
        }
        Err(e) => {
            redis.stop().await;
            Err(e.into())
        }
    }
}

/// Runs the server until Ctrl-C / SIGTERM, then shuts down gracefully.
pub async fn run(config: Config) -> AppResult<()> {
    let (store, mut redis) = open_store(&config).await?;
    let open = config.open;
    let server = Server::spawn(config, store).await?;
    let url = server.url();
    tracing::info!(%url, docs = %format!("{url}/docs"), "gaze-server listening");
    println!("gaze-server: web UI at {url}  (API docs at {url}/docs)");
    if open {
        let _ = tokio::process::Command::new("xdg-open").arg(&url).spawn();
    }
    shutdown_signal().await;
    tracing::info!("shutting down: closing sockets and finalising live sessions");
    server.shutdown().await;
    if let Some(r) = redis.as_mut() {
        r.stop().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
