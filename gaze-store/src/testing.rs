//! Helpers for integration tests, here and in the server crate.
//!
//! ```no_run
//! # async fn demo() -> gaze_store::Result<()> {
//! use gaze_store::testing::{RedisServer, test_store};
//! let redis = RedisServer::start().expect("redis-server");   // fails loudly if not installed
//! let store = test_store(&redis.url()).await?;                // cheap argon2, 3 s timeouts
//! # let _ = store; Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::local_redis::{
    LocalRedisError, RedisCluster, RedisOptions, RedisServer, free_port, raw_command,
};
use crate::{Store, StoreConfig};

/// [`StoreConfig::for_tests`] (cheap argon2) with a 3 s operation timeout (generous, for
/// loaded CI machines) and a 1000-segment timeline cap.
pub fn test_config() -> StoreConfig {
    StoreConfig {
        op_timeout: Duration::from_secs(3),
        max_timeline_len: 1000,
        ..StoreConfig::for_tests()
    }
}

/// Opens `url` (any form [`connect`](crate::connect) accepts) with [`test_config`].
pub async fn test_store(url: &str) -> crate::Result<Arc<dyn Store>> {
    crate::connect_with(url, test_config()).await
}

/// A username unique within this process and across runs (e.g. `t_<prefix>_<n>_<rand>`),
/// valid for [`NewUser`](crate::NewUser), so tests can share one store.
pub fn unique_username(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let id = crate::crypto::new_id();
    let mut name = format!("t{n}_{}_{prefix}", &id[..6]);
    name.truncate(crate::USERNAME_LEN.end().to_owned());
    name
}
