//! Abuse limits: login and registration rate limiting, the client IP, and the JSON 413 for
//! oversized request bodies.
//!
//! # Rate limits
//!
//! Each limit is a set of token buckets ([`RateLimiter`]), one per key, holding at most `n`
//! tokens and refilling continuously at `n` per window (`--rate-window-secs`, 60 s):
//!
//! | limit | key | what takes a token | default |
//! |---|---|---|---|
//! | `--login-attempts-per-ip` | client IP (IPv6: its /64) | every login attempt | 20 / min |
//! | `--login-failures-per-user` | username (case-insensitive) | a failed login | 5 / min |
//! | `--register-per-ip` | client IP | every registration attempt | 10 / min |
//!
//! A refused request gets 429 `{"error"}` with `Retry-After` (seconds until a token is
//! back) and is not counted. Per username only *failures* count: a login takes a token
//! before the password is checked (so concurrent guesses cannot all slip through) and gets it
//! back when the password was right, so one's own successful logins never use up the
//! budget. A user whose bucket an attacker keeps empty is refused too (the password is not
//! checked while the bucket is empty), but never for long: a token comes back every
//! `window / n` (12 s by default), and the attacker is held to `n` guesses per window per
//! username whatever the number of IPs.
//!
//! **Shared buckets.** With several instances behind a balancer the buckets live in the
//! store (`gz:rl:<limit>:<key>` in Redis, refilled on Redis's clock; [`Store::rate_limit`]),
//! so the budget is one for the whole fleet. While the store does not answer, each instance
//! falls back to its own in-process buckets (below; counted in `gaze_limit_fallbacks_total`)
//! and tries the store again after 5 s.
//!
//! Memory is bounded: a bucket that has refilled is the same as no bucket and is dropped by a
//! sweep once per window; past [`MAX_KEYS`] keys the fullest tenth is evicted at once.
//!
//! # Client IP
//!
//! The peer address of the TCP connection. Only with `--trust-forwarded-for` (behind a
//! reverse proxy that appends the client address) the last `X-Forwarded-For` entry is used;
//! otherwise any client could choose its own key.
//!
//! # Body size and JSON errors
//!
//! [`guard_requests`] refuses a declared `Content-Length` beyond `Config::body_limit` before
//! the handler runs (on every route, also those that never read their body). It also gives
//! every error response the `{"error"}` JSON body the API documents: axum's own rejections
//! (a chunked body over the limit caught by an extractor, a failed WebSocket upgrade, a
//! wrong method, a bad path) are plain text or empty.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gaze_store::Store;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::state::SharedState;

/// Most keys one limiter keeps (about 100 bytes each).
pub const MAX_KEYS: usize = 65_536;

/// Longest key kept (longer usernames are cut: valid ones have at most 32 characters).
const MAX_KEY_LEN: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<String, Bucket>,
    last_sweep: Instant,
}

