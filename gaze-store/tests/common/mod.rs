//! The conformance suite: every case runs against MemoryStore, a single redis-server and a
//! 3-node Redis Cluster (see `conformance.rs`). Cases use unique usernames so they can share
//! one store, and only make claims about their own records in the global lists.
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use gaze_activity::{Activity, Attention, SessionReport, TimelineSegment};
use gaze_store::testing::unique_username;
use gaze_store::*;

pub type S = Arc<dyn Store>;

pub const PASSWORD: &str = "correct horse battery";

pub async fn new_user(s: &S, prefix: &str) -> User {
    s.create_user(NewUser {
        username: unique_username(prefix),
        password: PASSWORD.into(),
        email: None,
    })
    .await
    .expect("create user")
}

pub async fn new_session(s: &S, owner: &str, started_at_ms: i64) -> SessionRecord {
    s.create_session(NewSession {
        owner: owner.to_owned(),
        started_at_ms,
        source: "webcam".into(),
    })
    .await
    .expect("create session")
}

pub fn seg(i: usize) -> TimelineSegment {
    TimelineSegment {
        start_ms: i as f64 * 100.0,
        end_ms: i as f64 * 100.0 + 100.0,
        activity: if i % 2 == 0 {
            Activity::Reading
        } else {
            Activity::Watching
        },
        attention: Attention::Focused,
    }
}

pub fn report(sid: &str, focus: f64) -> SessionReport {
    SessionReport {
        session_id: sid.to_owned(),
        focus_time: focus,
        ..SessionReport::default()
    }
}

/// A checkpoint without a predecessor check (`prev_seq` 0), appending `segs`.
pub fn checkpoint(sid: &str, seq: u64, segs: std::ops::Range<usize>) -> Checkpoint {
    Checkpoint {
        seq,
        prev_seq: 0,
        replace_timeline: false,
        at_ms: 1_000 * seq as i64,
        report: report(sid, seq as f64),
        segments: segs.map(seg).collect(),
        state: serde_json::json!({ "seq": seq, "acc": [1, 2, 3] }),
        lease_token: 0,
    }
}

fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::Invalid(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::NotFound(_)))
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

// ---- cases -----------------------------------------------------------------------------

pub async fn users_basic(s: &S) {
    let name = unique_username("Basic");
    let email = format!("{name}@Example.org");
    let u = s
        .create_user(NewUser {
            username: name.clone(),
            password: PASSWORD.into(),
            email: Some(email.clone()),
        })
        .await
        .unwrap();
    assert_eq!(u.username, name);
    assert_eq!(u.email.as_deref(), Some(email.as_str()));
    assert_eq!(s.get_user(&u.id).await.unwrap(), u);
    assert_eq!(
        s.get_user_by_username(&name.to_uppercase()).await.unwrap(),
        u
    );
    // unique username, case-insensitively; unique email, case-insensitively
    let dup = s
        .create_user(NewUser {
            username: name.to_uppercase(),
            password: PASSWORD.into(),
            email: None,
        })
        .await;
    assert!(is_conflict(dup), "duplicate username must conflict");
    let dup_mail = s
        .create_user(NewUser {
            username: unique_username("mail"),
            password: PASSWORD.into(),
            email: Some(email.to_uppercase()),
        })
        .await;
    assert!(is_conflict(dup_mail), "duplicate email must conflict");
    // passwords
    assert_eq!(s.verify_password(&name, PASSWORD).await.unwrap(), u);
    assert_eq!(
        s.verify_password(&name, "wrong password!").await,
        Err(StoreError::Unauthorized)
    );
    assert_eq!(
        s.verify_password(&unique_username("nobody"), PASSWORD)
            .await,
        Err(StoreError::Unauthorized)
    );
    // not found
    assert!(is_not_found(s.get_user("0000000000000000").await));
    assert!(is_not_found(s.get_user("../../etc").await));
    assert!(is_not_found(
        s.get_user_by_username(&unique_username("ghost")).await
    ));
}

pub async fn input_limits(s: &S) {
    for bad in ["ab", "_x_y", "has space", "ünï", "a{b}c", &"x".repeat(33)] {
        let r = s
            .create_user(NewUser {
                username: bad.into(),
                password: PASSWORD.into(),
                email: None,
            })
            .await;
        assert!(is_invalid(r), "username {bad:?} must be rejected");
    }
    let short = s
        .create_user(NewUser {
            username: unique_username("short"),
            password: "short".into(),
            email: None,
        })
        .await;
    assert!(is_invalid(short));
    let bad_mail = s
        .create_user(NewUser {
            username: unique_username("mail"),
            password: PASSWORD.into(),
            email: Some("not an email".into()),
        })
        .await;
    assert!(is_invalid(bad_mail));
    let u = new_user(s, "limits").await;
    let long_source = s
        .create_session(NewSession {
            owner: u.id.clone(),
            started_at_ms: 1,
            source: "x".repeat(MAX_SOURCE_LEN + 1),
        })
        .await;
    assert!(is_invalid(long_source));
    let neg = s
        .create_session(NewSession {
            owner: u.id.clone(),
            started_at_ms: -5,
            source: String::new(),
        })
        .await;
    assert!(is_invalid(neg));
    let sess = new_session(s, &u.id, 10).await;
    assert!(is_invalid(
        s.checkpoint(&sess.id, checkpoint(&sess.id, 0, 0..1)).await
    ));
    let mut big = checkpoint(&sess.id, 1, 0..1);
    big.state = serde_json::Value::String("x".repeat(MAX_SESSION_BLOB_BYTES + 1));
    assert!(is_invalid(s.checkpoint(&sess.id, big).await));
    let many = checkpoint(&sess.id, 1, 0..MAX_SEGMENTS_PER_CHECKPOINT + 1);
    assert!(is_invalid(s.checkpoint(&sess.id, many).await));
    // NaN/infinity cannot be stored (JSON has no such numbers; the record would not read back)
    let mut nan = checkpoint(&sess.id, 1, 0..1);
    nan.report.blink_rate_per_min = f64::NAN;
    assert!(is_invalid(s.checkpoint(&sess.id, nan).await));
    let mut inf = checkpoint(&sess.id, 1, 0..1);
    inf.segments[0].end_ms = f64::INFINITY;
    assert!(is_invalid(s.checkpoint(&sess.id, inf).await));
    let mut nan_end = report(&sess.id, 1.0);
    nan_end.duration = f64::NAN;
    assert!(is_invalid(s.end_session(&sess.id, nan_end).await));
    for limit in [MAX_PAGE_SIZE + 1, 10_000] {
        assert!(is_invalid(s.list_sessions(PageRequest::first(limit)).await));
        assert!(is_invalid(
            s.list_user_sessions(&u.id, PageRequest::first(limit)).await
        ));
    }
    assert!(is_invalid(
        s.list_sessions(PageRequest::after(5, "garbage")).await
    ));
    assert!(is_invalid(
        s.issue_token(&u.id, Duration::from_secs(91 * 24 * 3600))
            .await
    ));
    assert!(is_invalid(s.issue_token(&u.id, Duration::ZERO).await));
    // nothing was stored by the rejected calls
    let rec = s.get_session(&sess.id).await.unwrap();
    assert_eq!(rec.checkpoint_seq, 0);
    assert_eq!(rec.status, SessionStatus::Live);
    assert!(s.get_timeline(&sess.id).await.unwrap().is_empty());
}

