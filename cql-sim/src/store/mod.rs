//! What each replica stores: partitions of rows with write timestamps, and
//! the Paxos state of every partition.

mod partition;
mod replica;

pub(crate) use partition::{Cell, ClusteringKey, LiveRow, Micros, Partition, Row};
pub(crate) use replica::{Ballot, PartitionKey, PrepareReply, Proposal, Replica};
