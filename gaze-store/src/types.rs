//! Records exchanged with a [`Store`](crate::Store).

use gaze_activity::{SessionReport, TimelineSegment};
use serde::{Deserialize, Serialize};

pub use crate::labels::{Label, NewLabel, SessionTrace};

/// A registered user. Never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Opaque id (16 lowercase hex characters), assigned by the store.
    pub id: String,
    /// Username as registered (display case). Unique case-insensitively.
    pub username: String,
    /// Optional email, unique case-insensitively when present.
    pub email: Option<String>,
    /// Creation time, Unix epoch milliseconds.
    pub created_at_ms: i64,
}

/// Input of [`Store::create_user`](crate::Store::create_user).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// 3–32 characters of `[A-Za-z0-9_.-]`, starting with a letter or digit.
    pub username: String,
    /// 8–1024 bytes. Hashed with argon2id; never stored in clear.
    pub password: String,
    /// Optional email (≤ 254 bytes, one `@`, no whitespace).
    pub email: Option<String>,
}

/// Lifecycle state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created, possibly checkpointed, not ended. After a server restart such a session can
    /// be resumed (from its last checkpoint) or finalised with [`Store::end_session`](crate::Store::end_session).
    Live,
    /// Ended with its final report; no further checkpoints are accepted.
    Ended,
}

/// Input of [`Store::create_session`](crate::Store::create_session).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Owner's user id; the user must exist.
    pub owner: String,
    /// Start time, Unix epoch milliseconds (0 ..= 2^53). Lists are ordered by it, newest first.
    pub started_at_ms: i64,
    /// Where the frames come from (free text ≤ 128 bytes, e.g. `"webcam"`, `"upload:clip.mp4"`).
    pub source: String,
}

/// One session as stored (without its timeline; see [`Store::get_timeline`](crate::Store::get_timeline)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id, assigned by the store: `<owner id>-<16 hex>`.
    pub id: String,
    /// Owner's user id.
    pub owner: String,
    /// Free-text source given at creation.
    pub source: String,
    /// Start time (epoch ms) given at creation.
    pub started_at_ms: i64,
    /// Live or ended.
    pub status: SessionStatus,
    /// Sequence number of the last applied checkpoint (0 = none yet).
    pub checkpoint_seq: u64,
    /// `at_ms` of the last applied checkpoint, if any.
    pub last_checkpoint_ms: Option<i64>,
    /// Running report (from the last checkpoint) while live; the final report once ended.
    pub report: Option<SessionReport>,
    /// Opaque resume state from the last checkpoint (cleared when the session ends).
    pub state: Option<serde_json::Value>,
    /// When [`Store::end_session`](crate::Store::end_session) was called (store clock, epoch ms).
    pub ended_at_ms: Option<i64>,
}

/// A periodic snapshot of a live session (the server sends one at least every 5 s).
///
/// Applying a checkpoint is atomic: the running report, the resume state and the new
/// timeline segments are all stored, or none are.
///
/// **Gaps.** A store that lost acknowledged writes (a Redis crash with `appendfsync
/// everysec` loses up to ~1 s) may hold an older `seq` than the writer believes. Appending
/// the next checkpoint's segments would then leave the lost checkpoint's segments out of
/// the stored timeline for good, so a checkpoint names the `seq` it follows (`prev_seq`);
/// when the stored `seq` is lower, nothing is applied and the store answers
/// [`CheckpointOutcome::Gap`]. The writer then sends a *resync* checkpoint
/// (`replace_timeline: true`) carrying the whole timeline, which replaces the stored one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Strictly increasing per session, starting at 1. A checkpoint whose `seq` is not greater
    /// than the stored one is ignored ([`CheckpointOutcome::Duplicate`]), which makes retries
    /// after a timeout safe.
    pub seq: u64,
    /// The `seq` of the checkpoint this one follows (normally `seq - 1`). If the stored `seq`
    /// is lower (writes were lost), the checkpoint is not applied
    /// ([`CheckpointOutcome::Gap`]). 0 disables the check (the default when absent from
    /// serialized input, as written before this field existed). Not checked for a resync
    /// (`replace_timeline`), which needs no predecessor.
    #[serde(default)]
    pub prev_seq: u64,
    /// Resync: `segments` is the session's whole timeline (closed segments, oldest first)
    /// and replaces the stored timeline instead of being appended (the stored timeline cap
    /// still applies: the oldest segments beyond it are dropped).
    #[serde(default)]
    pub replace_timeline: bool,
    /// Time of the snapshot, epoch ms (server clock).
    pub at_ms: i64,
    /// Running accounting totals. Its `timeline` may be left empty: the segments go in
    /// `segments` and are appended to the stored timeline.
    pub report: SessionReport,
    /// Timeline segments closed since the previous checkpoint, or the whole timeline when
    /// `replace_timeline` is set (≤ 10 000 per checkpoint).
    pub segments: Vec<TimelineSegment>,
    /// Opaque state the server needs to resume its accounting (≤ 16 MiB as JSON).
    pub state: serde_json::Value,
    /// Fencing token of the writer's lease ([`Store::acquire_lease`](crate::Store::acquire_lease)).
    /// Must equal the session's current token, else nothing is applied and the store answers
    /// [`CheckpointOutcome::Fenced`]. 0 (the serde default) only matches a session that was
    /// never leased.
    #[serde(default)]
    pub lease_token: u64,
}

