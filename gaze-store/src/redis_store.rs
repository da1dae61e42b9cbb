//! [`RedisStore`]: the Redis backend, on one server or on a Redis Cluster.
//!
//! # Key schema
//!
//! Everything a user owns lives under the hash tag `{u:<user id>}`, so it sits in one cluster
//! slot and every multi-key update of a user's data is a single Lua script (atomic, also in
//! a cluster). Session ids are `<user id>-<16 hex>`, so a session's keys are found from its id
//! alone.
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `gz:{u:<uid>}:user` | hash | `id username email created_at phc` |
//! | `gz:{u:<uid>}:calib` | string | calibration JSON |
//! | `gz:{u:<uid>}:sessions` | zset | the user's sessions: score 0, member `<started_at 16 hex>:<sid>` (lex order = time order) |
//! | `gz:{u:<uid>}:tokens` | zset | the user's token hashes, score = expiry (ms) |
//! | `gz:{u:<uid>}:s:<sid>` | hash | session: `id owner source started_at status seq last_cp report state ended_at` |
//! | `gz:{u:<uid>}:s:<sid>:tl` | list | timeline segments (JSON), capped to `max_timeline_len` (LTRIM) |
//! | `gz:{u:<uid>}:s:<sid>:trace` | string | the session's sample trace (binary, [`SessionTrace::encode`]) |
//! | `gz:{u:<uid>}:labels` | hash | the user's labels: label id → label JSON |
//! | `gz:{u:<uid>}:adapt` | string | the user's activity-model adaptation JSON |
//! | `gz:{u:<uid>}:s:<sid>:lease` | string | holder of the session's lease, `PX` = lease ttl (the fencing token is the hash field `ltok`, pending requests `lreq`) |
//! | `gz:uname:<lowercase username>` | string | user id (unique claim, `SET NX`) |
//! | `gz:email:<lowercase email>` | string | user id (unique claim, `SET NX`) |
//! | `gz:tok:<sha256(token) hex>` | string | `<uid>\|<hash>`, with `PX` = token lifetime |
//! | `gz:sessions:all` | zset | every session, members as above |
//! | `gz:rl:<key>` | hash | shared rate-limit bucket: `tok at` (store clock ms), `PEXPIRE` = window |
//! | `gz:sessions:live` | zset | sessions not ended yet |
//!
//! Pub/sub channel for live results: `gz:live:<sid>`.
//!
//! The global keys (`uname`, `email`, `tok`, `sessions:*`) are in other slots, so they are
//! updated in separate commands ordered so that a crash in between leaves only harmless
//! residue: list entries without a session (skipped and removed lazily on read) or a claim
//! whose user no longer exists (taken over by the next registrant). No request path uses
//! `KEYS` or `SCAN`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::future::join_all;
use gaze_activity::{SessionReport, TimelineSegment};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, RedisError, RedisFuture, Script, ServerErrorKind, Value, cmd};
use tokio::sync::broadcast;

use crate::config::StoreConfig;
use crate::crypto;
use crate::error::{Result, StoreError};
use crate::store::{Backend, LiveFeed, Store};
use crate::types::*;
use crate::validate;

/// Capacity of the broadcast channel between a Redis subscription and its local viewers.
const LIVE_BUFFER: usize = 256;
/// Segments pushed per `RPUSH` inside the checkpoint script (Lua's unpack limit is ~8000).
const PUSH_CHUNK: usize = 1000;

// ---- keys ------------------------------------------------------------------------------

fn k_user(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:user")
}
fn k_calib(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:calib")
}
fn k_user_sessions(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:sessions")
}
fn k_user_tokens(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:tokens")
}
fn k_session(uid: &str, sid: &str) -> String {
    format!("gz:{{u:{uid}}}:s:{sid}")
}
fn k_timeline(uid: &str, sid: &str) -> String {
    format!("gz:{{u:{uid}}}:s:{sid}:tl")
}
fn k_trace(uid: &str, sid: &str) -> String {
    format!("gz:{{u:{uid}}}:s:{sid}:trace")
}
fn k_labels(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:labels")
}
fn k_adapt(uid: &str) -> String {
    format!("gz:{{u:{uid}}}:adapt")
}
fn k_lease(uid: &str, sid: &str) -> String {
    format!("gz:{{u:{uid}}}:s:{sid}:lease")
}
fn k_uname(folded: &str) -> String {
    format!("gz:uname:{folded}")
}
fn k_email(folded: &str) -> String {
    format!("gz:email:{folded}")
}
fn k_token(hash: &str) -> String {
    format!("gz:tok:{hash}")
}
fn k_rate(key: &str) -> String {
    format!("gz:rl:{key}")
}
const K_ALL: &str = "gz:sessions:all";
const K_LIVE: &str = "gz:sessions:live";
fn channel(sid: &str) -> String {
    format!("gz:live:{sid}")
}

// ---- scripts -----------------------------------------------------------------------------

/// KEYS: user. ARGV: id username email created_at phc. 0 if the id is taken.
static CREATE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'username', ARGV[2], 'created_at', ARGV[4], 'phc', ARGV[5])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'email', ARGV[3]) end
return 1
"#,
    )
});

/// KEYS: claim. ARGV: expected, new. Compare-and-set.
static CLAIM_SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"#,
    )
});

/// KEYS: claim. ARGV: expected. Compare-and-delete.
static CLAIM_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#,
    )
});

/// KEYS: user, calib. ARGV: json. -1 if no user.
static SET_CALIB: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
"#,
    )
});

/// KEYS: session, trace. ARGV: encoded trace. -1 if no session.
static SET_TRACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
"#,
    )
});

/// KEYS: user, session, labels. ARGV: label id, label JSON, cap.
/// -1 no user; -2 no session; -3 cap reached; 0 id taken; 1 stored.
static ADD_LABEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[3]) then return -3 end
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) == 0 then return 0 end
return 1
"#,
    )
});

/// KEYS: user, adapt. ARGV: JSON, or '' to clear. -1 if no user.
static SET_ADAPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[1]) end
return 1
"#,
    )
});

/// KEYS: user, calib, sessions, tokens, then per session its hash and its timeline.
/// ARGV: expected session count, expected token count.
/// -1 no user; 0 the indexes changed since they were read (retry); 1 deleted.
static DELETE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('ZCARD', KEYS[3]) ~= tonumber(ARGV[1]) then return 0 end
if redis.call('ZCARD', KEYS[4]) ~= tonumber(ARGV[2]) then return 0 end
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"#,
    )
});

/// KEYS: user, session, user sessions. ARGV: member, then field/value pairs.
/// -1 no user; 0 id taken; 1 created.
static CREATE_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 1
"#,
    )
});

