//! `DurableStore`: the persistent layer of a database value, read lazily
//! from segment trees through the shared cache.

use std::sync::Arc;

use model::{Datom, DatomIter, EntityId, Index, IndexStore, Layer, TxLogIter};
use storage_core::SegmentId;

use crate::error::{Error, Result};
use crate::log;
use crate::log_root::LogRoot;
use crate::segment::{IndexRoot, Node, kind};
use crate::segments::Segments;
use crate::tree::Cursor;

/// The persistent layer of a database value: the index trees of one index
/// root and the log up to its basis, read through the segment cache.
///
/// Implements [`model::IndexStore`]; its reads block on storage on cache
/// misses (see [`crate::SegmentCache`]). Holding one costs only the index
/// root and the log root's tail: the trees stay in storage and the cache.
#[derive(Debug)]
pub struct DurableStore {
    seg: Segments,
    id: SegmentId,
    root: IndexRoot,
    log: LogRoot,
}

impl DurableStore {
    /// The store of index root `id`, whose log is that of `log` (entries up
    /// to the index's basis are served from it).
    pub async fn load(seg: &Segments, id: SegmentId, log: &LogRoot) -> Result<Arc<DurableStore>> {
        let node = seg.node_async(id, kind::INDEX_ROOT).await?;
        Self::from_node(seg, id, &node, log)
    }

    /// The same, with blocking reads.
    pub(crate) fn load_blocking(
        seg: &Segments,
        id: SegmentId,
        log: &LogRoot,
    ) -> Result<Arc<DurableStore>> {
        let node = seg.node(id, kind::INDEX_ROOT)?;
        Self::from_node(seg, id, &node, log)
    }

    fn from_node(
        seg: &Segments,
        id: SegmentId,
        node: &Node,
        log: &LogRoot,
    ) -> Result<Arc<DurableStore>> {
        let Node::IndexRoot(root) = node else {
            return Err(Error::corrupt(id, "index root", "not an index root"));
        };
        if log.basis_t < root.basis_t {
            return Err(Error::corrupt(
                id,
                "index root",
                format!(
                    "covers t {} but the log ends at t {}",
                    root.basis_t, log.basis_t
                ),
            ));
        }
        Ok(Arc::new(DurableStore {
            seg: seg.clone(),
            id,
            root: (**root).clone(),
            log: log.clone(),
        }))
    }

    /// The index root segment.
    pub fn index_root_id(&self) -> SegmentId {
        self.id
    }

    /// The index root: basis, trees, excisions carried out.
    pub fn index_root(&self) -> &IndexRoot {
        &self.root
    }

    /// The excision requests carried out in these trees.
    pub fn excisions(&self) -> &[EntityId] {
        &self.root.excisions
    }

    /// How many datoms one index layer holds.
    pub fn count(&self, index: Index, layer: Layer) -> u64 {
        self.root.tree(index, layer).map_or(0, |t| t.count)
    }

    /// The log this store serves entries from.
    pub fn log(&self) -> &LogRoot {
        &self.log
    }

    /// A cursor over one index layer from `from` on.
    pub(crate) fn cursor(&self, index: Index, layer: Layer, from: &Datom) -> Result<Cursor> {
        Cursor::seek(&self.seg, index, layer, self.root.tree(index, layer), from)
    }
}

impl IndexStore for DurableStore {
    fn basis_t(&self) -> Option<u64> {
        Some(self.root.basis_t)
    }

    fn next_t(&self) -> u64 {
        self.root.next_t
    }

    fn seek(&self, index: Index, layer: Layer, from: &Datom) -> model::Result<DatomIter<'_>> {
        Ok(Box::new(self.cursor(index, layer, from)?))
    }

    fn datom_count(&self) -> u64 {
        [Layer::Current, Layer::History]
            .iter()
            .filter_map(|&layer| self.root.tree(Index::Eavt, layer))
            .map(|tree| tree.count)
            .sum()
    }

    fn attribute_stats(&self, a: EntityId) -> Option<model::AttrStats> {
        let stats = self.root.stats.as_ref()?;
        let found = stats.binary_search_by_key(&a, |s| s.attr).map_or(
            model::AttrStats {
                attr: a,
                ..Default::default()
            },
            |i| stats[i],
        );
        Some(found)
    }

    fn tx_range(&self, from_t: u64, until_t: Option<u64>) -> model::Result<TxLogIter<'_>> {
        let until = Some(until_t.map_or(self.root.basis_t + 1, |u| u.min(self.root.basis_t + 1)));
        let entries = log::entries_in_range(&self.seg, &self.log, from_t, until)?;
        Ok(Box::new(entries.map(|r| r.map_err(model::Error::from))))
    }
}
