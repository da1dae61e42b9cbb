//! `gaze-loadtest`: N concurrent WebSocket clients on loopback, each replaying the webcam
//! clip's JPEG frames at a fixed rate, as the original client does
//! (`{"image": "<base64>", "timestamp": ms}`); prints throughput, p50/p99 round-trip and
//! the share of frames dropped (stale frames the server skipped, latest wins).
//!
//! ```text
//! cargo run --release -p gaze-server --bin gaze-loadtest -- --clients 1,10,25,50
//! target/release/gaze-loadtest --server-bin target/release/gaze-server --clients 10,50
//! ```
//!
//! `--server-bin target/release/gaze-server` (what `make loadtest` does) starts that server as
//! its own process, with its own local redis-server, and reports its CPU alone (`server cpu`,
//! `cpu-ms/frame`). Without `--url` or `--server-bin` it starts the server in-process (memory
//! store, same process), so the figures include the clients' own CPU use. Every client
//! registers, logs in and connects first; the level's clock starts when all of them have.
//!
//! Columns: offered and processed frames/s, round-trip p50/p99 (send → reply for the same
//! frame), dropped share (stale frames skipped, latest wins), mean server time per frame
//! (decode + track + account), face share, CPU used by this process (100 % = one core), by
//! the separate server process, CPU-ms per processed frame (the separate server's, else this
//! process's) and the machine's 1-minute load average before the level (other processes
//! compete for the same cores). `--profile` prints the serial per-frame cost.
//! Against `--url`, start that server with `--login-attempts-per-ip 0 --register-per-ip 0`
//! (every client registers and logs in from one address).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Load-test options.
#[derive(Debug, Parser)]
#[command(name = "gaze-loadtest", about = "WebSocket load test for gaze-server")]
struct Args {
    /// Server base URL; unset: start one in-process on a free port.
    #[arg(long)]
    url: Option<String>,
    /// Concurrent client counts to run, one level after the other.
    #[arg(long, value_delimiter = ',', default_value = "1,10,25,50")]
    clients: Vec<usize>,
    /// Frames per second per client.
    #[arg(long, default_value_t = 15.0)]
    fps: f64,
    /// Seconds per level.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Worker threads of the server this starts (0: one per core, the server's default).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Start this gaze-server executable as a separate process (its own local redis-server in
    /// a temporary data folder, free ports) and load it over loopback: the `server cpu`
    /// columns are then that process alone. Without it (and without `--url`) the server runs
    /// in-process on a memory store.
    #[arg(long, conflicts_with = "url")]
    server_bin: Option<PathBuf>,
    /// Only measure the per-frame CPU cost (JPEG decode, tracking, accounting) on one core
    /// and exit.
    #[arg(long)]
    profile: bool,
    /// Video to take frames from.
    #[arg(
        long,
        default_value = "testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
    )]
    clip: PathBuf,
}

#[derive(Debug, Default)]
struct ClientStats {
    sent: u64,
    replies: u64,
    errors: u64,
    rtt_ms: Vec<f64>,
    server_ms: Vec<f64>,
    with_face: u64,
}

#[path = "shared/clip.rs"]
mod clip;
use clip::BoxError;

fn extract_frames(clip: &Path, fps: f64) -> Result<Vec<String>, BoxError> {
    Ok(clip::jpeg_frames(clip, fps, "loadtest")?
        .iter()
        .map(|jpeg| base64::engine::general_purpose::STANDARD.encode(jpeg))
        .collect())
}

