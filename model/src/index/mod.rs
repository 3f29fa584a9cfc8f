//! Covering indexes: sort orders, the persistent layer interface, the
//! in-memory novelty, and the merge of both on read.
//!
//! Every index holds each datom once in a *current* layer (datoms asserted
//! and not retracted) or a *history* layer (retracted assertions and the
//! retractions themselves), so reading the present never walks history.
//! AVET covers every attribute (as Datomic 1.0 does); VAET covers only
//! reference attributes.

mod memory;
pub(crate) mod merge;
pub(crate) mod sorted;
mod stats;
mod store;

pub use memory::MemoryStore;
pub use stats::AttrStats;
pub use store::{DatomIter, EmptyStore, IndexStore, TxLogIter};

use crate::datom::Datom;
use std::cmp::Ordering;
use std::fmt;

/// A sort order of datoms.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Index {
    /// Entity, attribute, value, tx: row-style access.
    Eavt,
    /// Attribute, entity, value, tx: column-style access.
    Aevt,
    /// Attribute, value, entity, tx: lookups by value and range scans.
    Avet,
    /// Value, attribute, entity, tx for reference values: reverse navigation.
    Vaet,
}

impl Index {
    /// Every index.
    pub const ALL: [Index; 4] = [Index::Eavt, Index::Aevt, Index::Avet, Index::Vaet];

    /// Compares two datoms in this index's order (tx, then operation, last).
    pub fn compare(self, x: &Datom, y: &Datom) -> Ordering {
        let rest = || x.tx_op().cmp(&y.tx_op());
        match self {
            Index::Eavt => x
                .e()
                .cmp(&y.e())
                .then(x.a().cmp(&y.a()))
                .then_with(|| x.v().cmp(y.v())),
            Index::Aevt => x
                .a()
                .cmp(&y.a())
                .then(x.e().cmp(&y.e()))
                .then_with(|| x.v().cmp(y.v())),
            Index::Avet => x
                .a()
                .cmp(&y.a())
                .then_with(|| x.v().cmp(y.v()))
                .then(x.e().cmp(&y.e())),
            Index::Vaet => x
                .v()
                .cmp(y.v())
                .then(x.a().cmp(&y.a()))
                .then(x.e().cmp(&y.e())),
        }
        .then_with(rest)
    }

    /// The keyword name, e.g. `:eavt`.
    pub fn name(self) -> &'static str {
        match self {
            Index::Eavt => ":eavt",
            Index::Aevt => ":aevt",
            Index::Avet => ":avet",
            Index::Vaet => ":vaet",
        }
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The two parts of every index.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Layer {
    /// Assertions not retracted as of the basis.
    Current,
    /// Retracted assertions and the retractions.
    History,
}
