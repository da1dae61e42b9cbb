//! Fault injection with real processes: the gaze-server binary killed with SIGKILL and
//! restarted, a redis-server frozen (SIGSTOP) for 10 s, one node of a 3-node Redis Cluster
//! stopped for 10 s and restarted — each during live WebSocket sessions fed with frames of
//! the committed webcam clip. Checks: every frame is answered during the outage, `/health`
//! answers (degraded), checkpoints land once the store is back, the stored timeline holds
//! every closed segment exactly once, and the final report is the accounting of all frames.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Ws, assert_report_sums, frames, health_ready, next_json, send_frame, send_text,
    wait_networks_ready,
};
use gaze_server::accounting::LiveAccount;
use gaze_server::{Server, store_config};
use gaze_store::testing::{RedisCluster, RedisServer, free_port};
use gaze_store::{SessionStatus, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// These tests load both cores (two sessions each); run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Minimal HTTP / WebSocket client of one server.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{path}", self.base));
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

    /// Registers and logs in a fresh user; returns the token.
    async fn user(&self, prefix: &str) -> String {
        let name = gaze_store::testing::unique_username(prefix);
        let cred = json!({"username": name, "password": "password-123"});
        let (s, v) = self
            .call("POST", "/users/register", None, Some(cred.clone()))
            .await;
        assert_eq!(s, StatusCode::CREATED, "register: {v}");
        let (s, v) = self.call("POST", "/users/login", None, Some(cred)).await;
        assert_eq!(s, StatusCode::OK, "login: {v}");
        v["access_token"].as_str().expect("token").to_string()
    }

    async fn start_session(&self, token: &str) -> String {
        let (s, v) = self.call("POST", "/session/start", Some(token), None).await;
        assert_eq!(s, StatusCode::CREATED, "start: {v}");
        v["session_id"].as_str().expect("id").to_string()
    }

    async fn track(&self, id: &str, token: &str) -> Ws {
        let url = format!(
            "{}/ws/session/{id}/track?token={token}",
            self.base.replacen("http://", "ws://", 1)
        );
        tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect")
            .0
    }

    async fn health(&self) -> (StatusCode, Value) {
        self.call("GET", "/health", None, None).await
    }
}

/// A reply that is a processed frame (not an error).
fn frame_index(v: &Value) -> u64 {
    assert!(v.get("error").is_none(), "frame refused: {v}");
    v["frame_index"]
        .as_u64()
        .unwrap_or_else(|| panic!("frame_index in {v}"))
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 + 1e-9 * a.abs().max(b.abs())
}

/// Checks a report's times against a frame reply's running totals (the same accounting).
fn assert_report_matches_totals(report: &Value, totals: &Value, what: &str) {
    for (rk, tk) in [
        ("duration", "duration"),
        ("focus_time", "focus_time"),
        ("distraction_time", "distraction_time"),
        ("no_data_time", "no_data_time"),
        ("other_time", "other_time"),
    ] {
        assert!(
            close(num(report, rk), num(totals, tk)),
            "{what}: report {rk} {} vs client totals {}",
            report[rk],
            totals[tk]
        );
    }
    for k in ["reading_time", "browsing_time", "watching_time"] {
        assert!(
            close(num(&report["session_report"], k), num(totals, k)),
            "{what}: report {k} {} vs client {}",
            report["session_report"][k],
            totals[k]
        );
    }
    assert_eq!(
        report["blink_count"], totals["blink_count"],
        "{what}: blinks"
    );
}

/// A uniform grey 640×480 JPEG: a frame without a face.
fn blank_frame() -> &'static [u8] {
    static BLANK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLANK.get_or_init(|| {
        let img = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .expect("jpeg");
        out
    })
}

