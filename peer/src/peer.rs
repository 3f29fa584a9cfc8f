//! A peer: what a process shares between all its connections (the storage
//! backends it was built with, the segment cache, the settings).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};

use index::{CacheStats, SegmentCache, Segments};
use parking_lot::Mutex;
use storage_core::Registry;

use crate::config::Config;
use crate::connection::{Connection, Shared};
use crate::error::Result;

/// The backends built into this crate (cargo features `file`, `postgres`
/// and `cassandra`, on by default; `mem` always).
pub fn builtin_registry() -> Registry {
    backends::registry()
}

/// The peer side of accrete in one process: connections to databases by
/// URI, all reading through one segment cache (quick_cache: S3-FIFO
/// eviction, bounded by bytes) that every database value of every
/// connection shares. Cheap to clone; clones share
/// everything. Usually one per process.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    cache: SegmentCache,
    config: Config,
    /// Connections by the URI they were made with, while in use.
    connections: Mutex<HashMap<String, Weak<Shared>>>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("schemes", &self.inner.registry.schemes())
            .field("cache", &self.inner.cache.stats())
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Peer {
    /// A peer with `config` and every backend built in
    /// ([`builtin_registry`]). Must be called within a tokio runtime:
    /// segment reads run on it.
    pub fn new(config: Config) -> Result<Peer> {
        Self::with_registry(config, builtin_registry())
    }

    /// A peer opening storages with `registry` (e.g. one with an extra
    /// backend).
    pub fn with_registry(config: Config, registry: Registry) -> Result<Peer> {
        config.check()?;
        let cache = SegmentCache::new(config.cache_bytes)?;
        Ok(Peer {
            inner: Arc::new(Inner {
                registry,
                cache,
                config,
                connections: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Connects to the database `uri` names (its storage and `?db=`): reads
    /// its latest committed value from storage and starts following it
    /// through the transactor its lease advertises. Connecting again with
    /// the same URI while the first connection is in use returns it.
    ///
    /// Connecting needs storage, not a transactor: without one the value
    /// follows the log in storage, and transactions wait for one.
    pub async fn connect(&self, uri: &str) -> Result<Connection> {
        if let Some(existing) = self.connected(uri) {
            return Ok(existing);
        }
        let (storage, parsed) = self.inner.registry.open(uri).await?;
        let name = parsed.require_db()?.clone();
        let seg = Segments::new(storage, self.inner.cache.clone());
        let connection = Connection::open(seg, name, self.inner.config.clone())
            .await
            .map_err(|e| e.context(format!("connecting to {parsed}")))?;
        let mut connections = self.inner.connections.lock();
        connections.retain(|_, c| c.strong_count() > 0);
        connections.insert(uri.to_string(), connection.downgrade());
        Ok(connection)
    }

    /// Hits, misses and the bytes held by the shared segment cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// The settings of this peer.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn connected(&self, uri: &str) -> Option<Connection> {
        let connections = self.inner.connections.lock();
        let connection = Connection::upgrade(connections.get(uri)?)?;
        connection.ended().is_none().then_some(connection)
    }
}
