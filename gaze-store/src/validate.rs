//! Input checks shared by all backends, so limits hold whatever the caller.

use crate::config::*;
use crate::error::{Result, StoreError};
use crate::types::{Checkpoint, NewSession, NewUser, PageRequest};
use gaze_activity::SessionReport;

pub(crate) fn username(name: &str) -> Result<()> {
    if !USERNAME_LEN.contains(&name.len()) {
        return Err(StoreError::invalid(format!(
            "username must be {}-{} characters",
            USERNAME_LEN.start(),
            USERNAME_LEN.end()
        )));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok {
        return Err(StoreError::invalid(
            "username may contain only A-Z a-z 0-9 _ . - and must start with a letter or digit",
        ));
    }
    Ok(())
}

pub(crate) fn email(email: &str) -> Result<()> {
    let ok = email.len() <= MAX_EMAIL_LEN
        && email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid("malformed email"))
    }
}

pub(crate) fn new_user(u: &NewUser) -> Result<()> {
    username(&u.username)?;
    if !PASSWORD_LEN.contains(&u.password.len()) {
        return Err(StoreError::invalid(format!(
            "password must be {}-{} bytes",
            PASSWORD_LEN.start(),
            PASSWORD_LEN.end()
        )));
    }
    if let Some(e) = &u.email {
        email(e)?;
    }
    Ok(())
}

/// Ids are lowercase hex of a fixed length; checking them keeps junk out of Redis keys.
pub(crate) fn user_id(id: &str) -> Result<()> {
    if is_hex(id, 16) {
        Ok(())
    } else {
        Err(StoreError::not_found("user"))
    }
}

/// Session ids are `<user id>-<16 hex>`; returns the owner id.
pub(crate) fn session_id(id: &str) -> Result<&str> {
    match id.split_once('-') {
        Some((owner, rest)) if is_hex(owner, 16) && is_hex(rest, 16) => Ok(owner),
        _ => Err(StoreError::not_found("session")),
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn new_session(s: &NewSession) -> Result<()> {
    user_id(&s.owner)?;
    if !(0..=(1i64 << 53)).contains(&s.started_at_ms) {
        return Err(StoreError::invalid("started_at_ms out of range"));
    }
    if s.source.len() > MAX_SOURCE_LEN || s.source.chars().any(|c| c.is_control()) {
        return Err(StoreError::invalid(format!(
            "source must be at most {MAX_SOURCE_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

pub(crate) fn checkpoint(c: &Checkpoint) -> Result<()> {
    if c.seq == 0 {
        return Err(StoreError::invalid("checkpoint seq starts at 1"));
    }
    if c.segments.len() > MAX_SEGMENTS_PER_CHECKPOINT {
        return Err(StoreError::invalid(format!(
            "at most {MAX_SEGMENTS_PER_CHECKPOINT} segments per checkpoint"
        )));
    }
    if c.segments
        .iter()
        .any(|s| !s.start_ms.is_finite() || !s.end_ms.is_finite())
    {
        return Err(StoreError::invalid(
            "timeline segment with a non-finite time",
        ));
    }
    Ok(())
}

/// Serializes a report and checks it reads back: JSON has no NaN/infinity (serde_json writes
/// them as `null`, which would make the stored record unreadable), so such reports are
/// rejected here rather than stored.
pub(crate) fn report(r: &SessionReport) -> Result<String> {
    let json = serde_json::to_string(r)?;
    blob("report", &json)?;
    if serde_json::from_str::<SessionReport>(&json).is_err() {
        return Err(StoreError::invalid(
            "report contains non-finite numbers (NaN or infinity)",
        ));
    }
    Ok(json)
}

pub(crate) fn blob(what: &str, json: &str) -> Result<()> {
    let max = if what == "calibration" {
        MAX_CALIBRATION_BYTES
    } else {
        MAX_SESSION_BLOB_BYTES
    };
    if json.len() > max {
        return Err(StoreError::invalid(format!(
            "{what} is larger than {max} bytes"
        )));
    }
    Ok(())
}

/// Returns the effective limit.
pub(crate) fn page(p: &PageRequest) -> Result<usize> {
    let limit = if p.limit == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        p.limit
    };
    if limit > MAX_PAGE_SIZE {
        return Err(StoreError::invalid(format!(
            "page size must be at most {MAX_PAGE_SIZE}"
        )));
    }
    if let Some(c) = &p.cursor {
        index_member(c)?;
    }
    Ok(limit as usize)
}

/// Session list members (and cursors): `<started_at as 16 hex>:<session id>`; they sort
/// byte-wise in (start time, id) order.
pub(crate) fn index_member_for(started_at_ms: i64, session_id: &str) -> String {
    format!("{:016x}:{session_id}", started_at_ms.max(0))
}

pub(crate) fn index_member(m: &str) -> Result<&str> {
    match m.split_once(':') {
        Some((ts, sid)) if is_hex(ts, 16) => session_id(sid)
            .map(|_| sid)
            .map_err(|_| StoreError::invalid("malformed cursor")),
        _ => Err(StoreError::invalid("malformed cursor")),
    }
}

pub(crate) fn token_ttl(ttl: std::time::Duration) -> Result<()> {
    if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
        return Err(StoreError::invalid(
            "token ttl must be between 1 ms and 90 days",
        ));
    }
    Ok(())
}

/// Case-folded key for unique usernames / emails.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Lease holder names go into Redis values: printable, bounded.
pub(crate) fn lease(holder: &str, ttl: std::time::Duration) -> Result<()> {
    if holder.is_empty() || holder.len() > 128 || holder.chars().any(|c| c.is_control() || c == '|')
    {
        return Err(StoreError::invalid(
            "lease holder must be 1-128 printable bytes without '|'",
        ));
    }
    if ttl < std::time::Duration::from_millis(100) || ttl > std::time::Duration::from_secs(600) {
        return Err(StoreError::invalid("lease ttl must be 100 ms - 10 min"));
    }
    Ok(())
}

/// Rate-limit keys go into Redis key names: bounded, printable.
pub(crate) fn rate_key(key: &str, window: std::time::Duration) -> Result<()> {
    if key.is_empty() || key.len() > 200 || key.chars().any(|c| c.is_control()) {
        return Err(StoreError::invalid(
            "rate-limit key must be 1-200 printable bytes",
        ));
    }
    if window < std::time::Duration::from_millis(1)
        || window > std::time::Duration::from_secs(86_400)
    {
        return Err(StoreError::invalid(
            "rate-limit window must be 1 ms - 1 day",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username("bob").is_ok());
        assert!(username("Al_ice.2-x").is_ok());
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("_bob").is_err());
        assert!(username("bob smith").is_err());
        assert!(username("bøb").is_err());
        assert!(username("bob{x}").is_err());
    }

    #[test]
    fn members_sort_by_time() {
        let a = index_member_for(5, "0123456789abcdef-0000000000000000");
        let b = index_member_for(300, "0123456789abcdef-0000000000000000");
        assert!(a < b);
        assert_eq!(
            index_member(&a).ok(),
            Some("0123456789abcdef-0000000000000000")
        );
        assert!(index_member("zz:foo").is_err());
    }
}
