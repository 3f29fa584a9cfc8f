//! The segment cache: decoded nodes by segment id, shared by every database
//! value of a process, bounded by bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::Weighter;
use quick_cache::sync::{Cache, GuardResult};
use storage_core::{SegmentId, Storage, StorageExt};
use tokio::runtime::Handle;

use crate::error::{Error, Result};
use crate::segment::Node;

/// How long a blocking [`SegmentCache::get`] waits for storage before it
/// gives up with a retryable error.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Cached {
    node: Arc<Node>,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<SegmentId, Cached> for ByWeight {
    fn weight(&self, _: &SegmentId, value: &Cached) -> u64 {
        value.weight
    }
}

/// What the cache holds and how it has served reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads served from memory.
    pub hits: u64,
    /// Reads that went to storage.
    pub misses: u64,
    /// The weight (estimated bytes of decoded nodes) held now.
    pub bytes: u64,
    /// The bound on `bytes`.
    pub capacity: u64,
    /// How many nodes are held now.
    pub nodes: u64,
}

struct Inner {
    nodes: Cache<SegmentId, Cached, ByWeight>,
    handle: Handle,
    fetch_timeout: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    exported: Exported,
}

/// The cache's series in the installed metrics recorder (handles taken when
/// the cache is made: install the recorder first). Without a recorder they
/// are no-ops.
struct Exported {
    hits: metrics::Counter,
    misses: metrics::Counter,
    bytes: metrics::Gauge,
}

impl Exported {
    fn new(capacity_bytes: u64) -> Exported {
        metrics::gauge!("accrete_cache_capacity_bytes").set(capacity_bytes as f64);
        Exported {
            hits: metrics::counter!("accrete_cache_hits_total"),
            misses: metrics::counter!("accrete_cache_misses_total"),
            bytes: metrics::gauge!("accrete_cache_bytes"),
        }
    }
}

/// Decoded segments by id, bounded by their decoded bytes. Eviction is
/// quick_cache's S3-FIFO-based policy: a segment read once leaves
/// before one read again, so a large scan does not flush the hot
/// segments. Clones share one cache.
///
/// Segments are immutable and named by their content, so a node is the same
/// whichever storage it came from and whichever database reaches it: one
/// cache serves every database value in a process.
///
/// # Blocking reads
///
/// [`get`](Self::get) is synchronous (database reads are): on a miss it runs
/// the storage read on the tokio runtime captured at construction and waits
/// for it. Call it (and every read of a database value) from a plain thread
/// or from `tokio::task::spawn_blocking`, never directly on an async task:
/// there it would hold up the runtime, and on a current-thread runtime the
/// read cannot run at all and the call fails after the fetch timeout. Async
/// code uses [`get_async`](Self::get_async). Concurrent misses of one
/// segment read it once.
#[derive(Clone)]
pub struct SegmentCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl SegmentCache {
    /// A cache of at most `capacity_bytes` of decoded nodes, reading through
    /// the tokio runtime of the caller. Fails outside a runtime.
    pub fn new(capacity_bytes: u64) -> Result<SegmentCache> {
        let handle = Handle::try_current().map_err(|_| {
            Error::invalid("SegmentCache::new needs a tokio runtime; use SegmentCache::with_handle")
        })?;
        Ok(Self::with_handle(capacity_bytes, handle))
    }

    /// A cache of at most `capacity_bytes` that reads through `handle`.
    pub fn with_handle(capacity_bytes: u64, handle: Handle) -> SegmentCache {
        Self::with_fetch_timeout(capacity_bytes, handle, DEFAULT_FETCH_TIMEOUT)
    }

    /// A cache whose blocking reads give up after `fetch_timeout`.
    pub fn with_fetch_timeout(
        capacity_bytes: u64,
        handle: Handle,
        fetch_timeout: Duration,
    ) -> SegmentCache {
        // About 64 KiB per node is the expected average; the estimate only
        // sizes the hash table.
        let estimated = usize::try_from(capacity_bytes / 65_536)
            .unwrap_or(1024)
            .max(16);
        SegmentCache {
            inner: Arc::new(Inner {
                nodes: Cache::with_weighter(estimated, capacity_bytes.max(1), ByWeight),
                handle,
                fetch_timeout,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                exported: Exported::new(capacity_bytes),
            }),
        }
    }

