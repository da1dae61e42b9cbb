//! Redis-only checks: no keys left behind by delete_user (checked with SCAN, here only),
//! Redis restarted mid-session, and quick `Unavailable` errors while Redis is down.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gaze_store::testing::{RedisCluster, RedisServer, test_config};
use gaze_store::*;
use redis::{AsyncCommands, cmd};

/// Every key on one node with everything it contains, as text.
async fn dump_node(url: &str) -> Vec<(String, String)> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut cursor: u64 = 0;
    let mut out = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await
            .unwrap();
        for k in keys {
            let ty: String = cmd("TYPE").arg(&k).query_async(&mut c).await.unwrap();
            let content = match ty.as_str() {
                "string" => c.get::<_, String>(&k).await.unwrap(),
                "hash" => format!("{:?}", c.hgetall::<_, Vec<String>>(&k).await.unwrap()),
                "zset" => format!("{:?}", c.zrange::<_, Vec<String>>(&k, 0, -1).await.unwrap()),
                "list" => format!("{:?}", c.lrange::<_, Vec<String>>(&k, 0, -1).await.unwrap()),
                other => format!("<{other}>"),
            };
            out.push((k, content));
        }
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

async fn delete_leaves_nothing(s: &S, node_urls: &[String]) {
    let name = unique("gone");
    let u = s
        .create_user(NewUser {
            username: name.clone(),
            password: PASSWORD.into(),
            email: Some(format!("{name}@example.org")),
        })
        .await
        .unwrap();
    let keep = new_user(s, "stays").await;
    let kept = new_session(s, &keep.id, 3).await;
    s.set_calibration_json(&u.id, serde_json::json!({"a": 1}))
        .await
        .unwrap();
    for i in 0..5 {
        let sess = new_session(s, &u.id, 100 + i).await;
        s.checkpoint(&sess.id, checkpoint(&sess.id, 1, 0..10))
            .await
            .unwrap();
        if i % 2 == 0 {
            s.end_session(&sess.id, report(&sess.id, 1.0))
                .await
                .unwrap();
        }
    }
    s.issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();
    s.issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();

    let mut before = Vec::new();
    for url in node_urls {
        before.extend(dump_node(url).await);
    }
    let mentions = |d: &[(String, String)]| {
        d.iter()
            .filter(|(k, v)| {
                k.contains(&u.id)
                    || v.contains(&u.id)
                    || k.contains(&name.to_lowercase())
                    || v.contains(&name)
            })
            .count()
    };
    assert!(
        mentions(&before) >= 10,
        "sanity: the user's data is visible to SCAN"
    );

    s.delete_user(&u.id).await.unwrap();

    let mut after = Vec::new();
    for url in node_urls {
        after.extend(dump_node(url).await);
    }
    let left: Vec<_> = after
        .iter()
        .filter(|(k, v)| {
            k.contains(&u.id)
                || v.contains(&u.id)
                || k.contains(&name.to_lowercase())
                || v.contains(&name)
        })
        .collect();
    assert!(left.is_empty(), "keys left after delete_user: {left:?}");
    assert!(
        after.iter().any(|(k, _)| k.contains(&keep.id)),
        "other users' keys must remain"
    );
    assert_eq!(s.get_session(&kept.id).await.unwrap(), kept);
}

/// Test settings with a 1 s operation timeout, so outages are reported quickly.
async fn test_store(url: &str) -> Result<S> {
    let mut cfg = test_config();
    cfg.op_timeout = Duration::from_secs(1);
    connect_with(url, cfg).await
}

