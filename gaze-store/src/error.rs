//! Typed errors returned by every [`Store`](crate::Store) operation.

use thiserror::Error;

/// Result alias used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong in a store operation.
///
/// The variants are meant to be mapped one-to-one onto HTTP statuses by the server:
/// `NotFound` → 404, `Conflict` and `Fenced` → 409, `Unauthorized` → 401, `Invalid` → 400,
/// `Unavailable` → 503, `Internal` → 500.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The user, session or token does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A unique constraint would be violated (username, email) or the record is in the
    /// wrong state for the operation (e.g. checkpointing an ended session).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Wrong password, or an unknown, expired or revoked token. Carries no detail on purpose.
    #[error("unauthorized")]
    Unauthorized,
    /// A write carried a lease fencing token that is not the session's current one: another
    /// writer took the session over. Nothing was changed.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The backend cannot be reached or did not answer in time. Retrying later may succeed;
    /// the store reconnects by itself.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The input breaks a documented limit (username charset/length, page size, sizes…).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Anything else: unexpected backend replies, corrupted records, hashing failures.
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// True for errors that may go away on retry (currently only [`StoreError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    pub(crate) fn not_found(what: impl std::fmt::Display) -> Self {
        StoreError::NotFound(what.to_string())
    }

    pub(crate) fn invalid(what: impl std::fmt::Display) -> Self {
        StoreError::Invalid(what.to_string())
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        StoreError::Internal(what.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Internal(format!("serialization: {e}"))
    }
}