pub async fn concurrent_registration(s: &S) {
    let name = unique_username("race");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            let username = if i % 2 == 0 {
                name.clone()
            } else {
                name.to_uppercase()
            };
            tokio::spawn(async move {
                s.create_user(NewUser {
                    username,
                    password: PASSWORD.into(),
                    email: None,
                })
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(u) => winners.push(u),
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration must succeed");
    assert_eq!(conflicts, 49);
    assert_eq!(s.get_user_by_username(&name).await.unwrap(), winners[0]);
}

pub async fn calibration(s: &S) {
    let u = new_user(s, "calib").await;
    assert_eq!(s.get_calibration_json(&u.id).await.unwrap(), None);
    assert_eq!(s.get_calibration(&u.id).await.unwrap(), None);
    // Calibration is opaque serde to the store: any JSON round-trips.
    let c = serde_json::json!({ "screen_width": 1920.0, "model": { "coef": [0.5, -1.25] } });
    s.set_calibration_json(&u.id, c.clone()).await.unwrap();
    assert_eq!(s.get_calibration_json(&u.id).await.unwrap(), Some(c));
    let c2 = serde_json::json!({ "v": 2 });
    s.set_calibration_json(&u.id, c2.clone()).await.unwrap();
    assert_eq!(s.get_calibration_json(&u.id).await.unwrap(), Some(c2));
    assert!(is_not_found(
        s.set_calibration_json("0000000000000000", serde_json::json!(1))
            .await
    ));
    assert!(is_not_found(
        s.get_calibration_json("0000000000000000").await
    ));
    assert!(is_not_found(s.get_calibration("0000000000000000").await));
    let huge = serde_json::Value::String("x".repeat(MAX_CALIBRATION_BYTES + 1));
    assert!(is_invalid(s.set_calibration_json(&u.id, huge).await));
}

pub async fn session_lifecycle(s: &S) {
    let u = new_user(s, "life").await;
    assert!(is_not_found(
        s.create_session(NewSession {
            owner: "0000000000000000".into(),
            started_at_ms: 1,
            source: "webcam".into(),
        })
        .await
    ));
    let sess = new_session(s, &u.id, 1_700_000_000_000).await;
    assert_eq!(sess.status, SessionStatus::Live);
    assert_eq!(sess.owner, u.id);
    assert_eq!(s.get_session(&sess.id).await.unwrap(), sess);
    assert!(s.get_timeline(&sess.id).await.unwrap().is_empty());

    let cp1 = checkpoint(&sess.id, 1, 0..3);
    assert_eq!(
        s.checkpoint(&sess.id, cp1.clone()).await.unwrap(),
        CheckpointOutcome::Applied
    );
    // a retried checkpoint is a no-op
    assert_eq!(
        s.checkpoint(&sess.id, cp1).await.unwrap(),
        CheckpointOutcome::Duplicate
    );
    let cp2 = checkpoint(&sess.id, 2, 3..5);
    assert_eq!(
        s.checkpoint(&sess.id, cp2.clone()).await.unwrap(),
        CheckpointOutcome::Applied
    );
    // an older seq after a newer one is also ignored
    assert_eq!(
        s.checkpoint(&sess.id, checkpoint(&sess.id, 1, 10..11))
            .await
            .unwrap(),
        CheckpointOutcome::Duplicate
    );
    let got = s.get_session(&sess.id).await.unwrap();
    assert_eq!(got.checkpoint_seq, 2);
    assert_eq!(got.last_checkpoint_ms, Some(cp2.at_ms));
    assert_eq!(got.report, Some(cp2.report.clone()));
    assert_eq!(got.state, Some(cp2.state.clone()));
    assert_eq!(
        s.get_timeline(&sess.id).await.unwrap(),
        (0..5).map(seg).collect::<Vec<_>>()
    );
    // live list has it (resume after restart starts from here)
    assert!(
        all_pages(s, Which::Live)
            .await
            .iter()
            .any(|r| r.id == sess.id)
    );

    let mut fin = report(&sess.id, 42.0);
    fin.timeline = (0..5).map(seg).collect();
    let ended = s.end_session(&sess.id, fin.clone()).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Ended);
    assert_eq!(ended.report, Some(fin));
    assert_eq!(ended.state, None);
    assert!(ended.ended_at_ms.is_some());
    assert_eq!(s.get_session(&sess.id).await.unwrap(), ended);
    assert!(is_conflict(
        s.checkpoint(&sess.id, checkpoint(&sess.id, 3, 5..6)).await
    ));
    assert!(is_conflict(
        s.end_session(&sess.id, report(&sess.id, 1.0)).await
    ));
    assert!(
        !all_pages(s, Which::Live)
            .await
            .iter()
            .any(|r| r.id == sess.id)
    );
    assert!(
        all_pages(s, Which::All)
            .await
            .iter()
            .any(|r| r.id == sess.id)
    );
    // timeline kept after the end
    assert_eq!(s.get_timeline(&sess.id).await.unwrap().len(), 5);
    // unknown / malformed ids
    let ghost = format!("{}-0000000000000000", u.id);
    assert!(is_not_found(s.get_session(&ghost).await));
    assert!(is_not_found(s.get_timeline(&ghost).await));
    assert!(is_not_found(
        s.checkpoint(&ghost, checkpoint(&ghost, 1, 0..1)).await
    ));
    assert!(is_not_found(
        s.end_session(&ghost, report(&ghost, 0.0)).await
    ));
    assert!(is_not_found(s.get_session("nonsense").await));
    assert!(is_not_found(s.get_session("{u:x}:user").await));
}

/// Assumes the store's timeline cap is 1000 (`testing::test_config`).
pub async fn timeline_cap(s: &S) {
    let u = new_user(s, "cap").await;
    let sess = new_session(s, &u.id, 5).await;
    s.checkpoint(&sess.id, checkpoint(&sess.id, 1, 0..600))
        .await
        .unwrap();
    s.checkpoint(&sess.id, checkpoint(&sess.id, 2, 600..1200))
        .await
        .unwrap();
    let tl = s.get_timeline(&sess.id).await.unwrap();
    assert_eq!(tl.len(), 1000);
    assert_eq!(tl[0], seg(200));
    assert_eq!(tl[999], seg(1199));
}

/// A checkpoint following `seq - 1` (gap-checked), appending `segs`.
pub fn next_checkpoint(sid: &str, seq: u64, segs: std::ops::Range<usize>) -> Checkpoint {
    Checkpoint {
        prev_seq: seq - 1,
        ..checkpoint(sid, seq, segs)
    }
}

/// A resync checkpoint: `segs` is the whole timeline and replaces the stored one.
pub fn resync_checkpoint(sid: &str, seq: u64, segs: std::ops::Range<usize>) -> Checkpoint {
    Checkpoint {
        replace_timeline: true,
        ..checkpoint(sid, seq, segs)
    }
}

/// `prev_seq` ahead of the stored seq → `Gap`, nothing applied; a resync replaces the
/// timeline (idempotent, capped); normal checkpoints continue after it.
/// Assumes the store's timeline cap is 1000 (`testing::test_config`).
pub async fn checkpoint_gap(s: &S) {
    let u = new_user(s, "gap").await;
    let sess = new_session(s, &u.id, 6).await;
    let id = sess.id.as_str();
    let tl = |r: std::ops::Range<usize>| r.map(seg).collect::<Vec<_>>();
    assert_eq!(
        s.checkpoint(id, next_checkpoint(id, 1, 0..3))
            .await
            .unwrap(),
        CheckpointOutcome::Applied
    );
    // seq 2 was "lost": seq 3 (following 2) must not be appended after seq 1's segments.
    assert_eq!(
        s.checkpoint(id, next_checkpoint(id, 3, 5..7))
            .await
            .unwrap(),
        CheckpointOutcome::Gap { stored_seq: 1 }
    );
    let rec = s.get_session(id).await.unwrap();
    assert_eq!(rec.checkpoint_seq, 1);
    assert_eq!(rec.report, Some(report(id, 1.0)));
    assert_eq!(s.get_timeline(id).await.unwrap(), tl(0..3));
    // A gap check never turns a duplicate into a gap.
    assert_eq!(
        s.checkpoint(id, next_checkpoint(id, 1, 0..3))
            .await
            .unwrap(),
        CheckpointOutcome::Duplicate
    );
    // Resync with the whole timeline, at the gapped seq.
    assert_eq!(
        s.checkpoint(id, resync_checkpoint(id, 3, 0..7))
            .await
            .unwrap(),
        CheckpointOutcome::Applied
    );
    assert_eq!(s.get_timeline(id).await.unwrap(), tl(0..7));
    let rec = s.get_session(id).await.unwrap();
    assert_eq!(rec.checkpoint_seq, 3);
    assert_eq!(rec.state, Some(checkpoint(id, 3, 0..0).state));
    // A retried resync is a duplicate: nothing doubled.
    assert_eq!(
        s.checkpoint(id, resync_checkpoint(id, 3, 0..7))
            .await
            .unwrap(),
        CheckpointOutcome::Duplicate
    );
    assert_eq!(
        s.checkpoint(id, next_checkpoint(id, 4, 7..9))
            .await
            .unwrap(),
        CheckpointOutcome::Applied
    );
    assert_eq!(s.get_timeline(id).await.unwrap(), tl(0..9));
    // A resync respects the cap (oldest dropped) and may empty the timeline.
    s.checkpoint(id, resync_checkpoint(id, 5, 0..1500))
        .await
        .unwrap();
    assert_eq!(s.get_timeline(id).await.unwrap(), tl(500..1500));
    s.checkpoint(id, resync_checkpoint(id, 6, 0..0))
        .await
        .unwrap();
    assert_eq!(s.get_timeline(id).await.unwrap(), vec![]);
    // prev_seq 0 = no check (checkpoints written before the field existed).
    assert_eq!(
        s.checkpoint(id, checkpoint(id, 9, 0..1)).await.unwrap(),
        CheckpointOutcome::Applied
    );
    // Ended sessions still answer Conflict, gap or not.
    s.end_session(id, report(id, 9.0)).await.unwrap();
    assert!(is_conflict(
        s.checkpoint(id, next_checkpoint(id, 20, 0..1)).await
    ));
    assert!(is_conflict(
        s.checkpoint(id, resync_checkpoint(id, 20, 0..1)).await
    ));
}

/// Rolls a session back as a Redis crash losing the last acknowledged writes would: the
/// session's `seq` back to the given one and its timeline cut to the given length.
pub type LoseWrites<'a> = &'a (dyn Fn(&SessionRecord, u64, usize) + Sync);

/// A crash loses checkpoint 2 after it was acknowledged: the writer's seq 3 gets `Gap`, its
/// resync restores the whole timeline with no segment missing or doubled.
pub async fn checkpoint_gap_after_lost_write(s: &S, lose: LoseWrites<'_>) {
    let u = new_user(s, "lost").await;
    let sess = new_session(s, &u.id, 7).await;
    let id = sess.id.as_str();
    s.checkpoint(id, next_checkpoint(id, 1, 0..3))
        .await
        .unwrap();
    s.checkpoint(id, next_checkpoint(id, 2, 3..6))
        .await
        .unwrap();
    lose(&sess, 1, 3);
    let rec = s.get_session(id).await.unwrap();
    assert_eq!(rec.checkpoint_seq, 1, "the simulated loss took effect");
    assert_eq!(s.get_timeline(id).await.unwrap().len(), 3);
    assert_eq!(
        s.checkpoint(id, next_checkpoint(id, 3, 6..8))
            .await
            .unwrap(),
        CheckpointOutcome::Gap { stored_seq: 1 }
    );
    assert_eq!(
        s.checkpoint(id, resync_checkpoint(id, 3, 0..8))
            .await
            .unwrap(),
        CheckpointOutcome::Applied
    );
    s.checkpoint(id, next_checkpoint(id, 4, 8..9))
        .await
        .unwrap();
    let tl = s.get_timeline(id).await.unwrap();
    assert_eq!(tl, (0..9).map(seg).collect::<Vec<_>>());
}

pub enum Which {
    All,
    Live,
    User(String),
}

pub async fn page(s: &S, which: &Which, req: PageRequest) -> Page<SessionRecord> {
    match which {
        Which::All => s.list_sessions(req).await,
        Which::Live => s.list_live_sessions(req).await,
        Which::User(u) => s.list_user_sessions(u, req).await,
    }
    .expect("list")
}

pub async fn all_pages(s: &S, which: Which) -> Vec<SessionRecord> {
    let mut out = Vec::new();
    let mut req = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let p = page(s, &which, req.clone()).await;
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => req = PageRequest::after(MAX_PAGE_SIZE, c),
            None => return out,
        }
    }
}

