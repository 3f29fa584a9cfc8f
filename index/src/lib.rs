//! Persistent covering indexes and the log of accrete databases as immutable segment trees in storage, read lazily through a shared segment cache.