fn unique(p: &str) -> String {
    gaze_store::testing::unique_username(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_user_leaves_no_keys_single() {
    let server = RedisServer::start().expect("start redis-server (is it installed?)");
    let s = test_store(&server.url()).await.unwrap();
    delete_leaves_nothing(&s, &[server.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_user_leaves_no_keys_cluster() {
    let cluster = RedisCluster::start(3).expect("start a redis cluster (is redis installed?)");
    let urls: Vec<String> = cluster.nodes().iter().map(|n| n.url()).collect();
    // The list form of the cluster constructor.
    let s: S = std::sync::Arc::new(
        RedisStore::connect_cluster(&urls, gaze_store::testing::test_config())
            .await
            .unwrap(),
    );
    assert_eq!(s.backend(), Backend::RedisCluster);
    delete_leaves_nothing(&s, &urls).await;
}

/// Retries `f` until it succeeds or `within` passes.
async fn eventually<T, F, Fut>(within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline && e.is_transient() => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("still failing after {within:?}: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_session() {
    let mut server = RedisServer::start().expect("start redis-server (is it installed?)");
    let s = test_store(&server.url()).await.unwrap();
    let u = new_user(&s, "crash").await;
    let tok = s
        .issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();
    let sess = new_session(&s, &u.id, 1_700_000_000_000).await;
    for seq in 1..=3u64 {
        let r = (seq as usize - 1) * 10..seq as usize * 10;
        s.checkpoint(&sess.id, checkpoint(&sess.id, seq, r))
            .await
            .unwrap();
    }
    let mut feed = s.subscribe_live(&sess.id).await.unwrap();
    // appendfsync everysec: give the AOF its second, then crash redis (SIGKILL).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();

    // While Redis is down: quick, typed errors, no hangs.
    let t0 = Instant::now();
    let err = s
        .checkpoint(&sess.id, checkpoint(&sess.id, 4, 30..40))
        .await
        .expect_err("redis is down");
    assert!(err.is_transient(), "{err:?}");
    let err = s.get_session(&sess.id).await.expect_err("redis is down");
    assert!(err.is_transient(), "{err:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "errors took {:?}",
        t0.elapsed()
    );

    eprintln!("redis down: two calls failed in {:?}", t0.elapsed());
    server.restart().expect("restart redis on the same port");

    // The same store object recovers by itself.
    let rec = eventually(Duration::from_secs(15), || s.get_session(&sess.id)).await;
    assert_eq!(rec.status, SessionStatus::Live);
    assert_eq!(rec.checkpoint_seq, 3, "all checkpoints survived");
    assert_eq!(rec.state, Some(checkpoint(&sess.id, 3, 0..0).state));
    assert_eq!(rec.report, Some(report(&sess.id, 3.0)));
    let tl = s.get_timeline(&sess.id).await.unwrap();
    assert_eq!(tl, (0..30).map(seg).collect::<Vec<_>>());
    assert_eq!(s.get_user(&u.id).await.unwrap(), u);
    assert_eq!(s.resolve_token(&tok.token).await.unwrap(), u);

    // Resume flow: find unfinished sessions, continue from the stored seq, then finalise.
    let live = s.list_live_sessions(PageRequest::first(50)).await.unwrap();
    assert!(live.items.iter().any(|r| r.id == sess.id));
    assert_eq!(
        s.checkpoint(&sess.id, checkpoint(&sess.id, 4, 30..40))
            .await
            .unwrap(),
        CheckpointOutcome::Applied
    );
    assert_eq!(s.get_timeline(&sess.id).await.unwrap().len(), 40);
    let ended = s
        .end_session(&sess.id, report(&sess.id, 9.0))
        .await
        .unwrap();
    assert_eq!(ended.status, SessionStatus::Ended);

    // The live feed resubscribed by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        s.publish_live(&sess.id, "after-restart").await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), feed.recv()).await {
            assert_eq!(m, "after-restart");
            break;
        }
        assert!(Instant::now() < deadline, "live feed did not resubscribe");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_is_fast_and_typed() {
    // Nothing listens on this port.
    let port = gaze_store::testing::free_port().unwrap();
    let t0 = Instant::now();
    let r = test_store(&format!("redis://127.0.0.1:{port}")).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    let r = test_store(&format!("redis+cluster://127.0.0.1:{port}")).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // A server that goes away: every call fails within the configured bound.
    let mut server = RedisServer::start().expect("start redis-server (is it installed?)");
    let s = test_store(&server.url()).await.unwrap();
    let u = new_user(&s, "down").await;
    server.kill();
    for _ in 0..3 {
        let t = Instant::now();
        let e = s.get_user(&u.id).await.expect_err("down");
        assert!(e.is_transient(), "{e:?}");
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "{:?}",
            t.elapsed()
        );
    }
    let e = s
        .create_user(NewUser {
            username: unique("down2"),
            password: PASSWORD.into(),
            email: None,
        })
        .await
        .expect_err("down");
    assert!(e.is_transient(), "{e:?}");
}

#[tokio::test]
async fn memory_url_and_bad_urls() {
    let s = connect("memory://").await.unwrap();
    assert_eq!(s.backend(), Backend::Memory);
    for bad in ["", "postgres://x", "redis+cluster://", "memcached://"] {
        assert!(
            matches!(connect(bad).await, Err(StoreError::Invalid(_))),
            "{bad}"
        );
    }
}

async fn numsub(server: &RedisServer, sid: &str) -> i64 {
    let reply: (String, i64) = cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(format!("gz:live:{sid}"))
        .query_async(
            &mut redis::Client::open(server.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    reply.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_subscriptions_are_shared_and_released() {
    let server = RedisServer::start().expect("start redis-server (is it installed?)");
    let s = test_store(&server.url()).await.unwrap();
    let u = new_user(&s, "viewers").await;
    let sess = new_session(&s, &u.id, 1).await;
    let mut a = s.subscribe_live(&sess.id).await.unwrap();
    let mut b = s.subscribe_live(&sess.id).await.unwrap();
    assert_eq!(
        numsub(&server, &sess.id).await,
        1,
        "one Redis subscription per instance"
    );
    assert_eq!(s.publish_live(&sess.id, "x").await.unwrap(), 1);
    for f in [&mut a, &mut b] {
        let m = tokio::time::timeout(Duration::from_secs(5), f.recv())
            .await
            .unwrap();
        assert_eq!(m.as_deref(), Some("x"));
    }
    drop(a);
    let mut c = s.subscribe_live(&sess.id).await.unwrap();
    drop(b);
    s.publish_live(&sess.id, "y").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), c.recv())
        .await
        .unwrap();
    assert_eq!(
        m.as_deref(),
        Some("y"),
        "a viewer joining while others leave keeps the feed"
    );
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(5);
    while numsub(&server, &sess.id).await != 0 {
        assert!(
            Instant::now() < deadline,
            "subscription not released after the last viewer left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut d = s.subscribe_live(&sess.id).await.unwrap();
    s.publish_live(&sess.id, "z").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), d.recv())
        .await
        .unwrap();
    assert_eq!(m.as_deref(), Some("z"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_restart() {
    let mut cluster = RedisCluster::start(3).expect("start a redis cluster (is redis installed?)");
    let s = test_store(&cluster.url()).await.unwrap();
    // Users spread over the slots of all three masters.
    let mut users = Vec::new();
    for _ in 0..12 {
        let u = new_user(&s, "node").await;
        let sess = new_session(&s, &u.id, 5).await;
        s.checkpoint(&sess.id, checkpoint(&sess.id, 1, 0..3))
            .await
            .unwrap();
        users.push((u, sess));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.nodes_mut()[1].kill();

    // Some users live on the dead master: their calls fail quickly with Unavailable.
    let t0 = Instant::now();
    let mut failed = 0;
    for (u, _) in &users {
        match s.get_user(&u.id).await {
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_transient(), "{e:?}");
                failed += 1;
            }
        }
    }
    assert!(failed > 0, "no user was on the killed node");
    eprintln!(
        "cluster node down: {failed}/{} calls failed, all 12 answered in {:?}",
        users.len(),
        t0.elapsed()
    );
    assert!(
        t0.elapsed() < Duration::from_secs(12 * 3),
        "{:?}",
        t0.elapsed()
    );

    cluster.nodes_mut()[1]
        .restart()
        .expect("restart the node on its port");
    cluster
        .wait_ok(Duration::from_secs(30))
        .expect("cluster heals");
    for (u, sess) in &users {
        let got = eventually(Duration::from_secs(15), || s.get_user(&u.id)).await;
        assert_eq!(&got, u);
        let rec = s.get_session(&sess.id).await.unwrap();
        assert_eq!(rec.checkpoint_seq, 1);
        assert_eq!(s.get_timeline(&sess.id).await.unwrap().len(), 3);
    }
}
