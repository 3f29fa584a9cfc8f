//! Where segments live and how they are written: a storage, the shared
//! cache reads go through, and the shape of the trees a writer builds.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use storage_core::{SegmentId, Storage, codec};

use crate::cache::SegmentCache;
use crate::error::{Error, Result};
use crate::segment::Node;

/// The sizes writers aim for. Reads accept any shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConfig {
    /// Encoded bytes (before compression) an index leaf holds at most,
    /// unless it holds a single larger datom (values are at most
    /// [`model::limits::MAX_VALUE_BYTES`], so such a leaf fits a segment).
    pub index_leaf_bytes: usize,
    /// Children an index branch holds at most.
    pub index_branch_children: usize,
    /// Encoded bytes of keys and ids an index branch holds at most, unless
    /// two children alone take more (a branch always has at least two).
    pub index_branch_bytes: usize,
    /// Encoded bytes a log leaf grows to before a new one starts.
    pub log_leaf_bytes: usize,
    /// Children a log branch holds at most.
    pub log_branch_children: usize,
    /// Encoded bytes of log entries the log root's tail holds at most
    /// (at most [`crate::TAIL_LIMIT`]).
    pub tail_bytes: usize,
}

impl Default for TreeConfig {
    /// Segments of about 64 KiB–1 MiB after compression, a 48 KiB tail.
    fn default() -> Self {
        TreeConfig {
            index_leaf_bytes: 256 * 1024,
            index_branch_children: 1024,
            index_branch_bytes: 256 * 1024,
            log_leaf_bytes: 512 * 1024,
            // Appending rewrites the right spine of log branches each time
            // the tail moves out (about 48 KiB of entries): a small fanout
            // keeps that rewrite a small part of what is appended.
            log_branch_children: 128,
            tail_bytes: crate::log_root::TAIL_LIMIT,
        }
    }
}

impl TreeConfig {
    /// Tiny nodes, for tests that want deep trees from little data.
    pub fn tiny() -> Self {
        TreeConfig {
            index_leaf_bytes: 400,
            index_branch_children: 4,
            index_branch_bytes: 400,
            log_leaf_bytes: 1200,
            log_branch_children: 3,
            tail_bytes: 300,
        }
    }

    fn check(&self) -> Result<()> {
        let ok = self.index_leaf_bytes > 0
            && self.index_branch_children >= 2
            && self.index_branch_bytes > 0
            && self.log_leaf_bytes > 0
            && self.log_branch_children >= 2
            && self.tail_bytes <= crate::log_root::TAIL_LIMIT;
        match ok {
            true => Ok(()),
            false => Err(Error::invalid(format!(
                "tree config out of range: {self:?}"
            ))),
        }
    }
}

/// A storage, the segment cache its reads go through, and the tree shape
/// for writes: what every operation of this crate works on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Segments {
    /// The storage holding the segments and roots.
    pub storage: Arc<dyn Storage>,
    /// The shared cache of decoded segments.
    pub cache: SegmentCache,
    config: TreeConfig,
}

impl Segments {
    /// Segments in `storage`, read through `cache`, written with the
    /// default tree shape.
    pub fn new(storage: Arc<dyn Storage>, cache: SegmentCache) -> Segments {
        Segments {
            storage,
            cache,
            config: TreeConfig::default(),
        }
    }

    /// The same, writing trees of another shape.
    pub fn with_config(self, config: TreeConfig) -> Result<Segments> {
        config.check()?;
        Ok(Segments { config, ..self })
    }

    /// The tree shape writes use.
    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The node `id` of `kind`, blocking on storage on a miss (see
    /// [`SegmentCache`]).
    pub(crate) fn node(&self, id: SegmentId, kind: u8) -> Result<Arc<Node>> {
        self.cache.get(&self.storage, id, kind)
    }

    /// The node `id` of `kind`, for async callers.
    pub(crate) async fn node_async(&self, id: SegmentId, kind: u8) -> Result<Arc<Node>> {
        self.cache.get_async(&self.storage, id, kind).await
    }

    /// Frames and stores `node` (async), caching it; returns its id.
    pub(crate) async fn write_async(
        &self,
        node: Node,
        stats: &mut WriteStats,
    ) -> Result<SegmentId> {
        self.put_framed(frame(node)?, stats).await
    }

    /// Stores a node framed by [`frame`] (async), caching it.
    pub(crate) async fn put_framed(
        &self,
        framed: Framed,
        stats: &mut WriteStats,
    ) -> Result<SegmentId> {
        let (id, bytes, node) = framed;
        stats.count(bytes.len());
        self.storage.put_segment(id, bytes).await?;
        self.cache.insert(id, node);
        Ok(id)
    }
}

/// What a writer stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Segments written (including ones storage already had).
    pub segments: u64,
    /// Their framed bytes.
    pub bytes: u64,
}

