//! The narrow trait through which the transaction builder runs what is
//! installed as data: transaction functions (`:db/fn` code) and the
//! predicates of entity specs (`:db.pred/query`, or `:db/fn` code that
//! answers true or false).
//!
//! The builder finds the code in the database value at the transaction's
//! basis (so a transaction runs the version current then) and hands it to
//! an [`Installed`] runtime. The runtime lives above this crate (the
//! `txfn` crate: a Rhai sandbox and the query engine), so `model` stays
//! free of both; a process without one refuses calls of installed
//! functions and query predicates with an error that says so.

use crate::datom::EntityId;
use crate::db::Db;
use crate::edn::{Edn, Keyword};
use crate::error::Error;
use std::fmt;

/// Why an installed function or predicate gave no answer.
#[derive(Debug)]
pub enum InstalledFailure {
    /// The code failed or went over a limit; the message says what and
    /// where (line and position in the code when it has them).
    Failed(String),
    /// Reading the database failed (storage): not the code's fault.
    Db(Error),
}

impl fmt::Display for InstalledFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstalledFailure::Failed(message) => f.write_str(message),
            InstalledFailure::Db(e) => write!(f, "{e}"),
        }
    }
}

/// One call of an installed transaction function.
#[derive(Debug)]
pub struct FnCall<'a> {
    /// The database value at the transaction's basis.
    pub db: &'a Db,
    /// The function's ident, as called.
    pub name: &'a Keyword,
    /// The function's entity.
    pub function: EntityId,
    /// Its code: the `:db/fn` value current at the basis.
    pub code: &'a str,
    /// The arguments of the call, as written in the tx data.
    pub args: &'a [Edn],
    /// Who commits the transaction, when known.
    pub principal: Option<&'a str>,
    /// Work already spent by the transaction's earlier calls and checks,
    /// in the runtime's own units; the runtime adds what this call spends
    /// and refuses calls once the transaction's budget is gone.
    pub spent: &'a mut u64,
}

/// One predicate of an entity spec, to check against the value after the
/// transaction.
#[derive(Debug)]
pub struct PredCheck<'a> {
    /// The database value after the transaction.
    pub db_after: &'a Db,
    /// The predicate's ident (or id), for messages.
    pub name: &'a str,
    /// Its Datalog query (`:db.pred/query`), when it is one.
    pub query: Option<&'a str>,
    /// Its code (`:db/fn`, `fn main(db, e, principal)` answering true or
    /// false), when it is one.
    pub code: Option<&'a str>,
    /// The rules its query gets as `%` (`:db/rules` of `:db.pred/rules`).
    pub rules: Option<&'a str>,
    /// The entity the spec is ensured on.
    pub e: EntityId,
    /// Who commits the transaction, when known.
    pub principal: Option<&'a str>,
    /// As in [`FnCall::spent`].
    pub spent: &'a mut u64,
}

/// Runs code and queries installed as data. Implemented by the `txfn`
/// crate; set on [`crate::TxFunctions::with_installed`].
///
/// # Contract
/// - Deterministic: the same call on the same database value gives the
///   same answer (no clock, randomness or I/O reach the code).
/// - Bounded: time, memory and recursion of one call, and the work of all
///   calls of one transaction (through `spent`), are limited; over a limit
///   is an [`InstalledFailure::Failed`] that names the limit, and only the
///   transaction at hand fails.
/// - Never panics on any code or input.
pub trait Installed: Send + Sync {
    /// Calls a transaction function; returns the tx data that replaces
    /// the call (which may call further functions).
    fn call(&self, call: FnCall<'_>) -> Result<Vec<Edn>, InstalledFailure>;

    /// Whether a spec predicate holds for its entity.
    fn holds(&self, check: PredCheck<'_>) -> Result<bool, InstalledFailure>;
}