/// Sends frames (waiting for each reply, at most `fps`) until `until`; returns each reply
/// with its round-trip time. Every frame must be answered. Every 4.5 s of wall time, 1.5 s
/// are faceless frames, so the activity timeline keeps closing segments.
async fn stream_until(ws: &mut Ws, until: Instant, fps: f64) -> Vec<(Instant, f64, Value)> {
    let frames = frames();
    let interval = Duration::from_secs_f64(1.0 / fps);
    let mut out = Vec::new();
    let mut i = 0usize;
    while Instant::now() < until {
        let t0 = Instant::now();
        let phase = gaze_server::live::now_ms() % 4500.0;
        if phase >= 3000.0 {
            send_frame(ws, blank_frame()).await;
        } else {
            send_frame(ws, &frames[i % frames.len()]).await;
        }
        i += 1;
        let v = next_json(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("frame {i} was not answered within 10 s"));
        frame_index(&v);
        out.push((t0, t0.elapsed().as_secs_f64(), v));
        tokio::time::sleep(interval.saturating_sub(t0.elapsed())).await;
    }
    out
}

/// Waits for a message matching `pred` (skipping others) within `wait`.
async fn wait_for(ws: &mut Ws, wait: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_json(ws, left).await {
            Some(v) if pred(&v) => return Some(v),
            Some(_) => continue,
            None => return None,
        }
    }
    None
}

/// The stored timeline of a live session must hold exactly the segments closed up to its
/// last checkpoint: none lost, none twice. Returns how many there are.
async fn assert_timeline_exactly_once(store: &Arc<dyn Store>, id: &str) -> usize {
    let rec = store.get_session(id).await.expect("session record");
    assert_eq!(rec.status, SessionStatus::Live);
    let state = rec.state.as_ref().expect("checkpoint state");
    let account = LiveAccount::restore(state).expect("state restores");
    let closed = account.report().timeline.len().saturating_sub(1);
    let stored = store.get_timeline(id).await.expect("timeline");
    let full = account.report().timeline;
    assert_eq!(
        stored.len(),
        closed,
        "stored timeline has {} segments, the checkpointed accounting closed {closed}",
        stored.len()
    );
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(s, &full[i], "segment {i} differs from the accounting's");
    }
    for w in stored.windows(2) {
        assert!(
            w[0].end_ms <= w[1].start_ms + 1e-6 && w[0].start_ms < w[1].start_ms,
            "segments out of order or repeated: {w:?}"
        );
    }
    closed
}

