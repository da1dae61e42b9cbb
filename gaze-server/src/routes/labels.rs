//! Per-user adaptation: `POST/GET /session/{id}/labels`, `GET /labels`,
//! `DELETE /labels/{label_id}`.
//!
//! A user relabels a stretch of one of their ended sessions ("this was reading"). The
//! session's sample trace (stored when it ended, see [`store_trace`]) gives the samples of
//! that stretch; after every label change the user's adaptation is refitted from all their
//! labelled stretches ([`ActivityConfig::adapt_to_labels`]: per-class offsets of the
//! activity model) and stored; the user's next sessions start with it ([`stored_bias`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gaze_core::activity::LabelledSpan;
use gaze_core::{Activity, ActivityConfig};
use gaze_store::{Label, NewLabel, SessionStatus, SessionTrace, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::routes::ApiJson;
use crate::state::SharedState;

/// The stored adaptation of one user (`gaze-store`'s adaptation blob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Adaptation {
    /// Offsets added to the activity model's class log-odds for reading, browsing and
    /// watching (centred; each within ±3).
    pub class_bias: [f64; 3],
    /// Labels it was fitted from.
    pub labels: usize,
    /// Seconds of labelled samples it was fitted from.
    pub labelled_seconds: f64,
    /// When it was fitted (epoch ms, server clock).
    pub fitted_at_ms: i64,
}

/// `POST /session/{id}/labels` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelRequest {
    /// Start, seconds from the session's first frame (≥ 0).
    pub start_s: f64,
    /// End, seconds from the session's first frame (> `start_s`).
    pub end_s: f64,
    /// What the stretch was: `reading`, `browsing` or `watching`.
    #[schema(example = "reading")]
    pub label: String,
}

/// One label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelView {
    /// Label id.
    pub id: String,
    /// The labelled session.
    pub session_id: String,
    /// Start, seconds from the session's first frame.
    pub start_s: f64,
    /// End, seconds from the session's first frame.
    pub end_s: f64,
    /// `reading`, `browsing` or `watching`.
    #[schema(value_type = String, example = "reading")]
    pub label: Activity,
    /// When it was made (epoch ms).
    pub created_at_ms: i64,
}

impl From<Label> for LabelView {
    fn from(l: Label) -> Self {
        LabelView {
            id: l.id,
            session_id: l.session_id,
            start_s: l.start_s,
            end_s: l.end_s,
            label: l.activity,
            created_at_ms: l.created_at_ms,
        }
    }
}

/// Labels with the user's current adaptation.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelList {
    /// Labels, oldest first.
    pub items: Vec<LabelView>,
    /// The adaptation the user's next sessions use (null: the unadapted model).
    pub adaptation: Option<Adaptation>,
}

/// Reply to a label change: the label, and the refitted adaptation.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelChange {
    /// The label added or deleted.
    pub label: LabelView,
    /// The refitted adaptation (null when no labels are left or they hold too little
    /// usable data; then the next sessions use the unadapted model).
    pub adaptation: Option<Adaptation>,
    /// Why there is no adaptation, if there is none.
    pub note: Option<String>,
}

fn parse_label(s: &str) -> AppResult<Activity> {
    match s {
        "reading" => Ok(Activity::Reading),
        "browsing" => Ok(Activity::Browsing),
        "watching" => Ok(Activity::Watching),
        _ => Err(AppError::BadRequest(
            "label must be reading, browsing or watching".into(),
        )),
    }
}

/// Time (ms, the samples' clock) second 0 of a session's labels refers to: its report's
/// first frame, else the trace's first sample.
fn origin_ms(report_start: Option<f64>, trace: &SessionTrace) -> f64 {
    report_start
        .filter(|t| t.is_finite() && *t > 0.0)
        .or_else(|| trace.samples.first().map(|s| s.t_ms))
        .unwrap_or(0.0)
}

/// Stores a finished session's trace (best effort: a failure only means the session cannot
/// be labelled). Called by [`crate::live`] once the final report is stored.
pub async fn store_trace(st: &SharedState, session_id: &str, trace: &SessionTrace) {
    if trace.samples.is_empty() {
        return;
    }
    if let Err(e) = st.store.set_trace(session_id, trace).await {
        tracing::warn!(session = %session_id, error = %e, "cannot store the session trace");
    }
}