fn assert_newest_first(items: &[SessionRecord]) {
    for w in items.windows(2) {
        assert!(
            (w[0].started_at_ms, &w[0].id) > (w[1].started_at_ms, &w[1].id),
            "not newest first: {:?} then {:?}",
            (w[0].started_at_ms, &w[0].id),
            (w[1].started_at_ms, &w[1].id)
        );
    }
}

pub async fn pagination(s: &S) {
    let u = new_user(s, "pages").await;
    let mut created = Vec::new();
    for i in 0..25 {
        // ties on purpose: five sessions share each start time
        created.push(new_session(s, &u.id, 1_000 + (i / 5) as i64).await);
    }
    let mut seen = Vec::new();
    let mut req = PageRequest::first(7);
    let mut pages = 0;
    loop {
        let p = page(s, &Which::User(u.id.clone()), req).await;
        assert!(p.items.len() <= 7);
        pages += 1;
        seen.extend(p.items);
        match p.next_cursor {
            Some(c) => req = PageRequest::after(7, c),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 25);
    assert_newest_first(&seen);
    let ids: HashSet<_> = seen.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, created.iter().map(|r| r.id.clone()).collect());
    // limit 0 = default page size
    let d = page(s, &Which::User(u.id.clone()), PageRequest::first(0)).await;
    assert_eq!(d.items.len(), DEFAULT_PAGE_SIZE as usize);
    // the global list has them too, in order
    let all: Vec<_> = all_pages(s, Which::All).await;
    assert_newest_first(&all);
    let mine: Vec<_> = all.into_iter().filter(|r| r.owner == u.id).collect();
    assert_eq!(mine, seen);
    // unknown user
    assert!(is_not_found(
        s.list_user_sessions("0000000000000000", PageRequest::first(5))
            .await
    ));
}

