//! WebSockets: `/ws/session/{id}/track` (frames in, gaze + activity out) and
//! `/ws/session/{id}/watch` (live feed for a viewer).
//!
//! Both authenticate before anything else: `?token=`, the login cookie or the
//! `Authorization` header at upgrade time, or a first text message `{"token": "..."}`.
//! A bad or missing token closes the socket with 1008 (policy violation), as does a session
//! the caller may not use.
//!
//! Track backpressure: one frame is processed at a time per connection; frames arriving
//! meanwhile replace each other in a single slot (latest wins, the replaced one counts as
//! dropped), so memory per connection is bounded by one pending frame.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gaze_store::{SessionStatus, StoreError};
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::auth::{AuthUser, authenticate, token_from_headers};
use crate::error::{AppError, AppResult};
use crate::live::{self, FrameInput, FramePayload, FrameSlot, LiveSession, now_ms};
use crate::routes::ApiQuery;
use crate::state::SharedState;

/// Close code for authentication / authorisation failures.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a message beyond the protocol-level size limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code when the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code when the session cannot be served right now (store away, takeover timed
/// out): reconnect later.
pub const CLOSE_TRY_AGAIN: u16 = 1013;
pub use crate::live::CLOSE_MOVED;

/// Query parameters of the WebSocket routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WsQuery {
    /// Login token (alternative to the cookie or a first `{"token"}` message).
    pub token: Option<String>,
}

/// A text message on the track socket.
#[derive(Debug, Deserialize)]
struct TextMessage {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    timestamp: Option<f64>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Streams frames in and gaze, activity, attention and running totals out.
#[utoipa::path(get, path = "/ws/session/{session_id}/track", tag = "live",
    params(("session_id" = String, Path, description = "Session id"), WsQuery),
    responses((status = 101, description = "WebSocket. In: binary JPEG/PNG frames or `{\"image\": \"data:image/jpeg;base64,...\", \"timestamp\": ms}`; `{\"type\": \"end\"}` ends the session. Out per frame: `{gaze, face, direction, blink, head_pose, screen, confidence, activity, attention, totals, ...}`; `{\"error\"}` for a bad message (the socket stays open); `{\"event\": \"resumed\", ...}` first when the session was restored from a checkpoint here (until a client confirmed it); `{\"event\": \"ended\", \"report\"}` at the end."),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::error::ErrorBody)))]
pub async fn track(
    ws: WebSocketUpgrade,
    State(st): State<SharedState>,
    Path(session_id): Path<String>,
    ApiQuery(q): ApiQuery<WsQuery>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.or_else(|| upgrade_token(&headers));
    let limit = st.config.ws_hard_limit();
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            track_socket(st, socket, session_id, token).await;
        })
}

/// Live feed of a session for a viewer (owner or admin).
#[utoipa::path(get, path = "/ws/session/{session_id}/watch", tag = "live",
    params(("session_id" = String, Path, description = "Session id"), WsQuery),
    responses((status = 101, description = "WebSocket. Out: every track reply of the session (`{\"event\": \"resumed\", ...}` first when it resumed from a checkpoint on another instance), then `{\"event\": \"ended\", \"report\"}`."),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::error::ErrorBody)))]
pub async fn watch(
    ws: WebSocketUpgrade,
    State(st): State<SharedState>,
    Path(session_id): Path<String>,
    ApiQuery(q): ApiQuery<WsQuery>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.or_else(|| upgrade_token(&headers));
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            watch_socket(st, socket, session_id, token).await;
        })
}

/// The token from the upgrade request's headers. A cookie is only trusted when the
/// request comes from this server's own pages (`Origin` absent or matching `Host`), which
/// stops other sites from opening sockets with the user's cookie.
fn upgrade_token(headers: &HeaderMap) -> Option<String> {
    let has_bearer = headers.contains_key(axum::http::header::AUTHORIZATION);
    if !has_bearer {
        let origin = headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok());
        if let Some(origin) = origin {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if Some(origin_host.trim_end_matches('/')) != host {
                return None;
            }
        }
    }
    token_from_headers(headers)
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_string()),
        })))
        .await;
}

async fn send_json(socket: &mut WebSocket, text: String) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(text)))
        .await
        .is_ok()
}

