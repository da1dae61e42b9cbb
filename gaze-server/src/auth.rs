//! Authentication (bearer token or HttpOnly cookie) and the admin rule.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use gaze_store::{StoreError, User};

use crate::error::AppError;
use crate::state::SharedState;

/// Name of the login cookie.
pub const COOKIE_NAME: &str = "gaze_token";

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user.
    pub user: User,
    /// The token used.
    pub token: String,
    /// Whether the user is an admin (`--admin-user`).
    pub is_admin: bool,
}

impl AuthUser {
    /// True when the caller may see data owned by `owner_id`.
    pub fn may_see(&self, owner_id: &str) -> bool {
        self.is_admin || self.user.id == owner_id
    }
}

/// The token from `Authorization: Bearer …` or, failing that, the login cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
        {
            let t = v.get(7..).unwrap_or("").trim();
            if !t.is_empty() {
                return Some(t.to_string());
            }
        }
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Resolves a token to the caller.
pub async fn authenticate(st: &SharedState, token: &str) -> Result<AuthUser, AppError> {
    if token.is_empty() || token.len() > 256 {
        return Err(AppError::Unauthorized);
    }
    let user = st.store.resolve_token(token).await.map_err(|e| match e {
        StoreError::Unavailable(m) => AppError::Unavailable(m),
        _ => AppError::Unauthorized,
    })?;
    let is_admin = st.config.is_admin(&user.username);
    Ok(AuthUser {
        user,
        token: token.to_string(),
        is_admin,
    })
}

impl FromRequestParts<SharedState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_from_headers(&parts.headers).ok_or(AppError::Unauthorized)?;
        authenticate(st, &token).await
    }
}

/// `Set-Cookie` value carrying a login token: `HttpOnly` (no script reads it),
/// `SameSite=Strict` (no cross-site request carries it — the UI is a single page whose
/// authenticated calls are all same-origin `fetch`es, so Strict costs nothing here, unlike
/// sites that must be logged in on the first navigation from a link elsewhere), `Path=/`,
/// and `Secure` with `--cookie-secure`.
pub fn login_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` value that deletes the login cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
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
    fn bearer_wins_then_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "gaze_token=xyz"),
        ]);
        assert_eq!(token_from_headers(&h).as_deref(), Some("abc"));
        let h = headers(&[("authorization", "bearer  abc ")]);
        assert_eq!(token_from_headers(&h).as_deref(), Some("abc"));
        let h = headers(&[("cookie", "a=1; gaze_token=xyz; b=2")]);
        assert_eq!(token_from_headers(&h).as_deref(), Some("xyz"));
        let h = headers(&[("authorization", "Basic Zm9v"), ("cookie", "gaze_token=")]);
        assert_eq!(token_from_headers(&h), None);
        assert_eq!(token_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn cookie_flags() {
        let c = login_cookie("t", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(login_cookie("t", 60, true).ends_with("; Secure"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
