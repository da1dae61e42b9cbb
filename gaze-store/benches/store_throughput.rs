//! Throughput of the Redis backend against a local `redis-server` (AOF everysec) that the
//! bench starts itself, printed next to `redis-benchmark` on the same server in the same run.
//!
//! `cargo bench -p gaze-store` (sizes: `GAZE_BENCH_OPS`, default 20000 per figure).
//!
//! Figures:
//! - checkpoint appends/s: `Store::checkpoint` with 5 new timeline segments, a running
//!   report and a small state blob (one Lua script, one RDB-less AOF write each), 64 live
//!   sessions checkpointing concurrently over the one multiplexed connection (requests are
//!   pipelined by the client), and one at a time;
//! - session reads/s: `Store::get_session` (HGETALL + JSON decode), likewise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gaze_activity::{Activity, Attention, SessionReport, TimelineSegment};
use gaze_store::testing::{RedisServer, test_config};
use gaze_store::{Checkpoint, NewSession, NewUser, Store, connect_with};

const CONCURRENCY: usize = 64;

fn checkpoint(sid: &str, seq: u64) -> Checkpoint {
    let segments = (0..5)
        .map(|i| TimelineSegment {
            start_ms: (seq * 5 + i) as f64 * 1000.0,
            end_ms: (seq * 5 + i + 1) as f64 * 1000.0,
            activity: Activity::Reading,
            attention: Attention::Focused,
        })
        .collect();
    Checkpoint {
        seq,
        prev_seq: 0,
        replace_timeline: false,
        at_ms: seq as i64 * 5000,
        report: SessionReport {
            session_id: sid.to_owned(),
            focus_time: seq as f64 * 4.5,
            distraction_time: seq as f64 * 0.5,
            ..SessionReport::default()
        },
        segments,
        state: serde_json::json!({ "last_ms": seq * 5000, "blinks": seq, "label": "reading" }),
        lease_token: 0,
    }
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{:>9.0} ops/s  ({n} ops in {:.2} s)",
        n as f64 / d.as_secs_f64(),
        d.as_secs_f64()
    )
}

async fn run(
    store: Arc<dyn Store>,
    sessions: &[String],
    ops: usize,
    conc: usize,
    write: bool,
) -> Duration {
    let per = ops / conc;
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|i| {
            let store = store.clone();
            let sid = sessions[i % sessions.len()].clone();
            tokio::spawn(async move {
                let base = store.get_session(&sid).await.expect("get").checkpoint_seq;
                for k in 0..per as u64 {
                    if write {
                        store
                            .checkpoint(&sid, checkpoint(&sid, base + k + 1))
                            .await
                            .expect("checkpoint");
                    } else {
                        store.get_session(&sid).await.expect("read");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    t0.elapsed()
}

fn main() {
    let ops: usize = std::env::var("GAZE_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let server =
        RedisServer::start().expect("start redis-server (install it with scripts/setup.sh base)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "gaze-store throughput, redis-server {} (AOF everysec), {ops} ops per figure",
        server.url()
    );
    rt.block_on(async {
        let mut cfg = test_config();
        cfg.op_timeout = Duration::from_secs(10);
        cfg.max_timeline_len = 50_000;
        let store = connect_with(&server.url(), cfg).await.expect("connect");
        let user = store
            .create_user(NewUser {
                username: "bench_user".into(),
                password: "bench password".into(),
                email: None,
            })
            .await
            .expect("user");
        let mut sessions = Vec::new();
        for i in 0..CONCURRENCY {
            let s = store
                .create_session(NewSession {
                    owner: user.id.clone(),
                    started_at_ms: 1_000 + i as i64,
                    source: "bench".into(),
                })
                .await
                .expect("session");
            sessions.push(s.id);
        }
        // warm-up (script load, connection)
        run(
            store.clone(),
            &sessions,
            CONCURRENCY * 10,
            CONCURRENCY,
            true,
        )
        .await;

        let d = run(store.clone(), &sessions, ops, CONCURRENCY, true).await;
        println!(
            "checkpoint appends, {CONCURRENCY} in flight (pipelined): {}",
            rate(ops, d)
        );
        let d = run(store.clone(), &sessions, ops / 4, 1, true).await;
        println!(
            "checkpoint appends, 1 in flight:                {}",
            rate(ops / 4, d)
        );
        let d = run(store.clone(), &sessions, ops, CONCURRENCY, false).await;
        println!(
            "session reads,      {CONCURRENCY} in flight (pipelined): {}",
            rate(ops, d)
        );
        let d = run(store.clone(), &sessions, ops / 4, 1, false).await;
        println!(
            "session reads,      1 in flight:                {}",
            rate(ops / 4, d)
        );
    });

    let port = server.port().to_string();
    let n = (ops * 5).to_string();
    for (label, args) in [
        (
            "pipelined (-P 16, 50 clients)",
            vec!["-P", "16", "-c", "50"],
        ),
        ("not pipelined (50 clients)", vec!["-c", "50"]),
        ("not pipelined (1 client)", vec!["-c", "1"]),
    ] {
        let out = std::process::Command::new("redis-benchmark")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-q",
                "-n",
                &n,
                "-t",
                "set,get,hset,rpush",
            ])
            .args(&args)
            .output();
        match out {
            Ok(o) => {
                println!("redis-benchmark {label}:");
                for line in String::from_utf8_lossy(&o.stdout).split(['\r', '\n']) {
                    let line = line.trim();
                    if line.contains("requests per second") {
                        println!("  {line}");
                    }
                }
            }
            Err(e) => println!("redis-benchmark not available: {e}"),
        }
    }
}
