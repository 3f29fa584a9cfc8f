//! The peer library: connect to a database by URI, read through a shared segment cache, receive every transaction report, and sync.
