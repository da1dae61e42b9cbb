//! One conformance suite (`common/mod.rs`) against three backends: MemoryStore, a real
//! single `redis-server` and a real 3-node Redis Cluster, both started by the tests.
//! Redis must be installed (`scripts/setup.sh base`); the tests fail, not skip, without it.

mod common;

use gaze_store::testing::{RedisCluster, RedisServer, raw_command, test_store};

macro_rules! cases {
    ($setup:ident; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (_guard, s, _s2) = super::$setup().await;
                common::$case(&s).await;
            }
        )*
    };
}

async fn memory() -> ((), common::S, common::S) {
    let s = test_store("memory://").await.expect("memory store");
    ((), s.clone(), s)
}

async fn redis() -> (RedisServer, common::S, common::S) {
    let server = RedisServer::start().expect("start redis-server (is it installed?)");
    let s = test_store(&server.url()).await.expect("connect");
    let s2 = test_store(&server.url())
        .await
        .expect("connect a second instance");
    (server, s, s2)
}

mod memory_backend {
    use super::*;
    cases!(memory; users_basic, input_limits, concurrent_registration, calibration,
        session_lifecycle, timeline_cap, checkpoint_gap, leases, pagination, pagination_under_concurrent_inserts,
        tokens, token_expiry, delete_user, labels, label_cap);

    #[tokio::test]
    async fn live_fanout() {
        let (_g, s, s2) = super::memory().await;
        common::live_fanout(&s, &s2).await;
    }

    #[tokio::test]
    async fn rate_limits() {
        let (_g, s, s2) = super::memory().await;
        common::rate_limits(&s, &s2).await;
    }
}

mod redis_single {
    use super::*;
    cases!(redis; users_basic, input_limits, concurrent_registration, calibration,
        session_lifecycle, timeline_cap, checkpoint_gap, leases, pagination, pagination_under_concurrent_inserts,
        tokens, token_expiry, delete_user, labels, label_cap);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_fanout() {
        let (_g, s, s2) = super::redis().await;
        common::live_fanout(&s, &s2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limits() {
        let (_g, s, s2) = super::redis().await;
        common::rate_limits(&s, &s2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoint_gap_after_lost_write() {
        let (server, s, _s2) = super::redis().await;
        let lose = |sess: &gaze_store::SessionRecord, seq: u64, keep: usize| {
            super::lose_writes(&[server.port()], sess, seq, keep)
        };
        common::checkpoint_gap_after_lost_write(&s, &lose).await;
    }
}

/// Deleting a user removes its trace, labels and adaptation keys from Redis itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_delete_user_leaves_no_adaptation_keys() {
    let (server, s, _s2) = redis().await;
    let u = common::new_user(&s, "keys").await;
    let sess = common::new_session(&s, &u.id, 1).await;
    s.set_trace(&sess.id, &common::trace(0.0, 20))
        .await
        .unwrap();
    s.add_label(
        &u.id,
        common::label(&sess.id, 0.0, 0.5, gaze_activity::Activity::Reading),
    )
    .await
    .unwrap();
    s.set_adaptation_json(&u.id, Some(serde_json::json!({ "class_bias": [0, 1, -1] })))
        .await
        .unwrap();
    let keys = [
        format!("gz:{{u:{}}}:s:{}:trace", u.id, sess.id),
        format!("gz:{{u:{}}}:labels", u.id),
        format!("gz:{{u:{}}}:adapt", u.id),
    ];
    let exists = |k: &str| raw_command(server.port(), &["EXISTS", k]).expect("EXISTS");
    for k in &keys {
        assert_eq!(exists(k), "1", "{k} written");
    }
    s.delete_user(&u.id).await.unwrap();
    for k in &keys {
        assert_eq!(exists(k), "0", "{k} left behind");
    }
}

/// Simulates writes lost in a crash with raw commands: the session hash's `seq` back to
/// `seq`, its timeline list cut to its first `keep` segments. Sent to every port: on a
/// cluster only the node owning the slot applies them (the others answer `MOVED`).
fn lose_writes(ports: &[u16], sess: &gaze_store::SessionRecord, seq: u64, keep: usize) {
    let hash = format!("gz:{{u:{}}}:s:{}", sess.owner, sess.id);
    let list = format!("{hash}:tl");
    let (seq, last) = (seq.to_string(), (keep as i64 - 1).to_string());
    let mut applied = 0;
    for &port in ports {
        let a = raw_command(port, &["HSET", &hash, "seq", &seq]).expect("HSET");
        let b = raw_command(port, &["LTRIM", &list, "0", &last]).expect("LTRIM");
        if !a.starts_with("MOVED") {
            assert_eq!((a.as_str(), b.as_str()), ("0", "OK"), "raw commands failed");
            applied += 1;
        }
    }
    assert_eq!(applied, 1, "exactly one node owns the session");
}

/// The whole suite against one 3-node cluster (starting a cluster takes a few seconds, so
/// the cases share it; each case uses its own users).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_full_suite() {
    let cluster =
        RedisCluster::start(3).expect("start a 3-node redis cluster (is redis installed?)");
    let s = test_store(&cluster.url())
        .await
        .expect("connect to cluster");
    assert_eq!(s.backend(), gaze_store::Backend::RedisCluster);
    let s2 = test_store(&cluster.url())
        .await
        .expect("second cluster client");
    common::run_all(&s, &s2).await;
    let ports: Vec<u16> = cluster.nodes().iter().map(|n| n.port()).collect();
    let lose = |sess: &gaze_store::SessionRecord, seq: u64, keep: usize| {
        lose_writes(&ports, sess, seq, keep)
    };
    common::checkpoint_gap_after_lost_write(&s, &lose).await;
}
