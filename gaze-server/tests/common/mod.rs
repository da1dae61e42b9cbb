//! Test harness: a real redis-server on a free port, the server in-process, JPEG frames of
//! the committed webcam clip, and small HTTP / WebSocket helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gaze_server::redis_proc::ManagedRedis;
use gaze_server::{Config, Server};
use gaze_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server over its own redis-server.
pub struct TestApp {
    pub server: Option<Server>,
    pub redis: Option<ManagedRedis>,
    pub store: Arc<dyn Store>,
    pub base: String,
    pub ws_base: String,
    pub http: reqwest::Client,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let p = std::env::temp_dir().join(format!(
        "gaze-server-test-{tag}-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&p).expect("temp dir");
    TempDir(p)
}

pub fn test_config() -> Config {
    let mut c = Config::defaults();
    c.bind = "127.0.0.1:0".parse().expect("addr");
    c.insecure_fast_hash = true;
    c.admin_users = vec!["root".into()];
    c.reconnect_grace_secs = 0;
    c.ws_auth_timeout_secs = 2;
    c.max_frame_bytes = 300_000;
    c.checkpoint_secs = 1;
    c
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> TestApp {
        let dir = temp_dir("redis");
        let redis = ManagedRedis::start("redis-server", &dir.0, 0)
            .await
            .expect("redis-server starts (scripts/setup.sh base installs it)");
        let store = gaze_store::connect_with(&redis.url(), gaze_server::store_config(&config))
            .await
            .expect("store connects to the test redis-server");
        let server = Server::spawn(config, store.clone()).await.expect("server");
        // Replies to frames are awaited with timeouts: let the server compile its networks
        // first (only the first server of a test binary compiles; later ones find them).
        wait_networks_ready(&server).await;
        let base = server.url();
        let ws_base = base.replacen("http://", "ws://", 1);
        TestApp {
            server: Some(server),
            redis: Some(redis),
            store,
            base,
            ws_base,
            // Bounded: a stuck request fails the test instead of hanging the run.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some(mut r) = self.redis.take() {
            r.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional bearer token; returns status and JSON (or Null).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn register(&self, username: &str) -> Value {
        let (s, v) = self
            .call(
                "POST",
                "/users/register",
                None,
                Some(json!({"username": username, "password": "password-123"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "register {username}: {v}");
        v
    }

    /// Registers and logs in; returns (token, user).
    pub async fn user(&self, username: &str) -> (String, Value) {
        let u = self.register(username).await;
        let (s, v) = self
            .call(
                "POST",
                "/users/login",
                None,
                Some(json!({"username": username, "password": "password-123"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login: {v}");
        (v["access_token"].as_str().expect("token").to_string(), u)
    }

    pub async fn start_session(&self, token: &str) -> String {
        let (s, v) = self.call("POST", "/session/start", Some(token), None).await;
        assert_eq!(s, StatusCode::CREATED, "start: {v}");
        v["session_id"].as_str().expect("id").to_string()
    }

    pub async fn ws(&self, path: &str, token: Option<&str>) -> Ws {
        let url = match token {
            Some(t) => format!("{}{path}?token={t}", self.ws_base),
            None => format!("{}{path}", self.ws_base),
        };
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        ws
    }
}

/// Waits (at most 120 s) until an in-process server has compiled its networks, so that the
/// first frame replies, awaited with timeouts, do not wait for a compilation.
pub async fn wait_networks_ready(server: &Server) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !server
        .state
        .networks_ready
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "networks not ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the server at `base` answers `/health` with success and has compiled its networks
/// (`networks_ready`): a server process is ready for timed frames.
pub async fn health_ready(http: &reqwest::Client, base: &str) -> bool {
    match http.get(format!("{base}/health")).send().await {
        Ok(r) if r.status().is_success() => {
            let h: Value = r.json().await.unwrap_or_default();
            h["networks_ready"] == true
        }
        _ => false,
    }
}

/// JPEG frames of the committed webcam clip (ffmpeg, once per test binary).
pub fn frames() -> &'static Vec<Vec<u8>> {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let clip = root.join("testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4");
        let dir = std::env::temp_dir().join(format!("gaze-server-frames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("frames dir");
        let status = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(&clip)
            .args(["-t", "4", "-vf", "fps=15", "-q:v", "4"])
            .arg(dir.join("f%03d.jpg"))
            .status()
            .expect("ffmpeg runs (scripts/setup.sh base installs it)");
        assert!(status.success(), "ffmpeg failed");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("read frames")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        let frames: Vec<Vec<u8>> = names
            .iter()
            .map(|p| std::fs::read(p).expect("frame"))
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(frames.len() >= 30, "got {} frames", frames.len());
        frames
    })
}

/// Next text message as JSON (skips pings and the informational `{"event": "resumed"}`
/// a socket gets when the session's accounting resumed from a checkpoint); None on close /
/// timeout.
pub async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        let v = next_any_json(ws, wait).await?;
        if v["event"] != "resumed" {
            return Some(v);
        }
    }
}

/// Next text message as JSON (skips pings only); None on close / timeout.
pub async fn next_any_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return Some(serde_json::from_str(t.as_str()).expect("JSON message"));
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

/// Waits for the close frame and returns its code.
pub async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| f.code),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

pub async fn send_frame(ws: &mut Ws, jpeg: &[u8]) {
    ws.send(Message::Binary(jpeg.to_vec().into()))
        .await
        .expect("send frame");
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.to_string().into()))
        .await
        .expect("send text");
}

/// Sends frames one by one, waiting for each reply; returns the replies.
pub async fn stream_frames(ws: &mut Ws, frames: &[Vec<u8>]) -> Vec<Value> {
    let mut out = Vec::new();
    for f in frames {
        send_frame(ws, f).await;
        let v = next_json(ws, Duration::from_secs(30)).await.expect("reply");
        out.push(v);
    }
    out
}

/// Asserts the report's times are consistent.
pub fn assert_report_sums(r: &Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
    let duration = f("duration");
    let sum = f("focus_time") + f("distraction_time") + f("no_data_time");
    assert!(duration > 0.0, "duration > 0: {r}");
    assert!(
        (sum - duration).abs() < 1e-3 + duration * 1e-3,
        "times sum to duration: {r}"
    );
}
