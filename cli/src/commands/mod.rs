//! One module per command.

pub(crate) mod backup;
pub(crate) mod datoms;
pub(crate) mod dbs;
pub(crate) mod serve;
pub(crate) mod transact;