/// The class offsets of the user's stored adaptation, if any (best effort: a store error or
/// an unreadable blob means the unadapted model).
pub async fn stored_bias(st: &SharedState, user_id: &str) -> Option<[f64; 3]> {
    let v = st.store.get_adaptation_json(user_id).await.ok()??;
    let a: Adaptation = serde_json::from_value(v).ok()?;
    a.class_bias
        .iter()
        .all(|b| b.is_finite() && b.abs() <= gaze_core::activity::MAX_CLASS_BIAS + 1e-9)
        .then_some(a.class_bias)
}

async fn adaptation_of(st: &SharedState, user_id: &str) -> AppResult<Option<Adaptation>> {
    Ok(st
        .store
        .get_adaptation_json(user_id)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// Refits are serialised on this instance (two quick label changes must not store the
/// older fit last).
fn refit_lock() -> &'static tokio::sync::Mutex<()> {
    static L: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    L.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// A session's trace with the time its labels count from; `None` when the session or its
/// trace is gone (its labels are then skipped).
async fn load_trace(st: &SharedState, session_id: &str) -> AppResult<Option<(SessionTrace, f64)>> {
    match (
        st.store.get_session(session_id).await,
        st.store.get_trace(session_id).await,
    ) {
        (Ok(rec), Ok(Some(trace))) => {
            let t0 = origin_ms(rec.report.as_ref().map(|r| r.started_at), &trace);
            Ok(Some((trace, t0)))
        }
        (Err(e @ StoreError::Unavailable(_)), _) | (_, Err(e @ StoreError::Unavailable(_))) => {
            Err(e.into())
        }
        _ => Ok(None),
    }
}

/// Refits the user's adaptation from all their labels and stores it (or clears it when no
/// labels are left or they hold too little data; the note says why).
async fn refit(st: &SharedState, user_id: &str) -> AppResult<(Option<Adaptation>, Option<String>)> {
    let _guard = refit_lock().lock().await;
    let labels = st.store.list_labels(user_id).await?;
    let mut spans = Vec::with_capacity(labels.len());
    let mut seconds = 0.0;
    let mut traces: HashMap<String, Option<(SessionTrace, f64)>> = HashMap::new();
    for l in &labels {
        if let Entry::Vacant(e) = traces.entry(l.session_id.clone()) {
            e.insert(load_trace(st, &l.session_id).await?);
        }
        let Some(Some((trace, t0))) = traces.get(&l.session_id) else {
            continue;
        };
        let samples = trace
            .between(t0 + l.start_s * 1000.0, t0 + l.end_s * 1000.0)
            .to_vec();
        if let (Some(a), Some(b)) = (samples.first(), samples.last()) {
            seconds += (b.t_ms - a.t_ms) / 1000.0;
        }
        spans.push(LabelledSpan {
            samples,
            activity: l.activity,
            geometry: trace.geometry,
        });
    }
    drop(traces);
    if spans.is_empty() {
        st.store.set_adaptation_json(user_id, None).await?;
        return Ok((None, Some("no labels (with a stored trace) left".into())));
    }
    let n = spans.len();
    let fitted =
        tokio::task::spawn_blocking(move || ActivityConfig::default().adapt_to_labels(&spans))
            .await?;
    match fitted {
        Ok(cfg) => {
            let a = Adaptation {
                class_bias: cfg.class_bias,
                labels: n,
                labelled_seconds: (seconds * 1000.0).round() / 1000.0,
                fitted_at_ms: crate::live::now_ms() as i64,
            };
            st.store
                .set_adaptation_json(
                    user_id,
                    Some(serde_json::to_value(&a).map_err(|e| AppError::Internal(e.to_string()))?),
                )
                .await?;
            tracing::info!(user = %user_id, labels = n, bias = ?a.class_bias, "adaptation refitted");
            Ok((Some(a), None))
        }
        Err(e) => {
            st.store.set_adaptation_json(user_id, None).await?;
            Ok((None, Some(e.to_string())))
        }
    }
}

/// The session if it exists (404) and is the caller's (403).
async fn own_session(
    st: &SharedState,
    auth: &AuthUser,
    id: &str,
) -> AppResult<gaze_store::SessionRecord> {
    let rec = match st.store.get_session(id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => return Err(AppError::NotFound(format!("session {id}"))),
        Err(e) => return Err(e.into()),
    };
    if rec.owner != auth.user.id {
        return Err(AppError::Forbidden);
    }
    Ok(rec)
}

/// Labels a stretch of one of the caller's ended sessions and refits the caller's
/// adaptation from all their labels (used by their next sessions).
#[utoipa::path(post, path = "/session/{id}/labels", tag = "labels",
    params(("id" = String, Path, description = "Session id")),
    request_body = LabelRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = LabelChange),
        (status = 400, description = "Bad range (not 0 ≤ start_s < end_s, or no recorded samples in it) or unknown label", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's session", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is still live or has no recorded trace", body = ErrorBody)
    ))]
