//! Command-line / environment configuration (clap).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Server settings. Every flag can also be given as an environment variable (shown in
/// `--help`).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gaze-server",
    version,
    about = "gaze REST + WebSocket API and web UI"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "GAZE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// Store URL: `redis://host:port[/db]`, `redis+cluster://h1:p1,h2:p2`, or `memory://`
    /// (not persistent). Unset: the server starts its own local redis-server (AOF everysec)
    /// with its data under `--data-dir`.
    #[arg(long, env = "GAZE_STORE_URL")]
    pub store_url: Option<String>,

    /// Data directory for the managed redis-server (used when no store URL is set).
    #[arg(long, env = "GAZE_DATA_DIR", default_value = "data/redis")]
    pub data_dir: PathBuf,

    /// Port of the managed redis-server (0: pick a free port).
    #[arg(long, env = "GAZE_REDIS_PORT", default_value_t = 6390)]
    pub redis_port: u16,

    /// redis-server executable for the managed instance.
    #[arg(long, env = "GAZE_REDIS_SERVER", default_value = "redis-server")]
    pub redis_server: String,

    /// Usernames with admin rights (comma separated, case-insensitive). Admins see every
    /// user's profile and sessions and may watch any live session.
    #[arg(long = "admin-user", env = "GAZE_ADMIN_USERS", value_delimiter = ',')]
    pub admin_users: Vec<String>,

    /// Largest accepted frame (encoded bytes of one JPEG/PNG, after base64 decoding).
    #[arg(long, env = "GAZE_MAX_FRAME_BYTES", default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,

    /// Largest accepted frame width or height (pixels).
    #[arg(long, env = "GAZE_MAX_FRAME_SIDE", default_value_t = 1920)]
    pub max_frame_side: u32,

    /// Most live sessions at once (new ones get 503).
    #[arg(long, env = "GAZE_MAX_LIVE_SESSIONS", default_value_t = 256)]
    pub max_live_sessions: usize,

    /// Most live sessions per user at once (more get 409).
    #[arg(long, env = "GAZE_MAX_LIVE_PER_USER", default_value_t = 4)]
    pub max_live_per_user: usize,

    /// Frame worker threads, i.e. frames processed in parallel (0: one per CPU core).
    #[arg(long, env = "GAZE_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Login token lifetime (hours).
    #[arg(long, env = "GAZE_TOKEN_TTL_HOURS", default_value_t = 168)]
    pub token_ttl_hours: u64,

    /// Seconds between checkpoints of a live session to the store.
    #[arg(long, env = "GAZE_CHECKPOINT_SECS", default_value_t = 5)]
    pub checkpoint_secs: u64,

    /// Seconds a session waits for its tracking connection to come back before it is
    /// finalised (0: finalise as soon as the connection drops).
    #[arg(long, env = "GAZE_RECONNECT_GRACE_SECS", default_value_t = 10)]
    pub reconnect_grace_secs: u64,

    /// Lease of a live session (seconds): the instance hosting it renews it several times
    /// per lease; when the instance dies, another takes the session over once the lease
    /// expired (a session asked for by a live instance is handed over at once).
    #[arg(long, env = "GAZE_LEASE_SECS", default_value_t = 2.0)]
    pub lease_secs: f64,

    /// This instance's name in session leases (default: random, unique per process).
    #[arg(long, env = "GAZE_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Seconds a WebSocket may take to authenticate with its first message.
    #[arg(long, env = "GAZE_WS_AUTH_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_auth_timeout_secs: u64,

    /// Log filter (tracing EnvFilter syntax, e.g. `info` or `gaze_server=debug`).
    #[arg(long, env = "GAZE_LOG", default_value = "info")]
    pub log_level: String,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "GAZE_LOG_JSON")]
    pub log_json: bool,

    /// Mark the login cookie `Secure` (set when served over HTTPS).
    #[arg(long, env = "GAZE_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Failed logins allowed per username per `--rate-window-secs` (0: no limit). The bucket
    /// refills continuously, so a locked-out user waits at most one window share.
    #[arg(long, env = "GAZE_LOGIN_FAILURES_PER_USER", default_value_t = 5)]
    pub login_failures_per_user: u32,

    /// Login attempts allowed per client IP per `--rate-window-secs` (0: no limit).
    #[arg(long, env = "GAZE_LOGIN_ATTEMPTS_PER_IP", default_value_t = 20)]
    pub login_attempts_per_ip: u32,

    /// Registrations allowed per client IP per `--rate-window-secs` (0: no limit).
    #[arg(long, env = "GAZE_REGISTER_PER_IP", default_value_t = 10)]
    pub register_per_ip: u32,

    /// Window of the login / registration rate limits (seconds).
    #[arg(long, env = "GAZE_RATE_WINDOW_SECS", default_value_t = 60)]
    pub rate_window_secs: u64,

    /// Keep the login / registration buckets in this process only (default: in the store,
    /// one budget shared by every instance; local buckets only while the store fails).
    #[arg(long, env = "GAZE_LOCAL_LIMITS")]
    pub local_limits: bool,

    /// Take the client IP from the last `X-Forwarded-For` entry (only behind a reverse proxy
    /// that sets it; otherwise clients could pick their own IP). Default: the peer address.
    #[arg(long, env = "GAZE_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Open the web UI in a browser (xdg-open) once the server listens.
    #[arg(long, env = "GAZE_OPEN")]
    pub open: bool,

    /// At startup, resume (from their last checkpoint) or finalise sessions a previous run
    /// left live.
    #[arg(long, env = "GAZE_FINALIZE_STALE", default_value_t = true, action = clap::ArgAction::Set)]
    pub finalize_stale: bool,

    /// Cheap password hashing: for tests only, never in production.
    #[arg(long, env = "GAZE_INSECURE_FAST_HASH", hide = true)]
    pub insecure_fast_hash: bool,
}