/// Token buckets keyed by a string: at most `capacity` takes at once per key, refilled at
/// `capacity` per window. `capacity` 0 turns the limiter off.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_sec: f64,
    window: Duration,
    max_keys: usize,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    /// `capacity` takes per `window` per key, at most `max_keys` keys.
    pub fn new(capacity: u32, window: Duration, max_keys: usize) -> Self {
        let window = window.max(Duration::from_millis(1));
        RateLimiter {
            capacity: f64::from(capacity),
            per_sec: f64::from(capacity) / window.as_secs_f64(),
            window,
            max_keys: max_keys.max(1),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// True when this limiter never refuses.
    pub fn is_off(&self) -> bool {
        self.capacity <= 0.0
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        // A panic while holding the lock cannot leave the map inconsistent (plain inserts).
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn level(&self, b: &Bucket, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + dt * self.per_sec).min(self.capacity)
    }

    /// Takes a token for `key`; `Err(wait)` (nothing taken) when the bucket is empty, with
    /// the time until a token is back.
    pub fn try_take(&self, key: &str) -> Result<(), Duration> {
        self.try_take_at(key, Instant::now())
    }

    /// [`RateLimiter::try_take`] at a given time (for tests).
    pub fn try_take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.is_off() {
            return Ok(());
        }
        let key = cut(key);
        let mut g = self.lock();
        if now.saturating_duration_since(g.last_sweep) >= self.window {
            self.sweep(&mut g, now);
        }
        let level = match g.map.get(key) {
            Some(b) => self.level(b, now),
            None => {
                if g.map.len() >= self.max_keys {
                    self.make_room(&mut g, now);
                }
                self.capacity
            }
        };
        if level < 1.0 - 1e-9 {
            g.map.insert(
                key.to_string(),
                Bucket {
                    tokens: level,
                    at: now,
                },
            );
            let wait = (1.0 - level) / self.per_sec;
            return Err(Duration::from_secs_f64(wait.max(0.0)));
        }
        g.map.insert(
            key.to_string(),
            Bucket {
                tokens: level - 1.0,
                at: now,
            },
        );
        Ok(())
    }

    /// Gives back a token taken by [`RateLimiter::try_take`] (never above capacity).
    pub fn give_back(&self, key: &str) {
        if self.is_off() {
            return;
        }
        let key = cut(key);
        let now = Instant::now();
        let mut g = self.lock();
        if let Some(b) = g.map.get(key).copied() {
            let level = (self.level(&b, now) + 1.0).min(self.capacity);
            if level >= self.capacity {
                g.map.remove(key);
            } else {
                g.map.insert(
                    key.to_string(),
                    Bucket {
                        tokens: level,
                        at: now,
                    },
                );
            }
        }
    }

    /// Drops the buckets that have refilled (they mean the same as no bucket).
    fn sweep(&self, g: &mut Buckets, now: Instant) {
        let cap = self.capacity;
        g.map.retain(|_, b| self.level(b, now) < cap);
        g.last_sweep = now;
    }

    /// Sweeps; if every key is still in use, evicts the fullest tenth (the least harm:
    /// those are the closest to a fresh bucket).
    fn make_room(&self, g: &mut Buckets, now: Instant) {
        self.sweep(g, now);
        if g.map.len() < self.max_keys {
            return;
        }
        let mut levels: Vec<(f64, String)> = g
            .map
            .iter()
            .map(|(k, b)| (self.level(b, now), k.clone()))
            .collect();
        levels.sort_by(|a, b| b.0.total_cmp(&a.0));
        let n = (self.max_keys / 10).max(1);
        for (_, k) in levels.into_iter().take(n) {
            g.map.remove(&k);
        }
        tracing::warn!(
            keys = self.max_keys,
            evicted = n,
            "rate limiter full: evicted the fullest buckets"
        );
    }
}

fn cut(key: &str) -> &str {
    match key.char_indices().nth(MAX_KEY_LEN) {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

/// The three limits, by name (also the prefix of their shared buckets' keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    LoginUser,
    LoginIp,
    RegisterIp,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::LoginUser => "login_user",
            Which::LoginIp => "login_ip",
            Which::RegisterIp => "register_ip",
        }
    }
}

/// How long the local buckets are used after the shared ones failed, before trying again.
const SHARED_RETRY: Duration = Duration::from_secs(5);

/// The login and registration limits of one server: buckets in the store shared by every
/// instance (one budget for the fleet), falling back to this process's buckets while the
/// store does not answer.
#[derive(Debug)]
pub struct AuthLimits {
    login_user: RateLimiter,
    login_ip: RateLimiter,
    register_ip: RateLimiter,
    window: Duration,
    shared: Option<Arc<dyn Store>>,
    /// Until when the shared buckets are skipped (they failed).
    shared_down_until: Mutex<Option<Instant>>,
    /// Decisions taken by the local buckets because the shared ones failed.
    fallbacks: AtomicU64,
}

/// A login's hold on a token of its username's bucket: kept when the login fails, given back
/// by [`LoginAttempt::succeeded`] (or [`LoginAttempt::not_counted`] when the store failed).
#[derive(Debug)]
#[must_use]
pub struct LoginAttempt<'a> {
    limits: &'a AuthLimits,
    key: String,
    /// The token came from the shared bucket.
    shared: bool,
}

impl LoginAttempt<'_> {
    /// The password was right: the token goes back.
    pub async fn succeeded(self) {
        self.limits
            .give_back(Which::LoginUser, &self.key, self.shared)
            .await;
    }

    /// The attempt could not be decided (store error): the token goes back.
    pub async fn not_counted(self) {
        self.limits
            .give_back(Which::LoginUser, &self.key, self.shared)
            .await;
    }
}

