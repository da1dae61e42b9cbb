//! API abuse: login / registration rate limits (per username, per client IP, refill, the
//! trusted-proxy rule), security headers and cookie flags, request body limits on every POST
//! route of the OpenAPI document (declared and chunked), WebSocket message limits. Real
//! redis-server and the server in-process on a loopback port.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const PASSWORD: &str = "password-123";

/// A client whose requests come from `ip` (any 127.x.y.z reaches the loopback server).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn post(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: Value,
    xff: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = http.post(app.url(path)).json(&body);
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let r = req.send().await.expect("request");
    let (s, h) = (r.status(), r.headers().clone());
    let v = r.json().await.unwrap_or(Value::Null);
    (s, h, v)
}

async fn login(
    http: &reqwest::Client,
    app: &TestApp,
    user: &str,
    pass: &str,
) -> (StatusCode, HeaderMap, Value) {
    post(
        http,
        app,
        "/users/login",
        json!({"username": user, "password": pass}),
        None,
    )
    .await
}

fn retry_after(h: &HeaderMap) -> u64 {
    h.get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After header")
}

fn assert_429(s: StatusCode, h: &HeaderMap, v: &Value, what: &str) -> u64 {
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{what}: {v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("too many requests")),
        "{what}: {v}"
    );
    let ra = retry_after(h);
    assert!(ra >= 1, "{what}: Retry-After {ra}");
    ra
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_per_username_are_limited_and_refill() {
    let mut c = test_config();
    c.login_failures_per_user = 3;
    c.rate_window_secs = 6; // one failure token back every 2 s
    c.login_attempts_per_ip = 0;
    let app = TestApp::start_with(c).await;
    app.register("victim").await;
    app.register("bystander").await;
    let http = &app.http;

    // One's own successful logins do not count.
    for _ in 0..6 {
        let (s, _, v) = login(http, &app, "victim", PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // N failures are answered 401, the N+1th is refused with 429 + Retry-After...
    let t0 = Instant::now();
    for i in 0..3 {
        let (s, _, v) = login(http, &app, "victim", &format!("wrong-{i}-pass")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "failure {i}: {v}");
    }
    let (s, h, v) = login(http, &app, "Victim", "wrong-3-pass").await;
    let ra = assert_429(s, &h, &v, "4th failure (username is case-insensitive)");
    assert!(ra <= 2, "Retry-After {ra} ≤ window / n");
    // ... and while the bucket is empty the password is not checked at all.
    let (s, h, v) = login(http, &app, "victim", PASSWORD).await;
    assert_429(s, &h, &v, "right password while locked");
    assert!(
        t0.elapsed() < Duration::from_millis(1800),
        "the refusals came before the refill ({:?})",
        t0.elapsed()
    );
    // Another username is not affected (same IP).
    let (s, _, v) = login(http, &app, "bystander", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, _) = login(http, &app, "bystander", "wrong-pass-1").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Unknown usernames are limited the same way (no enumeration by the answer).
    for _ in 0..3 {
        let (s, _, _) = login(http, &app, "nobody", "wrong-pass-1").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, h, v) = login(http, &app, "nobody", "wrong-pass-1").await;
    assert_429(s, &h, &v, "unknown username");

    // After Retry-After one token is back: the right password works again, no lock-out.
    tokio::time::sleep(Duration::from_secs(ra) + Duration::from_millis(100)).await;
    let (s, _, v) = login(http, &app, "victim", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "after the refill: {v}");
    // One token back means one more guess, then refused again.
    let (s, _, _) = login(http, &app, "victim", "wrong-4-pass").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, h, v) = login(http, &app, "victim", "wrong-5-pass").await;
    assert_429(s, &h, &v, "after one refilled guess");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_registration_attempts_per_ip_are_limited() {
    let mut c = test_config();
    c.login_attempts_per_ip = 4;
    c.register_per_ip = 3;
    c.rate_window_secs = 60;
    let app = TestApp::start_with(c).await;
    let a = client_from("127.0.0.1");
    let b = client_from("127.0.0.2");

    // Registration: 3 attempts from A (valid or not) pass, the 4th is refused.
    let (s, _, v) = post(
        &a,
        &app,
        "/users/register",
        json!({"username": "usr1", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _, _) = post(
        &a,
        &app,
        "/users/register",
        json!({"username": "x", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = post(
        &a,
        &app,
        "/users/register",
        json!({"username": "usr2", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, h, v) = post(
        &a,
        &app,
        "/users/register",
        json!({"username": "usr3", "password": PASSWORD}),
        None,
    )
    .await;
    let ra = assert_429(s, &h, &v, "4th registration from A");
    assert!((15..=20).contains(&ra), "Retry-After {ra} ≈ 60 s / 3");
    // X-Forwarded-For is not trusted by default: it does not open a new bucket.
    let (s, _, _) = post(
        &a,
        &app,
        "/users/register",
        json!({"username": "usr3", "password": PASSWORD}),
        Some("203.0.113.9"),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let (s, _, v) = post(
        &b,
        &app,
        "/users/register",
        json!({"username": "usr3", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "from B: {v}");

    // Login: 4 attempts from A (successes count too, different usernames), then 429 for
    // any username, even a right password.
    for (u, p, want) in [
        ("usr1", PASSWORD, StatusCode::OK),
        ("usr2", "wrong-pass-1", StatusCode::UNAUTHORIZED),
        ("ghost", "wrong-pass-1", StatusCode::UNAUTHORIZED),
        ("usr2", PASSWORD, StatusCode::OK),
    ] {
        let (s, _, v) = login(&a, &app, u, p).await;
        assert_eq!(s, want, "{u}: {v}");
    }
    let (s, h, v) = login(&a, &app, "usr3", PASSWORD).await;
    assert_429(s, &h, &v, "5th login from A");
    // Malformed bodies count as attempts too (the IP check comes first).
    let r = a
        .post(app.url("/users/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let (s, _, v) = login(&b, &app, "usr3", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "from B: {v}");
    // A token from B still works (the limits only guard login and registration).
    let (s, _) = app
        .call("GET", "/users/me", v["access_token"].as_str(), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_used_only_behind_a_trusted_proxy() {
    let mut c = test_config();
    c.register_per_ip = 2;
    c.trust_forwarded_for = true;
    let app = TestApp::start_with(c).await;
    let reg = |name: &str, xff: &'static str| {
        let body = json!({"username": name, "password": PASSWORD});
        let app = &app;
        async move { post(&app.http, app, "/users/register", body, Some(xff)).await }
    };
    // The proxy appends the client address: the last entry is the client.
    assert_eq!(reg("prx1", "198.51.100.7").await.0, StatusCode::CREATED);
    assert_eq!(
        reg("prx2", "10.9.9.9, 198.51.100.7").await.0,
        StatusCode::CREATED
    );
    let (s, h, v) = reg("prx3", "1.2.3.4, 198.51.100.7").await;
    assert_429(
        s,
        &h,
        &v,
        "third from 198.51.100.7 (spoofed first entry ignored)",
    );
    assert_eq!(reg("prx3", "198.51.100.8").await.0, StatusCode::CREATED);
    app.stop().await;
}

fn assert_security_headers(h: &HeaderMap, what: &str, docs: bool) {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let csp = get("content-security-policy");
    for d in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(d), "{what}: CSP has {d}: {csp}");
    }
    let script = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or("");
    assert!(
        !script.contains("unsafe"),
        "{what}: no unsafe script source: {csp}"
    );
    assert_eq!(
        csp.contains("'unsafe-inline'"),
        docs,
        "{what}: inline styles only for Swagger UI: {csp}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert!(!get("permissions-policy").is_empty(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_and_cookie_flags() {
    let app = TestApp::start().await;
    let (tok, _) = app.user("hedy").await;
    for (path, docs, cache) in [
        ("/", false, "no-store"),
        ("/static/app.js", false, "no-cache"),
        ("/static/style.css", false, "no-cache"),
        ("/openapi.json", false, "no-store"),
        ("/health", false, "no-store"),
        ("/users/me", false, "no-store"),
        ("/nope", false, "no-store"),
        ("/docs/", true, ""),
        ("/docs/swagger-initializer.js", true, ""),
    ] {
        let r = app.http.get(app.url(path)).send().await.expect("get");
        assert!(
            r.status() == StatusCode::OK
                || r.status() == StatusCode::UNAUTHORIZED
                || r.status() == StatusCode::NOT_FOUND,
            "{path}: {}",
            r.status()
        );
        assert_security_headers(r.headers(), path, docs);
        if !cache.is_empty() {
            assert_eq!(
                r.headers()
                    .get("cache-control")
                    .and_then(|v| v.to_str().ok()),
                Some(cache),
                "{path}"
            );
        }
    }
    // Swagger UI runs no inline script: its page only loads script files.
    let page = app
        .http
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("docs")
        .text()
        .await
        .expect("text");
    assert!(page.contains("<script src="), "{page}");
    assert!(
        !page.contains("<script>") && !page.contains("<script type"),
        "inline script in Swagger UI's page"
    );
    // The web UI page has no inline script, style or handler either.
    let index = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .expect("ui")
        .text()
        .await
        .expect("text");
    let handler = index.split(" on").skip(1).any(|rest| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(
        !index.contains("<script>") && !index.contains("style=") && !handler,
        "inline code in index.html"
    );

    // Login: token JSON is no-store, the cookie HttpOnly + SameSite=Strict + Path=/, not
    // Secure over plain HTTP.
    let (s, h, _) = login(&app.http, &app, "hedy", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let cookie = h
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(h.get("strict-transport-security").is_none());
    // Logout clears it with the same flags.
    let r = app
        .http
        .post(app.url("/users/logout"))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cleared = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("SameSite=Strict"),
        "{cleared}"
    );
    app.stop().await;

    // Behind HTTPS (--cookie-secure): Secure cookie and HSTS.
    let mut c = test_config();
    c.cookie_secure = true;
    let app = TestApp::start_with(c).await;
    app.register("ida").await;
    let (s, h, _) = login(&app.http, &app, "ida", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let cookie = h
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cookie.split("; ").any(|f| f == "Secure"), "{cookie}");
    assert!(
        h.get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("max-age=")),
        "HSTS"
    );
    app.stop().await;
}

/// Sends `POST path` with a chunked body of `len` bytes (no Content-Length), returns the
/// status and the response head + body.
async fn post_chunked(addr: &str, path: &str, token: &str, len: usize) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    // A JSON string that never ends: only the size limit can stop the reader. The writes are
    // bounded too: a server that stops reading without closing must not hang the test.
    let mut body = vec![b'a'; len];
    body[0] = b'"';
    let send = async {
        let _ = s.write_all(head.as_bytes()).await;
        for chunk in body.chunks(8192) {
            let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
            c.extend_from_slice(chunk);
            c.extend_from_slice(b"\r\n");
            if s.write_all(&c).await.is_err() {
                return;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), send).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_route_refuses_oversized_bodies_with_json_413() {
    let mut c = test_config();
    c.max_frame_bytes = 4_000; // body limit 64 KiB, WebSocket hard limit 64 KiB
    let app = TestApp::start_with(c).await;
    let limit = app
        .server
        .as_ref()
        .map(|s| s.state.config.body_limit())
        .expect("server");
    assert_eq!(limit, 64 * 1024);
    let (tok, _) = app.user("ivan").await;
    let (_, doc) = app.call("GET", "/openapi.json", None, None).await;
    let posts: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(_, item)| item.get("post").is_some())
        .map(|(p, _)| {
            // Fill path parameters.
            let mut out = String::new();
            let mut skip = false;
            for ch in p.chars() {
                match ch {
                    '{' => {
                        skip = true;
                        out.push('x');
                    }
                    '}' => skip = false,
                    _ if !skip => out.push(ch),
                    _ => {}
                }
            }
            out
        })
        .collect();
    assert!(posts.len() >= 8, "POST routes: {posts:?}");
    let addr = app.base.trim_start_matches("http://").to_string();
    for path in &posts {
        // Declared too large: refused before the handler (also on routes that ignore bodies).
        let r = app
            .http
            .post(app.url(path))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body(vec![b' '; limit + 1])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("too large")),
            "{path}: {v}"
        );
        // Chunked (no length): the reader stops at the limit, same JSON 413.
        let (status, text) = post_chunked(&addr, path, &tok, limit + 50_000).await;
        assert!(
            status == 413 || (path == "/users/logout" && status == 204),
            "{path} chunked: {status} {text:.300}"
        );
        if status == 413 {
            assert!(
                text.contains("application/json") && text.contains("\"error\""),
                "{path} chunked: {text:.300}"
            );
        }
        // Just under the limit is read (and then judged on its content).
        let (status, _) = post_chunked(&addr, path, &tok, limit - 100).await;
        assert!(
            status != 413 && status != 0 && status < 500,
            "{path} below the limit: {status}"
        );
    }
    // The login form is limited too (its own extractor).
    let r = app
        .http
        .post(app.url("/users/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=ivan&password={}", "p".repeat(limit)))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

/// True once the socket is closed (a close frame with `code`, or a reset / EOF: the server
/// stops reading mid-message, so the close frame may be lost with the connection).
async fn closed_after_oversize(ws: &mut Ws, code: Option<CloseCode>) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => {
                if let Some(c) = code {
                    assert_eq!(f.map(|f| f.code), Some(c));
                }
                return true;
            }
            Ok(Some(Ok(Message::Text(t)))) => panic!("oversized message was answered: {t}"),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_beyond_the_limits_close_the_socket() {
    let mut c = test_config();
    c.max_frame_bytes = 4_000; // WebSocket hard limit: 64 KiB
    c.reconnect_grace_secs = 30; // the session outlives a closed socket
    let app = TestApp::start_with(c).await;
    let hard = app
        .server
        .as_ref()
        .map(|s| s.state.config.ws_hard_limit())
        .expect("server");
    let (tok, _) = app.user("judy").await;
    let id = app.start_session(&tok).await;
    let track = format!("/ws/session/{id}/track");

    // Text frame between the frame limit and the hard limit: error reply, socket open.
    let mut ws = app.ws(&track, Some(&tok)).await;
    let b64 = "A".repeat(8_000);
    send_text(&mut ws, &format!("{{\"image\": \"{b64}\"}}")).await;
    let v = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("reply");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("too large")),
        "{v}"
    );
    send_text(&mut ws, "{\"type\": \"ping\"}").await;
    let v = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("pong");
    assert_eq!(v["type"], "pong");
    // Text beyond the hard limit: closed (1009).
    let big = format!("{{\"image\": \"{}\"}}", "A".repeat(hard + 10));
    let _ = ws.send(Message::Text(big.into())).await;
    assert!(
        closed_after_oversize(&mut ws, Some(CloseCode::Size)).await,
        "track socket open after an oversized text message"
    );

    // Before authentication: an oversized first message closes the socket too.
    let mut ws = app.ws(&track, None).await;
    let _ = ws
        .send(Message::Text(
            format!("{{\"token\": \"{}\"}}", "t".repeat(hard + 10)).into(),
        ))
        .await;
    assert!(
        closed_after_oversize(&mut ws, None).await,
        "unauthenticated socket open after an oversized message"
    );

    // Watch socket: viewers send nothing big; > 64 KiB closes it.
    let mut ws = app.ws(&format!("/ws/session/{id}/watch"), Some(&tok)).await;
    let v = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("watching");
    assert_eq!(v["event"], "watching");
    let _ = ws
        .send(Message::Binary(vec![0u8; 64 * 1024 + 1].into()))
        .await;
    assert!(
        closed_after_oversize(&mut ws, None).await,
        "watch socket open after an oversized message"
    );

    // The session itself is still usable on a fresh socket (within the reconnect grace).
    let mut ws = app.ws(&track, Some(&tok)).await;
    send_text(&mut ws, "{\"type\": \"ping\"}").await;
    let v = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("pong");
    assert_eq!(v["type"], "pong");
    app.stop().await;
}
