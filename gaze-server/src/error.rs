//! The one error type of the server and its HTTP mapping.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gaze_core::GazeError;
use gaze_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Every error a handler can return. [`IntoResponse`] maps it to a status code and the JSON
/// body `{"error": "..."}`; WebSocket handlers send the same body as a text message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, malformed, unknown, expired or revoked credentials (401).
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but not allowed to see or change this resource (403).
    #[error("forbidden")]
    Forbidden,
    /// The resource does not exist, or belongs to someone else (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed or breaks a documented limit (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The resource is in the wrong state, or a unique value is taken (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request body or frame is larger than the configured limit (413).
    #[error("payload too large: {0}")]
    TooLarge(String),
    /// A rate limit is reached (429 with `Retry-After`).
    #[error("too many requests: {what}; retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Which limit.
        what: String,
        /// Seconds until the next attempt can pass.
        retry_after_secs: u64,
    },
    /// A capacity limit is reached (503).
    #[error("busy: {0}")]
    Busy(String),
    /// The store cannot be reached (503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable description.
    pub error: String,
}

impl AppError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy(_) | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `{"error": ...}` body as a JSON string (used for WebSocket replies).
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.to_string() }).to_string()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AppError::NotFound(m),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Fenced(m) => AppError::Conflict(format!(
                "the session is now handled by another server instance ({m}); reconnect"
            )),
            StoreError::Unauthorized => AppError::Unauthorized,
            StoreError::Invalid(m) => AppError::BadRequest(m),
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Internal(m) => AppError::Internal(m),
        }
    }
}

impl From<GazeError> for AppError {
    fn from(e: GazeError) -> Self {
        AppError::BadRequest(e.to_string())
    }
}

impl From<gaze_core::ActivityError> for AppError {
    fn from(e: gaze_core::ActivityError) -> Self {
        AppError::from(GazeError::from(e))
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(r.body_text())
        } else {
            AppError::BadRequest(r.body_text())
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::BadRequest(r.body_text())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("worker task failed: {e}"))
    }
}

/// Result alias for handlers.
pub type AppResult<T> = Result<T, AppError>;