impl Config {
    /// Defaults (as if no flag were given), for tests and embedding.
    pub fn defaults() -> Self {
        Config::parse_from(["gaze-server"])
    }

    /// Whether `username` is an admin.
    pub fn is_admin(&self, username: &str) -> bool {
        self.admin_users
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(username))
    }

    /// Worker count with 0 resolved to the number of cores.
    ///
    /// The workers are dedicated threads that take the next queued frame themselves
    /// ([`crate::workers::FrameWorkers`]), so one per core keeps every core busy: at 50
    /// clients on 2 cores, 2 workers dropped 0.3–0.4 % of the frames and 3 workers 0.7–1.3 %
    /// (gaze-loadtest `--workers`, same run). A worker more than cores only queues for a core
    /// (the networks have at most one compiled copy per core).
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }
    }

    /// Largest WebSocket message accepted at the protocol level (bigger ones close the
    /// connection with 1009); frames between `max_frame_bytes` and this get an error reply.
    pub fn ws_hard_limit(&self) -> usize {
        self.max_frame_bytes.saturating_mul(4).max(64 * 1024)
    }

    /// Largest HTTP request body (calibration points carry a few frames).
    pub fn body_limit(&self) -> usize {
        self.max_frame_bytes.saturating_mul(12).max(64 * 1024)
    }

    /// Lease of a live session (clamped to 0.3 s – 600 s).
    pub fn lease_ttl(&self) -> Duration {
        let secs = if self.lease_secs.is_finite() {
            self.lease_secs
        } else {
            2.0
        };
        Duration::from_secs_f64(secs.clamp(0.3, 600.0))
    }

    /// How often the leases are renewed: six times per lease (at least every 100 ms apart).
    pub fn lease_renew_interval(&self) -> Duration {
        (self.lease_ttl() / 6).max(Duration::from_millis(100))
    }

    /// Token lifetime.
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_hours.clamp(1, 90 * 24) * 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_admins() {
        let c = Config::parse_from([
            "gaze-server",
            "--admin-user",
            "Alice, bob",
            "--store-url",
            "memory://",
        ]);
        assert!(c.is_admin("alice") && c.is_admin("BOB") && !c.is_admin("carol"));
        assert_eq!(c.store_url.as_deref(), Some("memory://"));
        let d = Config::defaults();
        assert_eq!(d.bind.to_string(), "127.0.0.1:8000");
        assert!(d.admin_users.is_empty() && d.store_url.is_none());
        assert!(d.ws_hard_limit() > d.max_frame_bytes && d.body_limit() > d.max_frame_bytes);
    }
}
