//! The transactor: lease and fencing, the transaction queue with group commit into a durable log, and background indexing jobs.