/// Authenticates with the upgrade-time token or the first message.
async fn ws_auth(
    st: &SharedState,
    socket: &mut WebSocket,
    token: Option<String>,
) -> Option<AuthUser> {
    let token = match token {
        Some(t) => t,
        None => {
            let wait = Duration::from_secs(st.config.ws_auth_timeout_secs.max(1));
            let first = tokio::time::timeout(wait, socket.recv()).await;
            let parsed = match first {
                Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<TextMessage>(&t)
                    .ok()
                    .and_then(|m| m.token),
                _ => None,
            };
            match parsed {
                Some(t) => t,
                None => {
                    close(socket, CLOSE_POLICY, "authentication required").await;
                    return None;
                }
            }
        }
    };
    match authenticate(st, &token).await {
        Ok(a) => Some(a),
        Err(_) => {
            close(socket, CLOSE_POLICY, "invalid token").await;
            None
        }
    }
}

fn is_capacity_error(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<tokio_tungstenite::tungstenite::Error>()
        .is_some_and(|e| matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_)))
}

type Inflight = JoinHandle<AppResult<Option<String>>>;

fn spawn_frame(
    st: &SharedState,
    live: &Arc<LiveSession>,
    slot: &Arc<FrameSlot>,
    socket: u64,
) -> Inflight {
    let st = st.clone();
    let live = live.clone();
    let slot = slot.clone();
    tokio::spawn(async move { live::process_frame(&st, &live, &slot, socket).await })
}

/// What one incoming track-socket message asks for (see [`parse_message`]).
#[derive(Debug)]
pub enum Incoming {
    /// A frame to process.
    Frame(FrameInput),
    /// `{"type": "end"}`: end the session.
    End,
    /// A JSON reply to send back (an `{"error"}` or the pong); nothing else happens.
    Reply(String),
    /// Nothing to do (a late `{"token"}`, ping / pong frames).
    Ignore,
    /// The client closed the socket.
    Closed,
}

/// Parses one track-socket message: a pure function of the message and the frame size
/// limit (the server's `max_frame_bytes`), with no I/O. Malformed input gives
/// [`Incoming::Reply`] with a JSON error, never a panic.
pub fn parse_message(msg: Message, max_frame_bytes: usize) -> Incoming {
    match msg {
        Message::Binary(b) => {
            if b.len() > max_frame_bytes {
                return Incoming::Reply(
                    AppError::TooLarge(format!(
                        "frame of {} bytes exceeds the limit of {} bytes",
                        b.len(),
                        max_frame_bytes
                    ))
                    .to_json(),
                );
            }
            Incoming::Frame(FrameInput {
                payload: FramePayload::Encoded(b),
                timestamp_ms: now_ms(),
            })
        }
        Message::Text(t) => {
            let m: TextMessage = match serde_json::from_str(t.as_str()) {
                Ok(m) => m,
                Err(e) => {
                    return Incoming::Reply(
                        AppError::BadRequest(format!("invalid JSON message: {e}")).to_json(),
                    );
                }
            };
            if let Some(image) = m.image {
                // base64 is 4/3 of the bytes; the exact check happens after decoding.
                if image.len() / 4 * 3 > max_frame_bytes.saturating_add(64) {
                    return Incoming::Reply(
                        AppError::TooLarge(format!(
                            "frame exceeds the limit of {max_frame_bytes} bytes"
                        ))
                        .to_json(),
                    );
                }
                let ts = m
                    .timestamp
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .unwrap_or_else(now_ms);
                return Incoming::Frame(FrameInput {
                    payload: FramePayload::Base64(image),
                    timestamp_ms: ts,
                });
            }
            match m.kind.as_deref() {
                Some("end") => Incoming::End,
                Some("ping") => Incoming::Reply(r#"{"type":"pong"}"#.into()),
                _ if m.token.is_some() => Incoming::Ignore,
                _ => Incoming::Reply(
                    AppError::BadRequest(
                        "expected a binary JPEG/PNG frame or {\"image\": ..., \"timestamp\": ...}"
                            .into(),
                    )
                    .to_json(),
                ),
            }
        }
        Message::Close(_) => Incoming::Closed,
        Message::Ping(_) | Message::Pong(_) => Incoming::Ignore,
    }
}

async fn track_socket(st: SharedState, mut socket: WebSocket, id: String, token: Option<String>) {
    if st.is_shutting_down() {
        close(&mut socket, CLOSE_GOING_AWAY, "server shutting down").await;
        return;
    }
    let Some(auth) = ws_auth(&st, &mut socket, token).await else {
        return;
    };
    let live = match st.live.get(&id) {
        Some(l) if l.owner == auth.user.id && !l.is_ended() => l,
        Some(l) if l.owner == auth.user.id => {
            close(&mut socket, CLOSE_POLICY, "session has ended").await;
            return;
        }
        _ => {
            // Not hosted here: an own live session is taken over from the instance holding
            // it (handed over at once when that instance is alive, after its lease expired
            // when it died), resuming from the last checkpoint.
            match st.store.get_session(&id).await {
                Ok(r) if r.owner == auth.user.id && r.status == SessionStatus::Ended => {
                    close(&mut socket, CLOSE_POLICY, "session has ended").await;
                    return;
                }
                Ok(r) if r.owner == auth.user.id => match live::take_over(&st, &id).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = send_json(&mut socket, e.to_json()).await;
                        close(&mut socket, CLOSE_TRY_AGAIN, "session not available; retry").await;
                        return;
                    }
                },
                Ok(_) | Err(StoreError::NotFound(_)) => {
                    close(&mut socket, CLOSE_POLICY, "session not found").await;
                    return;
                }
                Err(e) => {
                    let _ = send_json(&mut socket, AppError::from(e).to_json()).await;
                    close(&mut socket, CLOSE_TRY_AGAIN, "store unavailable; retry").await;
                    return;
                }
            }
        }
    };
    st.metrics.track_sockets.fetch_add(1, Ordering::Relaxed);
    let attach = live.attach();
    tracing::debug!(session = %id, "track socket open");
    // Every socket that attaches to a session restored here from a checkpoint learns where
    // the accounting resumed, until a client confirmed the restore (see live::PendingResume).
    if let Some(info) = live.resume_for(attach) {
        let _ = send_json(&mut socket, live::resumed_event(&id, &info)).await;
    }
    run_track(&st, &mut socket, &live, attach).await;
    st.metrics.track_sockets.fetch_sub(1, Ordering::Relaxed);
    live::detach(&st, &live);
    tracing::debug!(session = %id, "track socket closed");
}

