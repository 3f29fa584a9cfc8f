//! The embedded default storage backend: immutable segments and CAS roots in a local directory, safe across processes and crashes.
