//! Checkpoints lost by the store after it acknowledged them (a redis-server crash with
//! `appendfsync everysec` loses up to ~1 s of writes): during a live WebSocket session fed
//! with frames of the committed webcam clip, the session's hash and timeline list are rolled
//! back with raw redis commands to an earlier checkpoint, as a crash would leave them. The
//! next checkpoint is refused as a gap, the server resends the whole timeline, and the
//! stored timeline is then exactly the accounting's closed segments: none missing, none
//! twice. (Without the gap check the next checkpoint would append only its own segments and
//! those of the lost checkpoints would be missing for good.)

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestApp, Ws, frames, next_json, send_frame, send_text};
use gaze_server::accounting::LiveAccount;
use gaze_store::testing::raw_command;
use gaze_store::{SessionRecord, SessionStatus, Store};
use serde_json::Value;

/// A uniform grey 640×480 JPEG: a frame without a face (closes the current segment).
fn blank_frame() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .expect("jpeg");
    out
}

/// Streams frames for `secs` (each reply awaited): 1.2 s of webcam frames, then 0.6 s of
/// faceless ones, so the activity timeline keeps closing segments. Returns the last reply.
async fn stream(ws: &mut Ws, secs: f64, blank: &[u8], next: &mut usize) -> Value {
    let frames = frames();
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut last = Value::Null;
    while Instant::now() < until {
        let phase = gaze_server::live::now_ms() % 1800.0;
        if phase >= 1200.0 {
            send_frame(ws, blank).await;
        } else {
            send_frame(ws, &frames[*next % frames.len()]).await;
        }
        *next += 1;
        last = next_json(ws, Duration::from_secs(10))
            .await
            .expect("frame answered");
        assert!(last.get("error").is_none(), "frame refused: {last}");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    last
}

/// Waits until no checkpoint is in flight: frames stopped, so no new one is cut, and the
/// stored record stops changing.
async fn settled(store: &Arc<dyn Store>, id: &str) -> SessionRecord {
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut rec = store.get_session(id).await.expect("record");
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = store.get_session(id).await.expect("record");
        if again == rec {
            return rec;
        }
        rec = again;
    }
}

/// Segments of the checkpointed accounting that are closed (all but the last).
fn closed_segments(rec: &SessionRecord) -> Vec<gaze_core::TimelineSegment> {
    let account = LiveAccount::restore(rec.state.as_ref().expect("state")).expect("restores");
    let mut tl = account.report().timeline;
    tl.pop();
    tl
}

fn raw(port: u16, args: &[&str]) -> String {
    let r = raw_command(port, args).expect("raw redis command");
    assert!(!r.starts_with("ERR"), "{args:?}: {r}");
    r
}