pub async fn pagination_under_concurrent_inserts(s: &S) {
    let u = new_user(s, "stable").await;
    let other = new_user(s, "writer").await;
    let mut before = Vec::new();
    for i in 0..30 {
        before.push(new_session(s, &u.id, 10_000 + i).await.id);
    }
    // A writer keeps inserting sessions (newer and older ones, for this user and another)
    // while we page through.
    let writer = {
        let (s, uid, oid) = (s.clone(), u.id.clone(), other.id.clone());
        tokio::spawn(async move {
            for i in 0..40i64 {
                let owner = if i % 2 == 0 { &uid } else { &oid };
                let at = if i % 3 == 0 { 5_000 + i } else { 20_000 + i };
                new_session(&s, owner, at).await;
                tokio::task::yield_now().await;
            }
        })
    };
    for which in [Which::User(u.id.clone()), Which::All] {
        let mut seen = Vec::new();
        let mut req = PageRequest::first(4);
        loop {
            let p = page(s, &which, req).await;
            seen.extend(p.items);
            tokio::task::yield_now().await;
            match p.next_cursor {
                Some(c) => req = PageRequest::after(4, c),
                None => break,
            }
        }
        assert_newest_first(&seen);
        let ids: Vec<_> = seen.iter().map(|r| r.id.clone()).collect();
        let unique: HashSet<_> = ids.iter().cloned().collect();
        assert_eq!(unique.len(), ids.len(), "a session appeared twice");
        for b in &before {
            assert!(unique.contains(b), "pre-existing session {b} was skipped");
        }
    }
    writer.await.unwrap();
}

pub async fn tokens(s: &S) {
    let u = new_user(s, "tok").await;
    let t = s
        .issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();
    assert!(t.token.starts_with("gzt_") && t.token.len() == 68);
    assert_eq!(t.user_id, u.id);
    assert_eq!(s.resolve_token(&t.token).await.unwrap(), u);
    let t2 = s
        .issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();
    assert_ne!(t.token, t2.token);
    s.revoke_token(&t.token).await.unwrap();
    assert_eq!(
        s.resolve_token(&t.token).await,
        Err(StoreError::Unauthorized)
    );
    assert_eq!(
        s.resolve_token(&t2.token).await.unwrap(),
        u,
        "other token unaffected"
    );
    s.revoke_token(&t.token).await.unwrap(); // idempotent
    for bad in ["", "gzt_", "Bearer x", &format!("gzt_{}", "0".repeat(64))] {
        assert_eq!(s.resolve_token(bad).await, Err(StoreError::Unauthorized));
    }
    // a forged token with a flipped character is rejected
    let mut forged = t2.token.clone().into_bytes();
    forged[10] = if forged[10] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        s.resolve_token(&forged).await,
        Err(StoreError::Unauthorized)
    );
    assert!(is_not_found(
        s.issue_token("0000000000000000", Duration::from_secs(5))
            .await
    ));
}

