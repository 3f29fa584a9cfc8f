//! One module per command, and the database value the reading commands
//! share.

pub(crate) mod access;
pub(crate) mod backup;
pub(crate) mod config;
pub(crate) mod datoms;
pub(crate) mod dbs;
pub(crate) mod gc;
pub(crate) mod http;
pub(crate) mod import;
#[cfg(feature = "cassandra")]
pub(crate) mod keyspace;
pub(crate) mod output;
pub(crate) mod query;
pub(crate) mod serve;
pub(crate) mod transact;
pub(crate) mod value;