async fn metric(app: &TestApp, token: &str, name: &str) -> f64 {
    let text = app
        .http
        .get(app.url("/metrics"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_lost_by_the_store_are_resynced_nothing_missing_or_doubled() {
    let app = TestApp::start().await; // checkpoint every second
    let port: u16 = app
        .redis
        .as_ref()
        .expect("redis")
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| {
            p.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .expect("redis port");
    let store = app.store.clone();
    let name = gaze_store::testing::unique_username("gap");
    let (token, _) = app.user(&name).await;
    let id = app.start_session(&token).await;
    let mut ws = app
        .ws(&format!("/ws/session/{id}/track"), Some(&token))
        .await;
    let blank = blank_frame();
    let mut next = 0usize;

    // Phase A: a few checkpoints with closed segments; then the state a crash falls back to.
    let deadline = Instant::now() + Duration::from_secs(60);
    let snap = loop {
        stream(&mut ws, 1.5, &blank, &mut next).await;
        let rec = settled(&store, &id).await;
        if rec.checkpoint_seq >= 2 && !store.get_timeline(&id).await.expect("tl").is_empty() {
            break rec;
        }
        assert!(Instant::now() < deadline, "no segment checkpointed in 60 s");
    };
    let hash = format!("gz:{{u:{}}}:s:{id}", snap.owner);
    let list = format!("{hash}:tl");
    let saved: Vec<String> = ["seq", "last_cp", "report", "state"]
        .iter()
        .map(|f| raw(port, &["HGET", &hash, f]))
        .collect();
    let saved_len = store.get_timeline(&id).await.expect("tl").len();

    // Phase B: more checkpoints, at least one carrying new segments; all acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (acked, acked_len) = loop {
        stream(&mut ws, 1.5, &blank, &mut next).await;
        let rec = settled(&store, &id).await;
        let len = store.get_timeline(&id).await.expect("tl").len();
        if rec.checkpoint_seq >= snap.checkpoint_seq + 2 && len > saved_len {
            break (rec, len);
        }
        assert!(
            Instant::now() < deadline,
            "no new segment checkpointed in 60 s"
        );
    };

    // The crash: the store falls back to the phase-A state, the server does not know.
    let mut args = vec!["HSET", hash.as_str()];
    for (f, v) in ["seq", "last_cp", "report", "state"].iter().zip(&saved) {
        args.extend([*f, v.as_str()]);
    }
    raw(port, &args);
    let last = (saved_len as i64 - 1).to_string();
    assert_eq!(raw(port, &["LTRIM", &list, "0", &last]), "OK");
    assert_eq!(store.get_session(&id).await.expect("rec"), snap);
    assert_eq!(store.get_timeline(&id).await.expect("tl").len(), saved_len);

    // Phase C: frames go on; the next checkpoint meets the gap and resyncs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rec = loop {
        stream(&mut ws, 1.2, &blank, &mut next).await;
        let rec = settled(&store, &id).await;
        if rec.checkpoint_seq > acked.checkpoint_seq {
            break rec;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint after the loss in 60 s"
        );
    };
    assert_eq!(rec.status, SessionStatus::Live);
    let stored = store.get_timeline(&id).await.expect("tl");
    let closed = closed_segments(&rec);
    assert!(
        closed.len() > saved_len,
        "segments were closed after the fallback point"
    );
    assert_eq!(
        stored.len(),
        closed.len(),
        "stored timeline has {} segments, the accounting closed {}",
        stored.len(),
        closed.len()
    );
    assert_eq!(
        stored, closed,
        "stored timeline = the accounting's closed segments"
    );
    for w in stored.windows(2) {
        assert!(w[0].start_ms < w[1].start_ms, "repeated segment: {w:?}");
    }
    assert_eq!(
        metric(&app, &token, "gaze_checkpoint_resyncs_total").await,
        1.0
    );

    // Normal checkpoints (appending) continue after the resync.
    let before = rec.checkpoint_seq;
    let deadline = Instant::now() + Duration::from_secs(60);
    let rec = loop {
        stream(&mut ws, 1.2, &blank, &mut next).await;
        let rec = settled(&store, &id).await;
        if rec.checkpoint_seq > before {
            break rec;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint after the resync in 60 s"
        );
    };
    assert_eq!(
        store.get_timeline(&id).await.expect("tl"),
        closed_segments(&rec)
    );
    assert_eq!(
        metric(&app, &token, "gaze_checkpoint_resyncs_total").await,
        1.0
    );

    send_text(&mut ws, r#"{"type":"end"}"#).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = next_json(&mut ws, Duration::from_secs(20))
            .await
            .expect("ended event");
        if v["event"] == "ended" {
            break;
        }
        assert!(Instant::now() < deadline, "no ended event");
    }
    println!(
        "gap: store fell back from seq {} ({acked_len} segments) to seq {} ({saved_len}); \
         resync at seq {}; at seq {}: {} segments stored = closed; resyncs 1",
        acked.checkpoint_seq,
        snap.checkpoint_seq,
        acked.checkpoint_seq + 1,
        rec.checkpoint_seq,
        closed_segments(&rec).len(),
    );
    app.stop().await;
}