pub async fn token_expiry(s: &S) {
    let u = new_user(s, "exp").await;
    let short = s
        .issue_token(&u.id, Duration::from_millis(400))
        .await
        .unwrap();
    let long = s.issue_token(&u.id, Duration::from_secs(60)).await.unwrap();
    assert!(short.expires_at_ms < long.expires_at_ms);
    assert_eq!(s.resolve_token(&short.token).await.unwrap(), u);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        s.resolve_token(&short.token).await,
        Err(StoreError::Unauthorized)
    );
    assert_eq!(s.resolve_token(&long.token).await.unwrap(), u);
}

pub async fn delete_user(s: &S) {
    let name = unique_username("del");
    let email = format!("{name}@example.org");
    let u = s
        .create_user(NewUser {
            username: name.clone(),
            password: PASSWORD.into(),
            email: Some(email.clone()),
        })
        .await
        .unwrap();
    let keep = new_user(s, "keep").await;
    let kept = new_session(s, &keep.id, 7).await;
    s.set_calibration_json(&u.id, serde_json::json!({ "k": 1 }))
        .await
        .unwrap();
    let live = new_session(s, &u.id, 1).await;
    s.checkpoint(&live.id, checkpoint(&live.id, 1, 0..4))
        .await
        .unwrap();
    let done = new_session(s, &u.id, 2).await;
    s.end_session(&done.id, report(&done.id, 3.0))
        .await
        .unwrap();
    let tok = s
        .issue_token(&u.id, Duration::from_secs(600))
        .await
        .unwrap();
    s.set_trace(&done.id, &trace(1_000.0, 50)).await.unwrap();
    s.add_label(&u.id, label(&done.id, 0.0, 1.0, Activity::Reading))
        .await
        .unwrap();
    s.set_adaptation_json(&u.id, Some(serde_json::json!({ "class_bias": [1, 0, -1] })))
        .await
        .unwrap();
    s.set_trace(&kept.id, &trace(1_000.0, 10)).await.unwrap();
    let kept_label = s
        .add_label(&keep.id, label(&kept.id, 0.0, 1.0, Activity::Watching))
        .await
        .unwrap();

    s.delete_user(&u.id).await.unwrap();

    assert!(is_not_found(s.get_trace(&done.id).await));
    assert!(is_not_found(s.list_labels(&u.id).await));
    assert!(is_not_found(s.get_adaptation_json(&u.id).await));
    assert_eq!(s.list_labels(&keep.id).await.unwrap(), vec![kept_label]);
    assert_eq!(
        s.get_trace(&kept.id)
            .await
            .unwrap()
            .map(|t| t.samples.len()),
        Some(10)
    );

    assert!(is_not_found(s.get_user(&u.id).await));
    assert!(is_not_found(s.get_user_by_username(&name).await));
    assert!(is_not_found(s.get_session(&live.id).await));
    assert!(is_not_found(s.get_session(&done.id).await));
    assert!(is_not_found(s.get_timeline(&live.id).await));
    assert!(is_not_found(s.get_calibration(&u.id).await));
    assert!(is_not_found(
        s.list_user_sessions(&u.id, PageRequest::first(5)).await
    ));
    assert_eq!(
        s.resolve_token(&tok.token).await,
        Err(StoreError::Unauthorized)
    );
    assert_eq!(
        s.verify_password(&name, PASSWORD).await,
        Err(StoreError::Unauthorized)
    );
    assert!(
        !all_pages(s, Which::All)
            .await
            .iter()
            .any(|r| r.owner == u.id)
    );
    assert!(
        !all_pages(s, Which::Live)
            .await
            .iter()
            .any(|r| r.owner == u.id)
    );
    assert!(is_not_found(s.delete_user(&u.id).await));
    assert!(is_not_found(
        s.create_session(NewSession {
            owner: u.id.clone(),
            started_at_ms: 3,
            source: String::new(),
        })
        .await
    ));
    // others untouched
    assert_eq!(s.get_session(&kept.id).await.unwrap(), kept);
    // username and email are free again
    let again = s
        .create_user(NewUser {
            username: name.to_uppercase(),
            password: PASSWORD.into(),
            email: Some(email),
        })
        .await
        .unwrap();
    assert_ne!(again.id, u.id);
    assert_eq!(s.get_user_by_username(&name).await.unwrap(), again);
}

/// A trace of `n` samples 33 ms apart from `t0`, every 5th without a gaze point.
pub fn trace(t0: f64, n: usize) -> SessionTrace {
    let geometry = gaze_activity::ScreenGeometry::from_px(1440.0, 900.0);
    let samples = (0..n)
        .map(|i| {
            let t = t0 + 33.0 * i as f64;
            let mut smp = if i % 5 == 4 {
                gaze_activity::GazeSample::invalid(t, Default::default())
            } else {
                gaze_activity::GazeSample::new(t, 100.0 + i as f64, 450.5)
            };
            smp.evidence.face_present = i % 7 != 0;
            smp
        })
        .collect();
    SessionTrace { geometry, samples }
}

pub fn label(sid: &str, start_s: f64, end_s: f64, activity: Activity) -> NewLabel {
    NewLabel {
        session_id: sid.to_owned(),
        start_s,
        end_s,
        activity,
    }
}

