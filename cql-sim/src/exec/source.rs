//! Where a SELECT reads from: the replicas at a consistency level, or a
//! virtual table the simulator builds (system and system_schema).

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::Arc;

use crate::cluster::{CasRequest, Cluster, KeyRange, RangePage};
use crate::error::CqlError;
use crate::faults::{FaultScope, Phase};
use crate::protocol::Consistency;
use crate::schema::TableDef;
use crate::store::{Partition, PartitionKey};

/// The data a SELECT runs over.
pub(crate) enum Source<'a> {
    /// The replicas, read at a consistency level.
    Cluster {
        cluster: &'a Arc<Cluster>,
        consistency: Consistency,
        scope: FaultScope,
    },
    /// A table the simulator materialized.
    Virtual(BTreeMap<PartitionKey, Partition>),
}

impl Source<'_> {
    /// One partition (a SERIAL read runs a Paxos round first).
    pub(crate) async fn partition(
        &self,
        table: &TableDef,
        key: &PartitionKey,
    ) -> Result<Partition, CqlError> {
        match self {
            Source::Cluster {
                cluster,
                consistency,
                scope,
            } if consistency.is_serial() => {
                let request = CasRequest {
                    table: table.id,
                    key: key.clone(),
                    serial: *consistency,
                    commit: Consistency::Quorum,
                    scope: scope.clone(),
                };
                cluster.serial_read(&request).await
            }
            Source::Cluster {
                cluster,
                consistency,
                scope,
            } => {
                cluster
                    .read_partition(table.id, key, *consistency, Phase::Read, scope)
                    .await
            }
            Source::Virtual(data) => Ok(data.get(key).cloned().unwrap_or_default()),
        }
    }

    /// Up to `max` partitions per replica from `range`.
    pub(crate) async fn range(
        &self,
        table: &TableDef,
        range: KeyRange,
        max: usize,
    ) -> Result<RangePage, CqlError> {
        match self {
            Source::Cluster { consistency, .. } if consistency.is_serial() => {
                Err(CqlError::invalid(
                    "SERIAL/LOCAL_SERIAL consistency may only be requested for one partition at a time",
                ))
            }
            Source::Cluster {
                cluster,
                consistency,
                scope,
            } => {
                cluster
                    .read_range(table.id, range, max, *consistency, scope)
                    .await
            }
            Source::Virtual(data) => {
                let bounds = (range.0.as_ref(), range.1.as_ref());
                let partitions: Vec<_> = data
                    .iter()
                    .filter(|(k, _)| bounds.contains(k))
                    .map(|(k, p)| (k.clone(), p.clone()))
                    .collect();
                Ok(RangePage {
                    partitions,
                    exhausted: true,
                })
            }
        }
    }
}
