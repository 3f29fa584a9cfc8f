//! Tempids across a whole import: a string tempid names one entity in
//! every batch that uses it. The first batch that uses it lets the
//! transactor allocate the entity; every later batch that names it finds
//! the entity here as it applies (after every batch before it applied), so
//! batches stay pipelined.

use std::sync::Arc;

use foldhash::HashMap;
use model::{EntityId, TxReport};
use parking_lot::Mutex;
use transactor::TxScope;

/// The tempids resolved so far by the batches of one import.
#[derive(Debug, Default)]
pub(crate) struct Tempids {
    resolved: Mutex<HashMap<Arc<str>, u64>>,
}

impl Tempids {
    /// Records how a batch's tempids resolved (a batch applied now, or
    /// committed by an earlier run of the import).
    pub(crate) fn learn<'a>(&self, tempids: impl IntoIterator<Item = (&'a String, &'a u64)>) {
        let mut resolved = self.resolved.lock();
        for (tempid, &e) in tempids {
            resolved.insert(Arc::from(tempid.as_str()), e);
        }
    }

    /// How many tempids are known.
    pub(crate) fn len(&self) -> usize {
        self.resolved.lock().len()
    }
}

impl TxScope for Tempids {
    fn tempid(&self, tempid: &str) -> Option<EntityId> {
        self.resolved.lock().get(tempid).copied()
    }

    fn applied(&self, report: &TxReport) {
        self.learn(report.tempids.iter());
    }
}
