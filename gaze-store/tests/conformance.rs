//! One conformance suite (`common/mod.rs`) against three backends: MemoryStore, a real
//! single `redis-server` and a real 3-node Redis Cluster, both started by the tests.
//! Redis must be installed (`scripts/setup.sh base`); the tests fail, not skip, without it.

mod common;

use gaze_store::testing::{RedisCluster, RedisServer, test_store};

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
        session_lifecycle, timeline_cap, pagination, pagination_under_concurrent_inserts,
        tokens, token_expiry, delete_user);

    #[tokio::test]
    async fn live_fanout() {
        let (_g, s, s2) = super::memory().await;
        common::live_fanout(&s, &s2).await;
    }
}

mod redis_single {
    use super::*;
    cases!(redis; users_basic, input_limits, concurrent_registration, calibration,
        session_lifecycle, timeline_cap, pagination, pagination_under_concurrent_inserts,
        tokens, token_expiry, delete_user);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_fanout() {
        let (_g, s, s2) = super::redis().await;
        common::live_fanout(&s, &s2).await;
    }
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
}
