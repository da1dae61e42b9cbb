//! Security headers on every response (web UI, API, Swagger UI).
//!
//! * `Content-Security-Policy` — the web UI is one HTML file with no inline script, no inline
//!   style attribute and no third-party origin, so it runs under [`CSP`]: everything from
//!   this origin only (`connect-src 'self'` also covers the same-origin `ws:`/`wss:` socket in
//!   CSP Level 3 browsers), no plugins, no `<base>`, and no framing (`frame-ancestors
//!   'none'`, clickjacking). The Swagger UI under `/docs` (vendored `utoipa-swagger-ui`) loads
//!   its scripts from files too — including its initialiser — but sets inline styles and
//!   shows `data:` images, so it gets [`DOCS_CSP`]: the same policy with
//!   `style-src 'unsafe-inline'` and `img-src data:`. Scripts stay `'self'` everywhere.
//! * `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (older browsers),
//!   `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy: same-origin`,
//!   `Cross-Origin-Resource-Policy: same-origin`, `Permissions-Policy` (camera for this
//!   origin only; no microphone, geolocation).
//! * `Cache-Control: no-store` on every response that does not set its own (API JSON carries
//!   tokens and personal data); the UI's assets keep their `no-cache`, Swagger UI's files
//!   their own.
//! * `Strict-Transport-Security` when `--cookie-secure` says the server is reached over HTTPS.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::SharedState;

/// Policy of the web UI and the API.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Policy of the Swagger UI (`/docs`): inline styles and `data:` images, scripts from files.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware adding the headers above (a handler's own value wins).
pub async fn security_headers(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let own_cache = docs || path.starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { CSP },
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    );
    if !own_cache {
        set(header::CACHE_CONTROL, "no-store");
    }
    if st.config.cookie_secure {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    resp
}