fn refuse(what: &str, wait: Duration) -> AppError {
    AppError::TooManyRequests {
        what: what.to_string(),
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// Key of a client IP: IPv4 as is, IPv6 by its /64 (one subscriber's usual allocation).
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl AuthLimits {
    /// The limits configured by `config`, in this process only.
    pub fn from_config(config: &Config) -> Self {
        let window = Duration::from_secs(config.rate_window_secs.max(1));
        AuthLimits {
            login_user: RateLimiter::new(config.login_failures_per_user, window, MAX_KEYS),
            login_ip: RateLimiter::new(config.login_attempts_per_ip, window, MAX_KEYS),
            register_ip: RateLimiter::new(config.register_per_ip, window, MAX_KEYS),
            window,
            shared: None,
            shared_down_until: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// The limits configured by `config`, with their buckets in `store` (shared by every
    /// instance on it); the local buckets take over while the store fails.
    pub fn shared(config: &Config, store: Arc<dyn Store>) -> Self {
        AuthLimits {
            shared: Some(store),
            ..Self::from_config(config)
        }
    }

    /// Decisions the local buckets took because the shared ones failed.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn limiter(&self, which: Which) -> &RateLimiter {
        match which {
            Which::LoginUser => &self.login_user,
            Which::LoginIp => &self.login_ip,
            Which::RegisterIp => &self.register_ip,
        }
    }

    /// The shared store unless it failed within [`SHARED_RETRY`].
    fn shared_store(&self) -> Option<&Arc<dyn Store>> {
        let store = self.shared.as_ref()?;
        let mut down = self
            .shared_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match *down {
            Some(t) if Instant::now() < t => None,
            Some(_) => {
                *down = None;
                Some(store)
            }
            None => Some(store),
        }
    }

    fn shared_failed(&self, e: &gaze_store::StoreError) {
        let mut down = self
            .shared_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if down.is_none() {
            tracing::warn!(error = %e, "shared rate limits unavailable; using this instance's buckets");
        }
        *down = Some(Instant::now() + SHARED_RETRY);
    }

    /// Takes a token; `Ok(true)` when it came from the shared bucket.
    async fn take(&self, which: Which, key: &str) -> Result<bool, Duration> {
        let local = self.limiter(which);
        if local.is_off() {
            return Ok(false);
        }
        let key = cut(key);
        if let Some(store) = self.shared_store() {
            let cap = local.capacity as u32;
            let shared_key = format!("{}:{key}", which.name());
            match store.rate_limit(&shared_key, cap, self.window, false).await {
                Ok(None) => return Ok(true),
                Ok(Some(wait)) => return Err(wait),
                Err(e) => self.shared_failed(&e),
            }
        }
        if self.shared.is_some() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        local.try_take(key).map(|_| false)
    }

    async fn give_back(&self, which: Which, key: &str, shared: bool) {
        if shared {
            if let Some(store) = &self.shared {
                let cap = self.limiter(which).capacity as u32;
                let shared_key = format!("{}:{key}", which.name());
                if let Err(e) = store.rate_limit(&shared_key, cap, self.window, true).await {
                    tracing::debug!(error = %e, "cannot give a shared rate-limit token back");
                }
                return;
            }
        }
        self.limiter(which).give_back(key);
    }

    /// Counts a login attempt from `ip`; 429 when the IP's budget is used up.
    pub async fn login_from(&self, ip: IpAddr) -> AppResult<()> {
        self.take(Which::LoginIp, &ip_key(ip))
            .await
            .map(|_| ())
            .map_err(|w| refuse("login attempts from this address", w))
    }

    /// Takes a failure token of `username`'s bucket before its password is checked; 429
    /// (password not checked) when the bucket is empty.
    pub async fn login_as(&self, username: &str) -> AppResult<LoginAttempt<'_>> {
        let key = cut(&username.trim().to_lowercase()).to_string();
        let shared = self
            .take(Which::LoginUser, &key)
            .await
            .map_err(|w| refuse("failed logins for this user", w))?;
        Ok(LoginAttempt {
            limits: self,
            key,
            shared,
        })
    }

    /// Counts a registration attempt from `ip`; 429 when the IP's budget is used up.
    pub async fn register_from(&self, ip: IpAddr) -> AppResult<()> {
        self.take(Which::RegisterIp, &ip_key(ip))
            .await
            .map(|_| ())
            .map_err(|w| refuse("registrations from this address", w))
    }

    /// Keys held by the three local limiters (username, login IP, registration IP).
    pub fn key_counts(&self) -> (usize, usize, usize) {
        (
            self.login_user.len(),
            self.login_ip.len(),
            self.register_ip.len(),
        )
    }
}

/// The client's IP address (see the module docs); `0.0.0.0` when unknown (in-process
/// requests without a socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client IP of a request with these headers and peer address.
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded: bool) -> IpAddr {
    if trust_forwarded
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return ip;
    }
    peer.map(|p| p.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

impl FromRequestParts<SharedState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(ClientIp(client_ip(
            &parts.headers,
            peer,
            st.config.trust_forwarded_for,
        )))
    }
}

