//! Cardinality statistics of attributes: what a query planner needs to
//! choose between index probes and a scan, without counting datoms.

use crate::datom::EntityId;

/// The size of one attribute in the current layer of the indexes.
///
/// Kept by the indexing job for the persistent layer (exact) and by the
/// novelty for its own datoms (the count is exact, distinct values are
/// estimated); [`crate::Db::attribute_stats`] adds both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttrStats {
    /// The attribute.
    pub attr: EntityId,
    /// Current datoms of the attribute.
    pub datoms: u64,
    /// Distinct values among them (in AVET, `[a v]` prefixes).
    pub values: u64,
}

impl AttrStats {
    /// Datoms per distinct value: the rows an AVET probe `[a v]` yields on
    /// average (at least 1 when the attribute has datoms).
    pub fn datoms_per_value(&self) -> f64 {
        match self.values {
            0 => self.datoms.min(1) as f64,
            v => self.datoms as f64 / v as f64,
        }
    }
}
