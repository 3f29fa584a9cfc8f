//! The Cassandra/ScyllaDB storage backend: segments written at quorum and roots changed by Paxos lightweight transactions.