/// Session traces, labels and the adaptation blob.
pub async fn labels(s: &S) {
    let u = new_user(s, "lab").await;
    let other = new_user(s, "lab2").await;
    let sess = new_session(s, &u.id, 11).await;
    let theirs = new_session(s, &other.id, 12).await;

    // traces: none yet, round trip (binary), replace, limits, unknown session
    assert_eq!(s.get_trace(&sess.id).await.unwrap(), None);
    let t = trace(1_700_000_000_000.0, 3_000);
    s.set_trace(&sess.id, &t).await.unwrap();
    assert_eq!(s.get_trace(&sess.id).await.unwrap(), Some(t));
    let t2 = trace(5.0, 7);
    s.set_trace(&sess.id, &t2).await.unwrap();
    assert_eq!(s.get_trace(&sess.id).await.unwrap(), Some(t2.clone()));
    let too_long = trace(0.0, MAX_TRACE_SAMPLES + 1);
    assert!(is_invalid(s.set_trace(&sess.id, &too_long).await));
    let mut unordered = trace(0.0, 4);
    unordered.samples.swap(0, 3);
    assert!(is_invalid(s.set_trace(&sess.id, &unordered).await));
    assert_eq!(s.get_trace(&sess.id).await.unwrap(), Some(t2));
    let ghost = format!("{}-0000000000000000", u.id);
    assert!(is_not_found(s.set_trace(&ghost, &trace(0.0, 2)).await));
    assert!(is_not_found(s.get_trace(&ghost).await));
    assert!(is_not_found(s.get_trace("junk").await));
    // A full-size trace (40 min at 30 Hz) fits.
    let full = trace(0.0, MAX_TRACE_SAMPLES);
    s.set_trace(&theirs.id, &full).await.unwrap();
    assert_eq!(
        s.get_trace(&theirs.id)
            .await
            .unwrap()
            .map(|t| t.samples.len()),
        Some(MAX_TRACE_SAMPLES)
    );

    // labels
    assert!(s.list_labels(&u.id).await.unwrap().is_empty());
    let a = s
        .add_label(&u.id, label(&sess.id, 1.5, 20.0, Activity::Reading))
        .await
        .unwrap();
    assert_eq!(a.id.len(), 16);
    assert_eq!(
        (
            a.user_id.as_str(),
            a.session_id.as_str(),
            a.start_s,
            a.end_s,
            a.activity
        ),
        (
            u.id.as_str(),
            sess.id.as_str(),
            1.5,
            20.0,
            Activity::Reading
        )
    );
    assert!(a.created_at_ms > 1_600_000_000_000);
    let b = s
        .add_label(&u.id, label(&sess.id, 30.0, 45.25, Activity::Watching))
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    let listed = s.list_labels(&u.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a) && listed.contains(&b));
    assert!(listed[0].created_at_ms <= listed[1].created_at_ms);
    for bad in [
        label(&sess.id, 5.0, 5.0, Activity::Reading),
        label(&sess.id, -1.0, 5.0, Activity::Reading),
        label(&sess.id, 6.0, 5.0, Activity::Reading),
        label(&sess.id, 0.0, f64::NAN, Activity::Reading),
        label(&sess.id, 0.0, f64::INFINITY, Activity::Reading),
        label(&sess.id, 0.0, MAX_LABEL_SECONDS + 1.0, Activity::Reading),
        label(&sess.id, 0.0, 5.0, Activity::Other),
        label(&sess.id, 0.0, 5.0, Activity::None),
    ] {
        assert!(is_invalid(s.add_label(&u.id, bad.clone()).await), "{bad:?}");
    }
    // someone else's session, a missing session, a missing user
    assert!(is_not_found(
        s.add_label(&u.id, label(&theirs.id, 0.0, 5.0, Activity::Reading))
            .await
    ));
    assert!(is_not_found(
        s.add_label(&u.id, label(&ghost, 0.0, 5.0, Activity::Reading))
            .await
    ));
    assert!(is_not_found(
        s.add_label(
            "0000000000000000",
            label(&sess.id, 0.0, 5.0, Activity::Reading)
        )
        .await
    ));
    assert!(is_not_found(s.list_labels("0000000000000000").await));
    assert_eq!(s.list_labels(&u.id).await.unwrap().len(), 2);
    assert!(s.list_labels(&other.id).await.unwrap().is_empty());

    // delete: only the owner's, once
    assert!(is_not_found(s.delete_label(&other.id, &a.id).await));
    assert!(is_not_found(s.delete_label(&u.id, "not-a-label-id").await));
    assert_eq!(s.delete_label(&u.id, &a.id).await.unwrap(), a);
    assert!(is_not_found(s.delete_label(&u.id, &a.id).await));
    assert_eq!(s.list_labels(&u.id).await.unwrap(), vec![b]);

    // adaptation: set, replace, clear, limits
    assert_eq!(s.get_adaptation_json(&u.id).await.unwrap(), None);
    let ad = serde_json::json!({ "class_bias": [0.5, -0.25, -0.25], "labels": 1 });
    s.set_adaptation_json(&u.id, Some(ad.clone()))
        .await
        .unwrap();
    assert_eq!(s.get_adaptation_json(&u.id).await.unwrap(), Some(ad));
    assert_eq!(s.get_adaptation_json(&other.id).await.unwrap(), None);
    let ad2 = serde_json::json!({ "class_bias": [0, 0, 0] });
    s.set_adaptation_json(&u.id, Some(ad2.clone()))
        .await
        .unwrap();
    assert_eq!(s.get_adaptation_json(&u.id).await.unwrap(), Some(ad2));
    let huge = serde_json::Value::String("x".repeat(MAX_ADAPTATION_BYTES + 1));
    assert!(is_invalid(s.set_adaptation_json(&u.id, Some(huge)).await));
    s.set_adaptation_json(&u.id, None).await.unwrap();
    assert_eq!(s.get_adaptation_json(&u.id).await.unwrap(), None);
    assert!(is_not_found(
        s.set_adaptation_json("0000000000000000", None).await
    ));
    assert!(is_not_found(
        s.get_adaptation_json("0000000000000000").await
    ));

    // an ended session keeps its trace and labels
    s.end_session(&sess.id, report(&sess.id, 1.0))
        .await
        .unwrap();
    assert!(s.get_trace(&sess.id).await.unwrap().is_some());
    assert_eq!(s.list_labels(&u.id).await.unwrap().len(), 1);
}

