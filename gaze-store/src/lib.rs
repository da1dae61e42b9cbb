//! Users, sessions, reports and live timelines for gaze.
//!
//! One async [`Store`] trait with three backends of identical semantics:
//!
//! | URL | backend |
//! | --- | --- |
//! | `memory://` | [`MemoryStore`]: in-process, **not persistent** |
//! | `redis://host:port[/db]` | [`RedisStore`] on one Redis server (ConnectionManager) |
//! | `redis+cluster://h1:p1,h2:p2,h3:p3` | [`RedisStore`] on a Redis Cluster |
//!
//! The server calls [`connect`] (or [`connect_with`]) once and shares the `Arc<dyn Store>`.
//! See `README.md` for the Redis key schema, the persistence settings the project
//! recommends and the checkpoint/resume flow; [`testing`] starts real `redis-server`s for
//! integration tests.

#![warn(missing_docs)]

mod config;
mod connect;
mod crypto;
mod error;
mod labels;
pub mod local_redis;
mod memory;
mod redis_store;
mod store;
pub mod testing;
mod types;
mod validate;

pub use async_trait::async_trait;
pub use config::*;
pub use connect::{connect, connect_with};
pub use error::{Result, StoreError};
pub use labels::{MAX_ADAPTATION_BYTES, MAX_LABEL_SECONDS, MAX_LABELS_PER_USER, MAX_TRACE_SAMPLES};
pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use store::{Backend, LiveFeed, Store};
pub use types::*;
