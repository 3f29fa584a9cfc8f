//! A simple in-memory persistent layer: sorted vectors. It shows the shape
//! the storage-backed layer fills in, and lets tests prove the merge.

use super::store::{DatomIter, IndexStore, TxLogIter};
use super::{AttrStats, Index, Layer};
use crate::datom::Datom;
use crate::datom::EntityId;
use crate::db::Db;
use crate::error::Result;
use crate::log::TxLog;
use std::collections::HashMap;
use std::sync::Arc;

/// An [`IndexStore`] held in sorted vectors.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    basis_t: Option<u64>,
    next_t: u64,
    layers: Arc<HashMap<(Index, Layer), Vec<Datom>>>,
    log: Arc<Vec<TxLog>>,
    stats: Arc<HashMap<EntityId, AttrStats>>,
}

impl MemoryStore {
    /// Indexes `db` up to and including `until_t`, as an indexing job
    /// would: the merged current and history layers of every index, and the
    /// log entries up to `until_t`.
    pub fn index(db: &Db, until_t: u64) -> Result<MemoryStore> {
        let mut layers = HashMap::new();
        for index in Index::ALL {
            for layer in [Layer::Current, Layer::History] {
                let datoms = db
                    .indexed_layer(index, layer, until_t)?
                    .collect::<Result<Vec<_>>>()?;
                layers.insert((index, layer), datoms);
            }
        }
        let log = db
            .tx_range(None, Some(until_t + 1))?
            .collect::<Result<Vec<_>>>()?;
        let next_t = db.next_t_at(until_t)?;
        let stats = layers
            .get(&(Index::Avet, Layer::Current))
            .map_or_else(HashMap::new, |avet| stats_of_avet(avet));
        Ok(MemoryStore {
            basis_t: Some(until_t),
            next_t,
            layers: Arc::new(layers),
            log: Arc::new(log),
            stats: Arc::new(stats),
        })
    }

    /// How many datoms one layer holds.
    pub fn len(&self, index: Index, layer: Layer) -> usize {
        self.layers.get(&(index, layer)).map_or(0, Vec::len)
    }
}

impl IndexStore for MemoryStore {
    fn basis_t(&self) -> Option<u64> {
        self.basis_t
    }

    fn next_t(&self) -> u64 {
        self.next_t
    }

    fn datom_count(&self) -> u64 {
        (self.len(Index::Eavt, Layer::Current) + self.len(Index::Eavt, Layer::History)) as u64
    }

    fn seek(&self, index: Index, layer: Layer, from: &Datom) -> Result<DatomIter<'_>> {
        let Some(datoms) = self.layers.get(&(index, layer)) else {
            return Ok(Box::new(std::iter::empty()));
        };
        let start = datoms.partition_point(|d| index.compare(d, from).is_lt());
        Ok(Box::new(datoms[start..].iter().cloned().map(Ok)))
    }

    fn tx_range(&self, from_t: u64, until_t: Option<u64>) -> Result<TxLogIter<'_>> {
        let start = self.log.partition_point(|tx| tx.t < from_t);
        let entries = self.log[start..]
            .iter()
            .take_while(move |tx| until_t.is_none_or(|u| tx.t < u));
        Ok(Box::new(entries.cloned().map(Ok)))
    }

    fn is_empty(&self) -> bool {
        self.basis_t.is_none()
    }

    fn attribute_stats(&self, a: EntityId) -> Option<AttrStats> {
        Some(self.stats.get(&a).copied().unwrap_or(AttrStats {
            attr: a,
            ..AttrStats::default()
        }))
    }
}

/// Exact statistics of every attribute from a current AVET layer.
fn stats_of_avet(avet: &[Datom]) -> HashMap<EntityId, AttrStats> {
    let mut stats: HashMap<EntityId, AttrStats> = HashMap::new();
    let mut prev: Option<&Datom> = None;
    for d in avet {
        let s = stats.entry(d.a()).or_insert(AttrStats {
            attr: d.a(),
            ..AttrStats::default()
        });
        s.datoms += 1;
        if prev.is_none_or(|p| p.a() != d.a() || p.v() != d.v()) {
            s.values += 1;
        }
        prev = Some(d);
    }
    stats
}