/// Polls `/health` until no checkpoint or report waits for the store.
async fn wait_settled(api: &Api, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (s, h) = api.health().await;
        if s == StatusCode::OK && h["status"] == "ok" {
            return h;
        }
        assert!(Instant::now() < deadline, "store writes still pending: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn metric(api: &Api, token: &str, name: &str) -> f64 {
    let resp = api
        .http
        .get(format!("{}/metrics", api.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("metrics");
    let text = resp.text().await.expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

// ---- (a) SIGKILL of the server --------------------------------------------------------

/// The gaze-server binary as a child process.
struct ServerProc {
    child: Child,
}

impl ServerProc {
    async fn start(port: u16, store_url: &str) -> ServerProc {
        let child = Command::new(env!("CARGO_BIN_EXE_gaze-server"))
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--store-url", store_url])
            .args(["--checkpoint-secs", "1", "--reconnect-grace-secs", "120"])
            .args(["--log-level", "warn", "--insecure-fast-hash"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("gaze-server binary starts");
        let api = Api::new(&format!("http://127.0.0.1:{port}"));
        // Up, and done compiling its networks (frames are timed).
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if health_ready(&api.http, &api.base).await {
                break;
            }
            assert!(Instant::now() < deadline, "gaze-server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ServerProc { child }
    }

    fn kill9(&mut self) {
        // std's Child::kill sends SIGKILL on Unix.
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_server_keeps_the_accounting_up_to_the_last_checkpoint() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().expect("redis-server");
    let store = gaze_store::testing::test_store(&redis.url())
        .await
        .expect("store");
    let port = free_port().expect("port");
    let mut server = ServerProc::start(port, &redis.url()).await;
    let api = Api::new(&format!("http://127.0.0.1:{port}"));
    let token = api.user("kill9").await;
    let id = api.start_session(&token).await;
    let mut ws = api.track(&id, &token).await;

    // Frames until at least two checkpoints (1 s apart) are stored, then a quiet second so
    // the last one has landed.
    let mut replies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let until = Instant::now() + Duration::from_millis(500);
        replies.extend(stream_until(&mut ws, until, 15.0).await);
        let rec = store.get_session(&id).await.expect("record");
        if rec.checkpoint_seq >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint within 30 s");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rec = store.get_session(&id).await.expect("record");
    let state = rec.state.clone().expect("checkpoint state");
    let cp_frames = state["frames"].as_u64().expect("frames in state");
    let cp_report =
        serde_json::to_value(rec.report.clone().expect("checkpoint report")).expect("report json");
    let at_cp = replies
        .iter()
        .map(|(_, _, v)| v)
        .find(|v| frame_index(v) == cp_frames)
        .unwrap_or_else(|| panic!("the client saw frame {cp_frames}"));
    assert_report_matches_totals(&cp_report, &at_cp["totals"], "stored checkpoint");
    let sent = replies.len() as u64;
    assert!(cp_frames >= 1 && cp_frames <= sent, "{cp_frames} of {sent}");

    server.kill9();
    drop(ws);
    let _server = ServerProc::start(port, &redis.url()).await;

    // Resumed from the checkpoint: the running report is the client's totals at that frame.
    let (s, v) = api
        .call("GET", &format!("/session/{id}"), Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "live", "{v}");
    assert_report_matches_totals(&v["report"], &at_cp["totals"], "after restart");

    // The client reconnects and goes on; frame numbers continue from the checkpoint.
    let mut ws = api.track(&id, &token).await;
    let more = stream_until(&mut ws, Instant::now() + Duration::from_secs(2), 15.0).await;
    assert!(!more.is_empty());
    assert_eq!(frame_index(&more[0].2), cp_frames + 1, "{}", more[0].2);
    let last = &more[more.len() - 1].2;

    send_text(&mut ws, r#"{"type":"end"}"#).await;
    let ended = wait_for(&mut ws, Duration::from_secs(20), |v| v["event"] == "ended")
        .await
        .expect("ended event");
    let report = &ended["report"];
    assert_report_sums(report);
    assert_report_matches_totals(report, &last["totals"], "final report");
    assert!(num(report, "duration") >= num(&cp_report, "duration"));
    let stored = store.get_session(&id).await.expect("record");
    assert_eq!(stored.status, SessionStatus::Ended);
    assert_eq!(
        serde_json::to_value(stored.report.expect("final report")).expect("json"),
        *report
    );
    println!(
        "kill -9: {sent} frames before, checkpoint at frame {cp_frames} intact, resumed with {} more; lost records = 0",
        more.len()
    );
}

// ---- (b), (c) store outages -------------------------------------------------------------

/// How the store is taken away for [`OUTAGE`] and given back.
enum Fault<'a> {
    /// SIGSTOP / SIGCONT of a single redis-server (a hung or partitioned server: commands
    /// time out rather than fail fast).
    Freeze(&'a RedisServer),
    /// Graceful stop (AOF flushed), then restart on the same port and data dir, of a
    /// single redis-server (connections refused meanwhile: commands fail fast).
    Restart(&'a mut RedisServer),
    /// Graceful stop, then restart on the same port and data dir, of one cluster node.
    RestartNode(&'a mut RedisCluster, usize),
}

/// The outage the issue asks for.
const OUTAGE: Duration = Duration::from_secs(10);

fn redis_pid(r: &RedisServer) -> u32 {
    let info = r.command(&["INFO", "server"]).expect("INFO");
    info.lines()
        .find_map(|l| l.trim().strip_prefix("process_id:"))
        .and_then(|p| p.parse().ok())
        .expect("process_id")
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// Resumes a frozen redis-server even when the test fails midway.
struct Thaw(Option<u32>);
impl Drop for Thaw {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
    }
}

impl Fault<'_> {
    fn down(&mut self) -> Thaw {
        match self {
            Fault::Freeze(r) => {
                let pid = redis_pid(r);
                signal(pid, "-STOP");
                Thaw(Some(pid))
            }
            Fault::Restart(r) => {
                r.stop();
                Thaw(None)
            }
            Fault::RestartNode(c, i) => {
                c.nodes_mut()[*i].stop();
                Thaw(None)
            }
        }
    }

    fn up(&mut self, mut thaw: Thaw) {
        match self {
            Fault::Freeze(_) => {
                if let Some(pid) = thaw.0.take() {
                    signal(pid, "-CONT");
                }
            }
            Fault::Restart(r) => r.restart().expect("redis restarts"),
            Fault::RestartNode(c, i) => {
                c.nodes_mut()[*i].restart().expect("node restarts");
                c.wait_ok(Duration::from_secs(30))
                    .expect("cluster ok again");
            }
        }
    }
}

/// Two live sessions through a store outage: A streams before, during and after it; B
/// streams into it and is ended while the store is down (503-style error, then the queued
/// end lands once the store is back).
async fn outage_scenario(store_url: &str, mut fault: Fault<'_>) {
    let mut config = common::test_config();
    config.checkpoint_secs = 1;
    config.reconnect_grace_secs = 60;
    let store = gaze_store::connect_with(store_url, store_config(&config))
        .await
        .expect("store");
    let server = Server::spawn(config, store.clone()).await.expect("server");
    // Frames are timed: let the server compile its networks first.
    wait_networks_ready(&server).await;
    let api = Api::new(&server.url());
    let (ta, tb) = (api.user("outa").await, api.user("outb").await);
    let (ida, idb) = (api.start_session(&ta).await, api.start_session(&tb).await);
    let mut wsa = api.track(&ida, &ta).await;
    let mut wsb = api.track(&idb, &tb).await;

    let t0 = Instant::now();
    let down_at = t0 + Duration::from_secs(3);
    let up_at = down_at + OUTAGE;
    // Late enough that a cluster has noticed the missing node (node timeout 3 s).
    let b_end_at = down_at + Duration::from_secs(7);
    let a_until = up_at + Duration::from_secs(3);
    let fps = 8.0;

    let a = tokio::spawn(async move {
        let replies = stream_until(&mut wsa, a_until, fps).await;
        (wsa, replies)
    });
    let b = tokio::spawn(async move {
        let replies = stream_until(&mut wsb, b_end_at, fps).await;
        send_text(&mut wsb, r#"{"type":"end"}"#).await;
        // The store is down: the end is refused with a clear error and queued.
        let refused = next_json(&mut wsb, Duration::from_secs(10)).await;
        let ended = wait_for(&mut wsb, Duration::from_secs(40), |v| v["event"] == "ended").await;
        (replies, refused, ended)
    });

    tokio::time::sleep_until(down_at.into()).await;
    let down_ms = gaze_server::live::now_ms();
    let thaw = tokio::task::block_in_place(|| fault.down());
    tokio::time::sleep(Duration::from_secs(6)).await;
    // /health answers while the store is away, and says so (503 when its PING fails; a
    // cluster may still answer PING while the slots are down: then pending checkpoints).
    let h0 = Instant::now();
    let (hs, h) = api.health().await;
    assert!(
        h0.elapsed() < Duration::from_secs(5),
        "health took {:?}",
        h0.elapsed()
    );
    assert_eq!(h["status"], "degraded", "{hs} {h}");
    if !matches!(fault, Fault::RestartNode(..)) {
        assert_eq!(hs, StatusCode::SERVICE_UNAVAILABLE, "{h}");
        // A REST end needs the store (the token is checked there): a clear 503 JSON error,
        // and the session stays live.
        let (s, v) = api
            .call(
                "POST",
                "/session/end",
                Some(&tb),
                Some(json!({"session_id": idb})),
            )
            .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains("store unavailable"), "{v}");
    }
    tokio::time::sleep_until(up_at.into()).await;
    let up_ms = gaze_server::live::now_ms();
    tokio::task::block_in_place(|| fault.up(thaw));

    let (mut wsa, ra) = a.await.expect("session A");
    let (rb, refused, ended_b) = b.await.expect("session B");

    // Live results continued during the outage: every frame was answered (stream_until
    // asserts that) and at a useful rate.
    let during = |r: &[(Instant, f64, Value)]| {
        r.iter()
            .filter(|(t, _, _)| *t >= down_at + Duration::from_secs(1) && *t < up_at)
            .count()
    };
    let secs = (OUTAGE - Duration::from_secs(1)).as_secs_f64();
    assert!(
        during(&ra) as f64 >= secs * 2.0,
        "session A got only {} replies during the outage",
        during(&ra)
    );
    let max_rtt = ra.iter().map(|r| r.1).fold(0.0, f64::max);

    // B's end while the store was down: a clear error, then the queued end landed.
    let refused = refused.expect("a reply to the end request");
    let msg = refused["error"].as_str().unwrap_or_default();
    assert!(msg.contains("store unavailable"), "{refused}");
    let ended_b = ended_b.expect("B's queued end landed after the store came back");
    let last_b = &rb[rb.len() - 1].2;
    assert_report_sums(&ended_b["report"]);
    assert_report_matches_totals(&ended_b["report"], &last_b["totals"], "B final");

    // Once the store is back the pending checkpoints land; with no frame in flight, A's
    // stored timeline is exactly its closed segments.
    let health = wait_settled(&api, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rec = store.get_session(&ida).await.expect("A");
    let a_frames = frame_index(&ra[ra.len() - 1].2);
    assert!(rec.checkpoint_seq >= 2, "{}", rec.checkpoint_seq);
    let segments = assert_timeline_exactly_once(&store, &ida).await;
    // Segments that closed while the store was away (their checkpoints failed first).
    let closed_in_outage = store
        .get_timeline(&ida)
        .await
        .expect("timeline")
        .iter()
        .filter(|s| s.end_ms > down_ms && s.end_ms < up_ms)
        .count();
    assert!(
        closed_in_outage >= 1,
        "no segment closed during the outage: the test would prove nothing"
    );
    let retries = metric(&api, &ta, "gaze_checkpoint_retries_total").await;
    assert!(retries >= 1.0, "checkpoints were retried");

    send_text(&mut wsa, r#"{"type":"end"}"#).await;
    let ended_a = wait_for(&mut wsa, Duration::from_secs(20), |v| v["event"] == "ended")
        .await
        .expect("A ended");
    let report = &ended_a["report"];
    assert_report_sums(report);
    assert_report_matches_totals(report, &ra[ra.len() - 1].2["totals"], "A final");
    let tl = store.get_timeline(&ida).await.expect("timeline");
    let final_tl = report["timeline"].as_array().expect("timeline");
    for (i, s) in tl.iter().enumerate() {
        assert_eq!(
            &serde_json::to_value(s).expect("json"),
            &final_tl[i],
            "stored segment {i} vs final report"
        );
    }
    for (id, r) in [(&ida, report), (&idb, &ended_b["report"])] {
        let rec = store.get_session(id).await.expect("record");
        assert_eq!(rec.status, SessionStatus::Ended);
        assert_eq!(serde_json::to_value(rec.report).expect("json"), *r);
    }
    println!(
        "outage: A {} frames ({} during the outage, max round trip {max_rtt:.2} s), B {} frames, \
         checkpoint retries {retries}, stored segments {segments} (= closed; {closed_in_outage} closed during the outage), lost records = 0; health after: {health}",
        a_frames,
        during(&ra),
        rb.len()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_for_10s_live_results_continue_and_nothing_is_lost_or_doubled() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().expect("redis-server");
    outage_scenario(&redis.url(), Fault::Freeze(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_10s_and_restarted_nothing_is_lost_or_doubled() {
    let _serial = SERIAL.lock().await;
    let mut redis = RedisServer::start().expect("redis-server");
    let url = redis.url();
    outage_scenario(&url, Fault::Restart(&mut redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_restart_live_results_continue_and_nothing_is_lost_or_doubled() {
    let _serial = SERIAL.lock().await;
    let mut cluster = RedisCluster::start(3).expect("3-node cluster");
    let url = cluster.url();
    outage_scenario(&url, Fault::RestartNode(&mut cluster, 0)).await;
}