/// KEYS: session, timeline. ARGV: seq at_ms report state cap chunk prev_seq replace token
/// seg... Returns `{code, stored seq or current token}`; code -1 no session; -2 ended;
/// -3 gap; -4 fenced (token is not the current one); 0 duplicate; 1 applied. A resync
/// (`replace` = 1) deletes the list before pushing its segments.
static CHECKPOINT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local cur = redis.call('HMGET', KEYS[1], 'status', 'seq', 'ltok')
if not cur[1] then return {-1, 0} end
if cur[1] ~= 'live' then return {-2, 0} end
local ltok = tonumber(cur[3]) or 0
if ltok ~= tonumber(ARGV[9]) then return {-4, ltok} end
local stored = tonumber(cur[2]) or 0
if stored >= tonumber(ARGV[1]) then return {0, stored} end
local replace = ARGV[8] == '1'
if (not replace) and stored < tonumber(ARGV[7]) then return {-3, stored} end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'last_cp', ARGV[2], 'report', ARGV[3], 'state', ARGV[4])
if replace then redis.call('DEL', KEYS[2]) end
local n = #ARGV
if n > 9 then
  local chunk = tonumber(ARGV[6])
  local i = 10
  while i <= n do
    local j = math.min(i + chunk - 1, n)
    redis.call('RPUSH', KEYS[2], unpack(ARGV, i, j))
    i = j + 1
  end
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
end
return {1, stored}
"#,
    )
});

/// KEYS: session, lease. ARGV: report ended_at token. -1 no session; -2 already ended;
/// -3 fenced; 1 ended.
static END_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local st = redis.call('HMGET', KEYS[1], 'status', 'ltok')
if not st[1] then return -1 end
if st[1] ~= 'live' then return -2 end
if (tonumber(st[2]) or 0) ~= tonumber(ARGV[3]) then return -3 end
redis.call('HSET', KEYS[1], 'status', 'ended', 'report', ARGV[1], 'ended_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'state', 'lreq')
redis.call('DEL', KEYS[2])
return 1
"#,
    )
});

/// KEYS: bucket. ARGV: capacity window_ms give_back(0/1). A token bucket on the server's
/// clock (`TIME`): 0 taken / given back; > 0 refused, ms until a token is back.
static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local per_ms = cap / win
local h = redis.call('HMGET', KEYS[1], 'tok', 'at')
local tok = tonumber(h[1]) or cap
local at = tonumber(h[2]) or now
if now > at then tok = math.min(cap, tok + (now - at) * per_ms) end
local wait = 0
if ARGV[3] == '1' then
  tok = math.min(cap, tok + 1)
elseif tok < 1 - 1e-9 then
  wait = math.max(1, math.ceil((1 - tok) / per_ms))
else
  tok = tok - 1
end
redis.call('HSET', KEYS[1], 'tok', tostring(tok), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], win)
return wait
"#,
    )
});

/// KEYS: session, lease. ARGV: holder ttl_ms. Returns `{code, token, holder, n}`: -1 no
/// session; -2 ended; 0 held by `holder` (n = ms left); 1 acquired (n = checkpoint seq).
static ACQUIRE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local st = redis.call('HMGET', KEYS[1], 'status', 'ltok', 'seq')
if not st[1] then return {-1, 0, '', 0} end
if st[1] ~= 'live' then return {-2, 0, '', 0} end
local tok = tonumber(st[2]) or 0
local cur = redis.call('GET', KEYS[2])
if cur and cur ~= ARGV[1] then return {0, tok, cur, redis.call('PTTL', KEYS[2])} end
tok = tok + 1
redis.call('HSET', KEYS[1], 'ltok', tok)
redis.call('HDEL', KEYS[1], 'lreq')
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {1, tok, ARGV[1], tonumber(st[3]) or 0}
"#,
    )
});

/// KEYS: session, lease. ARGV: token holder ttl_ms. Returns `{code, token, request}`:
/// -1 no session; -2 ended; -3 fenced (token = current); 1 renewed.
static RENEW_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local st = redis.call('HMGET', KEYS[1], 'status', 'ltok', 'lreq')
if not st[1] then return {-1, 0, ''} end
if st[1] ~= 'live' then return {-2, 0, ''} end
local tok = tonumber(st[2]) or 0
if tok ~= tonumber(ARGV[1]) then return {-3, tok, ''} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {1, tok, st[3] or ''}
"#,
    )
});

/// KEYS: session, lease. ARGV: token. 1 released; 0 fenced; -1 no session.
static RELEASE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local tok = redis.call('HGET', KEYS[1], 'ltok')
if not redis.call('HGET', KEYS[1], 'status') then return -1 end
if (tonumber(tok) or 0) ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'lreq')
return 1
"#,
    )
});

/// KEYS: session, lease. ARGV: request. -1 no session; -2 ended; 0 no lease held;
/// 1 recorded (`end` is never downgraded to `release`).
static REQUEST_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local st = redis.call('HMGET', KEYS[1], 'status', 'lreq')
if not st[1] then return -1 end
if st[1] ~= 'live' then return -2 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if st[2] ~= 'end' then redis.call('HSET', KEYS[1], 'lreq', ARGV[1]) end
return 1
"#,
    )
});

/// KEYS: user, user tokens. ARGV: hash expires_at now. -1 no user.
static ISSUE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"#,
    )
});

// ---- connection ----------------------------------------------------------------------------

/// One connection handle for both deployments; both reconnect by themselves.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

fn map_redis(e: RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(ServerErrorKind::BusyLoading)
                | ErrorKind::Server(ServerErrorKind::MasterDown)
                | ErrorKind::Server(ServerErrorKind::ReadOnly)
        );
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Internal(format!("redis: {e}"))
    }
}

/// Parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

fn parse_url(url: &str) -> Result<Target> {
    if let Some(rest) = url.strip_prefix("redis+cluster://") {
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((a, h)) => (format!("{a}@"), h),
            None => (String::new(), rest),
        };
        let hosts = hosts.trim_end_matches('/');
        let nodes: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("redis://{auth}{h}"))
            .collect();
        if nodes.is_empty() || hosts.contains('/') || hosts.contains('?') {
            return Err(StoreError::invalid(
                "cluster URL must look like redis+cluster://host1:port1,host2:port2",
            ));
        }
        Ok(Target::Cluster(nodes))
    } else if url.starts_with("redis://") {
        Ok(Target::Single(url.to_owned()))
    } else {
        Err(StoreError::invalid(
            "not a redis:// or redis+cluster:// URL",
        ))
    }
}