async fn run_track(st: &SharedState, socket: &mut WebSocket, live: &Arc<LiveSession>, attach: u64) {
    let mut ended = live.subscribe_end();
    let mut moved = live.subscribe_moved();
    if live.has_moved() {
        close(
            socket,
            CLOSE_MOVED,
            "session moved to another server instance; reconnect",
        )
        .await;
        return;
    }
    let mut shutdown = st.shutdown_signal();
    let mut inflight: Option<Inflight> = None;
    let slot = Arc::new(FrameSlot::default());
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let msg = match msg {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        if is_capacity_error(e) {
                            st.metrics.frames_rejected.fetch_add(1, Ordering::Relaxed);
                            close(socket, CLOSE_TOO_BIG, "message too large").await;
                        }
                        break;
                    }
                    None => break,
                };
                match parse_message(msg, st.config.max_frame_bytes) {
                    Incoming::Frame(f) => {
                        st.metrics.frames_received.fetch_add(1, Ordering::Relaxed);
                        if slot.put(f) {
                            st.metrics.frames_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        if inflight.is_none() {
                            inflight = Some(spawn_frame(st, live, &slot, attach));
                        }
                    }
                    Incoming::Reply(r) => {
                        st.metrics.frames_rejected.fetch_add(1, Ordering::Relaxed);
                        if !send_json(socket, r).await { break; }
                    }
                    Incoming::End => {
                        if let Err(e) = live::finalize(st, live, "ended by client").await {
                            if !send_json(socket, e.to_json()).await { break; }
                        }
                    }
                    Incoming::Ignore => {}
                    Incoming::Closed => break,
                }
            }
            res = async {
                match inflight.as_mut() {
                    Some(h) => h.await,
                    None => std::future::pending().await,
                }
            } => {
                inflight = None;
                let (text, is_reply) = match res {
                    Ok(Ok(t)) => (t, true),
                    Ok(Err(e)) => (Some(e.to_json()), false),
                    Err(e) => (Some(AppError::from(e).to_json()), false),
                };
                if let Some(text) = text {
                    if !send_json(socket, text).await { break; }
                    if is_reply {
                        live::confirm_reply(st, live, attach);
                    }
                }
                if !slot.is_empty() {
                    inflight = Some(spawn_frame(st, live, &slot, attach));
                }
            }
            changed = ended.changed() => {
                let report = ended.borrow().clone();
                if changed.is_err() || report.is_some() {
                    if let Some(r) = report {
                        let msg = serde_json::json!({"event": "ended", "report": &*r});
                        let _ = send_json(socket, msg.to_string()).await;
                    }
                    close(socket, 1000, "session ended").await;
                    break;
                }
            }
            _ = moved.changed() => {
                close(socket, CLOSE_MOVED, "session moved to another server instance; reconnect").await;
                break;
            }
            _ = shutdown.changed() => {
                close(socket, CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
        }
    }
    if let Some(h) = inflight {
        // Let the frame in flight finish so the accounting stays consistent.
        let _ = h.await;
    }
}

