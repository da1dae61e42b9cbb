//! Quick smoke test of the memory backend (the full conformance suite is in `conformance.rs`).

use gaze_store::*;

#[tokio::test]
async fn memory_smoke() {
    let store = connect_with("memory://", StoreConfig::for_tests())
        .await
        .unwrap();
    let u = store
        .create_user(NewUser {
            username: "Alice".into(),
            password: "secret password".into(),
            email: None,
        })
        .await
        .unwrap();
    assert_eq!(store.get_user_by_username("alice").await.unwrap(), u);
    assert!(
        store
            .verify_password("ALICE", "secret password")
            .await
            .is_ok()
    );
    assert_eq!(
        store.verify_password("alice", "nope nope nope").await,
        Err(StoreError::Unauthorized)
    );
    let s = store
        .create_session(NewSession {
            owner: u.id.clone(),
            started_at_ms: 1000,
            source: "webcam".into(),
        })
        .await
        .unwrap();
    let page = store
        .list_user_sessions(&u.id, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items, vec![s]);
}