/// The per-user label cap.
pub async fn label_cap(s: &S) {
    let u = new_user(s, "labcap").await;
    let sess = new_session(s, &u.id, 13).await;
    let adds = (0..MAX_LABELS_PER_USER).map(|i| {
        s.add_label(
            &u.id,
            label(&sess.id, i as f64, i as f64 + 1.0, Activity::Browsing),
        )
    });
    for r in futures_util::future::join_all(adds).await {
        r.unwrap();
    }
    assert!(is_invalid(
        s.add_label(&u.id, label(&sess.id, 0.0, 1.0, Activity::Reading))
            .await
    ));
    let all = s.list_labels(&u.id).await.unwrap();
    assert_eq!(all.len(), MAX_LABELS_PER_USER);
    s.delete_label(&u.id, &all[0].id).await.unwrap();
    s.add_label(&u.id, label(&sess.id, 0.0, 1.0, Activity::Reading))
        .await
        .unwrap();
}

/// `s2` is a second handle on the same backend (another server instance); for the memory
/// backend it is the same store.
pub async fn live_fanout(s: &S, s2: &S) {
    let u = new_user(s, "live").await;
    let sess = new_session(s, &u.id, 9).await;
    let mut a = s.subscribe_live(&sess.id).await.unwrap();
    let mut b = s2.subscribe_live(&sess.id).await.unwrap();
    let other = new_session(s, &u.id, 10).await;
    let mut c = s2.subscribe_live(&other.id).await.unwrap();
    let n = s.publish_live(&sess.id, r#"{"frame":1}"#).await.unwrap();
    // On a cluster PUBLISH counts only the receiving node's subscribers.
    if s.backend() != Backend::RedisCluster {
        assert!(n >= 2, "published to {n} subscribers");
    }
    s2.publish_live(&sess.id, r#"{"frame":2}"#).await.unwrap();
    for feed in [&mut a, &mut b] {
        for want in [r#"{"frame":1}"#, r#"{"frame":2}"#] {
            let got = tokio::time::timeout(Duration::from_secs(5), feed.recv())
                .await
                .expect("live message in time");
            assert_eq!(got.as_deref(), Some(want));
        }
    }
    // other sessions' feeds see nothing
    assert!(
        tokio::time::timeout(Duration::from_millis(200), c.recv())
            .await
            .is_err()
    );
    drop(a);
    drop(b);
    drop(c);
    assert!(is_not_found(s.subscribe_live("bogus").await));
}

fn acquired(r: Result<LeaseAcquire>) -> (u64, u64) {
    match r {
        Ok(LeaseAcquire::Acquired {
            token,
            checkpoint_seq,
        }) => (token, checkpoint_seq),
        other => panic!("expected Acquired, got {other:?}"),
    }
}

fn fenced<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::Fenced(_)))
}

/// Session ownership: leases with fencing tokens. A writer whose token is not the current
/// one changes nothing (checkpoints, ends); leases expire, are renewed (re-created when
/// nobody took over), released, and requested by other holders; one of many concurrent
/// takeovers wins.
pub async fn leases(s: &S) {
    let ttl = Duration::from_secs(5);
    let u = new_user(s, "lease").await;
    let sess = new_session(s, &u.id, 7).await;
    let id = sess.id.as_str();
    // Never leased: token 0 writes are accepted (stores without leases keep working).
    assert_eq!(
        s.checkpoint(id, checkpoint(id, 1, 0..2)).await.unwrap(),
        CheckpointOutcome::Applied
    );
    let (t1, seq) = acquired(s.acquire_lease(id, "inst-a", ttl).await);
    assert_eq!((t1, seq), (1, 1));
    // From now on only the current token writes.
    assert_eq!(
        s.checkpoint(id, checkpoint(id, 2, 2..3)).await.unwrap(),
        CheckpointOutcome::Fenced { current_token: 1 }
    );
    let cp2 = Checkpoint {
        lease_token: t1,
        ..next_checkpoint(id, 2, 2..4)
    };
    assert_eq!(
        s.checkpoint(id, cp2).await.unwrap(),
        CheckpointOutcome::Applied
    );
    // Someone else waits while the lease runs.
    match s.acquire_lease(id, "inst-b", ttl).await.unwrap() {
        LeaseAcquire::Held {
            holder,
            token,
            expires_in_ms,
        } => {
            assert_eq!((holder.as_str(), token), ("inst-a", t1));
            assert!(
                expires_in_ms > 0 && expires_in_ms <= 5000,
                "{expires_in_ms}"
            );
        }
        other => panic!("expected Held, got {other:?}"),
    }
    // Re-acquiring one's own lease is granted with a new token (the old one is fenced).
    let (t2, _) = acquired(s.acquire_lease(id, "inst-a", ttl).await);
    assert!(t2 > t1);
    assert_eq!(
        s.renew_lease(id, "inst-a", t1, ttl).await.unwrap(),
        LeaseRenewal::Fenced { current_token: t2 }
    );
    assert_eq!(
        s.renew_lease(id, "inst-a", t2, ttl).await.unwrap(),
        LeaseRenewal::Renewed { request: None }
    );
    // Requests reach the holder on its next renewal; End is not downgraded.
    assert!(s.request_lease(id, LeaseRequest::Release).await.unwrap());
    assert_eq!(
        s.renew_lease(id, "inst-a", t2, ttl).await.unwrap(),
        LeaseRenewal::Renewed {
            request: Some(LeaseRequest::Release)
        }
    );
    assert!(s.request_lease(id, LeaseRequest::End).await.unwrap());
    assert!(s.request_lease(id, LeaseRequest::Release).await.unwrap());
    assert_eq!(
        s.renew_lease(id, "inst-a", t2, ttl).await.unwrap(),
        LeaseRenewal::Renewed {
            request: Some(LeaseRequest::End)
        }
    );
    // Released: taken at once by another holder, the request cleared.
    assert!(
        !s.release_lease(id, t1).await.unwrap(),
        "stale token releases nothing"
    );
    assert!(s.release_lease(id, t2).await.unwrap());
    assert!(
        !s.request_lease(id, LeaseRequest::Release).await.unwrap(),
        "no holder"
    );
    let (t3, seq) = acquired(s.acquire_lease(id, "inst-b", ttl).await);
    assert!(t3 > t2);
    assert_eq!(seq, 2);
    assert_eq!(
        s.renew_lease(id, "inst-b", t3, ttl).await.unwrap(),
        LeaseRenewal::Renewed { request: None }
    );
    // The old holder is fenced everywhere and changes nothing.
    let stale = Checkpoint {
        lease_token: t2,
        ..next_checkpoint(id, 3, 4..6)
    };
    assert_eq!(
        s.checkpoint(id, stale).await.unwrap(),
        CheckpointOutcome::Fenced { current_token: t3 }
    );
    assert!(fenced(s.end_session_fenced(id, report(id, 9.0), t2).await));
    assert!(fenced(s.end_session(id, report(id, 9.0)).await));
    let rec = s.get_session(id).await.unwrap();
    assert_eq!((rec.status, rec.checkpoint_seq), (SessionStatus::Live, 2));
    assert_eq!(s.get_timeline(id).await.unwrap().len(), 4);
    // Expiry: a lease not renewed in time is taken over.
    assert_eq!(
        s.renew_lease(id, "inst-b", t3, Duration::from_millis(150))
            .await
            .unwrap(),
        LeaseRenewal::Renewed { request: None }
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (t4, _) = acquired(
        s.acquire_lease(id, "inst-c", Duration::from_millis(150))
            .await,
    );
    assert!(t4 > t3);
    assert_eq!(
        s.renew_lease(id, "inst-b", t3, ttl).await.unwrap(),
        LeaseRenewal::Fenced { current_token: t4 }
    );
    // Expired but nobody took over: the holder's renewal re-creates it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        s.renew_lease(id, "inst-c", t4, ttl).await.unwrap(),
        LeaseRenewal::Renewed { request: None }
    );
    assert!(matches!(
        s.acquire_lease(id, "inst-d", ttl).await.unwrap(),
        LeaseAcquire::Held { .. }
    ));
    // Many concurrent takeovers of a released lease: exactly one wins.
    assert!(s.release_lease(id, t4).await.unwrap());
    let tries = (0..20).map(|i| {
        let s = s.clone();
        let id = id.to_owned();
        async move { s.acquire_lease(&id, &format!("racer-{i}"), ttl).await }
    });
    let results = futures_util::future::join_all(tries).await;
    let winners: Vec<u64> = results
        .iter()
        .filter_map(|r| match r {
            Ok(LeaseAcquire::Acquired { token, .. }) => Some(*token),
            Ok(LeaseAcquire::Held { .. }) => None,
            Err(e) => panic!("acquire failed: {e}"),
        })
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let t5 = winners[0];
    assert!(t5 > t4);
    // The current holder ends it; the lease goes with the session.
    let cp3 = Checkpoint {
        lease_token: t5,
        ..next_checkpoint(id, 3, 4..6)
    };
    assert_eq!(
        s.checkpoint(id, cp3).await.unwrap(),
        CheckpointOutcome::Applied
    );
    let ended = s.end_session_fenced(id, report(id, 9.0), t5).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Ended);
    assert!(is_conflict(s.acquire_lease(id, "inst-a", ttl).await));
    assert!(is_conflict(s.renew_lease(id, "inst-a", t5, ttl).await));
    assert!(is_conflict(s.request_lease(id, LeaseRequest::End).await));
    assert_eq!(s.get_timeline(id).await.unwrap().len(), 6);
    // Bad input.
    assert!(is_not_found(s.acquire_lease("bogus", "a", ttl).await));
    let other = new_session(s, &u.id, 8).await;
    assert!(is_invalid(s.acquire_lease(&other.id, "", ttl).await));
    assert!(is_invalid(s.acquire_lease(&other.id, "a|b", ttl).await));
    assert!(is_invalid(
        s.acquire_lease(&other.id, "a", Duration::from_millis(10))
            .await
    ));
}

