//! `/session/*` and `/sessions*`: start, end, details, lists (exports: [`super::reports`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gaze_core::SessionReport;
use gaze_store::{NewSession, Page, PageRequest, SessionRecord, SessionStatus, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::live::{self, LiveSession, now_ms};
use crate::routes::{ApiQuery, optional_json};
use crate::state::SharedState;

/// `POST /session/start` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StartRequest {
    /// Where frames come from (free text up to 128 bytes, default `webcam`).
    #[serde(default)]
    #[schema(max_length = 128)]
    pub source: Option<String>,
    /// Screen width in pixels (for uncalibrated gaze → screen mapping; a stored
    /// calibration's screen size takes precedence).
    #[serde(default)]
    pub screen_width: Option<f64>,
    /// Screen height in pixels.
    #[serde(default)]
    pub screen_height: Option<f64>,
}

/// `POST /session/start` reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    /// New session id.
    pub session_id: String,
    /// Start time (epoch ms).
    pub started_at_ms: i64,
    /// Whether the user's stored calibration is applied.
    pub calibrated: bool,
    /// Whether the activity model is adapted to the user's labels (`/labels`).
    pub adapted: bool,
    /// WebSocket path to stream frames to.
    pub track_url: String,
    /// WebSocket path for viewers.
    pub watch_url: String,
}

/// `POST /session/end` body (optional: without an id, the caller's newest live session ends).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EndRequest {
    /// Session to end.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// A session as the API shows it (resume state omitted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Owner's user id.
    pub owner: String,
    /// Source given at start.
    pub source: String,
    /// Start (epoch ms).
    pub started_at_ms: i64,
    /// `live` or `ended`.
    #[schema(value_type = String, example = "ended")]
    pub status: SessionStatus,
    /// End (epoch ms, server clock).
    pub ended_at_ms: Option<i64>,
    /// Last checkpoint (epoch ms).
    pub last_checkpoint_ms: Option<i64>,
    /// Final report when ended, running report while live. Lists omit the timeline.
    #[schema(value_type = Object)]
    pub report: Option<SessionReport>,
}

impl SessionView {
    fn of(r: SessionRecord, with_timeline: bool) -> Self {
        let mut report = r.report;
        if !with_timeline {
            if let Some(rep) = report.as_mut() {
                rep.timeline = Vec::new();
                rep.gaze_heatmap = None;
                rep.blink_onsets_ms = Vec::new();
            }
        }
        SessionView {
            id: r.id,
            owner: r.owner,
            source: r.source,
            started_at_ms: r.started_at_ms,
            status: r.status,
            ended_at_ms: r.ended_at_ms,
            last_checkpoint_ms: r.last_checkpoint_ms,
            report,
        }
    }
}

/// Pagination query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// Items per page (1–100, default 20).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    fn request(&self) -> PageRequest {
        PageRequest {
            limit: self.limit.unwrap_or(0),
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
        }
    }
}

/// One page of sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    /// Sessions.
    pub items: Vec<SessionView>,
    /// Cursor for the next page, null on the last page.
    pub next_cursor: Option<String>,
}

impl SessionPage {
    fn of(p: Page<SessionRecord>, st: &SharedState) -> Self {
        SessionPage {
            items: p
                .items
                .into_iter()
                .map(|r| with_live_report(st, SessionView::of(r, false), false))
                .collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// Replaces a live session's stored (checkpointed) report with the up-to-date one.
fn with_live_report(st: &SharedState, mut v: SessionView, with_timeline: bool) -> SessionView {
    if v.status != SessionStatus::Live {
        return v;
    }
    if let Some(l) = st.live.get(&v.id) {
        let mut r = l.running_report();
        if !with_timeline {
            r.timeline = Vec::new();
            r.gaze_heatmap = None;
            r.blink_onsets_ms = Vec::new();
        }
        v.report = Some(r);
    }
    v
}

/// Begins a session for the caller.
#[utoipa::path(post, path = "/session/start", tag = "sessions",
    request_body(content = Option<StartRequest>, content_type = "application/json"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = StartResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "Too many live sessions for this user", body = ErrorBody),
        (status = 503, description = "Too many live sessions", body = ErrorBody)
    ))]