/// Middleware: 413 JSON for a declared body beyond the limit (before the handler), and the
/// `{"error"}` JSON body for every error response that has another body.
pub async fn guard_requests(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let limit = st.config.body_limit();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_large = || {
        AppError::TooLarge(format!("request body exceeds the limit of {limit} bytes"))
            .into_response()
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    json_error(resp).await
}

/// Rewrites a non-JSON error response as `{"error": "<its text or reason>"}`, keeping its
/// status and headers (e.g. `Allow` on 405).
async fn json_error(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let msg = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_lowercase()
    } else {
        text
    };
    let body = serde_json::json!({ "error": msg }).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_pass_then_refused_then_refill() {
        let l = RateLimiter::new(3, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.try_take_at("a", t0).is_ok());
        }
        let wait = l.try_take_at("a", t0).expect_err("4th refused");
        assert!((wait.as_secs_f64() - 20.0).abs() < 0.01, "{wait:?}");
        // Refused attempts are not counted: still one token after 20 s.
        assert!(l.try_take_at("a", t0).is_err());
        assert!(l.try_take_at("b", t0).is_ok(), "other keys unaffected");
        assert!(l.try_take_at("a", t0 + Duration::from_secs(19)).is_err());
        assert!(l.try_take_at("a", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.try_take_at("a", t0 + Duration::from_secs(20)).is_err());
        // A full window later the bucket is full again, not more.
        let t1 = t0 + Duration::from_secs(200);
        for _ in 0..3 {
            assert!(l.try_take_at("a", t1).is_ok());
        }
        assert!(l.try_take_at("a", t1).is_err());
    }

    #[test]
    fn give_back_and_off() {
        let l = RateLimiter::new(1, Duration::from_secs(60), 100);
        assert!(l.try_take("k").is_ok());
        assert!(l.try_take("k").is_err());
        l.give_back("k");
        assert!(l.try_take("k").is_ok());
        l.give_back("k");
        l.give_back("k");
        assert!(l.try_take("k").is_ok());
        assert!(l.try_take("k").is_err(), "give_back never exceeds capacity");
        let off = RateLimiter::new(0, Duration::from_secs(60), 100);
        for _ in 0..1000 {
            assert!(off.try_take("k").is_ok());
        }
        assert!(off.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let l = RateLimiter::new(2, Duration::from_secs(60), 1000);
        let t0 = Instant::now();
        for i in 0..10_000 {
            let _ = l.try_take_at(&format!("user{i}"), t0);
            assert!(l.len() <= 1000);
        }
        // One window later a sweep drops every refilled bucket.
        let _ = l.try_take_at("x", t0 + Duration::from_secs(61));
        assert_eq!(l.len(), 1);
        // Long keys are cut.
        let long = "z".repeat(10_000);
        let _ = l.try_take_at(&long, t0);
        let _ = l.try_take_at(&long, t0);
        assert!(l.try_take_at(&long[..64], t0).is_err());
    }

    #[test]
    fn ip_keys_and_forwarded_for() {
        assert_eq!(ip_key("10.1.2.3".parse().expect("ip")), "10.1.2.3");
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1".parse().expect("ip")),
            ip_key("2001:db8:1:2:bbbb::9".parse().expect("ip"))
        );
        assert_eq!(ip_key("::ffff:10.0.0.1".parse().expect("ip")), "10.0.0.1");
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, 2.2.2.2".parse().expect("header"),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        assert_eq!(client_ip(&h, Some(peer), false), peer.ip());
        assert_eq!(
            client_ip(&h, Some(peer), true),
            "2.2.2.2".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_ip(&HeaderMap::new(), Some(peer), true),
            peer.ip(),
            "no header: the peer"
        );
    }
}