/// Shared rate-limit buckets: one budget across store instances (server instances), a
/// refused take takes nothing and says how long to wait, give-back, refill over the window.
pub async fn rate_limits(s: &S, s2: &S) {
    let key = format!("login_user:{}", unique_username("rl"));
    let window = Duration::from_millis(3000);
    for i in 0..3 {
        let st = if i % 2 == 0 { s } else { s2 };
        assert_eq!(
            st.rate_limit(&key, 3, window, false).await.unwrap(),
            None,
            "take {i}"
        );
    }
    let wait = s2.rate_limit(&key, 3, window, false).await.unwrap();
    let wait = wait.expect("4th take refused on the other instance");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(1000),
        "{wait:?}"
    );
    assert!(
        s.rate_limit(&key, 3, window, false)
            .await
            .unwrap()
            .is_some()
    );
    // A give-back makes room for exactly one more.
    assert_eq!(s.rate_limit(&key, 3, window, true).await.unwrap(), None);
    assert_eq!(s2.rate_limit(&key, 3, window, false).await.unwrap(), None);
    assert!(
        s.rate_limit(&key, 3, window, false)
            .await
            .unwrap()
            .is_some()
    );
    // Refill: one token per window / capacity.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.rate_limit(&key, 3, window, false).await.unwrap(), None);
    // Other keys are independent; capacity 0 never refuses; bad keys are refused.
    let other = format!("{key}-other");
    assert_eq!(s.rate_limit(&other, 1, window, false).await.unwrap(), None);
    assert!(
        s.rate_limit(&other, 1, window, false)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.rate_limit(&other, 0, window, false).await.unwrap(), None);
    assert!(is_invalid(s.rate_limit("", 1, window, false).await));
    assert!(is_invalid(
        s.rate_limit(&"k".repeat(201), 1, window, false).await
    ));
    assert!(is_invalid(s.rate_limit("a\nb", 1, window, false).await));
}

/// Every case, in order (used where one store serves the whole suite, e.g. the cluster).
pub async fn run_all(s: &S, s2: &S) {
    users_basic(s).await;
    input_limits(s).await;
    concurrent_registration(s).await;
    calibration(s).await;
    session_lifecycle(s).await;
    timeline_cap(s).await;
    checkpoint_gap(s).await;
    leases(s).await;
    pagination(s).await;
    pagination_under_concurrent_inserts(s).await;
    tokens(s).await;
    token_expiry(s).await;
    delete_user(s).await;
    labels(s).await;
    label_cap(s).await;
    live_fanout(s, s2).await;
    rate_limits(s, s2).await;
}
