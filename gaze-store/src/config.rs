//! Store configuration and the documented input limits.

use std::time::Duration;

/// Largest page a list call may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Page size used when a [`PageRequest`](crate::PageRequest) has `limit == 0`.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Username length bounds (bytes; usernames are ASCII).
pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=32;
/// Password length bounds (bytes).
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=1024;
/// Longest email accepted (bytes).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest session `source` accepted (bytes).
pub const MAX_SOURCE_LEN: usize = 128;
/// Most timeline segments one checkpoint may carry.
pub const MAX_SEGMENTS_PER_CHECKPOINT: usize = 10_000;
/// Largest serialized checkpoint `state` or session report (bytes of JSON). Generous on
/// purpose: a final report carries the whole timeline and the resume state may too, and a
/// long session must never become impossible to checkpoint or end.
pub const MAX_SESSION_BLOB_BYTES: usize = 16 << 20;
/// Largest serialized calibration (bytes of JSON).
pub const MAX_CALIBRATION_BYTES: usize = 1 << 20;
/// Longest token lifetime accepted by `issue_token`.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl PasswordParams {
    /// Production default: 19 MiB, 2 iterations, 1 lane (OWASP's argon2id baseline).
    pub const DEFAULT: PasswordParams = PasswordParams {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// Cheap parameters for tests only (argon2's minimums). Never use in production.
    pub const INSECURE_FAST: PasswordParams = PasswordParams {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Tunables shared by all backends.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Argon2id cost for new password hashes (existing hashes verify with their own params).
    pub password: PasswordParams,
    /// Hard bound on one backend operation (Redis: connect + command); past it the call
    /// fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable).
    pub op_timeout: Duration,
    /// Timeline segments kept per session (oldest dropped first).
    pub max_timeline_len: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            password: PasswordParams::DEFAULT,
            op_timeout: Duration::from_secs(2),
            max_timeline_len: 50_000,
        }
    }
}

impl StoreConfig {
    /// Defaults with [`PasswordParams::INSECURE_FAST`]: for test suites only.
    pub fn for_tests() -> Self {
        StoreConfig {
            password: PasswordParams::INSECURE_FAST,
            ..StoreConfig::default()
        }
    }
}
