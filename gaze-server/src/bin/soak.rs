//! `gaze-soak`: a bounded soak run of gaze-server on loopback — concurrent WebSocket
//! sessions (frames of the committed webcam clip at a fixed rate, each session ended and
//! verified, then a new one started) plus REST traffic (login, lists, session details,
//! report exports, health) — sampling the server's resident memory (`VmRSS` of its
//! process) throughout.
//!
//! ```text
//! cargo build --release -p gaze-server --bins
//! target/release/gaze-soak --secs 600          # make soak (SOAK_SECS=600)
//! ```
//!
//! Without `--url` it starts a redis-server (fresh data dir) and the `gaze-server` binary
//! next to this one, with production settings (argon2 default cost, rate limits on). It
//! prints sessions, frames, requests by outcome (rate-limit refusals are the intended
//! limits, counted apart from errors), lost records (every finished session's stored
//! report must equal the report the client got and the client's running totals of its
//! last frame; every frame must be answered) and RSS at start, after warm-up, at the end
//! and its maximum. Exit status 1 when anything was lost or an unexpected error occurred.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Soak options.
#[derive(Debug, Parser)]
#[command(name = "gaze-soak", about = "Bounded soak run of gaze-server")]
struct Args {
    /// Run time (seconds).
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Concurrent WebSocket sessions.
    #[arg(long, default_value_t = 6)]
    sessions: usize,
    /// Frames per second per session.
    #[arg(long, default_value_t = 10.0)]
    fps: f64,
    /// Length of one session (seconds) before it is ended and a new one starts.
    #[arg(long, default_value_t = 45)]
    session_secs: u64,
    /// REST requests per second (one client).
    #[arg(long, default_value_t = 10.0)]
    rest_rps: f64,
    /// Server address (host:port) of a running server; unset: start redis-server and the
    /// gaze-server binary.
    #[arg(long)]
    url: Option<String>,
    /// PID of the server at `--url`, for RSS sampling.
    #[arg(long)]
    pid: Option<u32>,
    /// gaze-server binary to start (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Seconds between RSS samples.
    #[arg(long, default_value_t = 5)]
    sample_secs: u64,
    /// Video to take frames from.
    #[arg(
        long,
        default_value = "testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
    )]
    clip: PathBuf,
}

#[path = "shared/clip.rs"]
mod clip;
use clip::BoxError;

/// Counters shared by every client task.
#[derive(Debug, Default)]
struct Stats {
    sessions_started: AtomicU64,
    sessions_verified: AtomicU64,
    frames_sent: AtomicU64,
    frames_answered: AtomicU64,
    frame_errors: AtomicU64,
    requests: AtomicU64,
    ok_2xx: AtomicU64,
    limited: AtomicU64,
    errors: AtomicU64,
    lost: AtomicU64,
    problems: Mutex<Vec<String>>,
}

impl Stats {
    fn problem(&self, p: String) {
        let mut v = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < 20 {
            v.push(p);
        }
    }

    /// Counts one HTTP response; 429 and 503-busy are the intended limits.
    fn count(&self, what: &str, status: u16, body: &str) {
        self.requests.fetch_add(1, Relaxed);
        match status {
            200..=299 => {
                self.ok_2xx.fetch_add(1, Relaxed);
            }
            429 => {
                self.limited.fetch_add(1, Relaxed);
            }
            _ => {
                self.errors.fetch_add(1, Relaxed);
                self.problem(format!("{what}: HTTP {status} {body}"));
            }
        }
    }
}

/// A minimal HTTP/1.1 client (one connection per request) so this binary needs no HTTP
/// client crate.
async fn http(
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), BoxError> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(host).await?;
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, BoxError>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| format!("{method} {path}: no answer within 30 s"))??;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text.split_once("\r\n\r\n").ok_or("bad HTTP reply")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Resident memory of `pid` (MiB) from `/proc/<pid>/status`.
fn rss_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 + 1e-9 * a.abs().max(b.abs())
}

/// Registers (once) and logs in a user; returns (token, user id).
async fn account(host: &str, name: &str, st: &Stats) -> Result<(String, String), BoxError> {
    let cred = json!({"username": name, "password": "soak-password-123"});
    let (s, b) = http(host, "POST", "/users/register", None, Some(&cred)).await?;
    st.count("register", s, &b);
    if s != 201 {
        return Err(format!("register {name}: HTTP {s} {b}").into());
    }
    let (s, b) = http(host, "POST", "/users/login", None, Some(&cred)).await?;
    st.count("login", s, &b);
    if s != 200 {
        return Err(format!("login {name}: HTTP {s} {b}").into());
    }
    let v: Value = serde_json::from_str(&b)?;
    let token = v["access_token"].as_str().ok_or("no token")?.to_string();
    let (s, b) = http(host, "GET", "/users/me", Some(&token), None).await?;
    st.count("me", s, &b);
    let me: Value = serde_json::from_str(&b)?;
    let id = me["id"].as_str().ok_or("no user id")?.to_string();
    Ok((token, id))
}