    /// The runtime reads go through.
    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// The node `id`, which must be of `kind`, from memory or storage
    /// (blocking; see the type's docs).
    pub fn get(&self, storage: &Arc<dyn Storage>, id: SegmentId, kind: u8) -> Result<Arc<Node>> {
        match self.inner.nodes.get_value_or_guard(&id, None) {
            GuardResult::Value(v) => {
                self.hit();
                check_kind(id, kind, v.node)
            }
            GuardResult::Guard(guard) => {
                self.inner.misses.fetch_add(1, Ordering::Relaxed);
                self.inner.exported.misses.increment(1);
                let node = self.fetch_blocking(storage, id, kind)?;
                let _ = guard.insert(cached(node.clone()));
                self.weighed();
                Ok(node)
            }
            // Only returned when a timeout was given; waiting is unbounded here.
            GuardResult::Timeout => Err(Error::invalid(format!(
                "cache wait for segment {id} timed out"
            ))),
        }
    }

    /// [`get`](Self::get) for async callers.
    pub async fn get_async(
        &self,
        storage: &Arc<dyn Storage>,
        id: SegmentId,
        kind: u8,
    ) -> Result<Arc<Node>> {
        match self.inner.nodes.get_value_or_guard_async(&id).await {
            Ok(v) => {
                self.hit();
                check_kind(id, kind, v.node)
            }
            Err(guard) => {
                self.inner.misses.fetch_add(1, Ordering::Relaxed);
                self.inner.exported.misses.increment(1);
                let node = fetch(storage.clone(), id, kind).await?;
                let _ = guard.insert(cached(node.clone()));
                self.weighed();
                Ok(node)
            }
        }
    }

    /// Puts a node just written into the cache, so its writer reads it back
    /// without storage.
    pub fn insert(&self, id: SegmentId, node: Arc<Node>) {
        self.inner.nodes.insert(id, cached(node));
        self.weighed();
    }

    fn hit(&self) {
        self.inner.hits.fetch_add(1, Ordering::Relaxed);
        self.inner.exported.hits.increment(1);
    }

    /// Exports the bytes held, after they changed.
    fn weighed(&self) {
        self.inner
            .exported
            .bytes
            .set(self.inner.nodes.weight() as f64);
    }

    /// Hits, misses and the bytes held.
    pub fn stats(&self) -> CacheStats {
        let nodes = &self.inner.nodes;
        CacheStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            bytes: nodes.weight(),
            capacity: nodes.capacity(),
            nodes: nodes.len() as u64,
        }
    }

    /// Drops every node (the counters stay).
    pub fn clear(&self) {
        self.inner.nodes.clear();
        self.weighed();
    }

    fn fetch_blocking(
        &self,
        storage: &Arc<dyn Storage>,
        id: SegmentId,
        kind: u8,
    ) -> Result<Arc<Node>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let storage = storage.clone();
        self.inner.handle.spawn(async move {
            // The receiver may have timed out and gone; nothing to do then.
            let _ = tx.send(fetch(storage, id, kind).await);
        });
        rx.recv_timeout(self.inner.fetch_timeout).map_err(|_| {
            Error::Storage(storage_core::Error::Timeout {
                backend: "segment cache",
                op: format!(
                    "blocking read of segment {id} (waited {:?}; is it called on an async task instead of spawn_blocking?)",
                    self.inner.fetch_timeout
                ),
            })
        })?
    }
}

fn cached(node: Arc<Node>) -> Cached {
    let weight = node.weight();
    Cached { node, weight }
}

fn check_kind(id: SegmentId, kind: u8, node: Arc<Node>) -> Result<Arc<Node>> {
    if node.kind() == kind {
        return Ok(node);
    }
    Err(Error::corrupt(
        id,
        Node::describe(kind),
        format!(
            "is a {}, not a {}",
            Node::describe(node.kind()),
            Node::describe(kind)
        ),
    ))
}

/// Reads and decodes segment `id`, which must be of `kind`.
async fn fetch(storage: Arc<dyn Storage>, id: SegmentId, kind: u8) -> Result<Arc<Node>> {
    let what = Node::describe(kind);
    let frame = storage.get_frame(id).await?.ok_or(Error::MissingSegment {
        id,
        what,
        backend: storage.backend(),
    })?;
    if frame.kind != kind {
        return Err(Error::corrupt(
            id,
            what,
            format!(
                "frame kind is {} ({})",
                frame.kind,
                Node::describe(frame.kind)
            ),
        ));
    }
    let node =
        Node::decode(kind, &frame.payload).map_err(|detail| Error::corrupt(id, what, detail))?;
    Ok(Arc::new(node))
}
