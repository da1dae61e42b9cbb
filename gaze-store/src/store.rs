//! The backend-independent [`Store`] trait and the live feed handle.

use std::time::Duration;

use async_trait::async_trait;
use gaze_activity::{Calibration, SessionReport, TimelineSegment};
use tokio::sync::broadcast;

use crate::error::Result;
use crate::types::*;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-process, non-persistent ([`MemoryStore`](crate::MemoryStore)).
    Memory,
    /// One Redis server ([`RedisStore`](crate::RedisStore)).
    Redis,
    /// A Redis Cluster ([`RedisStore`](crate::RedisStore) over a cluster client).
    RedisCluster,
}

/// Users, sessions, reports, live timelines, login tokens, and the per-user adaptation
/// records (session traces, labels, adaptation).
///
/// All backends have the same semantics; one conformance suite (`tests/`) runs against each.
/// Each record is written by one atomic backend operation, so a dropped future, a crash or
/// an outage never leaves a half-written record; operations spanning several records (e.g.
/// registration: user record, then username claim) are ordered so that leftovers are
/// unreachable or repaired later (see the crate README).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Round-trip to the backend; `Unavailable` when it cannot be reached.
    async fn ping(&self) -> Result<()>;

    // ---- users -------------------------------------------------------------------------

    /// Registers a user. `Conflict` if the username (case-insensitive) or email is taken,
    /// `Invalid` if a limit is broken. The password is hashed with argon2id.
    async fn create_user(&self, new: NewUser) -> Result<User>;

    /// User by id; `NotFound` if absent.
    async fn get_user(&self, user_id: &str) -> Result<User>;

    /// User by username (case-insensitive); `NotFound` if absent.
    async fn get_user_by_username(&self, username: &str) -> Result<User>;

    /// Checks a username/password pair. `Unauthorized` for an unknown user or a wrong
    /// password (indistinguishable, similar timing).
    async fn verify_password(&self, username: &str, password: &str) -> Result<User>;

    /// Stores (replaces) the user's calibration as opaque JSON (≤ 1 MiB). `NotFound` if the
    /// user does not exist. Prefer the typed [`Store::set_calibration`].
    async fn set_calibration_json(
        &self,
        user_id: &str,
        calibration: serde_json::Value,
    ) -> Result<()>;

    /// The user's calibration JSON, `None` if never set; `NotFound` if the user does not exist.
    async fn get_calibration_json(&self, user_id: &str) -> Result<Option<serde_json::Value>>;

    /// Stores (replaces) the user's [`Calibration`] (serialized with serde).
    /// `Invalid` if it does not survive a JSON round trip (NaN/infinite numbers).
    async fn set_calibration(&self, user_id: &str, calibration: &Calibration) -> Result<()> {
        let json = serde_json::to_value(calibration)?;
        if serde_json::from_value::<Calibration>(json.clone()).is_err() {
            return Err(crate::StoreError::Invalid(
                "calibration contains non-finite numbers (NaN or infinity)".into(),
            ));
        }
        self.set_calibration_json(user_id, json).await
    }

    /// The user's [`Calibration`], `None` if never set; `NotFound` if the user does not exist.
    /// A stored calibration that no longer deserializes (its format changed) is an
    /// `Internal` error; overwrite it with a new one.
    async fn get_calibration(&self, user_id: &str) -> Result<Option<Calibration>> {
        match self.get_calibration_json(user_id).await? {
            Some(v) => Ok(Some(serde_json::from_value(v)?)),
            None => Ok(None),
        }
    }

    /// Deletes the user with everything they own: sessions, timelines, traces, labels,
    /// adaptation, calibration, tokens, username/email reservations. `NotFound` if absent.
    async fn delete_user(&self, user_id: &str) -> Result<()>;

    // ---- sessions ----------------------------------------------------------------------

    /// Creates a live session for an existing user (`NotFound` otherwise).
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord>;

    /// Atomically stores a checkpoint of a live session: running report, resume state, and
    /// new timeline segments (appended, or replacing the stored timeline when
    /// `replace_timeline` is set; the stored timeline is capped, oldest dropped).
    /// `Conflict` if the session has ended; `Duplicate` if `seq` was already applied;
    /// `Gap` (nothing applied) if the stored `seq` is lower than `prev_seq`.
    async fn checkpoint(
        &self,
        session_id: &str,
        checkpoint: Checkpoint,
    ) -> Result<CheckpointOutcome>;

    /// Ends a live session with its final report (its `timeline` is stored as given).
    /// `Conflict` if it already ended. Unfenced: refused with `Fenced` once the session has
    /// been leased (use [`Store::end_session_fenced`] with the lease's token).
    async fn end_session(&self, session_id: &str, report: SessionReport) -> Result<SessionRecord> {
        self.end_session_fenced(session_id, report, 0).await
    }

    /// Ends a live session with its final report, accepted only with the session's current
    /// lease token (0 = never leased); `Fenced` otherwise, `Conflict` if it already ended.
    /// The lease and any pending request are dropped with it.
    async fn end_session_fenced(
        &self,
        session_id: &str,
        report: SessionReport,
        lease_token: u64,
    ) -> Result<SessionRecord>;

    // ---- ownership (leases with fencing tokens) ------------------------------------------

    /// Takes ownership of a live session for `ttl` (100 ms – 10 min) on behalf of `holder`
    /// (an instance id, ≤ 128 printable bytes): granted when no lease exists, it expired or
    /// was released, or `holder` already holds it. A grant bumps the session's fencing token,
    /// so every write of a previous holder is refused from then on. `Held` if someone else's
    /// lease is still running; `NotFound` / `Conflict` (ended) otherwise.
    async fn acquire_lease(
        &self,
        session_id: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAcquire>;

    /// Extends the lease for `ttl` if `token` is still the session's current token (it is
    /// re-created if it had expired and nobody took over meanwhile). `Fenced` if someone took
    /// the session over; `Conflict` if it ended. Reports a pending [`LeaseRequest`].
    async fn renew_lease(
        &self,
        session_id: &str,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<LeaseRenewal>;

    /// Releases the lease if `token` is current (the next `acquire_lease` succeeds at once).
    /// Returns false when fenced (nothing done).
    async fn release_lease(&self, session_id: &str, token: u64) -> Result<bool>;

    /// Asks the current holder to release or end the session (it sees the request on its
    /// next renewal). Returns false when no lease is held (acquire it instead). An `End`
    /// request is not downgraded by a later `Release`.
    async fn request_lease(&self, session_id: &str, request: LeaseRequest) -> Result<bool>;

    /// One session; `NotFound` if absent.
    async fn get_session(&self, session_id: &str) -> Result<SessionRecord>;

    /// The session's checkpointed timeline, oldest first.
    async fn get_timeline(&self, session_id: &str) -> Result<Vec<TimelineSegment>>;

    /// All sessions, newest first (by `started_at_ms`, then id).
    async fn list_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>>;

    /// One user's sessions, newest first. `NotFound` if the user does not exist.
    async fn list_user_sessions(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SessionRecord>>;

    /// Sessions not yet ended, newest first: after a restart the server resumes or
    /// finalises these.
    async fn list_live_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>>;

    // ---- per-user adaptation -------------------------------------------------------------

    /// Stores (replaces) a session's sample trace ([`SessionTrace`], ≤
    /// [`MAX_TRACE_SAMPLES`](crate::MAX_TRACE_SAMPLES) samples, stored in its compact binary
    /// encoding). `NotFound` if the session does not exist, `Invalid` if the trace breaks
    /// [`SessionTrace::validate`]. Deleted with the user.
    async fn set_trace(&self, session_id: &str, trace: &SessionTrace) -> Result<()>;

    /// A session's trace, `None` if none was stored; `NotFound` if the session does not exist.
    async fn get_trace(&self, session_id: &str) -> Result<Option<SessionTrace>>;

    /// Stores a label of one of the user's sessions. `NotFound` if the user or the session
    /// does not exist or the session is not the user's; `Invalid` for a bad range, an
    /// activity other than reading / browsing / watching, or when the user already has
    /// [`MAX_LABELS_PER_USER`](crate::MAX_LABELS_PER_USER) labels.
    async fn add_label(&self, user_id: &str, label: NewLabel) -> Result<Label>;

    /// The user's labels, oldest first; `NotFound` if the user does not exist.
    async fn list_labels(&self, user_id: &str) -> Result<Vec<Label>>;

    /// Deletes one of the user's labels and returns it; `NotFound` if absent.
    async fn delete_label(&self, user_id: &str, label_id: &str) -> Result<Label>;

    /// Stores (`Some`, opaque JSON ≤ [`MAX_ADAPTATION_BYTES`](crate::MAX_ADAPTATION_BYTES))
    /// or clears (`None`) the user's activity-model adaptation. `NotFound` if the user does
    /// not exist.
    async fn set_adaptation_json(
        &self,
        user_id: &str,
        adaptation: Option<serde_json::Value>,
    ) -> Result<()>;

    /// The user's adaptation, `None` if none is stored; `NotFound` if the user does not exist.
    async fn get_adaptation_json(&self, user_id: &str) -> Result<Option<serde_json::Value>>;

    // ---- tokens ------------------------------------------------------------------------

    /// Issues a login token for an existing user, valid for `ttl` (≤ 90 days).
    async fn issue_token(&self, user_id: &str, ttl: Duration) -> Result<IssuedToken>;

    /// The user a token belongs to; `Unauthorized` if unknown, malformed, expired or revoked.
    async fn resolve_token(&self, token: &str) -> Result<User>;

    /// Revokes a token. Revoking an unknown token is not an error.
    async fn revoke_token(&self, token: &str) -> Result<()>;

    // ---- shared rate limits ---------------------------------------------------------------

    /// A token bucket shared by every server instance on this store: at most `capacity`
    /// takes per `window` for `key` (≤ 200 bytes), refilled continuously (store clock).
    /// Takes a token, or with `give_back` returns one (never above `capacity`). `Some(wait)`
    /// when the bucket is empty (nothing taken): the time until a token is back. A bucket
    /// untouched for a window is forgotten (expires). `capacity` 0 never refuses.
    async fn rate_limit(
        &self,
        key: &str,
        capacity: u32,
        window: Duration,
        give_back: bool,
    ) -> Result<Option<Duration>>;

    // ---- live fan-out ------------------------------------------------------------------

    /// Publishes one live message (typically a JSON text) for a session to every subscriber,
    /// on any server instance sharing this backend. Fire-and-forget: messages published while
    /// nobody listens are dropped. Returns how many subscribers got it (on Redis: how many
    /// connections, as reported by `PUBLISH`; on a cluster only those on the node that
    /// received it are counted, so it may be 0 while others still get the message).
    async fn publish_live(&self, session_id: &str, message: &str) -> Result<usize>;

    /// Subscribes to a session's live messages. The subscription is established when this
    /// returns, so a message published afterwards is received.
    async fn subscribe_live(&self, session_id: &str) -> Result<LiveFeed>;
}

/// A subscription to a session's live messages ([`Store::subscribe_live`]).
/// Dropping it unsubscribes.
pub struct LiveFeed {
    rx: broadcast::Receiver<String>,
    missed: u64,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("missed", &self.missed)
            .finish()
    }
}

impl LiveFeed {
    pub(crate) fn from_broadcast(rx: broadcast::Receiver<String>) -> Self {
        LiveFeed { rx, missed: 0 }
    }

    /// Next message, or `None` once the feed is closed. A slow reader skips messages rather
    /// than blocking publishers (see [`LiveFeed::missed`]).
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            match self.rx.recv().await {
                Ok(m) => return Some(m),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Messages skipped because this reader fell more than 256 messages behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}
