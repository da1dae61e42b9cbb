//! Starting real `redis-server` processes: the server's local Redis, and the single node /
//! 3-node cluster that integration tests (this crate's and the server's) run against.
//!
//! ```no_run
//! # fn main() -> Result<(), gaze_store::local_redis::LocalRedisError> {
//! use gaze_store::local_redis::{RedisCluster, RedisServer};
//! let redis = RedisServer::start()?;          // free port, temp dir, AOF everysec
//! let url = redis.url();                      // "redis://127.0.0.1:<port>"
//! let cluster = RedisCluster::start(3)?;      // 3 masters, all 16384 slots covered
//! let curl = cluster.url();                   // "redis+cluster://127.0.0.1:p1,…"
//! # let _ = (url, curl); Ok(()) }
//! ```
//!
//! Processes are killed (and temp dirs removed) when the handle is dropped. If
//! `redis-server` is not installed, `start` fails with [`LocalRedisError::NotInstalled`],
//! whose message says how to install it — tests must not skip silently.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The persistence settings the project recommends for Redis (also used by every server this
/// module starts): append-only file, fsync once per second (at most ~1 s of writes lost on a
/// crash of the machine, nothing on a crash of redis-server alone), no RDB snapshots
/// competing for I/O.
pub const RECOMMENDED_PERSISTENCE_ARGS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
];

/// The same settings as a `redis.conf` snippet, for deployments that use a config file.
pub const RECOMMENDED_REDIS_CONF: &str = "\
# gaze: recommended persistence (see gaze-store/README.md)
appendonly yes
appendfsync everysec
save \"\"
";

