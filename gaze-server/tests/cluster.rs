//! Scale-out end to end, with real processes: a 3-master Redis Cluster, three gaze-server
//! binaries over it and HAProxy (Debian's, `deploy/haproxy.cfg`) in front. Clients talk to
//! the balancer only (cookie stickiness as a browser would), with their own frame clock.
//!
//! * `kill -9` of one instance during live sessions on all three: its clients reconnect
//!   through the balancer and resume on the others (takeover once the lease expired); the
//!   time from the kill to the first frame answered again, the time lost (accounted by the
//!   dead instance after its last checkpoint), exactly-once timelines, no time counted twice,
//!   and a watcher on another instance that sees the session go on.
//! * Fencing: the owner frozen (SIGSTOP) past its lease, the session taken over elsewhere,
//!   the old owner resumed (SIGCONT): its writes are refused, it drops the session, nothing
//!   is doubled.
//! * The login limit holds fleet-wide: 30 wrong logins spread over the three instances give
//!   5 × 401, then 429.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{frames, health_ready, next_any_json};
use futures_util::SinkExt;
use gaze_store::testing::{RedisCluster, free_port};
use gaze_store::{SessionStatus, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Both tests load the machine; one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Checkpoint interval of the instances (s).
const CHECKPOINT_SECS: u64 = 1;
/// Lease of a live session (s).
const LEASE_SECS: f64 = 2.0;
/// Frames per second each client sends.
const FPS: f64 = 6.0;

fn now_ms() -> f64 {
    gaze_server::live::now_ms()
}

// ---- processes ------------------------------------------------------------------------

/// One gaze-server binary.
struct Instance {
    name: String,
    port: u16,
    child: Child,
}

impl Instance {
    fn spawn(name: &str, store_url: &str) -> Instance {
        let port = free_port().expect("port");
        let child = Command::new(env!("CARGO_BIN_EXE_gaze-server"))
            .env("GAZE_INSTANCE_ID", name)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--store-url", store_url])
            .args(["--checkpoint-secs", &CHECKPOINT_SECS.to_string()])
            .args(["--lease-secs", &LEASE_SECS.to_string()])
            .args(["--reconnect-grace-secs", "60", "--workers", "2"])
            // Every client logs in from 127.0.0.1: only the per-username limit applies.
            .args(["--login-attempts-per-ip", "0", "--register-per-ip", "0"])
            .args(["--log-level", "warn", "--insecure-fast-hash"])
            .arg("--trust-forwarded-for")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("gaze-server binary starts");
        Instance {
            name: name.to_string(),
            port,
            child,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {}", self.name);
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy with `deploy/haproxy.cfg`, one `server` line per instance.
struct Balancer {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Balancer {
    fn spawn(instances: &[Instance]) -> Balancer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let cfg = std::fs::read_to_string(root.join("deploy/haproxy.cfg")).expect("haproxy.cfg");
        let mut out: String = cfg
            .lines()
            .filter(|l| !l.trim_start().starts_with("server g"))
            .map(|l| format!("{l}\n"))
            .collect();
        for i in instances {
            out.push_str(&format!(
                "    server {0} 127.0.0.1:{1} check cookie {0}\n",
                i.name, i.port
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "gaze-haproxy-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, out).expect("write cfg");
        let port = free_port().expect("port");
        let child = Command::new("haproxy")
            .env("GAZE_LB_BIND", format!("127.0.0.1:{port}"))
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts (scripts/setup.sh base installs it)");
        Balancer { port, child, dir }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Redis Cluster + three instances + HAProxy, all up.
struct Fleet {
    cluster: RedisCluster,
    store: Arc<dyn Store>,
    instances: Vec<Instance>,
    lb: Balancer,
    http: reqwest::Client,
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Up, and done compiling its networks (the tests time frames and resumes).
        if health_ready(http, base).await {
            return;
        }
        assert!(Instant::now() < deadline, "{base} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Fleet {
    async fn start() -> Fleet {
        let cluster = RedisCluster::start(3).expect("3-master redis cluster");
        let store = gaze_store::testing::test_store(&cluster.url())
            .await
            .expect("store");
        let instances: Vec<Instance> = (1..=3)
            .map(|i| Instance::spawn(&format!("g{i}"), &cluster.url()))
            .collect();
        // Idle pooled connections are dropped before HAProxy's keep-alive timeout can close
        // one under a request (a POST on such a connection fails with IncompleteMessage).
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("http");
        for i in &instances {
            wait_up(&http, &i.base()).await;
        }
        let lb = Balancer::spawn(&instances);
        wait_up(&http, &lb.base()).await;
        // Let HAProxy's first health checks pass on every instance.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Fleet {
            cluster,
            store,
            instances,
            lb,
            http,
        }
    }

    fn instance(&self, name: &str) -> &Instance {
        self.instances
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("instance {name}"))
    }

    /// `(status, body, GAZESRV cookie)` of a JSON call through `base`.
    async fn call(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("GAZESRV="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            cookie,
        )
    }

    async fn user(&self, prefix: &str) -> String {
        let lb = self.lb.base();
        let name = gaze_store::testing::unique_username(prefix);
        let cred = json!({"username": name, "password": "password-123"});
        let (s, v, _) = self
            .call(&lb, "POST", "/users/register", None, Some(cred.clone()))
            .await;
        assert_eq!(s, StatusCode::CREATED, "register: {v}");
        let (s, v, _) = self
            .call(&lb, "POST", "/users/login", None, Some(cred))
            .await;
        assert_eq!(s, StatusCode::OK, "login: {v}");
        v["access_token"].as_str().expect("token").to_string()
    }

    /// Live sessions per instance, from each instance's `/health`.
    async fn hosts(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for i in &self.instances {
            if let Ok(r) = self.http.get(format!("{}/health", i.base())).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    out.push((i.name.clone(), v["live_sessions"].as_u64().unwrap_or(0)));
                }
            }
        }
        out
    }

    async fn metric(&self, inst: &Instance, token: &str, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", inst.base()))
            .bearer_auth(token)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics"))
    }
}

// ---- a client that reconnects ----------------------------------------------------------

/// One live session's client: frames with its own clock through the balancer; on a dropped
/// or silent socket it reconnects (backoff 100 ms → 1 s) and resumes the same session id.
struct Client {
    lb: String,
    id: String,
    token: String,
    cookie: Option<String>,
    ws: Option<Ws>,
    i: usize,
    /// Every frame reply: (client timestamp, reply).
    replies: Vec<(f64, Value)>,
    /// `resumed` events with the wall time they arrived.
    resumed: Vec<(Instant, Value)>,
    /// (lost at, first frame answered again at) of each reconnect.
    outages: Vec<(Instant, Instant)>,
    first_ts: Option<f64>,
}

impl Client {
    async fn connect(&mut self) -> bool {
        let url = format!(
            "{}/ws/session/{}/track?token={}",
            self.lb.replacen("http://", "ws://", 1),
            self.id,
            self.token
        );
        let mut req = url.into_client_request().expect("request");
        if let Some(c) = &self.cookie {
            req.headers_mut()
                .insert("cookie", format!("GAZESRV={c}").parse().expect("header"));
        }
        match tokio::time::timeout(
            Duration::from_secs(2),
            tokio_tungstenite::connect_async(req),
        )
        .await
        {
            Ok(Ok((ws, _))) => {
                self.ws = Some(ws);
                true
            }
            _ => false,
        }
    }

    /// Sends one frame and waits for its reply (up to 1.5 s; the resumed event on the way
    /// is recorded). False when the socket failed or stayed silent.
    async fn frame(&mut self) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        let frames = frames();
        let f = &frames[self.i % frames.len()];
        self.i += 1;
        let ts = now_ms().round();
        let msg = json!({
            "image": format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(f)),
            "timestamp": ts,
        });
        if ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_err()
        {
            return false;
        }
        let deadline = Instant::now() + Duration::from_millis(1500);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(v) = next_any_json(ws, left).await else {
                return false;
            };
            if v["event"] == "resumed" {
                self.resumed.push((Instant::now(), v));
                continue;
            }
            if v.get("error").is_some() {
                // e.g. "moved": the close follows.
                return false;
            }
            if v.get("frame_index").is_some() {
                self.first_ts.get_or_insert(ts);
                self.replies.push((ts, v));
                return true;
            }
        }
    }

    /// Streams until `until`, reconnecting whenever the socket fails.
    async fn run(&mut self, until: Instant) {
        let period = Duration::from_secs_f64(1.0 / FPS);
        while Instant::now() < until {
            let t0 = Instant::now();
            if !self.frame().await {
                let lost_at = Instant::now();
                self.ws = None;
                let mut backoff = Duration::from_millis(100);
                loop {
                    if self.connect().await && self.frame().await {
                        break;
                    }
                    self.ws = None;
                    assert!(
                        lost_at.elapsed() < Duration::from_secs(20),
                        "session {} did not resume within 20 s",
                        self.id
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                self.outages.push((lost_at, Instant::now()));
            }
            tokio::time::sleep(period.saturating_sub(t0.elapsed())).await;
        }
    }

    /// Ends the session on its socket; returns the final report.
    async fn end(&mut self) -> Value {
        let ws = self.ws.as_mut().expect("connected");
        ws.send(Message::Text(r#"{"type":"end"}"#.into()))
            .await
            .expect("send end");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = next_any_json(ws, left).await.expect("ended event");
            if v["event"] == "ended" {
                return v["report"].clone();
            }
        }
    }
}

async fn start_client(fleet: &Fleet, token: &str) -> Client {
    let lb = fleet.lb.base();
    let (s, v, cookie) = fleet
        .call(&lb, "POST", "/session/start", Some(token), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "start: {v}");
    let mut c = Client {
        lb,
        id: v["session_id"].as_str().expect("id").to_string(),
        token: token.to_string(),
        cookie,
        ws: None,
        i: 0,
        replies: Vec::new(),
        resumed: Vec::new(),
        outages: Vec::new(),
        first_ts: None,
    };
    assert!(c.connect().await, "first connect");
    c
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// The final report's accounting is consistent and counts no time twice: its duration is
/// the span of the client's frames at most (the accounting integrates frame timestamps; a
/// replayed interval would make it longer).
fn assert_no_double_count(c: &Client, report: &Value) {
    let first = c.first_ts.expect("frames") / 1000.0;
    let last = c.replies.last().expect("replies").0 / 1000.0;
    let span = last - first;
    let d = f(report, "duration");
    let sum = f(report, "focus_time") + f(report, "distraction_time") + f(report, "no_data_time");
    assert!(
        (sum - d).abs() < 1e-3 + d * 1e-3,
        "times sum to duration: {report}"
    );
    assert!(
        d <= span + 0.01 && d >= span - 0.5,
        "duration {d:.3} s vs client span {span:.3} s"
    );
}

/// Stored timeline: ordered, no segment twice or overlapping, and the prefix of the final
/// report's timeline (segments after the last checkpoint are only in the final report).
async fn assert_timeline_exactly_once(store: &Arc<dyn Store>, id: &str, report: &Value) -> usize {
    let rec = store.get_session(id).await.expect("record");
    assert_eq!(rec.status, SessionStatus::Ended);
    let stored = store.get_timeline(id).await.expect("timeline");
    for w in stored.windows(2) {
        assert!(
            w[0].end_ms <= w[1].start_ms + 1e-6 && w[0].start_ms < w[1].start_ms,
            "segments out of order or repeated: {w:?}"
        );
    }
    let full: Vec<gaze_core::TimelineSegment> =
        serde_json::from_value(report["timeline"].clone()).expect("report timeline");
    assert!(
        stored.len() <= full.len(),
        "{} stored vs {}",
        stored.len(),
        full.len()
    );
    for (i, s) in stored.iter().enumerate() {
        let g = &full[i];
        let same = (s.start_ms - g.start_ms).abs() < 1e-6
            && s.activity == g.activity
            && s.attention == g.attention;
        // The last stored segment may have been extended afterwards only if it was open;
        // closed segments are final.
        assert!(same, "segment {i}: stored {s:?} vs final {g:?}");
        if i + 1 < stored.len() {
            assert!((s.end_ms - g.end_ms).abs() < 1e-6, "segment {i} end");
        }
    }
    stored.len()
}

// ---- tests ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_of_an_instance_moves_its_sessions_and_limits_hold_fleet_wide() {
    let _serial = SERIAL.lock().await;
    let t_test = Instant::now();
    let mut fleet = Fleet::start().await;
    println!("fleet up in {:.1} s", t_test.elapsed().as_secs_f64());

    // -- the login limit is one budget for the fleet: 30 wrong logins over 3 instances.
    let victim = gaze_store::testing::unique_username("victim");
    let (s, _, _) = fleet
        .call(
            &fleet.lb.base(),
            "POST",
            "/users/register",
            None,
            Some(json!({"username": victim, "password": "password-123"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut statuses = Vec::new();
    for k in 0..30 {
        let base = fleet.instances[k % 3].base();
        let (s, _, _) = fleet
            .call(
                &base,
                "POST",
                "/users/login",
                None,
                Some(json!({"username": victim, "password": "wrong-password"})),
            )
            .await;
        statuses.push(s.as_u16());
    }
    let n401 = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    println!(
        "login limit fleet-wide: {n401} × 401 then {} × 429",
        30 - n401
    );

    // -- six live sessions through the balancer, spread over the three instances.
    // Users first, then the six starts back to back: round robin puts two on each instance.
    let mut tokens = Vec::new();
    for k in 0..6 {
        tokens.push(fleet.user(&format!("c{k}")).await);
    }
    let mut clients = Vec::new();
    for token in &tokens {
        clients.push(start_client(&fleet, token).await);
    }
    let hosts = fleet.hosts().await;
    assert!(
        hosts.iter().all(|(_, n)| *n == 2),
        "two sessions per instance: {hosts:?}"
    );
    let streaming = Instant::now() + Duration::from_millis(3500);
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            c.run(streaming).await;
            c
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("client"));
    }
    // The victim instance: the one g1's cookie names.
    let victim_name = "g1".to_string();
    let moved: Vec<usize> = (0..clients.len())
        .filter(|&k| clients[k].cookie.as_deref() == Some(victim_name.as_str()))
        .collect();
    assert_eq!(moved.len(), 2, "two sessions on g1");
    // A watcher of one of them on another instance (g2), directly.
    let watched = clients[moved[0]].id.clone();
    let watch_url = format!(
        "ws://127.0.0.1:{}/ws/session/{watched}/watch?token={}",
        fleet.instance("g2").port,
        clients[moved[0]].token
    );
    let (mut watcher, _) = tokio_tungstenite::connect_async(watch_url)
        .await
        .expect("watch socket");
    let w = next_any_json(&mut watcher, Duration::from_secs(5))
        .await
        .expect("watching");
    assert_eq!(w["event"], "watching", "{w}");
    let watch_task = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(v) = next_any_json(&mut watcher, Duration::from_secs(15)).await {
            if let Some(i) = v["frame_index"].as_u64() {
                seen.push((Instant::now(), i));
            }
            if v["event"] == "ended" {
                break;
            }
        }
        seen
    });

    // -- kill -9 g1 while all six stream.
    let streaming = Instant::now() + Duration::from_secs(8);
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            c.run(streaming).await;
            c
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let killed_at = Instant::now();
    let last_ts_before_kill = now_ms();
    fleet
        .instances
        .iter_mut()
        .find(|i| i.name == victim_name)
        .expect("g1")
        .kill9();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("client"));
    }
    let hosts = fleet.hosts().await;
    println!("after the kill: {hosts:?}");
    assert_eq!(
        hosts.iter().map(|(_, n)| n).sum::<u64>(),
        6,
        "every session hosted: {hosts:?}"
    );

    // -- the moved sessions: resumed within 3 s, lost ≤ the checkpoint interval.
    let mut resume_secs = Vec::new();
    let mut lost_ms = Vec::new();
    for &k in &moved {
        let c = &clients[k];
        // The first reconnect is the one the kill caused. A second one can follow when the
        // reconnect raced an instance adopting the orphaned session: that is a clean
        // hand-over between live instances (checkpoint, release, resume), checked below by
        // the exactly-once timeline and the no-double-count totals.
        assert!(!c.outages.is_empty(), "a reconnect for {}", c.id);
        if c.outages.len() > 1 {
            println!(
                "{}: {} reconnects (hand-over after the takeover)",
                c.id,
                c.outages.len()
            );
        }
        let (lost_at, back_at) = c.outages[0];
        assert!(lost_at >= killed_at - Duration::from_millis(50));
        let took = back_at.duration_since(killed_at).as_secs_f64();
        resume_secs.push(took);
        assert!(took <= 3.0, "resumed {took:.2} s after the kill");
        let (_, ev) = c
            .resumed
            .iter()
            .find(|(t, _)| *t >= killed_at)
            .expect("resumed event after the kill");
        assert_ne!(ev["instance"], victim_name.as_str(), "{ev}");
        // Frames the dead instance accounted after its last checkpoint are lost.
        let before: Vec<&(f64, Value)> = c
            .replies
            .iter()
            .filter(|(ts, _)| *ts <= last_ts_before_kill)
            .collect();
        let last_seen = before.last().expect("frames before the kill");
        let resumed_at = f(ev, "resumed_at_ms");
        let lost = last_seen.0 - resumed_at;
        lost_ms.push(lost);
        assert!(
            (0.0..=(CHECKPOINT_SECS as f64 * 1000.0 + 2000.0 / FPS)).contains(&lost),
            "lost {lost:.0} ms (checkpoint every {CHECKPOINT_SECS} s)"
        );
        // The resumed accounting is the client's totals at that frame, and frames go on
        // numbered after it.
        let at = c
            .replies
            .iter()
            .find(|(ts, _)| (*ts - resumed_at).abs() < 0.5)
            .expect("the client saw the checkpointed frame");
        assert_eq!(at.1["frame_index"], ev["frame_index"], "{ev}");
        let next = c
            .replies
            .iter()
            .find(|(ts, _)| *ts > last_ts_before_kill)
            .expect("frames after the kill");
        assert_eq!(
            next.1["frame_index"].as_u64(),
            ev["frame_index"].as_u64().map(|i| i + 1)
        );
    }
    for (k, c) in clients.iter().enumerate() {
        if !moved.contains(&k) {
            assert!(c.outages.is_empty(), "{} was not on g1", c.id);
        }
    }

    // -- end everything; timelines exactly once, no time counted twice.
    let mut segs = 0;
    for c in clients.iter_mut() {
        let report = c.end().await;
        assert_no_double_count(c, &report);
        segs += assert_timeline_exactly_once(&fleet.store, &c.id, &report).await;
    }
    let seen = watch_task.await.expect("watcher");
    let after: Vec<u64> = seen
        .iter()
        .filter(|(t, _)| *t > killed_at)
        .map(|(_, i)| *i)
        .collect();
    assert!(
        after.len() >= 5,
        "the watcher on g2 saw the session go on: {after:?}"
    );
    assert!(after.windows(2).all(|w| w[0] < w[1]), "{after:?}");
    let mut taken = 0.0;
    for name in ["g2", "g3"] {
        taken += fleet
            .metric(
                fleet.instance(name),
                &clients[0].token,
                "gaze_sessions_taken_over_total",
            )
            .await;
    }
    assert!(taken >= 2.0, "taken over: {taken}");
    println!(
        "kill -9 of g1 with 6 live sessions (2 on g1): resumed on the others after {:?} s; \
         lost {:?} ms of accounting (checkpoint every {CHECKPOINT_SECS} s); {segs} stored \
         segments exactly once; watcher on g2 saw {} frames after the kill; test {:.1} s",
        resume_secs
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>(),
        lost_ms.iter().map(|l| l.round()).collect::<Vec<_>>(),
        after.len(),
        t_test.elapsed().as_secs_f64()
    );
    drop(fleet.cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_owner_is_fenced_after_a_takeover() {
    let _serial = SERIAL.lock().await;
    let t_test = Instant::now();
    let fleet = Fleet::start().await;
    let token = fleet.user("fence").await;
    let mut c = start_client(&fleet, &token).await;
    c.run(Instant::now() + Duration::from_secs(3)).await;
    let owner_name = c.cookie.clone().expect("GAZESRV cookie");
    let owner = fleet.instance(&owner_name);
    let rec = fleet.store.get_session(&c.id).await.expect("record");
    assert!(rec.checkpoint_seq >= 2, "{}", rec.checkpoint_seq);

    // Freeze the owner past its lease; the client reconnects through the balancer.
    owner.signal("-STOP");
    let frozen_at = Instant::now();
    c.run(Instant::now() + Duration::from_secs(6)).await;
    // Usually one reconnect; a second when the balancer, which has not yet marked the frozen
    // instance down, sent the first attempt back to it. The session must end up elsewhere.
    assert!(!c.outages.is_empty(), "a reconnect");
    let (_, ev) = c.resumed.last().expect("resumed");
    assert_ne!(ev["instance"], owner_name.as_str(), "{ev}");
    let resumed_after = c.outages[c.outages.len() - 1]
        .1
        .duration_since(frozen_at)
        .as_secs_f64();
    let new_owner = ev["instance"].as_str().expect("instance").to_string();

    // The old owner wakes up: its lease renewal / checkpoint is refused, it drops the
    // session and writes nothing.
    let seq_before = fleet
        .store
        .get_session(&c.id)
        .await
        .expect("rec")
        .checkpoint_seq;
    let outages_before_wake = c.outages.len();
    owner.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fenced = fleet.metric(owner, &token, "gaze_lease_fenced_total").await;
        if fenced >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the old owner was never fenced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old_live = fleet
        .http
        .get(format!("{}/health", owner.base()))
        .send()
        .await
        .expect("health")
        .json::<Value>()
        .await
        .expect("json")["live_sessions"]
        .as_u64();
    assert_eq!(old_live, Some(0), "the old owner dropped the session");
    // The session goes on with the new owner.
    c.run(Instant::now() + Duration::from_secs(2)).await;
    assert_eq!(
        c.outages.len(),
        outages_before_wake,
        "no reconnect after the old owner woke up"
    );
    let rec = fleet.store.get_session(&c.id).await.expect("rec");
    assert!(rec.checkpoint_seq > seq_before);
    let report = c.end().await;
    assert_no_double_count(&c, &report);
    let segs = assert_timeline_exactly_once(&fleet.store, &c.id, &report).await;
    let checkpoints_old = fleet.metric(owner, &token, "gaze_checkpoints_total").await;
    println!(
        "fencing: owner {owner_name} frozen, session resumed on {new_owner} after {resumed_after:.2} s; \
         after SIGCONT the old owner was fenced (gaze_lease_fenced_total ≥ 1, {checkpoints_old} \
         checkpoints stored before the freeze) and dropped the session; {segs} segments exactly \
         once; test {:.1} s",
        t_test.elapsed().as_secs_f64()
    );
}

/// One JSON frame with the client's timestamp `ts` (ms).
async fn send_at(ws: &mut Ws, k: usize, ts: f64) {
    let frames = frames();
    let f = &frames[k % frames.len()];
    let msg = json!({
        "image": format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(f)),
        "timestamp": ts,
    });
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .expect("send frame");
}

/// The next frame reply (the `resumed` event first when `resumed` is given a place).
async fn reply(ws: &mut Ws, mut resumed: Option<&mut Option<Value>>) -> Value {
    loop {
        let v = next_any_json(ws, Duration::from_secs(30))
            .await
            .expect("a reply");
        if v["event"] == "resumed" {
            let slot = resumed.as_mut().expect("no resumed event expected here");
            assert!(slot.is_none(), "one resumed event per socket: {v}");
            **slot = Some(v);
            continue;
        }
        assert!(v.get("frame_index").is_some(), "a frame reply: {v}");
        return v;
    }
}

/// Two in-process instances over one redis-server. A session moves from B to C; the client
/// gives up on its first socket on C after one reply (as a client does whose reply timed out
/// while C waited for the lease) and reconnects: the new socket is told again where the
/// accounting resumed and its reply is numbered right after it (the provisional frame is
/// discarded). Then it reconnects to B before confirming: C hands the session back from the
/// checkpoint (provisional frame discarded again). A watcher sees one `resumed` event, once
/// confirmed, and never the discarded frames; nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_socket_attaching_to_a_restored_session_is_told_where_it_resumed() {
    let _serial = SERIAL.lock().await;
    let config = |name: &str| {
        let mut c = common::test_config();
        c.instance_id = Some(name.to_string());
        c.lease_secs = 2.0;
        c.reconnect_grace_secs = 60;
        c
    };
    let app = common::TestApp::start_with(config("b")).await;
    let c_server = gaze_server::Server::spawn(config("c"), app.store.clone())
        .await
        .expect("instance c");
    let c_ws = c_server.url().replacen("http://", "ws://", 1);
    let connect_c = |path: String| {
        let url = format!("{c_ws}{path}");
        async move { tokio_tungstenite::connect_async(url).await.expect("ws c").0 }
    };
    let (token, _) = app.user("resume").await;
    let id = app.start_session(&token).await;
    let track = format!("/ws/session/{id}/track?token={token}");
    let mut watcher = connect_c(format!("/ws/session/{id}/watch?token={token}")).await;
    let hello = next_any_json(&mut watcher, Duration::from_secs(5))
        .await
        .expect("watching");
    assert_eq!(hello["event"], "watching", "{hello}");

    // Eight frames on B, 100 ms apart on the client's clock.
    let t0 = now_ms().round();
    let ts = |k: usize| t0 + 100.0 * k as f64;
    let mut b1 = app
        .ws(&format!("/ws/session/{id}/track"), Some(&token))
        .await;
    for k in 1..=8 {
        send_at(&mut b1, k, ts(k)).await;
        let r = reply(&mut b1, None).await;
        assert_eq!(r["frame_index"], k as u64, "{r}");
    }

    // First socket on C: B hands the session over, C restores it from B's last checkpoint.
    let mut c1 = connect_c(track.clone()).await;
    send_at(&mut c1, 9, ts(9)).await;
    let mut ev1 = None;
    let r = reply(&mut c1, Some(&mut ev1)).await;
    let ev1 = ev1.expect("resumed on the first socket");
    assert_eq!(ev1["instance"], "c", "{ev1}");
    assert_eq!(ev1["frame_index"], 8, "{ev1}");
    assert_eq!(ev1["resumed_at_ms"].as_f64(), Some(ts(8)), "{ev1}");
    assert_eq!(r["frame_index"], 9, "{r}");
    // The client gives up on that socket (its reply never arrived, say).
    drop(c1);

    // Second socket on C: the same resumed event again, and frame 9 was discarded.
    let mut c2 = connect_c(track.clone()).await;
    send_at(&mut c2, 10, ts(10)).await;
    let mut ev2 = None;
    let r = reply(&mut c2, Some(&mut ev2)).await;
    let ev2 = ev2.expect("resumed on the second socket too");
    for k in ["checkpoint_seq", "frame_index", "resumed_at_ms", "instance"] {
        assert_eq!(ev2[k], ev1[k], "{k}: {ev2} vs {ev1}");
    }
    assert_eq!(
        r["frame_index"], 9,
        "frame 9 of the first socket discarded: {r}"
    );
    drop(c2);

    // Back to B before C's restore was confirmed: C hands over from its checkpoint.
    let mut b2 = app
        .ws(&format!("/ws/session/{id}/track"), Some(&token))
        .await;
    let mut ev3 = None;
    let mut last = Value::Null;
    for k in 11..=14 {
        send_at(&mut b2, k, ts(k)).await;
        last = reply(&mut b2, Some(&mut ev3)).await;
        assert_eq!(last["frame_index"], (k - 2) as u64, "{last}");
    }
    let ev3 = ev3.expect("resumed on B");
    assert_eq!(ev3["instance"], "b", "{ev3}");
    assert_eq!(ev3["frame_index"], 8, "{ev3}");
    assert_eq!(ev3["resumed_at_ms"].as_f64(), Some(ts(8)), "{ev3}");
    assert!(ev3["checkpoint_seq"].as_u64() > ev1["checkpoint_seq"].as_u64());
    drop(b2);

    // Confirmed (two replies on one socket): a new socket gets no resumed event.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut b3 = app
        .ws(&format!("/ws/session/{id}/track"), Some(&token))
        .await;
    send_at(&mut b3, 15, ts(15)).await;
    let r = reply(&mut b3, None).await;
    assert_eq!(r["frame_index"], 13, "{r}");
    b3.send(Message::Text(r#"{"type":"end"}"#.into()))
        .await
        .expect("end");
    let report = loop {
        let v = next_any_json(&mut b3, Duration::from_secs(20))
            .await
            .expect("ended");
        if v["event"] == "ended" {
            break v["report"].clone();
        }
    };
    common::assert_report_sums(&report);
    let d = f(&report, "duration");
    let span = (ts(15) - ts(1)) / 1000.0;
    assert!(
        d <= span + 0.01 && d >= span - 0.2,
        "duration {d} vs {span}"
    );
    assert!(
        f(&last["totals"], "duration") <= d,
        "totals go on from B's replies"
    );

    // The watcher: B's replies 1..8, one resumed event (B's, once confirmed), then 9.. —
    // never C's provisional frames (timestamps 9 and 10).
    let mut seen = Vec::new();
    while let Some(v) = next_any_json(&mut watcher, Duration::from_secs(10)).await {
        if v["event"] == "ended" {
            break;
        }
        seen.push(v);
    }
    let resumed: Vec<&Value> = seen.iter().filter(|v| v["event"] == "resumed").collect();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0]["instance"], "b");
    let stamps: Vec<f64> = seen
        .iter()
        .filter_map(|v| v["timestamp_ms"].as_f64())
        .collect();
    assert!(
        !stamps.contains(&ts(9)) && !stamps.contains(&ts(10)),
        "{stamps:?}"
    );
    let idx: Vec<u64> = seen
        .iter()
        .filter(|v| v.get("event").is_none())
        .filter_map(|v| v["frame_index"].as_u64())
        .collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
    assert_eq!(idx.last(), Some(&13), "{idx:?}");
    println!(
        "resume: C restored at frame 8 (seq {}), two sockets told so, frame 9 discarded; \
         hand-back to B from seq {} discarded frame 10; watcher saw {} replies and one resumed event",
        ev1["checkpoint_seq"],
        ev3["checkpoint_seq"],
        idx.len()
    );
    c_server.shutdown().await;
    app.stop().await;
}