/// One WebSocket client: sessions of `session_secs` back to back until `stop`; each is
/// ended over the socket and its stored report checked against what the client saw.
#[allow(clippy::too_many_arguments)]
async fn ws_client(
    host: String,
    idx: usize,
    frames: Arc<Vec<Vec<u8>>>,
    fps: f64,
    session_secs: u64,
    stop: Arc<AtomicBool>,
    st: Arc<Stats>,
    done_ids: Arc<Mutex<Vec<(String, String)>>>,
) -> Result<(), BoxError> {
    let name = format!("soak{}c{idx}", std::process::id() % 100_000);
    let (token, _) = account(&host, &name, &st).await?;
    let period = Duration::from_secs_f64(1.0 / fps);
    // Even clients send binary JPEG frames, odd ones the original client's base64 JSON.
    let json_frames = idx % 2 == 1;
    tokio::time::sleep(period.mul_f64(idx as f64 / 7.0)).await;
    let mut n = idx * 13;
    while !stop.load(Relaxed) {
        let (s, b) = http(&host, "POST", "/session/start", Some(&token), None).await?;
        st.count("session/start", s, &b);
        if s != 201 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let v: Value = serde_json::from_str(&b)?;
        let id = v["session_id"].as_str().ok_or("no session id")?.to_string();
        st.sessions_started.fetch_add(1, Relaxed);
        let (mut ws, _) = tokio_tungstenite::connect_async(format!(
            "ws://{host}/ws/session/{id}/track?token={token}"
        ))
        .await?;
        let until = Instant::now() + Duration::from_secs(session_secs);
        let mut answered = 0u64;
        let mut last: Option<Value> = None;
        let mut ts = 1_000_000.0;
        while Instant::now() < until && !stop.load(Relaxed) {
            let t0 = Instant::now();
            let img = &frames[n % frames.len()];
            n += 1;
            let msg = if json_frames {
                ts += 1000.0 / fps;
                let b64 = base64::engine::general_purpose::STANDARD.encode(img);
                Message::Text(
                    format!("{{\"timestamp\":{ts},\"image\":\"data:image/jpeg;base64,{b64}\"}}")
                        .into(),
                )
            } else {
                Message::Binary(img.clone().into())
            };
            ws.send(msg).await?;
            st.frames_sent.fetch_add(1, Relaxed);
            // Every frame must be answered (one in flight per client: nothing is dropped).
            let reply = loop {
                match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        break Some(serde_json::from_str::<Value>(t.as_str())?);
                    }
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    _ => break None,
                }
            };
            let Some(reply) = reply else {
                st.lost.fetch_add(1, Relaxed);
                st.problem(format!("session {id}: frame not answered"));
                break;
            };
            if reply.get("error").is_some() {
                st.frame_errors.fetch_add(1, Relaxed);
                st.problem(format!("session {id}: {reply}"));
            } else {
                answered += 1;
                st.frames_answered.fetch_add(1, Relaxed);
                last = Some(reply);
            }
            tokio::time::sleep(period.saturating_sub(t0.elapsed())).await;
        }
        ws.send(Message::Text(r#"{"type":"end"}"#.into())).await?;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if v["event"] == "ended" {
                        break Some(v);
                    }
                }
                Ok(Some(Ok(_))) => continue,
                _ => break None,
            }
        };
        let _ = ws.close(None).await;
        // Verify: the stored report is the one the client got, which is the accounting of
        // every frame the client sent (its last running totals, its frame count).
        let ok = match (&ended, &last) {
            (Some(e), Some(last)) => {
                let r = &e["report"];
                let t = &last["totals"];
                let frames_ok = last["frame_index"].as_u64() == Some(answered);
                let totals_ok = ["duration", "focus_time", "distraction_time", "no_data_time"]
                    .iter()
                    .all(|k| same(num(r, k), num(t, k)));
                let (s, b) =
                    http(&host, "GET", &format!("/session/{id}"), Some(&token), None).await?;
                st.count("session/{id}", s, &b);
                let stored: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
                let stored_ok = stored["status"] == "ended" && stored["report"] == *r;
                if !(frames_ok && totals_ok && stored_ok) {
                    st.problem(format!(
                        "session {id}: frames_ok {frames_ok} totals_ok {totals_ok} stored_ok {stored_ok}"
                    ));
                }
                frames_ok && totals_ok && stored_ok
            }
            (None, _) => {
                st.problem(format!("session {id}: no ended event"));
                false
            }
            (_, None) => true, // stopped before the first frame: nothing to lose
        };
        if ok {
            st.sessions_verified.fetch_add(1, Relaxed);
        } else {
            st.lost.fetch_add(1, Relaxed);
        }
        done_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, token.clone()));
    }
    Ok(())
}

