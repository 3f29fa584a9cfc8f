//! One replica: its partitions per table and the Paxos acceptor state of
//! each partition (promised ballot, accepted proposal, most recent commit).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::Partition;
use crate::schema::TableId;
use crate::token::{composite_key, token_of};
use crate::types::Value;

/// A partition key, ordered as Cassandra's ring orders partitions: by token,
/// then by key value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PartitionKey {
    pub(crate) token: i64,
    pub(crate) values: Vec<Value>,
}

impl PartitionKey {
    /// The key for these partition-key column values (in key order).
    pub(crate) fn new(values: Vec<Value>) -> PartitionKey {
        let components: Vec<Vec<u8>> = values.iter().map(Value::to_bytes).collect();
        PartitionKey {
            token: token_of(&composite_key(&components)),
            values,
        }
    }

    /// The smallest key with this token: a bound for token ranges.
    pub(crate) fn token_start(token: i64) -> PartitionKey {
        PartitionKey {
            token,
            values: Vec::new(),
        }
    }
}

/// A Paxos ballot: a timestamp in microseconds and the proposer that chose
/// it (breaking ties between coordinators that chose the same time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Ballot {
    pub(crate) micros: i64,
    pub(crate) proposer: u64,
}

/// A proposal: the update a ballot proposes for one partition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Proposal {
    pub(crate) ballot: Ballot,
    pub(crate) update: Partition,
}

/// A replica's answer to a Paxos prepare.
#[derive(Clone, Debug)]
pub(crate) enum PrepareReply {
    /// The ballot is promised; here is what this replica accepted and committed.
    Promise {
        accepted: Option<Proposal>,
        committed: Option<Proposal>,
    },
    /// A ballot at least as high was already promised.
    Reject { promised: Ballot },
}

#[derive(Default)]
struct PaxosState {
    promised: Option<Ballot>,
    accepted: Option<Proposal>,
    committed: Option<Proposal>,
}

#[derive(Default)]
struct PartitionState {
    data: Partition,
    paxos: PaxosState,
}

type TableData = BTreeMap<PartitionKey, PartitionState>;

/// The state of one replica.
#[derive(Default)]
pub(crate) struct Replica {
    tables: HashMap<TableId, TableData>,
}

impl Replica {
    fn state(&mut self, table: TableId, key: &PartitionKey) -> &mut PartitionState {
        self.tables
            .entry(table)
            .or_default()
            .entry(key.clone())
            .or_default()
    }

    /// Applies a write (a partition fragment).
    pub(crate) fn apply(&mut self, table: TableId, key: &PartitionKey, update: &Partition) {
        self.state(table, key).data.merge(update);
    }

    /// This replica's fragment of one partition (empty when it has none).
    pub(crate) fn read(&self, table: TableId, key: &PartitionKey) -> Partition {
        self.tables
            .get(&table)
            .and_then(|t| t.get(key))
            .map(|s| s.data.clone())
            .unwrap_or_default()
    }

    /// Up to `max` non-empty partition fragments within the range, in ring order.
    pub(crate) fn scan(
        &self,
        table: TableId,
        range: (Bound<PartitionKey>, Bound<PartitionKey>),
        max: usize,
    ) -> Vec<(PartitionKey, Partition)> {
        let Some(data) = self.tables.get(&table) else {
            return Vec::new();
        };
        if is_empty_range(&range) {
            return Vec::new();
        }
        data.range(range)
            .filter(|(_, s)| s.data.deleted.is_some() || !s.data.rows.is_empty())
            .take(max)
            .map(|(k, s)| (k.clone(), s.data.clone()))
            .collect()
    }

    /// Paxos phase 1: promise `ballot` unless a higher one was promised.
    pub(crate) fn prepare(
        &mut self,
        table: TableId,
        key: &PartitionKey,
        ballot: Ballot,
    ) -> PrepareReply {
        let paxos = &mut self.state(table, key).paxos;
        match paxos.promised {
            Some(promised) if promised >= ballot => PrepareReply::Reject { promised },
            _ => {
                paxos.promised = Some(ballot);
                PrepareReply::Promise {
                    accepted: paxos.accepted.clone(),
                    committed: paxos.committed.clone(),
                }
            }
        }
    }

    /// Paxos phase 2: accept the proposal unless a higher ballot was promised.
    pub(crate) fn propose(
        &mut self,
        table: TableId,
        key: &PartitionKey,
        proposal: &Proposal,
    ) -> bool {
        let paxos = &mut self.state(table, key).paxos;
        if paxos
            .promised
            .is_some_and(|promised| promised > proposal.ballot)
        {
            return false;
        }
        paxos.promised = Some(proposal.ballot);
        paxos.accepted = Some(proposal.clone());
        true
    }

    /// Paxos commit: apply the update and remember it as the latest commit.
    pub(crate) fn commit(&mut self, table: TableId, key: &PartitionKey, proposal: &Proposal) {
        let state = self.state(table, key);
        state.data.merge(&proposal.update);
        let paxos = &mut state.paxos;
        if paxos
            .committed
            .as_ref()
            .is_none_or(|c| c.ballot < proposal.ballot)
        {
            paxos.committed = Some(proposal.clone());
        }
        if paxos
            .accepted
            .as_ref()
            .is_some_and(|a| a.ballot <= proposal.ballot)
        {
            paxos.accepted = None;
        }
    }

    /// Removes all data and Paxos state of a table (TRUNCATE, DROP).
    pub(crate) fn clear(&mut self, table: TableId) {
        self.tables.remove(&table);
    }

    /// Every byte value (blob or text) this replica holds for a table, per
    /// partition in ring order and within it in clustering order: live
    /// cells, cells shadowed by a tombstone but not yet compacted away, and
    /// the updates of Paxos proposals. What a disk scan would find.
    pub(crate) fn raw_values(&self, table: TableId) -> Vec<Vec<Vec<u8>>> {
        let Some(data) = self.tables.get(&table) else {
            return Vec::new();
        };
        data.values()
            .map(|state| {
                let mut values = Vec::new();
                let proposals = [&state.paxos.accepted, &state.paxos.committed];
                let updates = proposals.into_iter().flatten().map(|p| &p.update);
                for partition in std::iter::once(&state.data).chain(updates) {
                    for row in partition.rows.values() {
                        values.extend(row.cells.values().filter_map(|c| match &c.value {
                            Some(Value::Blob(b)) => Some(b.clone()),
                            Some(Value::Text(t)) => Some(t.clone().into_bytes()),
                            _ => None,
                        }));
                    }
                }
                values
            })
            .filter(|values: &Vec<Vec<u8>>| !values.is_empty())
            .collect()
    }

    /// Compaction: drops every cell a row or partition tombstone shadows
    /// (the tombstones themselves stay, as they do for gc_grace_seconds).
    pub(crate) fn compact(&mut self) {
        for data in self.tables.values_mut() {
            for state in data.values_mut() {
                state.data.drop_shadowed();
            }
        }
    }

    /// The number of live rows this replica holds for a table.
    pub(crate) fn live_rows(&self, table: TableId, now: i64) -> usize {
        self.tables.get(&table).map_or(0, |t| {
            t.values().map(|s| s.data.live_rows(now).count()).sum()
        })
    }
}

/// `BTreeMap::range` panics on an inverted range; such a range is empty.
fn is_empty_range((start, end): &(Bound<PartitionKey>, Bound<PartitionKey>)) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}