pub async fn start(
    State(st): State<SharedState>,
    auth: AuthUser,
    body: Bytes,
) -> AppResult<(StatusCode, Json<StartResponse>)> {
    let req: StartRequest = optional_json(&body)?;
    if st.is_shutting_down() {
        return Err(AppError::Busy("server is shutting down".into()));
    }
    if st.live.len() >= st.config.max_live_sessions {
        return Err(AppError::Busy(format!(
            "{} live sessions already",
            st.config.max_live_sessions
        )));
    }
    if live::live_count_of(&st, &auth.user.id) >= st.config.max_live_per_user {
        return Err(AppError::Conflict(format!(
            "{} live sessions already; end one first",
            st.config.max_live_per_user
        )));
    }
    let calibration = st.store.get_calibration(&auth.user.id).await?;
    // Calibrated gaze is in the calibration's screen coordinates, so its size wins.
    let screen = calibration
        .as_ref()
        .map(|c| (c.screen_width as f64, c.screen_height as f64))
        .or(match (req.screen_width, req.screen_height) {
            (Some(w), Some(h)) => Some((w, h)),
            _ => None,
        });
    let rec = st
        .store
        .create_session(NewSession {
            owner: auth.user.id.clone(),
            started_at_ms: now_ms() as i64,
            source: req.source.unwrap_or_else(|| "webcam".into()),
        })
        .await?;
    let calibrated = calibration.is_some();
    // This instance owns the new session through a lease (another instance can take it
    // over when a client reconnects there).
    let token = match st
        .store
        .acquire_lease(&rec.id, &st.instance_id, st.config.lease_ttl())
        .await?
    {
        gaze_store::LeaseAcquire::Acquired { token, .. } => token,
        gaze_store::LeaseAcquire::Held { holder, .. } => {
            return Err(AppError::Internal(format!(
                "new session already leased by {holder}"
            )));
        }
    };
    let bias = crate::routes::labels::stored_bias(&st, &auth.user.id).await;
    let adapted = bias.is_some();
    let account = match bias {
        Some(bias) => crate::accounting::LiveAccount::adapted(&rec.id, screen, bias),
        None => crate::accounting::LiveAccount::new(&rec.id, screen),
    };
    let session = LiveSession::leased(&rec.id, &rec.owner, calibration, account, 0, token);
    session.prepare();
    st.live.insert(session.clone());
    let wait = Duration::from_secs(st.config.reconnect_grace_secs.max(60));
    live::finalize_if_never_connected(&st, &session, wait);
    st.metrics.sessions_started.fetch_add(1, Ordering::Relaxed);
    tracing::info!(session = %rec.id, user = %auth.user.id, "session started");
    Ok((
        StatusCode::CREATED,
        Json(StartResponse {
            track_url: format!("/ws/session/{}/track", rec.id),
            watch_url: format!("/ws/session/{}/watch", rec.id),
            session_id: rec.id,
            started_at_ms: rec.started_at_ms,
            calibrated,
            adapted,
        }),
    ))
}

/// Ends a session (the caller's newest live one without a body) and returns its report.
/// Ending an already ended session returns its stored report.
#[utoipa::path(post, path = "/session/end", tag = "sessions",
    request_body(content = Option<EndRequest>, content_type = "application/json"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Final report", body = Object),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session (or not the caller's)", body = ErrorBody)
    ))]
pub async fn end(
    State(st): State<SharedState>,
    auth: AuthUser,
    body: Bytes,
) -> AppResult<Json<SessionReport>> {
    let req: EndRequest = optional_json(&body)?;
    let id = match req.session_id {
        Some(id) => id,
        None => st
            .live
            .latest_of(&auth.user.id)
            .map(|l| l.id.clone())
            .ok_or_else(|| AppError::NotFound("no live session".into()))?,
    };
    if let Some(l) = st.live.get(&id) {
        if !auth.may_see(&l.owner) {
            return Err(AppError::NotFound(format!("session {id}")));
        }
        return Ok(Json(live::finalize(&st, &l, "ended by request").await?));
    }
    let rec = owned_record(&st, &auth, &id).await?;
    if rec.status == SessionStatus::Ended {
        return Ok(Json(rec.report.unwrap_or_default()));
    }
    // Live in the store but hosted by another instance (or by none): its holder ends it,
    // or this instance takes it over from its last checkpoint and ends it.
    Ok(Json(live::end_elsewhere(&st, &rec.id).await?))
}

/// The session record if the caller may see it; 404 otherwise (existence is not leaked).
async fn owned_record(st: &SharedState, auth: &AuthUser, id: &str) -> AppResult<SessionRecord> {
    match st.store.get_session(id).await {
        Ok(r) if auth.may_see(&r.owner) => Ok(r),
        Ok(_) | Err(StoreError::NotFound(_)) => Err(AppError::NotFound(format!("session {id}"))),
        Err(e) => Err(e.into()),
    }
}

/// Full details of one session with its report and timeline.
pub(crate) async fn details(st: &SharedState, auth: &AuthUser, id: &str) -> AppResult<SessionView> {
    let rec = owned_record(st, auth, id).await?;
    let live = rec.status == SessionStatus::Live;
    let mut v = with_live_report(st, SessionView::of(rec, true), true);
    if live && st.live.get(id).is_none() {
        if let Some(r) = v.report.as_mut() {
            if r.timeline.is_empty() {
                r.timeline = st.store.get_timeline(id).await?;
            }
        }
    }
    Ok(v)
}

/// One session with its report (owner or admin; others get 404).
#[utoipa::path(get, path = "/session/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_session(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<SessionView>> {
    Ok(Json(details(&st, &auth, &id).await?))
}

/// The caller's sessions, newest first (every session for an admin).
#[utoipa::path(get, path = "/sessions", tag = "sessions",
    params(PageQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SessionPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(st): State<SharedState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<SessionPage>> {
    let page = if auth.is_admin {
        st.store.list_sessions(q.request()).await?
    } else {
        st.store
            .list_user_sessions(&auth.user.id, q.request())
            .await?
    };
    Ok(Json(SessionPage::of(page, &st)))
}

/// One user's sessions, newest first (self or admin; `id` is a user id or a username).
#[utoipa::path(get, path = "/sessions/user/{id}", tag = "sessions",
    params(("id" = String, Path, description = "User id or username"), PageQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = SessionPage),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's sessions", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody)
    ))]
pub async fn list_user(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<SessionPage>> {
    let is_self = auth.user.id == id || auth.user.username.eq_ignore_ascii_case(&id);
    if !is_self && !auth.is_admin {
        return Err(AppError::Forbidden);
    }
    let user_id = if is_self {
        auth.user.id.clone()
    } else {
        match st.store.get_user(&id).await {
            Ok(u) => u.id,
            Err(StoreError::NotFound(_)) => st.store.get_user_by_username(&id).await?.id,
            Err(e) => return Err(e.into()),
        }
    };
    let page = st.store.list_user_sessions(&user_id, q.request()).await?;
    Ok(Json(SessionPage::of(page, &st)))
}
