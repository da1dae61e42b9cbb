//! `/health`, `/metrics`, request counting and the JSON 404.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gaze_store::Backend;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::state::SharedState;

/// `/health` reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok`, or the store error.
    pub store: String,
    /// `memory`, `redis` or `redis-cluster`.
    pub backend: String,
    /// Live sessions on this instance.
    pub live_sessions: usize,
    /// Checkpoints waiting for the store to come back (live results keep flowing meanwhile).
    pub pending_checkpoints: u64,
    /// Ended sessions whose final report waits for the store to come back.
    pub pending_reports: u64,
    /// Server version.
    pub version: String,
    /// This instance's name (as in session leases).
    pub instance: String,
    /// The tracking networks are loaded and compiled (the start-up warm-up is over); until
    /// then the first frames of new sessions wait for them.
    pub networks_ready: bool,
}

/// Liveness and store reachability (no authentication). `degraded` when the store does not
/// answer (503) or writes wait for it to come back (200: it answers again, retries pending).
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, body = Health), (status = 503, description = "Store unreachable", body = Health)))]
pub async fn health(State(st): State<SharedState>) -> (StatusCode, Json<Health>) {
    let store = st.store.ping().await;
    let backend = match st.store.backend() {
        Backend::Memory => "memory",
        Backend::Redis => "redis",
        Backend::RedisCluster => "redis-cluster",
    };
    let ok = store.is_ok();
    let pending_checkpoints = st.metrics.checkpoints_pending.load(Ordering::Relaxed);
    let pending_reports = st.metrics.ends_pending.load(Ordering::Relaxed);
    let degraded = !ok || pending_checkpoints > 0 || pending_reports > 0;
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Health {
            status: if degraded { "degraded" } else { "ok" }.into(),
            store: store
                .map(|_| "ok".to_string())
                .unwrap_or_else(|e| e.to_string()),
            backend: backend.into(),
            live_sessions: st.live.len(),
            pending_checkpoints,
            pending_reports,
            version: env!("CARGO_PKG_VERSION").into(),
            instance: st.instance_id.clone(),
            networks_ready: st.networks_ready.load(Ordering::Relaxed),
        }),
    )
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<SharedState>, _auth: crate::auth::AuthUser) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], {
        st.metrics
            .limit_fallbacks
            .store(st.limits.fallbacks(), Ordering::Relaxed);
        st.metrics.render(st.live.len())
    })
        .into_response()
}

/// JSON 404 for unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

/// Counts and logs HTTP requests (method, path without the query — it may hold a token —,
/// status, latency).
pub async fn count_requests(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    st.metrics.http_requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, ms, "request");
    } else if path.starts_with("/static") || path.starts_with("/docs") || path == "/health" {
        tracing::debug!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, ms, "request");
    }
    resp
}