async fn post(
    http: &reqwest_lite::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> Result<Value, BoxError> {
    http.post_json(url, token, &body).await
}

/// A tiny HTTP/1.1 JSON client over tokio (keeps this binary free of an HTTP client crate).
mod reqwest_lite {
    use super::BoxError;
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Base URL holder.
    pub struct Client {
        pub host: String,
    }

    impl Client {
        /// `GET path` (no authentication), the JSON body of a 2xx reply.
        pub async fn get_json(&self, path: &str) -> Result<Value, BoxError> {
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.host
            );
            self.exchange(path, req).await
        }

        pub async fn post_json(
            &self,
            path: &str,
            token: Option<&str>,
            body: &Value,
        ) -> Result<Value, BoxError> {
            let body = body.to_string();
            let auth = token
                .map(|t| format!("Authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.host,
                body.len()
            );
            self.exchange(path, req).await
        }

        async fn exchange(&self, path: &str, req: String) -> Result<Value, BoxError> {
            let mut s = tokio::net::TcpStream::connect(&self.host).await?;
            s.write_all(req.as_bytes()).await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            let text = String::from_utf8_lossy(&buf);
            let (head, body) = text.split_once("\r\n\r\n").ok_or("bad HTTP reply")?;
            let status = head.split_whitespace().nth(1).unwrap_or("0");
            if !status.starts_with('2') {
                return Err(format!("{path}: HTTP {status}: {body}").into());
            }
            Ok(serde_json::from_str(body)?)
        }
    }
}

/// One client: registers, logs in, starts a session and opens its track socket; waits at
/// `ready` until every client of the level did (so the set-up of some, password hashing
/// included, does not load the server while others stream); then streams for `seconds`.
async fn run_client(
    host: String,
    idx: usize,
    level: usize,
    frames: Arc<Vec<String>>,
    fps: f64,
    seconds: f64,
    ready: Arc<tokio::sync::Barrier>,
) -> Result<ClientStats, BoxError> {
    let set_up = connect_client(&host, idx, level).await;
    // Every client reaches the barrier, also one whose set-up failed.
    ready.wait().await;
    let (http, token, id, ws) = set_up?;
    stream_client(http, token, id, ws, idx, level, frames, fps, seconds).await
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Registration, login, session start and the track socket of client `idx`.
async fn connect_client(
    host: &str,
    idx: usize,
    level: usize,
) -> Result<(reqwest_lite::Client, String, String, Socket), BoxError> {
    let http = reqwest_lite::Client {
        host: host.to_string(),
    };
    let name = format!("load{}x{level}n{idx}", std::process::id());
    let pass = "load-test-password";
    post(
        &http,
        "/users/register",
        None,
        json!({"username": name, "password": pass}),
    )
    .await?;
    let login = post(
        &http,
        "/users/login",
        None,
        json!({"username": name, "password": pass}),
    )
    .await?;
    let token = login["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_string();
    let start = post(
        &http,
        "/session/start",
        Some(&token),
        json!({"source": "loadtest"}),
    )
    .await?;
    let id = start["session_id"]
        .as_str()
        .ok_or("no session id")?
        .to_string();
    let (ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{host}/ws/session/{id}/track?token={token}"
    ))
    .await?;
    Ok((http, token, id, ws))
}

/// Streams frames at `fps` for `seconds` on the open socket, then ends the session.
#[allow(clippy::too_many_arguments)]
async fn stream_client(
    http: reqwest_lite::Client,
    token: String,
    id: String,
    ws: Socket,
    idx: usize,
    level: usize,
    frames: Arc<Vec<String>>,
    fps: f64,
    seconds: f64,
) -> Result<ClientStats, BoxError> {
    let (mut tx, mut rx) = ws.split();
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let stats = Arc::new(Mutex::new(ClientStats::default()));

    let reader = {
        let sent_at = sent_at.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = rx.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                let now = Instant::now();
                let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                if v.get("error").is_some() {
                    s.errors += 1;
                    continue;
                }
                if v.get("event").is_some() {
                    continue;
                }
                let key = v["timestamp_ms"].as_f64().unwrap_or(-1.0) as u64;
                if let Some(t0) = sent_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key)
                {
                    s.rtt_ms.push(now.duration_since(t0).as_secs_f64() * 1000.0);
                }
                s.replies += 1;
                if !v["face"].is_null() {
                    s.with_face += 1;
                }
                if let Some(p) = v["processing_ms"].as_f64() {
                    s.server_ms.push(p);
                }
            }
        })
    };

    // Stagger clients over one frame interval.
    let period = Duration::from_secs_f64(1.0 / fps);
    tokio::time::sleep(period.mul_f64(idx as f64 / level.max(1) as f64)).await;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let t_end = Instant::now() + Duration::from_secs_f64(seconds);
    let base_ts: u64 = 1_000_000 + idx as u64 * 1000;
    let mut n: u64 = 0;
    while Instant::now() < t_end {
        tick.tick().await;
        let ts = base_ts + n * 1000 / fps as u64;
        let img = &frames[(n as usize + idx * 7) % frames.len()];
        let msg = format!("{{\"timestamp\":{ts},\"image\":\"data:image/jpeg;base64,{img}\"}}");
        sent_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ts, Instant::now());
        if tx.send(Message::Text(msg.into())).await.is_err() {
            break;
        }
        n += 1;
    }
    stats.lock().unwrap_or_else(|p| p.into_inner()).sent = n;
    // Let the last frames come back, then end the session.
    tokio::time::sleep(Duration::from_millis(800)).await;
    post(
        &http,
        "/session/end",
        Some(&token),
        json!({"session_id": id}),
    )
    .await?;
    let _ = tx.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), reader).await;
    let out = std::mem::take(&mut *stats.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(out)
}

/// CPU seconds used by this process so far (user + system), from /proc (Linux).
fn process_cpu_secs() -> Option<f64> {
    cpu_secs_of("self")
}

