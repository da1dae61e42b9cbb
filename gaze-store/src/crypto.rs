//! Password hashing (argon2id), token generation/hashing and ids.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::PasswordParams;
use crate::error::{Result, StoreError};

/// Prefix of every login token.
pub(crate) const TOKEN_PREFIX: &str = "gzt_";

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// 64 random bits as 16 lowercase hex characters.
pub(crate) fn new_id() -> String {
    hex(&random_bytes::<8>())
}

/// Hashes `password` with argon2id and a fresh 128-bit salt; returns the PHC string.
/// CPU-heavy: call from a blocking thread.
pub(crate) fn hash_password(password: &str, p: PasswordParams) -> Result<String> {
    let params = Params::new(p.m_cost, p.t_cost, p.p_cost, None)
        .map_err(|e| StoreError::internal(format!("argon2 params: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| StoreError::internal(format!("salt: {e}")))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::internal(format!("argon2: {e}")))
}

/// Checks `password` against a PHC string (constant-time compare inside argon2).
/// CPU-heavy: call from a blocking thread.
pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Runs [`hash_password`] on tokio's blocking pool.
pub(crate) async fn hash_password_async(password: String, p: PasswordParams) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password, p))
        .await
        .map_err(|e| StoreError::internal(format!("hashing task: {e}")))?
}

/// Runs [`verify_password`] on tokio's blocking pool. With `phc == None` (unknown user) a
/// dummy hash of the same cost is verified so both paths take about the same time.
pub(crate) async fn verify_password_async(
    password: String,
    phc: Option<String>,
    dummy: std::sync::Arc<std::sync::OnceLock<String>>,
    p: PasswordParams,
) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (phc, real) = match phc {
            Some(h) => (h, true),
            None => {
                let d = match dummy.get() {
                    Some(d) => d.clone(),
                    None => {
                        let d = hash_password("dummy password for timing", p)?;
                        dummy.get_or_init(|| d).clone()
                    }
                };
                (d, false)
            }
        };
        Ok(verify_password(&password, &phc) && real)
    })
    .await
    .map_err(|e| StoreError::internal(format!("hashing task: {e}")))?
}

/// A login check shared by the backends: verifies `password` against the user that was found
/// (or against a dummy hash when none was, so timing does not tell whether the username
/// exists) and returns the user only when both the user exists and the password matches.
pub(crate) async fn check_login<U>(
    found: Option<(U, String)>,
    password: &str,
    dummy: std::sync::Arc<std::sync::OnceLock<String>>,
    p: PasswordParams,
) -> Result<U> {
    let (user, phc) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let ok = verify_password_async(password.to_owned(), phc, dummy, p).await?;
    match user {
        Some(u) if ok => Ok(u),
        _ => Err(StoreError::Unauthorized),
    }
}

/// A new bearer token (`gzt_` + 256 random bits in hex).
pub(crate) fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", hex(&random_bytes::<32>()))
}

/// SHA-256 of the token, hex. This is all the store keeps of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Cheap shape check done before any lookup.
pub(crate) fn token_well_formed(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + 64
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// Constant-time string equality.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Wall clock, epoch ms.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_roundtrip() {
        let h = hash_password("correct horse", PasswordParams::INSECURE_FAST).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        let h2 = hash_password("correct horse", PasswordParams::INSECURE_FAST).unwrap();
        assert_ne!(h, h2, "salts differ");
    }

    #[test]
    fn tokens() {
        let t = new_token();
        assert!(token_well_formed(&t));
        assert_eq!(token_hash(&t).len(), 64);
        assert_ne!(t, new_token());
        assert!(!token_well_formed("gzt_xyz"));
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("a", "ab"));
    }
}
