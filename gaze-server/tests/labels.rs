//! Per-user adaptation end to end, against a real redis-server and real frames: a session's
//! trace is stored when it ends, the user relabels a stretch of it, the adaptation is
//! refitted and stored, and the user's next session runs the adapted model. Plus the error
//! codes of the label routes.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLASSES: [&str; 3] = ["reading", "browsing", "watching"];
/// Frame spacing of the client timestamps (15 fps, like the clip's extraction).
const STEP_MS: f64 = 1000.0 / 15.0;

/// Streams the clip's frames `rounds` times as JSON messages with client timestamps (15 fps
/// from `t0`), so the session's clock does not depend on how fast this machine tracks.
async fn stream_timed(app: &TestApp, token: &str, id: &str, t0: f64, rounds: usize) {
    let mut ws = app
        .ws(&format!("/ws/session/{id}/track"), Some(token))
        .await;
    let urls: Vec<String> = frames()
        .iter()
        .map(|f| {
            format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(f)
            )
        })
        .collect();
    let mut i = 0usize;
    for _ in 0..rounds {
        for url in &urls {
            let ts = t0 + i as f64 * STEP_MS;
            send_text(&mut ws, &json!({"image": url, "timestamp": ts}).to_string()).await;
            let reply = next_json(&mut ws, Duration::from_secs(30))
                .await
                .expect("frame reply");
            assert!(reply.get("error").is_none(), "frame refused: {reply}");
            i += 1;
        }
    }
}

async fn end(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, r) = app
        .call(
            "POST",
            "/session/end",
            Some(token),
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "end: {r}");
    r
}