/// REST traffic: health, own profile, session lists, details and exports of finished
/// sessions, and a fresh login every 20 requests.
async fn rest_client(
    host: String,
    rps: f64,
    stop: Arc<AtomicBool>,
    st: Arc<Stats>,
    done_ids: Arc<Mutex<Vec<(String, String)>>>,
) -> Result<(), BoxError> {
    let name = format!("soak{}rest", std::process::id() % 100_000);
    let (mut token, uid) = account(&host, &name, &st).await?;
    let period = Duration::from_secs_f64(1.0 / rps.max(0.1));
    let mut i = 0u64;
    while !stop.load(Relaxed) {
        let t0 = Instant::now();
        let pick = {
            let d = done_ids.lock().unwrap_or_else(|e| e.into_inner());
            (!d.is_empty()).then(|| d[(i as usize * 7) % d.len()].clone())
        };
        let (what, s, b) = match i % 10 {
            0 if i % 20 == 0 => {
                let cred = json!({"username": name, "password": "soak-password-123"});
                let (s, b) = http(&host, "POST", "/users/login", None, Some(&cred)).await?;
                if s == 200 {
                    if let Some(t) = serde_json::from_str::<Value>(&b)
                        .ok()
                        .and_then(|v| v["access_token"].as_str().map(str::to_string))
                    {
                        token = t;
                    }
                }
                ("login", s, b)
            }
            0 | 1 => {
                let (s, b) = http(&host, "GET", "/health", None, None).await?;
                ("health", s, b)
            }
            2 => {
                let (s, b) = http(&host, "GET", "/users/me", Some(&token), None).await?;
                ("me", s, b)
            }
            3 => {
                let p = format!("/sessions/user/{uid}?limit=20");
                let (s, b) = http(&host, "GET", &p, Some(&token), None).await?;
                ("sessions/user", s, b)
            }
            4..=6 => match &pick {
                Some((id, t)) => {
                    let (s, b) =
                        http(&host, "GET", &format!("/session/{id}"), Some(t), None).await?;
                    ("session/{id}", s, b)
                }
                None => {
                    let (s, b) = http(&host, "GET", "/health", None, None).await?;
                    ("health", s, b)
                }
            },
            7 | 8 => match &pick {
                Some((id, t)) => {
                    let ext = if i % 2 == 0 { "json" } else { "csv" };
                    let p = format!("/session/{id}/report.{ext}");
                    let (s, b) = http(&host, "GET", &p, Some(t), None).await?;
                    ("report export", s, b)
                }
                None => {
                    let (s, b) = http(&host, "GET", "/users/me", Some(&token), None).await?;
                    ("me", s, b)
                }
            },
            _ => {
                let (s, b) = http(&host, "GET", "/metrics", Some(&token), None).await?;
                ("metrics", s, b)
            }
        };
        st.count(what, s, &b);
        i += 1;
        tokio::time::sleep(period.saturating_sub(t0.elapsed())).await;
    }
    Ok(())
}