/// Result of [`Store::checkpoint`](crate::Store::checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Stored.
    Applied,
    /// A checkpoint with this or a later `seq` was already stored; nothing changed.
    Duplicate,
    /// The stored `seq` is lower than the checkpoint's `prev_seq`: checkpoints the writer
    /// believed stored were lost (e.g. a Redis crash). Nothing changed; send a resync
    /// checkpoint (`replace_timeline: true`, whole timeline) to repair the stored timeline.
    Gap {
        /// The `seq` the store holds (0 = no checkpoint).
        stored_seq: u64,
    },
    /// The checkpoint's `lease_token` is not the session's current one: another writer took
    /// the session over (or the writer never held it). Nothing changed; the writer must stop
    /// writing for this session.
    Fenced {
        /// The session's current fencing token.
        current_token: u64,
    },
}

/// Result of [`Store::acquire_lease`](crate::Store::acquire_lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAcquire {
    /// The caller owns the session now, with a fresh fencing token (greater than every
    /// token handed out before for this session).
    Acquired {
        /// Fencing token to pass with every checkpoint / end of this session.
        token: u64,
        /// `seq` of the session's last stored checkpoint (resume from there).
        checkpoint_seq: u64,
    },
    /// Another holder's lease has not expired (nor been released).
    Held {
        /// Who holds it (the string given to `acquire_lease`).
        holder: String,
        /// Its fencing token.
        token: u64,
        /// Milliseconds until the lease expires unless renewed.
        expires_in_ms: u64,
    },
}

/// What another instance asks the holder of a session's lease to do
/// ([`Store::request_lease`](crate::Store::request_lease)); the holder learns it when it
/// renews the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseRequest {
    /// Hand the session over: write a last checkpoint, release the lease, close its sockets.
    Release,
    /// End the session (store its final report).
    End,
}

/// Result of [`Store::renew_lease`](crate::Store::renew_lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseRenewal {
    /// Still the holder; the lease runs for another `ttl`. `request` is set when another
    /// instance asked for the session ([`LeaseRequest`]).
    Renewed {
        /// A pending request from another instance, if any.
        request: Option<LeaseRequest>,
    },
    /// Someone else took the session over since (their token is newer): stop writing.
    Fenced {
        /// The session's current fencing token.
        current_token: u64,
    },
}

/// A page request for the session lists (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageRequest {
    /// Items wanted, 1 ..= [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE). 0 means the default (20).
    pub limit: u32,
    /// `next_cursor` of the previous page, or `None` for the first page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// First page with `limit` items.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit,
            cursor: None,
        }
    }

    /// The page after the one that returned `cursor`.
    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        PageRequest {
            limit,
            cursor: Some(cursor.into()),
        }
    }
}

/// One page of results. Pagination is keyset-based (by `(started_at_ms, id)`), so pages are
/// stable under concurrent inserts: items created after the first page never shift later pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` when this is the last page.
    pub next_cursor: Option<String>,
}

/// A freshly issued login token. The clear token exists only here: the store keeps a SHA-256
/// hash of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token: `gzt_` + 64 hex characters (256 random bits).
    pub token: String,
    /// Owner.
    pub user_id: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
}
