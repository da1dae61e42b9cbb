//! `GET /session/{id}/report.{json,csv,svg,pdf}`: a session's report rendered by
//! gaze-report (owner or admin; anyone else gets 404 like `GET /session/{id}`).
//!
//! Rendering is CPU work: it runs on the blocking pool, at most one render per core at a
//! time (further requests wait their turn).

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gaze_report::{Format, RenderOptions};
use tokio::sync::Semaphore;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::routes::sessions;
use crate::state::SharedState;

fn render_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Loads the report (authorised like `GET /session/{id}`), renders it off the async
/// threads, and wraps it as a download.
async fn export(
    st: SharedState,
    auth: AuthUser,
    id: String,
    format: Format,
) -> AppResult<Response> {
    let report = sessions::details(&st, &auth, &id)
        .await?
        .report
        .unwrap_or_default();
    let _slot = render_slots()
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let bytes = tokio::task::spawn_blocking(move || {
        gaze_report::render(&report, format, &RenderOptions::default())
    })
    .await
    .map_err(|e| AppError::Internal(format!("render task: {e}")))?
    .map_err(|e| AppError::Internal(format!("render: {e}")))?;
    // Session ids are server-made, but keep the header value plain whatever they hold.
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let name = format!("gaze-report-{safe}.{}", format.extension());
    // SVG opens in the browser (and shows in an <img>); the others download.
    let disposition = if format == Format::Svg {
        format!("inline; filename=\"{name}\"")
    } else {
        format!("attachment; filename=\"{name}\"")
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, format.mime_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response();
    if format == Format::Svg {
        // The chart has no scripts; an SVG opened on its own must not run any either.
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    Ok(resp)
}

/// The session's report as JSON (the `SessionReport` object: totals, timeline,
/// `gaze_heatmap`, `blink_onsets_ms`).
#[utoipa::path(get, path = "/session/{id}/report.json", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "SessionReport JSON (attachment)", content_type = "application/json", body = Object),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session (or not the caller's)", body = ErrorBody)
    ))]
pub async fn report_json(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    export(st, auth, id, Format::Json).await
}

/// The session's timeline and totals as CSV: header
/// `kind,name,start_s,end_s,value,unit,activity,attention`, a `segment` row per timeline
/// segment (seconds since the start), a `total` row per report total (`name` = JSON field).
#[utoipa::path(get, path = "/session/{id}/report.csv", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "CSV (attachment)", content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session (or not the caller's)", body = ErrorBody)
    ))]
pub async fn report_csv(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    export(st, auth, id, Format::Csv).await
}

/// The session's charts as one SVG (1600×1200): timeline of activity and attention, time
/// per activity, gaze heatmap, blink rate over time.
#[utoipa::path(get, path = "/session/{id}/report.svg", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "SVG (inline)", content_type = "image/svg+xml", body = String),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session (or not the caller's)", body = ErrorBody)
    ))]
pub async fn report_svg(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    export(st, auth, id, Format::Svg).await
}

/// The session's report as a two-page A4 PDF: totals as text with the timeline and totals
/// charts, then the heatmap and blink-rate charts.
#[utoipa::path(get, path = "/session/{id}/report.pdf", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "PDF (attachment)", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session (or not the caller's)", body = ErrorBody)
    ))]
pub async fn report_pdf(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    export(st, auth, id, Format::Pdf).await
}