pub async fn add(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<LabelRequest>,
) -> AppResult<(StatusCode, Json<LabelChange>)> {
    let rec = own_session(&st, &auth, &id).await?;
    let activity = parse_label(&req.label)?;
    if !(req.start_s.is_finite() && req.end_s.is_finite())
        || req.start_s < 0.0
        || req.end_s <= req.start_s
        || req.end_s > gaze_store::MAX_LABEL_SECONDS
    {
        return Err(AppError::BadRequest(
            "need 0 <= start_s < end_s (seconds from the session's start)".into(),
        ));
    }
    if rec.status == SessionStatus::Live {
        return Err(AppError::Conflict(
            "the session is still live; label it once it has ended".into(),
        ));
    }
    let trace = st.store.get_trace(&id).await?.ok_or_else(|| {
        AppError::Conflict("the session has no recorded trace to learn from".into())
    })?;
    let t0 = origin_ms(rec.report.as_ref().map(|r| r.started_at), &trace);
    if trace
        .between(t0 + req.start_s * 1000.0, t0 + req.end_s * 1000.0)
        .is_empty()
    {
        return Err(AppError::BadRequest(
            "no recorded samples in that range".into(),
        ));
    }
    drop(trace);
    let label = st
        .store
        .add_label(
            &auth.user.id,
            NewLabel {
                session_id: id,
                start_s: req.start_s,
                end_s: req.end_s,
                activity,
            },
        )
        .await?;
    let (adaptation, note) = refit(&st, &auth.user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(LabelChange {
            label: label.into(),
            adaptation,
            note,
        }),
    ))
}

/// The caller's labels of one of their sessions, with their current adaptation.
#[utoipa::path(get, path = "/session/{id}/labels", tag = "labels",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = LabelList),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's session", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody)
    ))]
pub async fn list_session(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<LabelList>> {
    own_session(&st, &auth, &id).await?;
    let items = st
        .store
        .list_labels(&auth.user.id)
        .await?
        .into_iter()
        .filter(|l| l.session_id == id)
        .map(LabelView::from)
        .collect();
    Ok(Json(LabelList {
        items,
        adaptation: adaptation_of(&st, &auth.user.id).await?,
    }))
}

/// All the caller's labels, with their current adaptation.
#[utoipa::path(get, path = "/labels", tag = "labels",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = LabelList), (status = 401, body = ErrorBody)))]
pub async fn list(State(st): State<SharedState>, auth: AuthUser) -> AppResult<Json<LabelList>> {
    let items = st
        .store
        .list_labels(&auth.user.id)
        .await?
        .into_iter()
        .map(LabelView::from)
        .collect();
    Ok(Json(LabelList {
        items,
        adaptation: adaptation_of(&st, &auth.user.id).await?,
    }))
}

/// Deletes one of the caller's labels and refits their adaptation from the rest.
#[utoipa::path(delete, path = "/labels/{label_id}", tag = "labels",
    params(("label_id" = String, Path, description = "Label id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = LabelChange),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such label (or not the caller's)", body = ErrorBody)
    ))]
pub async fn delete(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(label_id): Path<String>,
) -> AppResult<Json<LabelChange>> {
    let label = st.store.delete_label(&auth.user.id, &label_id).await?;
    let (adaptation, note) = refit(&st, &auth.user.id).await?;
    Ok(Json(LabelChange {
        label: label.into(),
        adaptation,
        note,
    }))
}