/// A process this binary started, killed on drop.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first so gaze-server finalises; then make sure.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_health(host: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http(host, "GET", "/health", None, None).await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no healthy server at {host}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let frames = Arc::new(clip::jpeg_frames(&args.clip, args.fps, "soak")?);
    let mut _redis = None;
    let mut _server = None;
    let (host, pid) = match &args.url {
        Some(u) => (
            u.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            args.pid,
        ),
        None => {
            let redis = gaze_store::testing::RedisServer::start()?;
            let bin = match &args.server_bin {
                Some(b) => b.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .ok_or("no exe dir")?
                    .join("gaze-server"),
            };
            let port = gaze_store::testing::free_port()?;
            let host = format!("127.0.0.1:{port}");
            let child = Command::new(&bin)
                .args(["--bind", &host, "--store-url", &redis.url()])
                .args(["--log-level", "warn"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            let pid = child.id();
            _server = Some(Proc(child));
            _redis = Some(redis);
            (host, Some(pid))
        }
    };
    wait_health(&host).await?;
    let rss = |_: ()| pid.and_then(rss_mib);
    let rss_start = rss(());
    println!(
        "gaze-soak: {} s, {} WS sessions at {} fps ({} s each, then a new one), REST {} req/s, server {host} pid {}",
        args.secs,
        args.sessions,
        args.fps,
        args.session_secs,
        args.rest_rps,
        pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
    );

    let st = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done_ids = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..args.sessions {
        tasks.push(tokio::spawn(ws_client(
            host.clone(),
            i,
            frames.clone(),
            args.fps,
            args.session_secs,
            stop.clone(),
            st.clone(),
            done_ids.clone(),
        )));
    }
    tasks.push(tokio::spawn(rest_client(
        host.clone(),
        args.rest_rps,
        stop.clone(),
        st.clone(),
        done_ids.clone(),
    )));

    let t0 = Instant::now();
    let total = Duration::from_secs(args.secs);
    let warm = total.mul_f64(0.1).max(Duration::from_secs(10)).min(total);
    let mut samples: Vec<(f64, f64)> = Vec::new();
    while t0.elapsed() < total {
        let left = total.saturating_sub(t0.elapsed());
        tokio::time::sleep(Duration::from_secs(args.sample_secs).min(left)).await;
        if let Some(m) = rss(()) {
            samples.push((t0.elapsed().as_secs_f64(), m));
            eprintln!(
                "  t={:>5.0} s  RSS {m:.1} MiB  frames {}  requests {}",
                t0.elapsed().as_secs_f64(),
                st.frames_answered.load(Relaxed),
                st.requests.load(Relaxed)
            );
        }
    }
    stop.store(true, Relaxed);
    let mut client_errors = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                client_errors += 1;
                st.problem(format!("client failed: {e}"));
            }
            Err(e) => {
                client_errors += 1;
                st.problem(format!("client panicked: {e}"));
            }
        }
    }
    let rss_end = rss(());
    let (s, metrics) = http(&host, "GET", "/health", None, None).await?;

    let after_warm: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= warm.as_secs_f64())
        .collect();
    let rss_warm = after_warm.first().map(|s| s.1);
    let rss_max = samples.iter().map(|s| s.1).fold(f64::NAN, f64::max);
    // Least-squares slope over the samples after warm-up (MiB per minute).
    let slope = if after_warm.len() >= 3 {
        let n = after_warm.len() as f64;
        let mt = after_warm.iter().map(|s| s.0).sum::<f64>() / n;
        let mm = after_warm.iter().map(|s| s.1).sum::<f64>() / n;
        let num: f64 = after_warm.iter().map(|s| (s.0 - mt) * (s.1 - mm)).sum();
        let den: f64 = after_warm.iter().map(|s| (s.0 - mt).powi(2)).sum();
        (den > 0.0).then(|| num / den * 60.0)
    } else {
        None
    };
    let f = |v: Option<f64>| v.map(|m| format!("{m:.1}")).unwrap_or_else(|| "?".into());
    let lost = st.lost.load(Relaxed);
    let errors = st.errors.load(Relaxed) + st.frame_errors.load(Relaxed) + client_errors;
    println!(
        "sessions: {} started, {} ended and verified",
        st.sessions_started.load(Relaxed),
        st.sessions_verified.load(Relaxed)
    );
    println!(
        "frames: {} sent, {} answered, {} error replies",
        st.frames_sent.load(Relaxed),
        st.frames_answered.load(Relaxed),
        st.frame_errors.load(Relaxed)
    );
    println!(
        "requests: {} (2xx {}, intended limits (429) {}, error responses {})",
        st.requests.load(Relaxed),
        st.ok_2xx.load(Relaxed),
        st.limited.load(Relaxed),
        st.errors.load(Relaxed)
    );
    println!("lost records = {lost}");
    println!(
        "server RSS (MiB): start {}, after warm-up ({:.0} s) {}, end under load {}, after the run {}, max {}, slope after warm-up {} MiB/min",
        f(rss_start),
        warm.as_secs_f64(),
        f(rss_warm),
        f(samples.last().map(|s| s.1)),
        f(rss_end),
        f(Some(rss_max).filter(|m| m.is_finite())),
        slope
            .map(|s| format!("{s:+.2}"))
            .unwrap_or_else(|| "?".into())
    );
    println!("health at the end: HTTP {s} {metrics}");
    let problems = st.problems.lock().unwrap_or_else(|e| e.into_inner());
    for p in problems.iter() {
        println!("  problem: {p}");
    }
    if lost > 0 || errors > 0 {
        drop(problems);
        drop(_server);
        std::process::exit(1);
    }
    Ok(())
}
