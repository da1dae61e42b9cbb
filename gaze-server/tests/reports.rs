//! `GET /session/{id}/report.{json,csv,svg,pdf}` against a real redis-server and real frames
//! of the committed webcam clip.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const FORMATS: [(&str, &str); 4] = [
    ("json", "application/json"),
    ("csv", "text/csv; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("pdf", "application/pdf"),
];

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request")
}

fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils, scripts/setup.sh test)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pdf)
        .expect("write");
    let out = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_exports_for_owner_and_admin_only() {
    let app = TestApp::start().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (root, _) = app.user("root").await;

    let id = app.start_session(&alice).await;
    let mut ws = app
        .ws(&format!("/ws/session/{id}/track"), Some(&alice))
        .await;
    stream_frames(&mut ws, &frames()[..40]).await;
    // While live, the exports show the running report.
    let live = get(&app, &format!("/session/{id}/report.svg"), Some(&alice)).await;
    assert_eq!(live.status(), StatusCode::OK);
    let (s, report) = app
        .call(
            "POST",
            "/session/end",
            Some(&alice),
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_report_sums(&report);

    for (ext, mime) in FORMATS {
        let path = format!("/session/{id}/report.{ext}");
        let resp = get(&app, &path, Some(&alice)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert_eq!(h[reqwest::header::CONTENT_TYPE], mime, "{path}");
        let disp = h[reqwest::header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(
            disp.ends_with(&format!("filename=\"gaze-report-{id}.{ext}\"")),
            "{disp}"
        );
        assert!(disp.starts_with(if ext == "svg" { "inline" } else { "attachment" }));
        let body = resp.bytes().await.expect("body");
        match ext {
            "json" => {
                let j: Value = serde_json::from_slice(&body).expect("json");
                assert_eq!(j["duration"], report["duration"]);
                assert!(j["gaze_heatmap"]["cells"].is_array(), "{j}");
                assert!(j["blink_onsets_ms"].is_array());
            }
            "csv" => {
                let text = std::str::from_utf8(&body).expect("utf-8");
                let mut lines = text.lines();
                assert_eq!(
                    lines.next(),
                    Some("kind,name,start_s,end_s,value,unit,activity,attention")
                );
                let mut segments = 0;
                for line in lines {
                    let f: Vec<&str> = line.split(',').collect();
                    assert_eq!(f.len(), 8, "{line}");
                    let v: f64 = f[4].parse().expect("number");
                    match f[0] {
                        "segment" => segments += 1,
                        "total" if f[5] == "s" => {
                            let want = match f[1] {
                                "reading_time" | "browsing_time" | "watching_time" => {
                                    report["session_report"][f[1]].as_f64()
                                }
                                k => report[k].as_f64(),
                            }
                            .expect("field");
                            assert!((v - want).abs() < 0.0005, "{line} vs {want}");
                        }
                        _ => {}
                    }
                }
                assert_eq!(
                    segments,
                    report["timeline"].as_array().map(Vec::len).unwrap_or(0)
                );
            }
            "svg" => {
                let text = std::str::from_utf8(&body).expect("utf-8");
                assert!(text.contains("<svg") && text.contains("Activity and attention"));
                assert!(h_has_csp(&app, &id, &alice).await);
            }
            "pdf" => {
                assert!(body.starts_with(b"%PDF-"));
                let text = pdftotext(&body);
                let dur = report["duration"].as_f64().expect("duration");
                let line = text
                    .lines()
                    .find(|l| l.starts_with("Duration"))
                    .unwrap_or_else(|| panic!("{text}"));
                assert!(line.contains(&format!("{dur:.2}")), "{line}");
                assert!(text.contains(&format!("Session {id}")));
            }
            _ => unreachable!(),
        }

        // Same rules as GET /session/{id}: anonymous 401, another user 404, admin 200.
        assert_eq!(
            get(&app, &path, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get(&app, &path, Some(&bob)).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(get(&app, &path, Some(&root)).await.status(), StatusCode::OK);
        let unknown = format!("/session/no-such-session/report.{ext}");
        let resp = get(&app, &unknown, Some(&alice)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let err: Value = resp.json().await.expect("error json");
        assert!(err["error"].is_string());
    }

    // The routes are in the OpenAPI document.
    let (s, doc) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    for ext in ["json", "csv", "svg", "pdf"] {
        assert!(
            doc["paths"][format!("/session/{{id}}/report.{ext}")]["get"].is_object(),
            "{ext} missing from OpenAPI"
        );
    }
    app.stop().await;
}

async fn h_has_csp(app: &TestApp, id: &str, token: &str) -> bool {
    let resp = get(app, &format!("/session/{id}/report.svg"), Some(token)).await;
    resp.headers()
        .get(reqwest::header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("default-src 'none'"))
}
