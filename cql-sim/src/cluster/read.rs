//! Reads at a consistency level: ask enough live replicas, merge their
//! fragments (last write wins) and repair the replicas that answered with
//! stale data (blocking read repair, as Cassandra does at QUORUM and ALL).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::Cluster;
use crate::error::CqlError;
use crate::faults::{FaultKind, FaultScope, Phase};
use crate::protocol::Consistency;
use crate::schema::TableId;
use crate::store::{Partition, PartitionKey};

/// A range of partitions in ring order.
pub(crate) type KeyRange = (Bound<PartitionKey>, Bound<PartitionKey>);

/// One page of a range read: merged partitions in ring order, and whether
/// the range may hold more partitions after the last one.
pub(crate) struct RangePage {
    pub(crate) partitions: Vec<(PartitionKey, Partition)>,
    pub(crate) exhausted: bool,
}

impl Cluster {
    /// The live replicas to read from at `consistency`, or Unavailable.
    fn read_targets(&self, consistency: Consistency) -> Result<Vec<usize>, CqlError> {
        let live = self.faults.live_replicas();
        let required = consistency.required(self.size());
        if live.len() < required {
            return Err(CqlError::Unavailable {
                consistency,
                required,
                alive: live.len(),
            });
        }
        Ok(self.pick(&live, required))
    }

    /// Checks the injected read-timeout fault for a plain or SERIAL read.
    pub(crate) fn read_timeout_fault(
        &self,
        consistency: Consistency,
        scope: &FaultScope,
    ) -> Result<(), CqlError> {
        match self
            .faults
            .fire(scope, None, |k| *k == FaultKind::ReadTimeout)
        {
            Some(_) => Err(CqlError::ReadTimeout {
                consistency,
                received: 0,
                blockfor: consistency.required(self.size()),
                data_present: false,
            }),
            None => Ok(()),
        }
    }

    /// Reads one partition at `consistency`.
    pub(crate) async fn read_partition(
        self: &Arc<Self>,
        table: TableId,
        key: &PartitionKey,
        consistency: Consistency,
        phase: Phase,
        scope: &FaultScope,
    ) -> Result<Partition, CqlError> {
        let targets = self.read_targets(consistency)?;
        let blockfor = targets.len();
        let owned_key = key.clone();
        let answers = self
            .broadcast(
                &targets,
                phase,
                scope,
                move |i, r| (i, r.read(table, &owned_key)),
                |a| a.len() >= blockfor,
            )
            .await;
        if answers.len() < blockfor {
            return Err(CqlError::ReadTimeout {
                consistency,
                received: answers.len(),
                blockfor,
                data_present: !answers.is_empty(),
            });
        }
        Ok(self.merge_and_repair(table, key, &answers))
    }

    /// Reads up to `max` partitions per replica from `range` at `consistency`.
    pub(crate) async fn read_range(
        self: &Arc<Self>,
        table: TableId,
        range: KeyRange,
        max: usize,
        consistency: Consistency,
        scope: &FaultScope,
    ) -> Result<RangePage, CqlError> {
        let targets = self.read_targets(consistency)?;
        let blockfor = targets.len();
        let answers = self
            .broadcast(
                &targets,
                Phase::Read,
                scope,
                move |i, r| (i, r.scan(table, range.clone(), max)),
                |a| a.len() >= blockfor,
            )
            .await;
        if answers.len() < blockfor {
            return Err(CqlError::ReadTimeout {
                consistency,
                received: answers.len(),
                blockfor,
                data_present: !answers.is_empty(),
            });
        }
        // A replica that returned `max` partitions may hold more before the
        // others' later keys: only keys up to the smallest such cut are complete.
        let cut = answers
            .iter()
            .filter(|(_, parts)| parts.len() >= max)
            .filter_map(|(_, parts)| parts.last())
            .map(|(k, _)| k)
            .min()
            .cloned();
        let mut fragments: BTreeMap<PartitionKey, Vec<(usize, Partition)>> = BTreeMap::new();
        for (replica, parts) in answers {
            for (key, fragment) in parts {
                if cut.as_ref().is_none_or(|c| &key <= c) {
                    fragments.entry(key).or_default().push((replica, fragment));
                }
            }
        }
        let partitions = fragments
            .into_iter()
            .map(|(key, frags)| {
                let merged = self.merge_and_repair(table, &key, &frags);
                (key, merged)
            })
            .collect();
        Ok(RangePage {
            partitions,
            exhausted: cut.is_none(),
        })
    }

    /// Merges the replicas' fragments and writes the result back to every
    /// replica whose fragment differed.
    fn merge_and_repair(
        &self,
        table: TableId,
        key: &PartitionKey,
        answers: &[(usize, Partition)],
    ) -> Partition {
        let mut merged = Partition::default();
        for (_, fragment) in answers {
            merged.merge(fragment);
        }
        for (replica, fragment) in answers {
            if *fragment != merged {
                self.replicas[*replica].lock().apply(table, key, &merged);
            }
        }
        merged
    }
}