/// Store on Redis: one server (through a [`ConnectionManager`], which reconnects by itself)
/// or a Redis Cluster (through the async cluster client). Same semantics as
/// [`MemoryStore`](crate::MemoryStore); see the module docs / README for the key schema.
pub struct RedisStore {
    cfg: StoreConfig,
    conn: Conn,
    /// Node URLs used for pub/sub subscriptions (the first that answers is used).
    pubsub_nodes: Vec<String>,
    backend: Backend,
    dummy_hash: Arc<OnceLock<String>>,
    /// Live subscriptions of this instance, one Redis connection per watched session.
    live_subs: LiveSubs,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("backend", &self.backend)
            .field("nodes", &self.pubsub_nodes.len())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `redis://…` (one server) or `redis+cluster://h1:p1,h2:p2,…` and checks the
    /// connection with a `PING`. `Unavailable` if that fails within `cfg.op_timeout`.
    pub async fn connect(url: &str, cfg: StoreConfig) -> Result<RedisStore> {
        Self::connect_target(parse_url(url)?, cfg).await
    }

    /// Connects to a Redis Cluster given its seed nodes as a list of `redis://host:port`
    /// URLs (the same as `redis+cluster://host:port,…`).
    pub async fn connect_cluster(nodes: &[String], cfg: StoreConfig) -> Result<RedisStore> {
        if nodes.is_empty() || nodes.iter().any(|n| !n.starts_with("redis://")) {
            return Err(StoreError::invalid(
                "cluster seed nodes must be redis://host:port URLs",
            ));
        }
        Self::connect_target(Target::Cluster(nodes.to_vec()), cfg).await
    }

    async fn connect_target(target: Target, cfg: StoreConfig) -> Result<RedisStore> {
        let timeout = cfg.op_timeout;
        let (conn, nodes, backend) = match target {
            Target::Single(u) => {
                let client = redis::Client::open(u.as_str())
                    .map_err(|e| StoreError::invalid(format!("redis URL: {e}")))?;
                let mcfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout.min(Duration::from_secs(1))))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                let cm =
                    tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, mcfg))
                        .await
                        .map_err(|_| StoreError::Unavailable("connect timed out".into()))?
                        .map_err(map_redis)?;
                (Conn::Single(cm), vec![u], Backend::Redis)
            }
            Target::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout.min(Duration::from_secs(1)))
                    .response_timeout(timeout)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(300)
                    .build()
                    .map_err(|e| StoreError::invalid(format!("redis cluster URL: {e}")))?;
                let cc = tokio::time::timeout(timeout, client.get_async_connection())
                    .await
                    .map_err(|_| StoreError::Unavailable("connect timed out".into()))?
                    .map_err(map_redis)?;
                (Conn::Cluster(cc), nodes, Backend::RedisCluster)
            }
        };
        let store = RedisStore {
            cfg,
            conn,
            pubsub_nodes: nodes,
            backend,
            dummy_hash: Arc::new(OnceLock::new()),
            live_subs: Arc::new(Mutex::new(HashMap::new())),
        };
        store.ping().await?;
        Ok(store)
    }

    /// Runs one Redis operation with the configured hard timeout.
    async fn run<T, F>(&self, f: impl FnOnce(Conn) -> F) -> Result<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.cfg.op_timeout, f(self.conn.clone())).await {
            Ok(r) => r.map_err(map_redis),
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis did not answer within {:?}",
                self.cfg.op_timeout
            ))),
        }
    }

    async fn query<T: redis::FromRedisValue + Send>(&self, c: Cmd) -> Result<T> {
        self.run(|mut conn| async move { c.query_async::<T>(&mut conn).await })
            .await
    }

    async fn user_hash(&self, uid: &str) -> Result<Option<HashMap<String, String>>> {
        let h: HashMap<String, String> =
            self.query(cmd("HGETALL").arg(k_user(uid)).clone()).await?;
        Ok(if h.is_empty() { None } else { Some(h) })
    }

    async fn load_user(&self, uid: &str) -> Result<(User, String)> {
        let h = self
            .user_hash(uid)
            .await?
            .ok_or_else(|| StoreError::not_found("user"))?;
        parse_user(&h)
    }

    /// Claims a unique name (`gz:uname:…` / `gz:email:…`) for `uid`, taking over a stale
    /// claim whose user no longer exists. Ok(false) if someone else holds it.
    async fn claim(&self, key: &str, uid: &str) -> Result<bool> {
        for _ in 0..3 {
            let set: Option<String> = self
                .query(cmd("SET").arg(key).arg(uid).arg("NX").clone())
                .await?;
            if set.is_some() {
                return Ok(true);
            }
            let holder: Option<String> = self.query(cmd("GET").arg(key).clone()).await?;
            let Some(holder) = holder else { continue };
            if holder == uid {
                return Ok(true);
            }
            let alive: bool = validate::user_id(&holder).is_ok()
                && self
                    .query::<i64>(cmd("EXISTS").arg(k_user(&holder)).clone())
                    .await?
                    == 1;
            if alive {
                return Ok(false);
            }
            let swapped: i64 = self
                .run(|mut c| {
                    let key = key.to_owned();
                    let (holder, uid) = (holder.clone(), uid.to_owned());
                    async move {
                        CLAIM_SWAP
                            .key(key)
                            .arg(holder)
                            .arg(uid)
                            .invoke_async(&mut c)
                            .await
                    }
                })
                .await?;
            if swapped == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn release(&self, key: &str, uid: &str) -> Result<()> {
        let (key, uid) = (key.to_owned(), uid.to_owned());
        self.run(|mut c| async move {
            CLAIM_RELEASE
                .key(key)
                .arg(uid)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    async fn load_session(&self, sid: &str) -> Result<Option<SessionRecord>> {
        let owner = validate::session_id(sid)?;
        let h: HashMap<String, String> = self
            .query(cmd("HGETALL").arg(k_session(owner, sid)).clone())
            .await?;
        if h.is_empty() {
            Ok(None)
        } else {
            parse_session(&h).map(Some)
        }
    }

    /// One page of an index (`ZREVRANGEBYLEX`), with the records loaded concurrently. Index
    /// members whose session is gone are skipped and removed from `index`; with
    /// `live_only`, ended sessions are skipped and removed likewise.
    async fn page(
        &self,
        index: &str,
        req: &PageRequest,
        live_only: bool,
    ) -> Result<Page<SessionRecord>> {
        let limit = validate::page(req)?;
        let max = match &req.cursor {
            Some(c) => format!("({c}"),
            None => "+".to_owned(),
        };
        let members: Vec<String> = self
            .query(
                cmd("ZREVRANGEBYLEX")
                    .arg(index)
                    .arg(max)
                    .arg("-")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit + 1)
                    .clone(),
            )
            .await?;
        let more = members.len() > limit;
        let considered = &members[..members.len().min(limit)];
        let loads = considered.iter().map(|m| async move {
            match validate::index_member(m) {
                Ok(sid) => self.load_session(sid).await,
                Err(_) => Ok(None),
            }
        });
        let mut items = Vec::with_capacity(considered.len());
        let mut stale = Vec::new();
        for (m, rec) in considered.iter().zip(join_all(loads).await) {
            match rec? {
                Some(r) if !live_only || r.status == SessionStatus::Live => items.push(r),
                _ => stale.push(m.clone()),
            }
        }
        if !stale.is_empty() {
            // Best effort: the entry is skipped anyway.
            let _ = self
                .query::<i64>(cmd("ZREM").arg(index).arg(stale).clone())
                .await;
        }
        Ok(Page {
            items,
            next_cursor: if more {
                considered.last().cloned()
            } else {
                None
            },
        })
    }

    /// Re-adds a session to the global lists (idempotent; repairs a crash between the
    /// per-user script and the global update).
    async fn index_global(&self, member: &str, live: bool) -> Result<()> {
        let add_all = self.query::<i64>(cmd("ZADD").arg(K_ALL).arg(0).arg(member).clone());
        let live_cmd = if live {
            cmd("ZADD").arg(K_LIVE).arg(0).arg(member).clone()
        } else {
            cmd("ZREM").arg(K_LIVE).arg(member).clone()
        };
        let add_live = self.query::<i64>(live_cmd);
        let (a, b) = tokio::join!(add_all, add_live);
        a.and(b).map(|_| ())
    }

    /// A receiver on this instance's existing subscription to the session, if any.
    fn join_subscription(&self, sid: &str) -> Option<broadcast::Receiver<String>> {
        let subs = self.live_subs.lock().unwrap_or_else(|e| e.into_inner());
        subs.get(sid)
            .filter(|tx| tx.receiver_count() > 0)
            .map(|tx| tx.subscribe())
    }

    async fn open_pubsub(&self, chan: &str) -> Result<redis::aio::PubSub> {
        open_pubsub(&self.pubsub_nodes, chan, self.cfg.op_timeout).await
    }
}

async fn open_pubsub(
    nodes: &[String],
    chan: &str,
    timeout: Duration,
) -> Result<redis::aio::PubSub> {
    let mut last = StoreError::Unavailable("no redis node".into());
    for node in nodes {
        let attempt = async {
            let client = redis::Client::open(node.as_str())?;
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(chan).await?;
            Ok::<_, RedisError>(ps)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(ps)) => return Ok(ps),
            Ok(Err(e)) => last = map_redis(e),
            Err(_) => last = StoreError::Unavailable("subscribe timed out".into()),
        }
    }
    Err(last)
}

fn field<'a>(h: &'a HashMap<String, String>, name: &str) -> Result<&'a str> {
    h.get(name)
        .map(String::as_str)
        .ok_or_else(|| StoreError::internal(format!("stored record lacks `{name}`")))
}

