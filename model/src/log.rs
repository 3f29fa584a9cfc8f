//! The log: every transaction's datoms, by t.

use crate::datom::{Datom, EntityId, t_to_tx};
use std::sync::Arc;

/// One transaction as the log records it: its t and its datoms (the
/// `:db/txInstant` datom included). Applying the entries of a log in order
/// to the empty database rebuilds the database exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLog {
    /// The transaction's basis t.
    pub t: u64,
    /// The datoms, assertions and retractions, in transaction order.
    pub data: Arc<[Datom]>,
}

impl TxLog {
    /// The transaction entity id.
    pub fn tx(&self) -> EntityId {
        t_to_tx(self.t)
    }
}
