//! A hook around the application of a series of transactions that share
//! state from one to the next: the bulk importer resolves a tempid used in
//! many of its transactions to one entity through it.

use std::fmt;

use model::{EntityId, TxReport};

/// State shared by a series of transactions, consulted by the committer
/// as each one applies ([`crate::Transactor::queue_scoped`]).
///
/// # Contract
/// - [`TxScope::tempid`] is asked, while a transaction applies (on the
///   database value after every transaction queued before it), about each
///   string tempid where its tx data names an entity: an entity id makes
///   the tempid name that entity, as if the id were written in its place
///   (an id never allocated is refused as unknown); `None` leaves it a
///   tempid of the transaction.
/// - [`TxScope::applied`] runs once it applied, before it is durable: a
///   later failure of the commit (storage unavailable, fenced) is told to
///   the caller only, so a scope must treat what it learned as provisional
///   until the caller hears "committed".
/// - Both run on the committer's apply thread: they must be quick and
///   must not block on the transactor.
pub trait TxScope: Send + Sync + fmt::Debug {
    /// The entity an earlier transaction of the series resolved the string
    /// tempid `tempid` to, if any.
    fn tempid(&self, tempid: &str) -> Option<EntityId>;
    /// The transaction applied with this report.
    fn applied(&self, report: &TxReport);
}
