//! The persistent layer of the indexes, as a trait.

use super::{AttrStats, Index, Layer};
use crate::datom::Datom;
use crate::datom::EntityId;
use crate::error::Result;
use crate::log::TxLog;
use std::fmt;

/// An ordered, fallible iterator of datoms of one index.
pub type DatomIter<'a> = Box<dyn Iterator<Item = Result<Datom>> + Send + 'a>;

/// An iterator of log entries in t order.
pub type TxLogIter<'a> = Box<dyn Iterator<Item = Result<TxLog>> + Send + 'a>;

/// The persistent, sorted layer of a database value's indexes and log:
/// everything up to and including transaction [`basis_t`](Self::basis_t).
/// A database value reads it merged with the in-memory novelty after that t.
///
/// # Contract
/// - Immutable: the same call always yields the same datoms.
/// - [`seek`](Self::seek) yields, in `index` order, every datom of `layer`
///   that sorts at or after `from`, then ends. VAET holds only datoms of
///   reference attributes. The *current* layer holds the assertions not
///   retracted as of `basis_t`; the *history* layer holds the retracted
///   assertions and the retraction datoms (attributes with `:db/noHistory`
///   may be left out of it).
/// - Reads are synchronous and may block on I/O; each item is a `Result`
///   because fetching a segment can fail. Callers in async code use
///   `spawn_blocking`.
/// - [`tx_range`](Self::tx_range) yields the log entries with
///   `from_t <= t < until_t` (no upper bound for `None`) in t order.
pub trait IndexStore: Send + Sync + fmt::Debug {
    /// The last t this layer covers, `None` when it covers nothing.
    fn basis_t(&self) -> Option<u64>;

    /// The entity-id counter after the covered transactions: the smallest
    /// counter no covered entity or transaction uses.
    fn next_t(&self) -> u64;

    /// The datoms of one index layer from `from` on, in index order.
    fn seek(&self, index: Index, layer: Layer, from: &Datom) -> Result<DatomIter<'_>>;

    /// The covered log entries with `from_t <= t < until_t`.
    fn tx_range(&self, from_t: u64, until_t: Option<u64>) -> Result<TxLogIter<'_>>;

    /// True when the layer holds nothing (reads then skip it entirely).
    fn is_empty(&self) -> bool {
        false
    }

    /// About how many datoms the layer holds (EAVT's current and history
    /// layers), for scheduling; 0 when unknown.
    fn datom_count(&self) -> u64 {
        0
    }

    /// The statistics of attribute `a` in the current layer, when this
    /// layer keeps them (`None`: unknown, e.g. an index written before
    /// statistics existed; planners then estimate). An attribute without
    /// datoms has zero counts.
    fn attribute_stats(&self, a: EntityId) -> Option<AttrStats> {
        let _ = a;
        None
    }
}

/// The persistent layer of a database that was never indexed.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyStore;

impl IndexStore for EmptyStore {
    fn basis_t(&self) -> Option<u64> {
        None
    }

    fn next_t(&self) -> u64 {
        0
    }

    fn seek(&self, _: Index, _: Layer, _: &Datom) -> Result<DatomIter<'_>> {
        Ok(Box::new(std::iter::empty()))
    }

    fn tx_range(&self, _: u64, _: Option<u64>) -> Result<TxLogIter<'_>> {
        Ok(Box::new(std::iter::empty()))
    }

    fn is_empty(&self) -> bool {
        true
    }

    fn attribute_stats(&self, a: EntityId) -> Option<AttrStats> {
        Some(AttrStats {
            attr: a,
            ..AttrStats::default()
        })
    }
}
