//! API integration tests against a real redis-server (started by the tests) and the server
//! running in-process on a loopback port.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_track_watch_end_report() {
    let app = TestApp::start().await;
    let (tok, user) = app.user("alice").await;
    let (s, me) = app.call("GET", "/users/me", Some(&tok), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["id"], user["id"]);

    let id = app.start_session(&tok).await;
    let mut watch = app.ws(&format!("/ws/session/{id}/watch"), Some(&tok)).await;
    let hello = next_json(&mut watch, Duration::from_secs(5))
        .await
        .expect("watching");
    assert_eq!(hello["event"], "watching");

    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    let frames = frames();
    let replies = stream_frames(&mut ws, &frames[..30]).await;
    // The original client's JSON message with a data URL and a timestamp.
    let data_url = format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&frames[30])
    );
    let ts = replies
        .last()
        .and_then(|r| r["timestamp_ms"].as_f64())
        .unwrap_or(0.0)
        + 70.0;
    send_text(
        &mut ws,
        &json!({"image": data_url, "timestamp": ts}).to_string(),
    )
    .await;
    let json_reply = next_json(&mut ws, Duration::from_secs(30))
        .await
        .expect("reply");
    assert_eq!(
        json_reply["timestamp_ms"].as_f64(),
        Some(ts),
        "client timestamp used"
    );

    let with_face = replies.iter().filter(|r| !r["face"].is_null()).count();
    assert!(with_face >= 25, "face in most frames: {with_face}/30");
    let r = &replies[29];
    for k in ["horizontal", "vertical"] {
        assert!(r["gaze"][k].is_number(), "gaze.{k}: {r}");
    }
    for eye in ["left", "right"] {
        assert!(r["gaze"]["eyes"][eye]["x"].is_number(), "eyes.{eye}: {r}");
    }
    for k in ["x", "y", "w", "h"] {
        assert!(r["face"][k].is_number(), "face.{k}");
    }
    for k in [
        "direction",
        "blink",
        "head_pose",
        "confidence",
        "activity",
        "attention",
        "totals",
    ] {
        assert!(r.get(k).is_some(), "{k} in reply: {r}");
    }
    assert!(r["totals"]["duration"].as_f64().unwrap_or(0.0) > 0.0);

    // The viewer got live frames.
    let seen = next_json(&mut watch, Duration::from_secs(5))
        .await
        .expect("watch frame");
    assert_eq!(seen["session_id"], id);

    // Listing while live shows the running report.
    let (s, list) = app.call("GET", "/sessions", Some(&tok), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["items"][0]["status"], "live");

    let (s, report) = app
        .call(
            "POST",
            "/session/end",
            Some(&tok),
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_report_sums(&report);
    assert_eq!(report["session_id"], id);
    assert!(report["timeline"].as_array().is_some_and(|t| !t.is_empty()));

    // The track socket is told and closed; the viewer gets the end event.
    let mut ended = false;
    while let Some(m) = next_json(&mut ws, Duration::from_secs(5)).await {
        if m["event"] == "ended" {
            ended = true;
            break;
        }
    }
    assert!(ended, "track socket got the ended event");
    let mut watch_ended = false;
    while let Some(m) = next_json(&mut watch, Duration::from_secs(5)).await {
        if m["event"] == "ended" {
            watch_ended = true;
            break;
        }
    }
    assert!(watch_ended, "watch socket got the ended event");

    // Details, idempotent end, exports, lists.
    let (s, d) = app
        .call("GET", &format!("/session/{id}"), Some(&tok), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["status"], "ended");
    assert_eq!(d["report"]["duration"], report["duration"]);
    let (s, again) = app
        .call(
            "POST",
            "/session/end",
            Some(&tok),
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["duration"], report["duration"]);
    let (s, j) = app
        .call(
            "GET",
            &format!("/session/{id}/report.json"),
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(j["duration"], report["duration"]);
    let csv = app
        .http
        .get(app.url(&format!("/session/{id}/report.csv")))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("csv body");
    assert!(
        text.starts_with("kind,name,start_s,end_s,value,unit,activity,attention\n"),
        "{text}"
    );
    let (s, mine) = app
        .call(
            "GET",
            &format!("/sessions/user/{}", user["id"].as_str().unwrap_or("")),
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["items"][0]["id"], id);
    assert_eq!(mine["items"][0]["status"], "ended");

    // Metrics count what happened.
    let m = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(m.contains("gaze_frames_processed_total 31"), "{m}");
    assert!(m.contains("gaze_sessions_ended_total 1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_matrix_user_a_b_anonymous_admin() {
    let app = TestApp::start().await;
    let (a, ua) = app.user("alice").await;
    let (b, ub) = app.user("bob").await;
    let (root, uroot) = app.user("root").await;
    assert_eq!(uroot["is_admin"], true);
    assert_eq!(ua["is_admin"], false);
    let a_id = ua["id"].as_str().unwrap_or("").to_string();
    let b_id = ub["id"].as_str().unwrap_or("").to_string();

    // A: one ended session (with frames) and one live session.
    let ended = app.start_session(&a).await;
    let mut ws = app
        .ws(&format!("/ws/session/{ended}/track"), Some(&a))
        .await;
    stream_frames(&mut ws, &frames()[..5]).await;
    let (s, _) = app
        .call(
            "POST",
            "/session/end",
            Some(&a),
            Some(json!({"session_id": ended})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let live = app.start_session(&a).await;
    let b_session = app.start_session(&b).await;

    let anon: Option<&str> = None;
    let bad = Some("gzt_0000000000000000000000000000000000000000000000000000000000000000");
    let cases: Vec<(&str, String, Option<Value>, [u16; 5])> = vec![
        // method, path, body, [anonymous, bad token, A, B, admin]
        (
            "GET",
            "/users/alice".into(),
            None,
            [401, 401, 200, 403, 200],
        ),
        (
            "GET",
            "/users/nobody".into(),
            None,
            [401, 401, 403, 403, 404],
        ),
        ("GET", "/users/me".into(), None, [401, 401, 200, 200, 200]),
        (
            "GET",
            format!("/session/{ended}"),
            None,
            [401, 401, 200, 404, 200],
        ),
        (
            "GET",
            format!("/session/{ended}/report.json"),
            None,
            [401, 401, 200, 404, 200],
        ),
        (
            "GET",
            format!("/session/{ended}/report.csv"),
            None,
            [401, 401, 200, 404, 200],
        ),
        (
            "GET",
            format!("/session/{live}"),
            None,
            [401, 401, 200, 404, 200],
        ),
        (
            "GET",
            "/session/nope-0000".into(),
            None,
            [401, 401, 404, 404, 404],
        ),
        ("GET", "/sessions".into(), None, [401, 401, 200, 200, 200]),
        (
            "GET",
            format!("/sessions/user/{a_id}"),
            None,
            [401, 401, 200, 403, 200],
        ),
        (
            "GET",
            "/sessions/user/alice".into(),
            None,
            [401, 401, 200, 403, 200],
        ),
        (
            "GET",
            format!("/sessions/user/{b_id}"),
            None,
            [401, 401, 403, 200, 200],
        ),
        (
            "GET",
            "/sessions/user/ghost".into(),
            None,
            [401, 401, 403, 403, 404],
        ),
        (
            "GET",
            "/calibration".into(),
            None,
            [401, 401, 404, 404, 404],
        ),
        (
            "POST",
            "/calibration/start".into(),
            Some(json!({"screen_width": 1280, "screen_height": 800})),
            [401, 401, 200, 200, 200],
        ),
        (
            "POST",
            "/calibration/complete".into(),
            Some(json!({"calibration_id": "cal-x"})),
            [401, 401, 404, 404, 404],
        ),
        (
            "POST",
            "/session/end".into(),
            Some(json!({"session_id": b_session})),
            [401, 401, 404, 0, 0],
        ),
        (
            "POST",
            "/session/end".into(),
            Some(json!({"session_id": live})),
            [401, 401, 0, 404, 0],
        ),
        ("GET", "/metrics".into(), None, [401, 401, 200, 200, 200]),
        ("GET", "/health".into(), None, [200, 200, 200, 200, 200]),
        (
            "GET",
            "/openapi.json".into(),
            None,
            [200, 200, 200, 200, 200],
        ),
        ("POST", "/session/start".into(), None, [401, 401, 0, 0, 0]),
    ];
    for (method, path, body, expect) in &cases {
        for (i, tok) in [
            anon,
            bad,
            Some(a.as_str()),
            Some(b.as_str()),
            Some(root.as_str()),
        ]
        .iter()
        .enumerate()
        {
            if expect[i] == 0 {
                continue;
            }
            let (s, v) = app.call(method, path, *tok, body.clone()).await;
            assert_eq!(
                s.as_u16(),
                expect[i],
                "{method} {path} as {}: {v}",
                ["anonymous", "bad token", "A", "B", "admin"][i]
            );
            if s.as_u16() >= 400 {
                assert!(v["error"].is_string(), "{method} {path}: error body {v}");
            }
        }
    }

    // Lists: A sees only A's sessions, B only B's, admin sees everyone's.
    let owners = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["owner"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, la) = app.call("GET", "/sessions", Some(&a), None).await;
    assert!(
        owners(&la).iter().all(|o| *o == a_id) && owners(&la).len() == 2,
        "{la}"
    );
    let (_, lb) = app.call("GET", "/sessions", Some(&b), None).await;
    assert!(
        owners(&lb).iter().all(|o| *o == b_id) && owners(&lb).len() == 1,
        "{lb}"
    );
    let (_, lr) = app.call("GET", "/sessions", Some(&root), None).await;
    assert_eq!(owners(&lr).len(), 3, "{lr}");
    let (_, page) = app.call("GET", "/sessions?limit=1", Some(&a), None).await;
    assert_eq!(page["items"].as_array().map(|a| a.len()), Some(1));
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    let (s, p2) = app
        .call(
            "GET",
            &format!("/sessions?limit=1&cursor={cursor}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(p2["items"][0]["id"], page["items"][0]["id"]);
    let (s, _) = app.call("GET", "/sessions?limit=abc", Some(&a), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // WebSockets: B cannot track or watch A's session; anonymous and bad tokens get 1008;
    // the admin may watch.
    let mut w = app.ws(&format!("/ws/session/{live}/track"), Some(&b)).await;
    assert_eq!(close_code(&mut w).await, Some(CloseCode::Policy));
    let mut w = app.ws(&format!("/ws/session/{live}/watch"), Some(&b)).await;
    assert_eq!(close_code(&mut w).await, Some(CloseCode::Policy));
    let mut w = app.ws(&format!("/ws/session/{live}/track"), bad).await;
    assert_eq!(close_code(&mut w).await, Some(CloseCode::Policy));
    let mut w = app.ws(&format!("/ws/session/{live}/track"), None).await;
    send_text(&mut w, "{\"image\": \"x\"}").await;
    assert_eq!(close_code(&mut w).await, Some(CloseCode::Policy));
    let mut w = app.ws(&format!("/ws/session/{live}/track"), None).await;
    assert_eq!(
        close_code(&mut w).await,
        Some(CloseCode::Policy),
        "auth timeout"
    );
    let mut w = app
        .ws(&format!("/ws/session/{live}/watch"), Some(&root))
        .await;
    let hello = next_json(&mut w, Duration::from_secs(5))
        .await
        .expect("admin watches");
    assert_eq!(hello["event"], "watching");
    // Token in the first message works too.
    let mut w = app.ws(&format!("/ws/session/{live}/track"), None).await;
    send_text(&mut w, &json!({"token": a}).to_string()).await;
    send_frame(&mut w, &frames()[0]).await;
    let r = next_json(&mut w, Duration::from_secs(30))
        .await
        .expect("reply");
    assert!(r.get("gaze").is_some(), "{r}");

    // Cookie auth on the upgrade only from this server's own pages (no cross-site sockets).
    let cookie_ws = |origin: String| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{}/ws/session/{live}/watch", app.ws_base)
            .into_client_request()
            .expect("request");
        let h = req.headers_mut();
        h.insert("cookie", format!("gaze_token={a}").parse().expect("header"));
        h.insert("origin", origin.parse().expect("header"));
        req
    };
    let (mut w, _) = tokio_tungstenite::connect_async(cookie_ws(app.base.clone()))
        .await
        .expect("connect");
    let hello = next_json(&mut w, Duration::from_secs(5))
        .await
        .expect("same-origin cookie works");
    assert_eq!(hello["event"], "watching");
    let (mut w, _) = tokio_tungstenite::connect_async(cookie_ws("http://evil.example".into()))
        .await
        .expect("connect");
    assert_eq!(
        close_code(&mut w).await,
        Some(CloseCode::Policy),
        "cross-site cookie refused"
    );

    // The admin may end A's session; B could not.
    let (s, rep) = app
        .call(
            "POST",
            "/session/end",
            Some(&root),
            Some(json!({"session_id": live})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rep}");

    // Logout revokes the token.
    let (s, _) = app.call("POST", "/users/logout", Some(&b), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call("GET", "/users/me", Some(&b), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_bad_tokens_cookies_and_forms() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("carol").await;
    let raw = |method: reqwest::Method, path: &str, ctype: &str, body: &'static str| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(&tok)
            .header("content-type", ctype)
            .body(body)
    };
    for (path, body) in [
        ("/users/register", "{not json"),
        ("/users/register", "{\"username\": 5}"),
        ("/users/login", "[]"),
        ("/session/start", "{\"source\": 3"),
        ("/session/end", "nope"),
        ("/calibration/start", "{}"),
        ("/calibration/point", "{\"calibration_id\": \"x\"}"),
    ] {
        let r = raw(reqwest::Method::POST, path, "application/json", body)
            .send()
            .await
            .expect("send");
        let s = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {s} {v}"
        );
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    // Validation, duplicates, wrong password.
    let (s, v) = app
        .call(
            "POST",
            "/users/register",
            None,
            Some(json!({"username": "x", "password": "password-123"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = app
        .call(
            "POST",
            "/users/register",
            None,
            Some(json!({"username": "carol", "password": "password-123"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .call(
            "POST",
            "/users/login",
            None,
            Some(json!({"username": "carol", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].is_string());
    // Oversized body.
    let big = "x".repeat(
        app.server
            .as_ref()
            .map(|s| s.state.config.body_limit())
            .unwrap_or(0)
            + 10,
    );
    let sent = app
        .http
        .post(app.url("/calibration/point"))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body(format!("{{\"calibration_id\": \"{big}\"}}"))
        .send()
        .await;
    match sent {
        Ok(r) => assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE),
        // The server answers 413 as soon as it sees the declared length and may close the
        // connection while this multi-megabyte body is still being written: the client then
        // sees a broken pipe / reset instead of the response. Either way the body is refused
        // (tests/abuse.rs checks the JSON 413 itself with bodies that fit the socket buffers).
        Err(e) => assert!(closed_by_peer(&e), "oversized body: {e:?}"),
    }

    // Bad tokens in every position.
    for auth in [
        "Bearer garbage",
        "Bearer ",
        "Basic Zm9vOmJhcg==",
        &format!("Bearer {}", "a".repeat(5000)),
    ] {
        let r = app
            .http
            .get(app.url("/users/me"))
            .header("authorization", auth)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth}");
    }
    let r = app
        .http
        .get(app.url("/users/me"))
        .header("cookie", "gaze_token=forged")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Form login (the original OAuth2 password form) sets an HttpOnly cookie that works.
    let r = app
        .http
        .post(app.url("/users/login"))
        .form(&[("username", "carol"), ("password", "password-123")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.starts_with("gaze_token=gzt_"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or("").to_string();
    let r = app
        .http
        .get(app.url("/users/me"))
        .header("cookie", pair)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), StatusCode::OK);

    // Per-user cap on live sessions.
    for _ in 0..4 {
        app.start_session(&tok).await;
    }
    let (s, v) = app.call("POST", "/session/start", Some(&tok), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    // Unknown route: JSON 404. Swagger UI and the web UI are served.
    let (s, v) = app.call("GET", "/nope", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());
    for path in ["/docs/", "/", "/static/app.js", "/static/style.css"] {
        let r = app.http.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let (_, doc) = app.call("GET", "/openapi.json", None, None).await;
    for p in [
        "/users/register",
        "/users/login",
        "/session/start",
        "/session/end",
        "/session/{id}",
        "/sessions",
        "/sessions/user/{id}",
        "/ws/session/{session_id}/track",
        "/calibration/point",
        "/health",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi has {p}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_garbage_and_oversized_frames_get_errors_and_the_socket_stays_open() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("dave").await;
    let id = app.start_session(&tok).await;
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    let big_b64 = "A".repeat(500_000);
    let garbage: Vec<String> = vec![
        "not json".into(),
        "{\"foo\": 1}".into(),
        "{\"image\": \"!!!not base64!!!\"}".into(),
        "{\"image\": \"data:image/jpeg;base64,aGVsbG8=\"}".into(),
        "{\"image\": \"data:text/plain,hello\"}".into(),
        format!("{{\"image\": \"{big_b64}\"}}"),
        "{\"image\": 42}".into(),
    ];
    for g in &garbage {
        send_text(&mut ws, g).await;
        let v = next_json(&mut ws, Duration::from_secs(10))
            .await
            .expect("error reply");
        assert!(v["error"].is_string(), "{g:.60}: {v}");
    }
    // Binary garbage and an oversized binary frame.
    for bin in [
        vec![0u8; 100],
        b"\xff\xd8\xff garbage jpeg".to_vec(),
        vec![0xffu8; 400_000],
    ] {
        use futures_util::SinkExt;
        ws.send(tokio_tungstenite::tungstenite::Message::Binary(bin.into()))
            .await
            .expect("send");
        let v = next_json(&mut ws, Duration::from_secs(10))
            .await
            .expect("error reply");
        assert!(v["error"].is_string(), "{v}");
    }
    // A PNG far beyond the pixel limit is refused before decoding pixels.
    let mut png = Vec::new();
    image::DynamicImage::new_luma8(4000, 10)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    send_frame(&mut ws, &png).await;
    let v = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("error reply");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("too large")),
        "{v}"
    );
    // Still open: a valid frame gets a normal reply.
    send_frame(&mut ws, &frames()[0]).await;
    let v = next_json(&mut ws, Duration::from_secs(30))
        .await
        .expect("reply");
    assert!(v["error"].is_null() && v.get("gaze").is_some(), "{v}");
    assert_eq!(v["accepted"], true);
    // A timestamp from the past is answered but not accounted.
    let old = format!(
        "{{\"image\": \"data:image/jpeg;base64,{}\", \"timestamp\": 5}}",
        base64::engine::general_purpose::STANDARD.encode(&frames()[1])
    );
    send_text(&mut ws, &old).await;
    let v = next_json(&mut ws, Duration::from_secs(30))
        .await
        .expect("reply");
    assert_eq!(v["accepted"], false, "{v}");
    // Beyond the protocol hard limit (4x) the socket is closed with 1009. The server stops
    // reading in the middle of the message, so the kernel may reset the connection while we
    // are still writing and the close frame is lost with it: a reset counts as closed too, a
    // socket that stays open does not.
    let sent = ws.send(Message::Binary(vec![0u8; 1_300_000].into())).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => {
                assert_eq!(f.map(|f| f.code), Some(CloseCode::Size));
                break;
            }
            Ok(Some(Ok(other))) => assert!(
                !matches!(other, Message::Text(_)),
                "oversized frame was answered: {other:?}"
            ),
            Ok(Some(Err(_))) | Ok(None) => break,
            Err(_) => panic!("socket still open after an oversized frame (send: {sent:?})"),
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_drops_stale_frames_latest_wins() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("erin").await;
    let id = app.start_session(&tok).await;
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    let frames = frames();
    // First frame alone (tracker creation), then a burst much faster than processing.
    stream_frames(&mut ws, &frames[..1]).await;
    let burst = 40;
    for f in frames.iter().cycle().skip(1).take(burst) {
        send_frame(&mut ws, f).await;
    }
    let mut replies = Vec::new();
    while let Some(v) = next_json(&mut ws, Duration::from_secs(3)).await {
        replies.push(v);
    }
    assert!(!replies.is_empty());
    assert!(
        replies.len() < burst,
        "stale frames were dropped: {} replies",
        replies.len()
    );
    let last = replies.last().expect("last");
    let dropped = last["dropped"].as_u64().unwrap_or(0);
    assert!(dropped > 0, "{last}");
    assert_eq!(
        replies.len() as u64 + dropped,
        burst as u64,
        "every frame answered or dropped"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_finalises_the_session() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("frank").await;
    let id = app.start_session(&tok).await;
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    stream_frames(&mut ws, &frames()[..10]).await;
    drop(ws);
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, d) = app
            .call("GET", &format!("/session/{id}"), Some(&tok), None)
            .await;
        if d["status"] == "ended" {
            status = d;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "ended", "finalised after the drop");
    assert_report_sums(&status["report"]);
    // A new track connection to the ended session is refused.
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finalises_live_sessions_and_data_persists() {
    let mut app = TestApp::start().await;
    let (tok, _) = app.user("gina").await;
    let id = app.start_session(&tok).await;
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    stream_frames(&mut ws, &frames()[..10]).await;
    // Wait for a checkpoint (every second in tests) to reach the store.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stream_frames(&mut ws, &frames()[10..12]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rec = app.store.get_session(&id).await.expect("session");
    assert!(rec.checkpoint_seq >= 1, "checkpointed while live");
    if let Some(server) = app.server.take() {
        server.shutdown().await;
    }
    // The socket was closed with 1001 (going away).
    let mut code = None;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Ok(tokio_tungstenite::tungstenite::Message::Close(f)) = m {
            code = f.map(|f| f.code);
            break;
        }
    }
    assert_eq!(code, Some(CloseCode::Away));
    let rec = app.store.get_session(&id).await.expect("session");
    assert_eq!(rec.status, gaze_store::SessionStatus::Ended);
    let report = serde_json::to_value(rec.report.expect("report")).expect("json");
    assert_report_sums(&report);

    // A new server on the same Redis: the user can still log in and see the session.
    let server = gaze_server::Server::spawn(test_config(), app.store.clone())
        .await
        .expect("restart");
    app.base = server.url();
    app.server = Some(server);
    let (s, v) = app
        .call(
            "POST",
            "/users/login",
            None,
            Some(json!({"username": "gina", "password": "password-123"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let tok2 = v["access_token"].as_str().unwrap_or("").to_string();
    let (s, d) = app
        .call("GET", &format!("/session/{id}"), Some(&tok2), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["status"], "ended");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_flow_stores_a_calibration_used_by_new_sessions() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("hana").await;
    let (s, run) = app
        .call(
            "POST",
            "/calibration/start",
            Some(&tok),
            Some(json!({"screen_width": 1440, "screen_height": 900})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let points = run["points"].as_array().expect("points").clone();
    assert_eq!(points.len(), 9);
    let cal_id = run["calibration_id"].as_str().unwrap_or("").to_string();
    let frames = frames();
    for (i, p) in points.iter().enumerate() {
        let fr: Vec<String> = frames[i * 3..i * 3 + 3]
            .iter()
            .map(|f| {
                format!(
                    "data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(f)
                )
            })
            .collect();
        let (s, v) = app
            .call(
                "POST",
                "/calibration/point",
                Some(&tok),
                Some(json!({"calibration_id": cal_id, "target": p, "frames": fr})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["accepted"], true, "{v}");
    }
    let (s, v) = app
        .call(
            "POST",
            "/calibration/complete",
            Some(&tok),
            Some(json!({"calibration_id": cal_id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["samples"], 9);
    let (s, _) = app.call("GET", "/calibration", Some(&tok), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.call("POST", "/session/start", Some(&tok), None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["calibrated"], true);
    let id = v["session_id"].as_str().unwrap_or("").to_string();
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    let replies = stream_frames(&mut ws, &frames[..5]).await;
    assert!(
        replies.iter().any(|r| r["screen"]["x"].is_number()),
        "screen point once calibrated"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_then_restart_resumes_the_session_from_its_checkpoint() {
    let mut cfg = test_config();
    cfg.reconnect_grace_secs = 600; // the "crashed" instance must not finalise anything
    let mut app = TestApp::start_with(cfg).await;
    let (tok, _) = app.user("ivan").await;
    let id = app.start_session(&tok).await;
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    stream_frames(&mut ws, &frames()[..10]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = stream_frames(&mut ws, &frames()[10..12]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rec = app.store.get_session(&id).await.expect("session");
    assert!(
        rec.checkpoint_seq >= 1 && rec.state.is_some(),
        "checkpointed"
    );
    let dur_before = before[1]["totals"]["duration"].as_f64().unwrap_or(0.0);

    // "Crash": the instance stops serving without finalising anything.
    let old = app.server.take().expect("server");
    old.state.begin_shutdown();
    drop(ws);
    // A new instance over the same Redis resumes the session from its checkpoint.
    let mut cfg = test_config();
    cfg.reconnect_grace_secs = 5;
    let server = gaze_server::Server::spawn(cfg, app.store.clone())
        .await
        .expect("restart");
    app.base = server.url();
    app.ws_base = app.base.replacen("http://", "ws://", 1);
    app.server = Some(server);
    let (s, d) = app
        .call("GET", &format!("/session/{id}"), Some(&tok), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["status"], "live", "resumed, not finalised: {d}");
    let mut ws = app.ws(&format!("/ws/session/{id}/track"), Some(&tok)).await;
    let after = stream_frames(&mut ws, &frames()[12..20]).await;
    let dur_after = after[7]["totals"]["duration"].as_f64().unwrap_or(0.0);
    assert!(
        dur_after > dur_before,
        "accounting continued: {dur_before} → {dur_after}"
    );
    let (s, report) = app
        .call(
            "POST",
            "/session/end",
            Some(&tok),
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_report_sums(&report);
    assert!(
        report["duration"].as_f64().unwrap_or(0.0) >= dur_after - 0.2,
        "{report}"
    );
    app.stop().await;
    old.shutdown().await;
}

/// True when a request failed because the server closed the connection (broken pipe or reset).
fn closed_by_peer(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = err.source();
    }
    false
}
