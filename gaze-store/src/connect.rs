//! [`connect`]: one constructor for every backend, chosen by URL.

use std::sync::Arc;

use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::memory::MemoryStore;
use crate::store::Store;

/// Opens a store from a URL with default settings. See [`connect_with`].
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    connect_with(url, StoreConfig::default()).await
}

/// Opens a store from a URL:
///
/// - `memory://` — a fresh [`MemoryStore`] (not persistent);
/// - `redis://[user:pass@]host:port[/db]` — one Redis server;
/// - `redis+cluster://[user:pass@]h1:p1,h2:p2,…` — a Redis Cluster (any subset of the nodes
///   works as seeds).
///
/// For Redis the connection is checked before returning (`Unavailable` if it cannot be
/// reached within [`StoreConfig::op_timeout`]); later outages are survived by reconnecting.
pub async fn connect_with(url: &str, cfg: StoreConfig) -> Result<Arc<dyn Store>> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "memory" => Ok(Arc::new(MemoryStore::new(cfg))),
        "redis" | "redis+cluster" => crate::redis_store::RedisStore::connect(url, cfg)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>),
        _ => Err(StoreError::invalid(format!(
            "unsupported store URL scheme {scheme:?} (use memory://, redis:// or redis+cluster://)"
        ))),
    }
}