/// CPU seconds used so far by process `pid` (`self` for this one), from /proc (Linux).
fn cpu_secs_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// 1-minute load average (Linux).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Serial per-frame cost: decode, track, account (what bounds throughput).
fn profile(frames: &[String]) -> Result<(), BoxError> {
    let limits = gaze_server::live::FrameLimits {
        max_bytes: 4 << 20,
        max_side: 4096,
    };
    let mut tracker = gaze_core::Tracker::new(gaze_core::TrackerConfig::default())?;
    let mut account = gaze_server::accounting::LiveAccount::new("profile", None);
    let (mut b64_ms, mut dec_ms, mut trk_ms, mut acc_ms) = (0.0, 0.0, 0.0, 0.0);
    let rounds = 3;
    let mut n = 0u32;
    let mut pixels = Vec::new();
    for round in 0..rounds {
        for (i, f) in frames.iter().enumerate() {
            let t0 = Instant::now();
            let bytes = gaze_server::live::decode_base64_image(f, limits.max_bytes)?;
            let t1 = Instant::now();
            // As the server's workers do: into one buffer reused frame after frame.
            let (w, h) = gaze_server::live::decode_image_into(&bytes, limits, &mut pixels)?;
            let t2 = Instant::now();
            let ts = (round * frames.len() + i) as f64 * 66.7;
            let frame = gaze_core::Frame::packed(&pixels, w, h, gaze_core::PixelFormat::Rgb8, ts)?;
            let r = tracker.process(&frame)?;
            let t3 = Instant::now();
            account.push(&r);
            let t4 = Instant::now();
            if round > 0 {
                b64_ms += (t1 - t0).as_secs_f64() * 1e3;
                dec_ms += (t2 - t1).as_secs_f64() * 1e3;
                trk_ms += (t3 - t2).as_secs_f64() * 1e3;
                acc_ms += (t4 - t3).as_secs_f64() * 1e3;
                n += 1;
            }
        }
    }
    let k = f64::from(n.max(1));
    let total = (b64_ms + dec_ms + trk_ms + acc_ms) / k;
    println!(
        "per frame (mean of {n}): base64 {:.2} ms, JPEG decode {:.2} ms, track {:.2} ms, account {:.3} ms = {total:.2} ms → {:.0} frames/s per core",
        b64_ms / k,
        dec_ms / k,
        trk_ms / k,
        acc_ms / k,
        1000.0 / total
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let frames = Arc::new(extract_frames(&args.clip, args.fps)?);
    if args.profile {
        return tokio::task::block_in_place(|| profile(&frames));
    }
    let mut server = None;
    let mut child: Option<ServerProcess> = None;
    let host = match (&args.url, &args.server_bin) {
        (Some(u), _) => u
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        (None, Some(bin)) => {
            let p = ServerProcess::start(bin, args.workers)?;
            let h = p.host.clone();
            child = Some(p);
            h
        }
        (None, None) => {
            let mut cfg = gaze_server::Config::defaults();
            cfg.bind = "127.0.0.1:0".parse()?;
            cfg.insecure_fast_hash = true;
            cfg.workers = args.workers;
            cfg.max_live_sessions = 10_000;
            // Every client registers and logs in from 127.0.0.1: no per-IP limits here.
            cfg.login_attempts_per_ip = 0;
            cfg.register_per_ip = 0;
            let store =
                gaze_store::connect_with("memory://", gaze_server::store_config(&cfg)).await?;
            let s = gaze_server::Server::spawn(cfg, store).await?;
            let h = s.addr.to_string();
            server = Some(s);
            h
        }
    };
    // The server loads and compiles its networks at start-up: measure after that.
    let http = reqwest_lite::Client { host: host.clone() };
    let t_ready = Instant::now();
    loop {
        match http.get_json("/health").await {
            Ok(h) if h["networks_ready"] != Value::Bool(false) => break,
            _ if t_ready.elapsed() > Duration::from_secs(120) => {
                return Err("the server's networks were not ready within 120 s".into());
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "gaze-loadtest: {} frames (640x480 JPEG), {} fps per client, {} s per level, {cores} cores, server {}",
        frames.len(),
        args.fps,
        args.seconds,
        if args.url.is_some() || child.is_some() {
            host.as_str()
        } else {
            "in-process"
        }
    );
    println!(
        "{:>4} | {:>9} | {:>11} | {:>8} | {:>8} | {:>8} | {:>9} | {:>6} | {:>5} | {:>10} | {:>12} | {:>5}",
        "N",
        "offered/s",
        "processed/s",
        "p50 ms",
        "p99 ms",
        "dropped",
        "server ms",
        "face",
        "cpu",
        "server cpu",
        "cpu-ms/frame",
        "load"
    );
    for &n in &args.clients {
        let load_before = loadavg();
        let ready = Arc::new(tokio::sync::Barrier::new(n + 1));
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            tasks.push(tokio::spawn(run_client(
                host.clone(),
                i,
                n,
                frames.clone(),
                args.fps,
                args.seconds,
                ready.clone(),
            )));
        }
        // CPU and wall time of the streaming phase only (all clients connected).
        ready.wait().await;
        let cpu0 = process_cpu_secs();
        let server_cpu0 = child.as_ref().and_then(|c| cpu_secs_of(&c.pid()));
        let wall0 = Instant::now();
        let mut all = ClientStats::default();
        let mut failures = 0;
        for t in tasks {
            match t.await {
                Ok(Ok(s)) => {
                    all.sent += s.sent;
                    all.replies += s.replies;
                    all.errors += s.errors;
                    all.with_face += s.with_face;
                    all.rtt_ms.extend(s.rtt_ms);
                    all.server_ms.extend(s.server_ms);
                }
                Ok(Err(e)) => {
                    failures += 1;
                    eprintln!("client failed: {e}");
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("client panicked: {e}");
                }
            }
        }
        let wall = wall0.elapsed().as_secs_f64();
        let own = cpu0.zip(process_cpu_secs()).map(|(a, b)| b - a);
        let srv = server_cpu0
            .zip(child.as_ref().and_then(|c| cpu_secs_of(&c.pid())))
            .map(|(a, b)| b - a);
        let cpu = own.map_or("?".into(), |c| format!("{:.0}%", 100.0 * c / wall));
        let server_cpu = srv.map_or("-".into(), |c| format!("{:.0}%", 100.0 * c / wall));
        // CPU per processed frame: the server process when this started it, this process
        // (server and clients) when the server is in-process, unknown against `--url`.
        let measured = if args.url.is_some() {
            None
        } else {
            srv.or(own)
        };
        let per_frame = measured.map_or("-".into(), |c| {
            format!("{:.2}", 1000.0 * c / all.replies.max(1) as f64)
        });
        all.rtt_ms.sort_by(|a, b| a.total_cmp(b));
        let mean_server = all.server_ms.iter().sum::<f64>() / all.server_ms.len().max(1) as f64;
        let dropped = 1.0 - all.replies as f64 / all.sent.max(1) as f64;
        println!(
            "{:>4} | {:>9.1} | {:>11.1} | {:>8.1} | {:>8.1} | {:>7.1}% | {:>9.1} | {:>5.0}% | {cpu:>5} | {server_cpu:>10} | {per_frame:>12} | {load_before:>5}{}",
            n,
            all.sent as f64 / args.seconds,
            all.replies as f64 / args.seconds,
            pct(&all.rtt_ms, 0.5),
            pct(&all.rtt_ms, 0.99),
            dropped * 100.0,
            mean_server,
            100.0 * all.with_face as f64 / all.replies.max(1) as f64,
            if failures > 0 || all.errors > 0 {
                format!(
                    "  ({failures} clients failed, {} error replies)",
                    all.errors
                )
            } else {
                String::new()
            }
        );
    }
    if let Some(s) = server {
        s.shutdown().await;
    }
    if let Some(c) = child {
        c.stop();
    }
    Ok(())
}

/// A gaze-server started as a separate process (`--server-bin`), with its own local
/// redis-server in a temporary data folder; stopped with SIGTERM (so it stops its redis) when
/// the run ends or this value is dropped.
struct ServerProcess {
    child: Option<std::process::Child>,
    host: String,
    data_dir: PathBuf,
}

impl ServerProcess {
    fn start(bin: &Path, workers: usize) -> Result<Self, BoxError> {
        // A free port: bind port 0, read it, release it for the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let host = format!("127.0.0.1:{port}");
        let data_dir = std::env::temp_dir().join(format!("gaze-loadtest-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        let child = std::process::Command::new(bin)
            .args(["--bind", &host, "--redis-port", "0", "--data-dir"])
            .arg(&data_dir)
            .args(["--workers", &workers.to_string()])
            .args(["--max-live-sessions", "10000"])
            // Every client registers and logs in from 127.0.0.1: no per-IP limits here.
            .args(["--login-attempts-per-ip", "0", "--register-per-ip", "0"])
            .args(["--log-level", "warn"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        println!(
            "gaze-loadtest: started {} (pid {}) on {host}, log in {}",
            bin.display(),
            child.id(),
            data_dir.join("server.log").display()
        );
        Ok(ServerProcess {
            child: Some(child),
            host,
            data_dir,
        })
    }

    fn pid(&self) -> String {
        self.child
            .as_ref()
            .map_or_else(|| "0".into(), |c| c.id().to_string())
    }

    /// SIGTERM, then up to 30 s for a clean exit (its redis-server stops with it), else SIGKILL.
    fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = c.try_wait() {
                let _ = std::fs::remove_dir_all(&self.data_dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop_now();
    }
}