fn num<T: std::str::FromStr>(s: &str, name: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::internal(format!("stored field `{name}` is not a number")))
}

fn parse_user(h: &HashMap<String, String>) -> Result<(User, String)> {
    Ok((
        User {
            id: field(h, "id")?.to_owned(),
            username: field(h, "username")?.to_owned(),
            email: h.get("email").cloned(),
            created_at_ms: num(field(h, "created_at")?, "created_at")?,
        },
        field(h, "phc")?.to_owned(),
    ))
}

fn parse_session(h: &HashMap<String, String>) -> Result<SessionRecord> {
    let status = match field(h, "status")? {
        "live" => SessionStatus::Live,
        "ended" => SessionStatus::Ended,
        other => {
            return Err(StoreError::internal(format!(
                "unknown session status {other:?}"
            )));
        }
    };
    let opt_num =
        |name: &str| -> Result<Option<i64>> { h.get(name).map(|v| num(v, name)).transpose() };
    Ok(SessionRecord {
        id: field(h, "id")?.to_owned(),
        owner: field(h, "owner")?.to_owned(),
        source: field(h, "source")?.to_owned(),
        started_at_ms: num(field(h, "started_at")?, "started_at")?,
        status,
        checkpoint_seq: num(field(h, "seq")?, "seq")?,
        last_checkpoint_ms: opt_num("last_cp")?,
        report: h
            .get("report")
            .map(|r| serde_json::from_str(r))
            .transpose()?,
        state: h
            .get("state")
            .map(|r| serde_json::from_str(r))
            .transpose()?,
        ended_at_ms: opt_num("ended_at")?,
    })
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        let pong: String = self.query(cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::internal(format!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }

    async fn create_user(&self, new: NewUser) -> Result<User> {
        validate::new_user(&new)?;
        let uname_key = k_uname(&validate::fold(&new.username));
        let email_key = new.email.as_deref().map(|e| k_email(&validate::fold(e)));
        // Cheap early exit before paying for argon2.
        if let Ok(existing) = self.get_user_by_username(&new.username).await {
            if validate::fold(&existing.username) == validate::fold(&new.username) {
                return Err(StoreError::Conflict("username taken".into()));
            }
        }
        let phc = crypto::hash_password_async(new.password.clone(), self.cfg.password).await?;
        let created_at_ms = crypto::now_ms();
        // 1. the user hash under a fresh id (retry on the astronomically unlikely collision)
        let mut uid = String::new();
        for _ in 0..5 {
            let candidate = crypto::new_id();
            let args = (
                candidate.clone(),
                new.username.clone(),
                new.email.clone().unwrap_or_default(),
                created_at_ms,
                phc.clone(),
            );
            let key = k_user(&candidate);
            let created: i64 = self
                .run(|mut c| async move {
                    CREATE_USER
                        .key(key)
                        .arg(args.0)
                        .arg(args.1)
                        .arg(args.2)
                        .arg(args.3)
                        .arg(args.4)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            if created == 1 {
                uid = candidate;
                break;
            }
        }
        if uid.is_empty() {
            return Err(StoreError::internal("could not allocate a user id"));
        }
        // 2. unique claims; undo on conflict or error
        let undo = |release_uname: bool| {
            let uid = uid.clone();
            let uname_key = uname_key.clone();
            async move {
                if release_uname {
                    let _ = self.release(&uname_key, &uid).await;
                }
                let _ = self
                    .query::<i64>(cmd("DEL").arg(k_user(&uid)).clone())
                    .await;
            }
        };
        match self.claim(&uname_key, &uid).await {
            Ok(true) => {}
            Ok(false) => {
                undo(false).await;
                return Err(StoreError::Conflict("username taken".into()));
            }
            Err(e) => {
                undo(true).await;
                return Err(e);
            }
        }
        if let Some(ek) = &email_key {
            match self.claim(ek, &uid).await {
                Ok(true) => {}
                Ok(false) => {
                    undo(true).await;
                    return Err(StoreError::Conflict("email taken".into()));
                }
                Err(e) => {
                    let _ = self.release(ek, &uid).await;
                    undo(true).await;
                    return Err(e);
                }
            }
        }
        Ok(User {
            id: uid,
            username: new.username,
            email: new.email,
            created_at_ms,
        })
    }

    async fn get_user(&self, user_id: &str) -> Result<User> {
        validate::user_id(user_id)?;
        Ok(self.load_user(user_id).await?.0)
    }

    async fn get_user_by_username(&self, username: &str) -> Result<User> {
        if validate::username(username).is_err() {
            return Err(StoreError::not_found("user"));
        }
        let folded = validate::fold(username);
        let uid: Option<String> = self.query(cmd("GET").arg(k_uname(&folded)).clone()).await?;
        let uid = uid.ok_or_else(|| StoreError::not_found("user"))?;
        validate::user_id(&uid)?;
        let (user, _) = self.load_user(&uid).await?;
        // A stale claim (user deleted and id reused) never resolves to the wrong user.
        if validate::fold(&user.username) != folded {
            return Err(StoreError::not_found("user"));
        }
        Ok(user)
    }

    async fn verify_password(&self, username: &str, password: &str) -> Result<User> {
        let found = match self.get_user_by_username(username).await {
            Ok(u) => Some(self.load_user(&u.id).await?),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        crypto::check_login(found, password, self.dummy_hash.clone(), self.cfg.password).await
    }

    async fn set_calibration_json(
        &self,
        user_id: &str,
        calibration: serde_json::Value,
    ) -> Result<()> {
        validate::user_id(user_id)?;
        let json = serde_json::to_string(&calibration)?;
        validate::blob("calibration", &json)?;
        let (ku, kc) = (k_user(user_id), k_calib(user_id));
        let r: i64 = self
            .run(|mut c| async move {
                SET_CALIB
                    .key(ku)
                    .key(kc)
                    .arg(json)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        if r < 0 {
            return Err(StoreError::not_found("user"));
        }
        Ok(())
    }

    async fn get_calibration_json(&self, user_id: &str) -> Result<Option<serde_json::Value>> {
        validate::user_id(user_id)?;
        let mut p = redis::pipe();
        p.cmd("EXISTS")
            .arg(k_user(user_id))
            .cmd("GET")
            .arg(k_calib(user_id));
        let (exists, json): (i64, Option<String>) = self
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("user"));
        }
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    async fn delete_user(&self, user_id: &str) -> Result<()> {
        validate::user_id(user_id)?;
        let (user, _) = self.load_user(user_id).await?;
        let sessions_key = k_user_sessions(user_id);
        let tokens_key = k_user_tokens(user_id);
        let mut deleted = None;
        for _ in 0..8 {
            let mut p = redis::pipe();
            p.cmd("ZRANGE").arg(&sessions_key).arg(0).arg(-1);
            p.cmd("ZRANGE").arg(&tokens_key).arg(0).arg(-1);
            let (members, tokens): (Vec<String>, Vec<String>) = self
                .run(|mut c| async move { p.query_async(&mut c).await })
                .await?;
            let mut keys = vec![
                k_user(user_id),
                k_calib(user_id),
                sessions_key.clone(),
                tokens_key.clone(),
                k_labels(user_id),
                k_adapt(user_id),
            ];
            for m in &members {
                if let Ok(sid) = validate::index_member(m) {
                    keys.push(k_session(user_id, sid));
                    keys.push(k_timeline(user_id, sid));
                    keys.push(k_lease(user_id, sid));
                    keys.push(k_trace(user_id, sid));
                }
            }
            let (n_s, n_t) = (members.len(), tokens.len());
            let r: i64 = self
                .run(|mut c| async move {
                    let mut inv = DELETE_USER.prepare_invoke();
                    for k in keys {
                        inv.key(k);
                    }
                    inv.arg(n_s).arg(n_t);
                    inv.invoke_async(&mut c).await
                })
                .await?;
            match r {
                -1 => return Err(StoreError::not_found("user")),
                1 => {
                    deleted = Some((members, tokens));
                    break;
                }
                _ => continue,
            }
        }
        let (members, tokens) = deleted.ok_or_else(|| {
            StoreError::Conflict("user data kept changing during delete; retry".into())
        })?;
        // Global keys (other slots): tokens, list entries, unique claims.
        for h in &tokens {
            self.query::<i64>(cmd("DEL").arg(k_token(h)).clone())
                .await?;
        }
        if !members.is_empty() {
            self.query::<i64>(cmd("ZREM").arg(K_ALL).arg(&members).clone())
                .await?;
            self.query::<i64>(cmd("ZREM").arg(K_LIVE).arg(&members).clone())
                .await?;
        }
        self.release(&k_uname(&validate::fold(&user.username)), user_id)
            .await?;
        if let Some(e) = &user.email {
            self.release(&k_email(&validate::fold(e)), user_id).await?;
        }
        Ok(())
    }

    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        validate::new_session(&new)?;
        let owner = new.owner.clone();
        for _ in 0..5 {
            let sid = format!("{owner}-{}", crypto::new_id());
            let member = validate::index_member_for(new.started_at_ms, &sid);
            let keys = [
                k_user(&owner),
                k_session(&owner, &sid),
                k_user_sessions(&owner),
            ];
            let fields: Vec<(String, String)> = vec![
                ("id".into(), sid.clone()),
                ("owner".into(), owner.clone()),
                ("source".into(), new.source.clone()),
                ("started_at".into(), new.started_at_ms.to_string()),
                ("status".into(), "live".into()),
                ("seq".into(), "0".into()),
            ];
            let m = member.clone();
            let r: i64 = self
                .run(|mut c| async move {
                    let mut inv = CREATE_SESSION.prepare_invoke();
                    for k in keys {
                        inv.key(k);
                    }
                    inv.arg(m);
                    for (f, v) in fields {
                        inv.arg(f).arg(v);
                    }
                    inv.invoke_async(&mut c).await
                })
                .await?;
            match r {
                -1 => return Err(StoreError::not_found("user")),
                0 => continue,
                _ => {}
            }
            self.index_global(&member, true).await?;
            return Ok(SessionRecord {
                id: sid,
                owner,
                source: new.source,
                started_at_ms: new.started_at_ms,
                status: SessionStatus::Live,
                checkpoint_seq: 0,
                last_checkpoint_ms: None,
                report: None,
                state: None,
                ended_at_ms: None,
            });
        }
        Err(StoreError::internal("could not allocate a session id"))
    }

    async fn checkpoint(
        &self,
        session_id: &str,
        checkpoint: Checkpoint,
    ) -> Result<CheckpointOutcome> {
        let owner = validate::session_id(session_id)?.to_owned();
        validate::checkpoint(&checkpoint)?;
        let state = serde_json::to_string(&checkpoint.state)?;
        validate::blob("state", &state)?;
        let report = validate::report(&checkpoint.report)?;
        let segments = checkpoint
            .segments
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let keys = [
            k_session(&owner, session_id),
            k_timeline(&owner, session_id),
        ];
        let (seq, at, cap) = (
            checkpoint.seq,
            checkpoint.at_ms,
            self.cfg.max_timeline_len.max(1),
        );
        let (prev, replace) = (checkpoint.prev_seq, u8::from(checkpoint.replace_timeline));
        let token = checkpoint.lease_token;
        let (r, stored): (i64, u64) = self
            .run(|mut c| async move {
                let mut inv = CHECKPOINT.prepare_invoke();
                inv.key(&keys[0]).key(&keys[1]);
                inv.arg(seq)
                    .arg(at)
                    .arg(report)
                    .arg(state)
                    .arg(cap)
                    .arg(PUSH_CHUNK)
                    .arg(prev)
                    .arg(replace)
                    .arg(token);
                for s in segments {
                    inv.arg(s);
                }
                inv.invoke_async(&mut c).await
            })
            .await?;
        match r {
            -1 => Err(StoreError::not_found("session")),
            -2 => Err(StoreError::Conflict("session has ended".into())),
            -3 => Ok(CheckpointOutcome::Gap { stored_seq: stored }),
            -4 => Ok(CheckpointOutcome::Fenced {
                current_token: stored,
            }),
            0 => Ok(CheckpointOutcome::Duplicate),
            _ => Ok(CheckpointOutcome::Applied),
        }
    }

    async fn end_session_fenced(
        &self,
        session_id: &str,
        report: SessionReport,
        lease_token: u64,
    ) -> Result<SessionRecord> {
        let owner = validate::session_id(session_id)?.to_owned();
        let json = validate::report(&report)?;
        let (key, lease) = (k_session(&owner, session_id), k_lease(&owner, session_id));
        let now = crypto::now_ms();
        let r: i64 = self
            .run(|mut c| async move {
                END_SESSION
                    .key(key)
                    .key(lease)
                    .arg(json)
                    .arg(now)
                    .arg(lease_token)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        match r {
            -1 => return Err(StoreError::not_found("session")),
            -2 => return Err(StoreError::Conflict("session has already ended".into())),
            -3 => {
                return Err(StoreError::Fenced(format!(
                    "lease token {lease_token} is not the session's current one"
                )));
            }
            _ => {}
        }
        let rec = self
            .load_session(session_id)
            .await?
            .ok_or_else(|| StoreError::not_found("session"))?;
        self.index_global(
            &validate::index_member_for(rec.started_at_ms, &rec.id),
            false,
        )
        .await?;
        Ok(rec)
    }

    async fn acquire_lease(
        &self,
        session_id: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAcquire> {
        let owner = validate::session_id(session_id)?;
        validate::lease(holder, ttl)?;
        let keys = [k_session(owner, session_id), k_lease(owner, session_id)];
        let (h, ttl_ms) = (holder.to_owned(), ttl.as_millis() as u64);
        let (code, token, who, n): (i64, u64, String, i64) = self
            .run(|mut c| async move {
                ACQUIRE_LEASE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(h)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        match code {
            -1 => Err(StoreError::not_found("session")),
            -2 => Err(StoreError::Conflict("session has ended".into())),
            0 => Ok(LeaseAcquire::Held {
                holder: who,
                token,
                expires_in_ms: n.max(0) as u64,
            }),
            _ => Ok(LeaseAcquire::Acquired {
                token,
                checkpoint_seq: n.max(0) as u64,
            }),
        }
    }

    async fn renew_lease(
        &self,
        session_id: &str,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<LeaseRenewal> {
        let owner = validate::session_id(session_id)?;
        validate::lease(holder, ttl)?;
        let keys = [k_session(owner, session_id), k_lease(owner, session_id)];
        let (h, ttl_ms) = (holder.to_owned(), ttl.as_millis() as u64);
        let (code, current, req): (i64, u64, String) = self
            .run(|mut c| async move {
                RENEW_LEASE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(token)
                    .arg(h)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        match code {
            -1 => Err(StoreError::not_found("session")),
            -2 => Err(StoreError::Conflict("session has ended".into())),
            -3 => Ok(LeaseRenewal::Fenced {
                current_token: current,
            }),
            _ => Ok(LeaseRenewal::Renewed {
                request: match req.as_str() {
                    "end" => Some(LeaseRequest::End),
                    "release" => Some(LeaseRequest::Release),
                    _ => None,
                },
            }),
        }
    }

    async fn release_lease(&self, session_id: &str, token: u64) -> Result<bool> {
        let owner = validate::session_id(session_id)?;
        let keys = [k_session(owner, session_id), k_lease(owner, session_id)];
        let r: i64 = self
            .run(|mut c| async move {
                RELEASE_LEASE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(token)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        match r {
            -1 => Err(StoreError::not_found("session")),
            r => Ok(r == 1),
        }
    }

    async fn request_lease(&self, session_id: &str, request: LeaseRequest) -> Result<bool> {
        let owner = validate::session_id(session_id)?;
        let keys = [k_session(owner, session_id), k_lease(owner, session_id)];
        let kind = match request {
            LeaseRequest::End => "end",
            LeaseRequest::Release => "release",
        };
        let r: i64 = self
            .run(|mut c| async move {
                REQUEST_LEASE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(kind)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        match r {
            -1 => Err(StoreError::not_found("session")),
            -2 => Err(StoreError::Conflict("session has ended".into())),
            r => Ok(r == 1),
        }
    }

    async fn get_session(&self, session_id: &str) -> Result<SessionRecord> {
        self.load_session(session_id)
            .await?
            .ok_or_else(|| StoreError::not_found("session"))
    }

    async fn get_timeline(&self, session_id: &str) -> Result<Vec<TimelineSegment>> {
        let owner = validate::session_id(session_id)?;
        let mut p = redis::pipe();
        p.cmd("EXISTS").arg(k_session(owner, session_id));
        p.cmd("LRANGE")
            .arg(k_timeline(owner, session_id))
            .arg(0)
            .arg(-1);
        let (exists, items): (i64, Vec<String>) = self
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("session"));
        }
        items
            .iter()
            .map(|s| serde_json::from_str(s).map_err(StoreError::from))
            .collect()
    }

    async fn list_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>> {
        self.page(K_ALL, &page, false).await
    }

    async fn list_user_sessions(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SessionRecord>> {
        validate::user_id(user_id)?;
        validate::page(&page)?;
        let exists: i64 = self
            .query(cmd("EXISTS").arg(k_user(user_id)).clone())
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("user"));
        }
        self.page(&k_user_sessions(user_id), &page, false).await
    }

    async fn list_live_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>> {
        self.page(K_LIVE, &page, true).await
    }

    async fn set_trace(&self, session_id: &str, trace: &SessionTrace) -> Result<()> {
        let owner = validate::session_id(session_id)?.to_owned();
        let bytes = trace.encode()?;
        let keys = [k_session(&owner, session_id), k_trace(&owner, session_id)];
        let r: i64 = self
            .run(|mut c| async move {
                SET_TRACE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(bytes)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        if r < 0 {
            return Err(StoreError::not_found("session"));
        }
        Ok(())
    }

    async fn get_trace(&self, session_id: &str) -> Result<Option<SessionTrace>> {
        let owner = validate::session_id(session_id)?;
        let mut p = redis::pipe();
        p.cmd("EXISTS").arg(k_session(owner, session_id));
        p.cmd("GET").arg(k_trace(owner, session_id));
        let (exists, bytes): (i64, Option<Vec<u8>>) = self
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("session"));
        }
        bytes.map(|b| SessionTrace::decode(&b)).transpose()
    }

    async fn add_label(&self, user_id: &str, label: NewLabel) -> Result<Label> {
        validate::user_id(user_id)?;
        crate::labels::check_new_label(&label)?;
        let owner = validate::session_id(&label.session_id)?;
        if owner != user_id {
            return Err(StoreError::not_found("session"));
        }
        for _ in 0..5 {
            let stored = Label {
                id: crypto::new_id(),
                user_id: user_id.to_owned(),
                session_id: label.session_id.clone(),
                start_s: label.start_s,
                end_s: label.end_s,
                activity: label.activity,
                created_at_ms: crypto::now_ms(),
            };
            let json = serde_json::to_string(&stored)?;
            let keys = [
                k_user(user_id),
                k_session(user_id, &label.session_id),
                k_labels(user_id),
            ];
            let id = stored.id.clone();
            let r: i64 = self
                .run(|mut c| async move {
                    ADD_LABEL
                        .key(&keys[0])
                        .key(&keys[1])
                        .key(&keys[2])
                        .arg(id)
                        .arg(json)
                        .arg(crate::MAX_LABELS_PER_USER)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            match r {
                -1 => return Err(StoreError::not_found("user")),
                -2 => return Err(StoreError::not_found("session")),
                -3 => {
                    return Err(StoreError::invalid(format!(
                        "at most {} labels per user",
                        crate::MAX_LABELS_PER_USER
                    )));
                }
                0 => continue,
                _ => return Ok(stored),
            }
        }
        Err(StoreError::internal("could not allocate a label id"))
    }

    async fn list_labels(&self, user_id: &str) -> Result<Vec<Label>> {
        validate::user_id(user_id)?;
        let mut p = redis::pipe();
        p.cmd("EXISTS").arg(k_user(user_id));
        p.cmd("HVALS").arg(k_labels(user_id));
        let (exists, items): (i64, Vec<String>) = self
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("user"));
        }
        let mut v = items
            .iter()
            .map(|j| serde_json::from_str(j).map_err(StoreError::from))
            .collect::<Result<Vec<Label>>>()?;
        crate::labels::sort_labels(&mut v);
        Ok(v)
    }

    async fn delete_label(&self, user_id: &str, label_id: &str) -> Result<Label> {
        validate::user_id(user_id)?;
        crate::labels::check_label_id(label_id)?;
        let key = k_labels(user_id);
        let json: Option<String> = self
            .query(cmd("HGET").arg(&key).arg(label_id).clone())
            .await?;
        let json = json.ok_or_else(|| StoreError::not_found("label"))?;
        let removed: i64 = self
            .query(cmd("HDEL").arg(&key).arg(label_id).clone())
            .await?;
        if removed == 0 {
            return Err(StoreError::not_found("label"));
        }
        Ok(serde_json::from_str(&json)?)
    }

    async fn set_adaptation_json(
        &self,
        user_id: &str,
        adaptation: Option<serde_json::Value>,
    ) -> Result<()> {
        validate::user_id(user_id)?;
        let json = match &adaptation {
            Some(a) => crate::labels::adaptation_json(a)?,
            None => String::new(),
        };
        let keys = [k_user(user_id), k_adapt(user_id)];
        let r: i64 = self
            .run(|mut c| async move {
                SET_ADAPT
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(json)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        if r < 0 {
            return Err(StoreError::not_found("user"));
        }
        Ok(())
    }

    async fn get_adaptation_json(&self, user_id: &str) -> Result<Option<serde_json::Value>> {
        validate::user_id(user_id)?;
        let mut p = redis::pipe();
        p.cmd("EXISTS").arg(k_user(user_id));
        p.cmd("GET").arg(k_adapt(user_id));
        let (exists, json): (i64, Option<String>) = self
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        if exists == 0 {
            return Err(StoreError::not_found("user"));
        }
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    async fn issue_token(&self, user_id: &str, ttl: Duration) -> Result<IssuedToken> {
        validate::user_id(user_id)?;
        validate::token_ttl(ttl)?;
        let token = crypto::new_token();
        let hash = crypto::token_hash(&token);
        let now = crypto::now_ms();
        let ttl_ms = ttl.as_millis().max(1) as i64;
        let expires_at_ms = now + ttl_ms;
        let (ku, kt, h) = (k_user(user_id), k_user_tokens(user_id), hash.clone());
        let r: i64 = self
            .run(|mut c| async move {
                ISSUE_TOKEN
                    .key(ku)
                    .key(kt)
                    .arg(h)
                    .arg(expires_at_ms)
                    .arg(now)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        if r < 0 {
            return Err(StoreError::not_found("user"));
        }
        self.query::<()>(
            cmd("SET")
                .arg(k_token(&hash))
                .arg(format!("{user_id}|{hash}"))
                .arg("PX")
                .arg(ttl_ms)
                .clone(),
        )
        .await?;
        Ok(IssuedToken {
            token,
            user_id: user_id.to_owned(),
            expires_at_ms,
        })
    }

    async fn resolve_token(&self, token: &str) -> Result<User> {
        if !crypto::token_well_formed(token) {
            return Err(StoreError::Unauthorized);
        }
        let hash = crypto::token_hash(token);
        let v: Option<String> = self.query(cmd("GET").arg(k_token(&hash)).clone()).await?;
        let v = v.ok_or(StoreError::Unauthorized)?;
        let (uid, stored) = v.split_once('|').ok_or(StoreError::Unauthorized)?;
        if !crypto::ct_eq(stored, &hash) || validate::user_id(uid).is_err() {
            return Err(StoreError::Unauthorized);
        }
        match self.load_user(uid).await {
            Ok((u, _)) => Ok(u),
            Err(StoreError::NotFound(_)) => Err(StoreError::Unauthorized),
            Err(e) => Err(e),
        }
    }

    async fn revoke_token(&self, token: &str) -> Result<()> {
        if !crypto::token_well_formed(token) {
            return Ok(());
        }
        let hash = crypto::token_hash(token);
        let v: Option<String> = self.query(cmd("GET").arg(k_token(&hash)).clone()).await?;
        self.query::<i64>(cmd("DEL").arg(k_token(&hash)).clone())
            .await?;
        if let Some((uid, _)) = v.as_deref().and_then(|v| v.split_once('|')) {
            if validate::user_id(uid).is_ok() {
                self.query::<i64>(cmd("ZREM").arg(k_user_tokens(uid)).arg(&hash).clone())
                    .await?;
            }
        }
        Ok(())
    }

    async fn rate_limit(
        &self,
        key: &str,
        capacity: u32,
        window: Duration,
        give_back: bool,
    ) -> Result<Option<Duration>> {
        validate::rate_key(key, window)?;
        if capacity == 0 {
            return Ok(None);
        }
        let (k, win) = (k_rate(key), window.as_millis().max(1) as u64);
        let wait: i64 = self
            .run(|mut c| async move {
                RATE_LIMIT
                    .key(k)
                    .arg(capacity)
                    .arg(win)
                    .arg(u8::from(give_back))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait as u64)))
    }

    async fn publish_live(&self, session_id: &str, message: &str) -> Result<usize> {
        validate::session_id(session_id)?;
        let n: i64 = self
            .query(cmd("PUBLISH").arg(channel(session_id)).arg(message).clone())
            .await?;
        Ok(n.max(0) as usize)
    }

    async fn subscribe_live(&self, session_id: &str) -> Result<LiveFeed> {
        validate::session_id(session_id)?;
        // Viewers of one session on this instance share one Redis subscription.
        if let Some(rx) = self.join_subscription(session_id) {
            return Ok(LiveFeed::from_broadcast(rx));
        }
        let chan = channel(session_id);
        let pubsub = self.open_pubsub(&chan).await?;
        let mut subs = self.live_subs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = subs.get(session_id).filter(|tx| tx.receiver_count() > 0) {
            // Someone subscribed meanwhile: use theirs, drop ours.
            return Ok(LiveFeed::from_broadcast(tx.subscribe()));
        }
        let (tx, rx) = broadcast::channel(LIVE_BUFFER);
        subs.insert(session_id.to_owned(), tx.clone());
        drop(subs);
        tokio::spawn(forward_live(
            pubsub,
            tx,
            self.live_subs.clone(),
            session_id.to_owned(),
            self.pubsub_nodes.clone(),
            self.cfg.op_timeout,
        ));
        Ok(LiveFeed::from_broadcast(rx))
    }
}

type LiveSubs = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

/// Drops the subscription when its last viewer is gone; checked under the map lock so a
/// viewer joining at the same moment either keeps it alive or starts a new one.
fn retire_if_unused(subs: &LiveSubs, sid: &str, tx: &broadcast::Sender<String>) -> bool {
    let mut map = subs.lock().unwrap_or_else(|e| e.into_inner());
    if tx.receiver_count() > 0 {
        return false;
    }
    if map.get(sid).is_some_and(|t| t.same_channel(tx)) {
        map.remove(sid);
    }
    true
}

/// Forwards one session's Redis messages to its local viewers; after a dropped connection it
/// resubscribes (messages published meanwhile are lost, as with any Redis pub/sub). Ends
/// (closing the Redis connection) within a second of the last viewer leaving.
async fn forward_live(
    first: redis::aio::PubSub,
    tx: broadcast::Sender<String>,
    subs: LiveSubs,
    sid: String,
    nodes: Vec<String>,
    timeout: Duration,
) {
    let chan = channel(&sid);
    let mut next = Some(first);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let pubsub = match next.take() {
            Some(p) => p,
            None => match open_pubsub(&nodes, &chan, timeout).await {
                Ok(p) => p,
                Err(_) => {
                    if retire_if_unused(&subs, &sid, &tx) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
        };
        let mut stream = pubsub.into_on_message();
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(m) => {
                        if let Ok(payload) = m.get_payload::<String>() {
                            // Err only when nobody listens; retired below.
                            let _ = tx.send(payload);
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {}
            }
            if tx.receiver_count() == 0 && retire_if_unused(&subs, &sid, &tx) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("redis://127.0.0.1:6379/0").unwrap(),
            Target::Single("redis://127.0.0.1:6379/0".into())
        );
        assert_eq!(
            parse_url("redis+cluster://a:1,b:2,c:3").unwrap(),
            Target::Cluster(vec![
                "redis://a:1".into(),
                "redis://b:2".into(),
                "redis://c:3".into()
            ])
        );
        assert_eq!(
            parse_url("redis+cluster://:pw@a:1,b:2").unwrap(),
            Target::Cluster(vec!["redis://:pw@a:1".into(), "redis://:pw@b:2".into()])
        );
        assert!(parse_url("redis+cluster://").is_err());
        assert!(parse_url("http://x").is_err());
    }

    #[test]
    fn keys_share_a_slot_per_user() {
        let uid = "0123456789abcdef";
        let sid = format!("{uid}-fedcba9876543210");
        for k in [
            k_user(uid),
            k_calib(uid),
            k_user_sessions(uid),
            k_user_tokens(uid),
            k_session(uid, &sid),
            k_timeline(uid, &sid),
            k_lease(uid, &sid),
            k_trace(uid, &sid),
            k_labels(uid),
            k_adapt(uid),
        ] {
            assert!(k.starts_with("gz:{u:0123456789abcdef}:"), "{k}");
        }
    }
}
