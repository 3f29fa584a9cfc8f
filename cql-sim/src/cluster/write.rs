//! Plain (non-LWT) writes at a consistency level: sent to every live
//! replica, acknowledged once enough replicas applied them.

use std::sync::Arc;

use super::Cluster;
use crate::error::{CqlError, WriteType};
use crate::faults::{FaultKind, FaultScope, Phase};
use crate::protocol::Consistency;
use crate::schema::TableId;
use crate::store::{Partition, PartitionKey};

/// A write to one partition: a fragment merged into each replica's data.
#[derive(Clone, Debug)]
pub(crate) struct Mutation {
    pub(crate) table: TableId,
    pub(crate) key: PartitionKey,
    pub(crate) update: Partition,
}

impl Cluster {
    /// Applies the mutations (atomically per replica) at `consistency`.
    pub(crate) async fn write(
        self: &Arc<Self>,
        mutations: Vec<Mutation>,
        consistency: Consistency,
        write_type: WriteType,
        scope: &FaultScope,
    ) -> Result<(), CqlError> {
        let live = self.faults.live_replicas();
        let blockfor = consistency.required(self.size());
        if live.len() < blockfor {
            return Err(CqlError::Unavailable {
                consistency,
                required: blockfor,
                alive: live.len(),
            });
        }
        let mutations = Arc::new(mutations);
        let apply = move |_: usize, r: &mut crate::store::Replica| {
            for m in mutations.iter() {
                r.apply(m.table, &m.key, &m.update);
            }
        };
        if self
            .faults
            .fire(scope, None, |k| *k == FaultKind::WriteTimeout)
            .is_some()
        {
            let one = self.pick(&live, 1);
            self.broadcast(&one, Phase::Write, &FaultScope::Exempt, apply, |_| true)
                .await;
            return Err(CqlError::WriteTimeout {
                consistency,
                received: 0,
                blockfor,
                write_type,
            });
        }
        let acks = self
            .broadcast(&live, Phase::Write, scope, apply, |a| a.len() >= blockfor)
            .await;
        if acks.len() < blockfor {
            return Err(CqlError::WriteTimeout {
                consistency,
                received: acks.len(),
                blockfor,
                write_type,
            });
        }
        Ok(())
    }
}