async fn watch_socket(st: SharedState, mut socket: WebSocket, id: String, token: Option<String>) {
    if st.is_shutting_down() {
        close(&mut socket, CLOSE_GOING_AWAY, "server shutting down").await;
        return;
    }
    let Some(auth) = ws_auth(&st, &mut socket, token).await else {
        return;
    };
    let rec = match st.store.get_session(&id).await {
        Ok(r) if auth.may_see(&r.owner) => r,
        Ok(_) | Err(StoreError::NotFound(_)) => {
            close(&mut socket, CLOSE_POLICY, "session not found").await;
            return;
        }
        Err(e) => {
            let _ = send_json(&mut socket, AppError::from(e).to_json()).await;
            close(&mut socket, 1011, "store unavailable").await;
            return;
        }
    };
    if rec.status == SessionStatus::Ended {
        let msg = serde_json::json!({"event": "ended", "report": rec.report});
        let _ = send_json(&mut socket, msg.to_string()).await;
        close(&mut socket, 1000, "session ended").await;
        return;
    }
    let mut feed = match st.store.subscribe_live(&id).await {
        Ok(f) => f,
        Err(e) => {
            let _ = send_json(&mut socket, AppError::from(e).to_json()).await;
            close(&mut socket, 1011, "store unavailable").await;
            return;
        }
    };
    // The session may have ended between the first look and the subscription.
    if let Ok(r) = st.store.get_session(&id).await {
        if r.status == SessionStatus::Ended {
            let msg = serde_json::json!({"event": "ended", "report": r.report});
            let _ = send_json(&mut socket, msg.to_string()).await;
            close(&mut socket, 1000, "session ended").await;
            return;
        }
    }
    st.metrics.watch_sockets.fetch_add(1, Ordering::Relaxed);
    let mut shutdown = st.shutdown_signal();
    let _ = send_json(
        &mut socket,
        serde_json::json!({"event": "watching", "session_id": id}).to_string(),
    )
    .await;
    loop {
        tokio::select! {
            m = feed.recv() => {
                let Some(m) = m else {
                    close(&mut socket, 1011, "feed closed").await;
                    break;
                };
                let is_end = m.starts_with("{\"event\":\"ended\"");
                if !send_json(&mut socket, m).await { break; }
                if is_end {
                    close(&mut socket, 1000, "session ended").await;
                    break;
                }
            }
            msg = socket.recv() => {
                match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
            _ = shutdown.changed() => {
                close(&mut socket, CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
        }
    }
    st.metrics.watch_sockets.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn cookie_is_trusted_only_from_the_same_origin() {
        let cookie = ("cookie", "gaze_token=t");
        let host = ("host", "127.0.0.1:8000");
        assert_eq!(
            upgrade_token(&headers(&[cookie, host])).as_deref(),
            Some("t")
        );
        let same = ("origin", "http://127.0.0.1:8000");
        assert_eq!(
            upgrade_token(&headers(&[cookie, host, same])).as_deref(),
            Some("t")
        );
        let evil = ("origin", "https://evil.example");
        assert_eq!(upgrade_token(&headers(&[cookie, host, evil])), None);
        let bearer = ("authorization", "Bearer b");
        assert_eq!(
            upgrade_token(&headers(&[bearer, host, evil])).as_deref(),
            Some("b")
        );
    }
}
