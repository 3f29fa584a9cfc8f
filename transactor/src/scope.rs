//! A hook around the application of a series of transactions that share
//! state from one to the next: the bulk importer resolves a tempid used in
//! many of its transactions to one entity through it.

use std::fmt;

use model::edn::Edn;
use model::{Db, TxReport};

/// State shared by a series of transactions, consulted by the committer
/// as each one applies ([`crate::Transactor::queue_scoped`]).
///
/// # Contract
/// - [`TxScope::prepare`] runs just before the transaction applies, on the
///   database value after every transaction queued before it: what it
///   returns is applied instead of the submitted tx data. An error refuses
///   the transaction (nothing of it commits).
/// - [`TxScope::applied`] runs once it applied, before it is durable: a
///   later failure of the commit (storage unavailable, fenced) is told to
///   the caller only, so a scope must treat what it learned as provisional
///   until the caller hears "committed".
/// - Both run on the committer's apply thread: they must be quick and
///   must not block on the transactor.
pub trait TxScope: Send + Sync + fmt::Debug {
    /// The tx data to apply to `db` in place of `forms`.
    fn prepare(&self, db: &Db, forms: Vec<Edn>) -> model::Result<Vec<Edn>>;
    /// The transaction applied with this report.
    fn applied(&self, report: &TxReport);
}