fn class_time(report: &Value, class: &str) -> f64 {
    report["session_report"][format!("{class}_time")]
        .as_f64()
        .unwrap_or_else(|| panic!("{class}_time in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relabelling_adapts_the_next_session() {
    // Sessions stay live after their socket closes until `end` (the 409 below needs a live
    // one; with no grace the server could finalise it first).
    let mut config = test_config();
    config.reconnect_grace_secs = 60;
    let app = TestApp::start_with(config).await;
    let (alice, alice_user) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let uid = alice_user["id"].as_str().expect("user id").to_string();

    // Session A: the unadapted model.
    let (s, started) = app.call("POST", "/session/start", Some(&alice), None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(started["adapted"], false, "{started}");
    let a = started["session_id"].as_str().expect("id").to_string();
    stream_timed(&app, &alice, &a, 1_700_000_000_000.0, 2).await;

    // Still live: 409 (a live session has no stored trace yet).
    let path_a = format!("/session/{a}/labels");
    let body = json!({"start_s": 0.0, "end_s": 2.0, "label": "reading"});
    let (s, v) = app
        .call("POST", &path_a, Some(&alice), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "live session: {v}");

    let report_a = end(&app, &alice, &a).await;
    assert_report_sums(&report_a);
    let duration = report_a["duration"].as_f64().expect("duration");
    assert!(duration > 6.0, "two rounds of the clip: {report_a}");
    // The trace the accounting saw is stored with the session.
    let trace = app
        .store
        .get_trace(&a)
        .await
        .expect("get trace")
        .expect("trace stored at the end");
    assert_eq!(trace.samples.len(), 2 * frames().len());
    assert_eq!(
        trace.samples[0].t_ms,
        report_a["started_at"].as_f64().unwrap()
    );

    // The class the unadapted model gave least time to: the user says it all was that.
    let times: Vec<f64> = CLASSES.iter().map(|c| class_time(&report_a, c)).collect();
    let target = (0..3)
        .min_by(|&i, &j| times[i].total_cmp(&times[j]))
        .expect("a class");
    let class = CLASSES[target];
    let (s, change) = app
        .call(
            "POST",
            &path_a,
            Some(&alice),
            Some(json!({"start_s": 0.0, "end_s": duration, "label": class})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{change}");
    assert_eq!(change["label"]["label"], class);
    assert_eq!(change["label"]["session_id"], a.as_str());
    let label_id = change["label"]["id"]
        .as_str()
        .expect("label id")
        .to_string();
    let bias: Vec<f64> = change["adaptation"]["class_bias"]
        .as_array()
        .unwrap_or_else(|| panic!("adaptation fitted: {change}"))
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    assert!(
        (0..3).all(|k| k == target || bias[target] > bias[k]),
        "{class} favoured: {bias:?}"
    );
    assert_eq!(change["adaptation"]["labels"], 1);
    // Stored in gaze-store.
    let stored = app
        .store
        .get_adaptation_json(&uid)
        .await
        .expect("get adaptation")
        .expect("adaptation stored");
    assert_eq!(stored["class_bias"], change["adaptation"]["class_bias"]);

    // Listed per session and per user.
    let (s, per_session) = app.call("GET", &path_a, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(per_session["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(per_session["items"][0]["id"], label_id.as_str());
    assert_eq!(
        per_session["adaptation"]["class_bias"],
        stored["class_bias"]
    );
    let (s, mine) = app.call("GET", "/labels", Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let (s, theirs) = app.call("GET", "/labels", Some(&bob), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    assert!(theirs["adaptation"].is_null());

    // Session B, same frames: the adapted model gives the labelled class more time.
    let (s, started) = app.call("POST", "/session/start", Some(&alice), None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(started["adapted"], true, "{started}");
    let b = started["session_id"].as_str().expect("id").to_string();
    stream_timed(&app, &alice, &b, 1_700_000_100_000.0, 2).await;
    let report_b = end(&app, &alice, &b).await;
    assert_report_sums(&report_b);
    let (before, after) = (class_time(&report_a, class), class_time(&report_b, class));
    eprintln!(
        "{class}: {before:.2} s unadapted → {after:.2} s adapted (bias {bias:?}); A {:?} B {:?}",
        times,
        CLASSES
            .iter()
            .map(|c| class_time(&report_b, c))
            .collect::<Vec<_>>()
    );
    assert!(
        after > before + 1.0,
        "{class} time grows with the adaptation: {before} → {after}"
    );

    // Deleting the only label clears the adaptation; the next session is unadapted.
    let (s, v) = app
        .call("DELETE", &format!("/labels/{label_id}"), Some(&bob), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone else's label: {v}");
    let (s, v) = app
        .call("DELETE", &format!("/labels/{label_id}"), Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["label"]["id"], label_id.as_str());
    assert!(v["adaptation"].is_null(), "{v}");
    let (s, _) = app
        .call("DELETE", &format!("/labels/{label_id}"), Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.store.get_adaptation_json(&uid).await.expect("get"),
        None
    );
    let (s, started) = app.call("POST", "/session/start", Some(&alice), None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(started["adapted"], false, "{started}");
    let c = started["session_id"].as_str().expect("id").to_string();
    end(&app, &alice, &c).await;

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_errors() {
    let app = TestApp::start().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (root, _) = app.user("root").await;

    // A short ended session with a trace.
    let id = app.start_session(&alice).await;
    stream_timed(&app, &alice, &id, 1_700_000_000_000.0, 1).await;
    let report = end(&app, &alice, &id).await;
    let duration = report["duration"].as_f64().expect("duration");
    let path = format!("/session/{id}/labels");
    let post = |token: &str, body: Value| {
        let (app, path, token) = (&app, path.clone(), token.to_string());
        async move { app.call("POST", &path, Some(&token), Some(body)).await }
    };

    // 400: bad ranges, unknown labels, a range with no samples, malformed bodies.
    for body in [
        json!({"start_s": 2.0, "end_s": 1.0, "label": "reading"}),
        json!({"start_s": 1.0, "end_s": 1.0, "label": "reading"}),
        json!({"start_s": -1.0, "end_s": 1.0, "label": "reading"}),
        json!({"start_s": 0.0, "end_s": 1.0, "label": "sleeping"}),
        json!({"start_s": 0.0, "end_s": 1.0, "label": "other"}),
        json!({"start_s": duration + 100.0, "end_s": duration + 200.0, "label": "watching"}),
        json!({"start_s": 0.0, "label": "reading"}),
        json!({"start_s": "zero", "end_s": 1.0, "label": "reading"}),
    ] {
        let (s, v) = post(&alice, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    // 401 without a token.
    let (s, _) = app
        .call(
            "POST",
            &path,
            None,
            Some(json!({"start_s": 0.0, "end_s": 1.0, "label": "reading"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // 403: someone else's session (also for an admin: labels adapt their owner's model).
    let ok_body = json!({"start_s": 0.0, "end_s": duration.min(2.0), "label": "reading"});
    for t in [&bob, &root] {
        let (s, v) = post(t, ok_body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, _) = app.call("GET", &path, Some(t), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // 404: unknown session ids (well-formed and not).
    let alice_id = id.split('-').next().expect("owner").to_string();
    for ghost in [format!("{alice_id}-0000000000000000"), "nope".to_string()] {
        let (s, v) = app
            .call(
                "POST",
                &format!("/session/{ghost}/labels"),
                Some(&alice),
                Some(ok_body.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{ghost}: {v}");
        let (s, _) = app
            .call(
                "GET",
                &format!("/session/{ghost}/labels"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // 409: an ended session without a trace (no frame ever arrived).
    let empty = app.start_session(&alice).await;
    end(&app, &alice, &empty).await;
    let (s, v) = app
        .call(
            "POST",
            &format!("/session/{empty}/labels"),
            Some(&alice),
            Some(ok_body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // 409: a live session.
    let live = app.start_session(&alice).await;
    let (s, v) = app
        .call(
            "POST",
            &format!("/session/{live}/labels"),
            Some(&alice),
            Some(ok_body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    end(&app, &alice, &live).await;

    // A short label is stored even when it holds too little data to fit an adaptation.
    let (s, v) = post(
        &alice,
        json!({"start_s": 0.0, "end_s": 1.0, "label": "browsing"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["adaptation"].is_null(), "1 s is too little: {v}");
    assert!(v["note"].as_str().is_some_and(|n| !n.is_empty()), "{v}");
    let (s, v) = app.call("GET", "/labels", Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    // 404: malformed / unknown label ids.
    for bad in ["nope", "0000000000000000"] {
        let (s, _) = app
            .call("DELETE", &format!("/labels/{bad}"), Some(&alice), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }

    app.stop().await;
}