impl WriteStats {
    fn count(&mut self, bytes: usize) {
        self.segments += 1;
        self.bytes += bytes as u64;
    }

    /// Both counts added up.
    pub fn add(&mut self, other: WriteStats) {
        self.segments += other.segments;
        self.bytes += other.bytes;
    }
}

/// A node ready to store: its id, its framed bytes, the node.
pub(crate) type Framed = (SegmentId, bytes::Bytes, Arc<Node>);

/// Frames a node, refusing one over the segment size limit.
pub(crate) fn frame(node: Node) -> Result<Framed> {
    let framed = codec::encode(node.kind(), &node.encode())?;
    if framed.len() > storage_core::MAX_SEGMENT_BYTES {
        return Err(Error::invalid(format!(
            "a {} of {} bytes is over the segment limit of {} bytes",
            Node::describe(node.kind()),
            framed.len(),
            storage_core::MAX_SEGMENT_BYTES
        )));
    }
    Ok((SegmentId::of(&framed), framed, Arc::new(node)))
}

/// Writes segments from a blocking thread, many at once: each put runs on
/// the runtime while the caller goes on building nodes. [`finish`] returns
/// once every put is durable, or with the first failure.
///
/// [`finish`]: BlockingWriter::finish
pub(crate) struct BlockingWriter {
    segments: Segments,
    results: Receiver<Result<()>>,
    sender: SyncSender<Result<()>>,
    in_flight: usize,
    stats: WriteStats,
}

/// How many puts a blocking writer keeps in flight.
const MAX_IN_FLIGHT: usize = 16;

impl BlockingWriter {
    pub(crate) fn new(segments: &Segments) -> Self {
        let (sender, results) = sync_channel(MAX_IN_FLIGHT);
        BlockingWriter {
            segments: segments.clone(),
            results,
            sender,
            in_flight: 0,
            stats: WriteStats::default(),
        }
    }

    pub(crate) fn segments(&self) -> &Segments {
        &self.segments
    }

    /// Stores `node` and returns its id; the put may still be under way.
    pub(crate) fn write(&mut self, node: Node) -> Result<SegmentId> {
        let (id, framed, node) = frame(node)?;
        if self.in_flight >= MAX_IN_FLIGHT {
            self.wait_one()?;
        }
        self.stats.count(framed.len());
        self.segments.cache.insert(id, node);
        let storage = self.segments.storage.clone();
        let sender = self.sender.clone();
        self.in_flight += 1;
        self.segments.cache.handle().spawn(async move {
            // The writer may have failed and gone; nothing to tell it then.
            let _ = sender.send(storage.put_segment(id, framed).await.map_err(Error::from));
        });
        Ok(id)
    }

    fn wait_one(&mut self) -> Result<()> {
        let timeout = crate::cache::DEFAULT_FETCH_TIMEOUT;
        let result = self.results.recv_timeout(timeout).map_err(|_| {
            Error::Storage(storage_core::Error::Timeout {
                backend: self.segments.storage.backend(),
                op: format!("segment put (waited {timeout:?})"),
            })
        })?;
        self.in_flight -= 1;
        result
    }

    /// Waits until every put so far is durable, so that reads of what was
    /// written find it in storage even when the cache has let it go.
    pub(crate) fn flush(&mut self) -> Result<()> {
        while self.in_flight > 0 {
            self.wait_one()?;
        }
        Ok(())
    }

    /// Waits until every put is durable.
    pub(crate) fn finish(mut self) -> Result<WriteStats> {
        self.flush()?;
        Ok(self.stats)
    }
}