/// Why a local Redis could not be started. Its `Debug` output is the readable message, so
/// `RedisServer::start().expect("…")` in a test explains how to install Redis.
#[derive(thiserror::Error)]
pub enum LocalRedisError {
    /// `redis-server` (or `redis-cli` for clusters) is not on `PATH`.
    #[error(
        "`{0}` not found on PATH: install Redis with `scripts/setup.sh base` \
         (Debian: `apt-get install -y redis-server redis-tools`)"
    )]
    NotInstalled(&'static str),
    /// Spawning or talking to the process failed.
    #[error("local redis: {0}")]
    Io(#[from] std::io::Error),
    /// The server or cluster did not come up in time; carries the tail of its log.
    #[error("local redis did not start: {0}")]
    Startup(String),
}

impl std::fmt::Debug for LocalRedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Options for [`RedisServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Port on 127.0.0.1; a free one is picked when `None`.
    pub port: Option<u16>,
    /// Data directory (AOF files, log). A fresh temp dir, removed on drop, when `None`;
    /// a given directory is created if needed and kept.
    pub dir: Option<PathBuf>,
    /// Extra `redis-server` arguments (after the defaults, so they win).
    pub extra_args: Vec<String>,
}

/// A `redis-server` child process bound to 127.0.0.1, with [`RECOMMENDED_PERSISTENCE_ARGS`].
/// Killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    remove_dir: bool,
    args: Vec<String>,
    child: Option<Child>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn which(bin: &'static str) -> Result<(), LocalRedisError> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(LocalRedisError::NotInstalled(bin))
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn temp_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("gaze-redis-{}-{n}-{nanos}", std::process::id()))
}

/// Sends one command over RESP and returns the reply as text (status, error, integer or
/// bulk string; errors are returned as `-ERR …` text).
pub fn raw_command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end().to_owned();
    if let Some(len) = line.strip_prefix('$') {
        let len: i64 = len
            .parse()
            .map_err(|_| std::io::Error::other("bad bulk length"))?;
        if len < 0 {
            return Ok(String::new());
        }
        let mut buf = vec![0u8; len as usize + 2];
        r.read_exact(&mut buf)?;
        buf.truncate(len as usize);
        return Ok(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok(line.get(1..).map(str::to_owned).unwrap_or_default())
}

impl RedisServer {
    /// Starts a server on a free port with a fresh temp dir.
    pub fn start() -> Result<RedisServer, LocalRedisError> {
        Self::start_with(RedisOptions::default())
    }

    /// Starts a server with the given options (see [`RedisOptions`]).
    pub fn start_with(opts: RedisOptions) -> Result<RedisServer, LocalRedisError> {
        which("redis-server")?;
        let (dir, remove_dir) = match opts.dir {
            Some(d) => (d, false),
            None => (temp_dir(), true),
        };
        std::fs::create_dir_all(&dir)?;
        let mut last_err = None;
        // A picked port can be taken by someone else before redis binds it: retry.
        for _ in 0..5 {
            let port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            let mut server = RedisServer {
                port,
                dir: dir.clone(),
                remove_dir,
                args: opts.extra_args.clone(),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => {
                    server.remove_dir = false; // keep the dir for the next attempt
                    last_err = Some(e);
                    if opts.port.is_some() {
                        break;
                    }
                }
            }
        }
        if remove_dir {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Err(last_err.unwrap_or_else(|| LocalRedisError::Startup("no attempt made".into())))
    }

    fn spawn(&mut self) -> Result<(), LocalRedisError> {
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().into_owned();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--dir", &dir])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .args([
                "--protected-mode",
                "yes",
                "--appendfilename",
                "appendonly.aof",
            ])
            .args(RECOMMENDED_PERSISTENCE_ARGS)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(LocalRedisError::Startup(format!(
                    "redis-server on port {} exited with {status}: {}",
                    self.port,
                    self.log_tail()
                )));
            }
            // The process that answers must be ours (not another server that got the port).
            let pid_line = format!("process_id:{}", child.id());
            if raw_command(self.port, &["PING"]).is_ok_and(|r| r == "PONG")
                && raw_command(self.port, &["INFO", "server"])
                    .is_ok_and(|i| i.lines().any(|l| l.trim() == pid_line))
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LocalRedisError::Startup(format!(
                    "redis-server on port {} did not answer PING: {}",
                    self.port,
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(8).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Kills the process with SIGKILL (a crash: only what the AOF already has survives —
    /// with `appendfsync everysec`, everything written more than ~1 s ago).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (`SHUTDOWN`: flushes the AOF), falling back to a kill after 5 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = raw_command(self.port, &["SHUTDOWN"]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data dir (it reloads its AOF). Stops it
    /// first if it is running.
    pub fn restart(&mut self) -> Result<(), LocalRedisError> {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                // The port may linger briefly after a kill.
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Sends one command (see [`raw_command`]).
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        raw_command(self.port, args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A local Redis Cluster of `n` masters (no replicas), each a [`RedisServer`] with cluster
/// mode on. Killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `n` (≥ 3) nodes, joins them with `redis-cli --cluster create` and waits for
    /// `cluster_state:ok` on every node.
    pub fn start(n: usize) -> Result<RedisCluster, LocalRedisError> {
        which("redis-server")?;
        which("redis-cli")?;
        if n < 3 {
            return Err(LocalRedisError::Startup(
                "a Redis Cluster needs at least 3 masters".into(),
            ));
        }
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(Self::start_node()?);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(LocalRedisError::Startup(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_ok(Duration::from_secs(30))?;
        Ok(cluster)
    }

    fn start_node() -> Result<RedisServer, LocalRedisError> {
        let mut last = None;
        // The bus port is picked separately and may be taken by then: retry with new ports.
        for _ in 0..5 {
            let bus = free_port()?.to_string();
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "3000",
                "--cluster-port",
                &bus,
            ];
            match RedisServer::start_with(RedisOptions {
                extra_args: args.iter().map(|s| s.to_string()).collect(),
                ..RedisOptions::default()
            }) {
                Ok(s) => return Ok(s),
                Err(e @ LocalRedisError::NotInstalled(_)) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| LocalRedisError::Startup("no attempt made".into())))
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes, e.g. to [`RedisServer::kill`] and [`RedisServer::restart`] one (it rejoins
    /// from its `nodes.conf` and AOF; see [`RedisCluster::wait_ok`]).
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_ok(&self, within: Duration) -> Result<(), LocalRedisError> {
        let deadline = Instant::now() + within;
        loop {
            let all_ok = self.nodes.iter().all(|s| {
                s.command(&["CLUSTER", "INFO"])
                    .is_ok_and(|i| i.contains("cluster_state:ok"))
            });
            if all_ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalRedisError::Startup(format!(
                    "cluster did not reach cluster_state:ok within {within:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
