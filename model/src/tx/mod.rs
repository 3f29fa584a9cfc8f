//! Transactions: tx data (EDN forms) in, a [`TxReport`] out.
//!
//! [`Db::with`] is a pure function of the database value, the tx data, the
//! transaction instant the caller supplies, and the registered transaction
//! functions. Every rule violation aborts the whole transaction with an
//! error naming the offending form; nothing is half-applied because the
//! result is a new value and the old one is untouched.

mod build;
mod checks;
mod forms;
mod id;
mod installed;
mod specs;

pub use id::CommittedTx;
pub use installed::{FnCall, Installed, InstalledFailure, PredCheck};
mod positions;
mod tempids;
mod tuples;

use crate::datom::{Datom, EntityId, t_to_tx};
use crate::db::Db;
use crate::edn::{Edn, Instant, Keyword};
use crate::error::Result;
use crate::log::TxLog;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A transaction function: gets the database value before the transaction
/// and the call's arguments, returns tx data that replaces the call.
pub type TxFunction = Arc<dyn Fn(&Db, &[Edn]) -> Result<Vec<Edn>> + Send + Sync>;

/// Transaction functions registered in Rust, by name (`[:my/fn arg …]`),
/// and the runtime of those installed as data (`:db/fn`), if any.
///
/// A call `[:my/fn …]` runs the Rust function registered under `:my/fn`
/// when there is one, else the `:db/fn` code of the entity whose ident is
/// `:my/fn` (the version current at the transaction's basis) through the
/// [`Installed`] runtime.
#[derive(Clone, Default)]
pub struct TxFunctions {
    functions: HashMap<Keyword, TxFunction>,
    installed: Option<Arc<dyn Installed>>,
}

impl TxFunctions {
    /// No functions beyond the built-in ones.
    pub fn new() -> Self {
        TxFunctions::default()
    }

    /// Registers `function` under `name` (replacing any earlier one).
    pub fn register(&mut self, name: &str, function: TxFunction) -> &mut Self {
        self.functions.insert(Keyword::new(name), function);
        self
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &Keyword) -> Option<&TxFunction> {
        self.functions.get(name)
    }

    /// These functions, with `runtime` running the functions and spec
    /// predicates installed as data.
    pub fn with_installed(mut self, runtime: Arc<dyn Installed>) -> Self {
        self.installed = Some(runtime);
        self
    }

    /// The runtime of functions and predicates installed as data.
    pub fn installed(&self) -> Option<&Arc<dyn Installed>> {
        self.installed.as_ref()
    }
}

impl fmt::Debug for TxFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxFunctions")
            .field("registered", &self.functions.keys().collect::<Vec<_>>())
            .field("installed", &self.installed.is_some())
            .finish()
    }
}

/// The outcome of a transaction.
#[derive(Clone, Debug)]
pub struct TxReport {
    /// The database value before the transaction.
    pub db_before: Db,
    /// The database value after the transaction.
    pub db_after: Db,
    /// The datoms the transaction added to the log (its `:db/txInstant` first).
    pub tx_data: Arc<[Datom]>,
    /// How tempids resolved: string tempids by their text, `#db/id` forms
    /// by their printed form (e.g. `#db/id [:db.part/user -1]`).
    pub tempids: HashMap<String, EntityId>,
}

/// The attributes whose values run (or shape what runs) at commit time.
const COMMIT_CODE: [EntityId; 6] = {
    use crate::schema::bootstrap as b;
    [
        b::FN,
        b::ENTITY_ATTRS,
        b::ENTITY_PREDS,
        b::PRED_QUERY,
        b::PRED_RULES,
        b::RULES,
    ]
};

fn is_commit_code(a: EntityId) -> bool {
    COMMIT_CODE.contains(&a)
}

impl TxReport {
    /// The entity a tempid resolved to.
    pub fn tempid(&self, tempid: &str) -> Option<EntityId> {
        self.tempids.get(tempid).copied()
    }

    /// The transaction's basis t (of its tx entity; for the report of a
    /// resubmitted id, `db_after` is the current value, not the one at t).
    pub fn t(&self) -> u64 {
        self.tx_data.first().map_or_else(
            || self.db_after.basis_t(),
            |d| crate::datom::tx_to_t(d.tx()),
        )
    }

    /// The transaction entity id.
    pub fn tx(&self) -> EntityId {
        t_to_tx(self.t())
    }

    /// Why committing this transaction needs the admin role, if it does:
    /// it requests an excision; it changes an attribute that existed
    /// before it (schema alteration); or it installs, changes or renames
    /// code or rules that run at commit time for everyone: a transaction
    /// function (`:db/fn`), an entity spec (`:db.entity/attrs`,
    /// `:db.entity/preds`), a predicate (`:db.pred/query`,
    /// `:db.pred/rules`) or a rule set (`:db/rules`). A writer who could
    /// change those could weaken the checks that bind writers. Installing
    /// new attributes does not need it.
    pub fn needs_admin(&self) -> Option<String> {
        use crate::schema::bootstrap as b;
        for d in self.tx_data.iter() {
            if (b::EXCISE..=b::EXCISE_BEFORE).contains(&d.a()) {
                return Some("it requests an excision".into());
            }
            if is_commit_code(d.a()) {
                let ident = self.db_after.ident(d.a()).or(self.db_before.ident(d.a()));
                return Some(match ident {
                    Some(ident) => format!("it changes commit-time code or rules ({ident})"),
                    None => "it changes commit-time code or rules".into(),
                });
            }
            if d.a() == b::IDENT && self.holds_commit_code(d.e()) {
                return Some(format!(
                    "it renames entity {}, which holds commit-time code or rules",
                    d.e()
                ));
            }
            if checks::is_schema_attribute(d.a()) || d.a() == b::ALTER_ATTRIBUTE {
                let altered = match d.a() == b::ALTER_ATTRIBUTE {
                    true => d.v().as_ref_id(),
                    false => Some(d.e()),
                };
                if let Some(attr) = altered.and_then(|a| self.db_before.attribute(a)) {
                    return Some(format!("it alters attribute {}", attr.ident));
                }
            }
        }
        None
    }

    /// True when `e` held a function, spec, predicate or rule set before
    /// this transaction.
    fn holds_commit_code(&self, e: EntityId) -> bool {
        COMMIT_CODE.iter().any(|&a| {
            self.db_before
                .current_values(e, a)
                .map_or(true, |values| !values.is_empty())
        })
    }

    /// The log entry of the transaction (what peers and replays apply).
    pub fn log_entry(&self) -> TxLog {
        TxLog {
            t: self.t(),
            data: self.tx_data.clone(),
        }
    }
}

impl Db {
    /// Runs a transaction against this value and returns the report; the
    /// transactor commits `db_after`, anyone else gets a speculative value.
    /// Views are ignored: a transaction applies to the latest basis.
    /// `instant` becomes `:db/txInstant` unless the tx data sets it; it
    /// must be later than the previous transaction's. A transaction whose
    /// datoms are over the [`crate::limits`] is refused.
    pub fn with(
        &self,
        tx_data: &[Edn],
        instant: Instant,
        functions: &TxFunctions,
    ) -> Result<TxReport> {
        self.with_tx_id(tx_data, instant, functions, None)
    }

    /// [`Db::with`], recording `tx_id` (when given) and how the tempids
    /// resolved on the transaction entity (`:tx/id`, `:tx/tempids`), so
    /// that [`Db::committed_tx`] finds the transaction by its id. The
    /// caller makes sure the id is not taken ([`Db::committed_tx`]).
    pub fn with_tx_id(
        &self,
        tx_data: &[Edn],
        instant: Instant,
        functions: &TxFunctions,
        tx_id: Option<uuid::Uuid>,
    ) -> Result<TxReport> {
        self.with_provenance(tx_data, instant, functions, tx_id, None)
    }

    /// [`Db::with_tx_id`], also recording who commits the transaction as
    /// `:tx/principal` (when given). Only the transactor calls it with a
    /// principal: tx data that asserts `:tx/principal` itself is refused
    /// ([`crate::TxErrorKind::Provenance`]).
    pub fn with_provenance(
        &self,
        tx_data: &[Edn],
        instant: Instant,
        functions: &TxFunctions,
        tx_id: Option<uuid::Uuid>,
        principal: Option<&str>,
    ) -> Result<TxReport> {
        self.with_known_tempids(tx_data, instant, functions, tx_id, principal, &|_| None)
    }

    /// [`Db::with_provenance`] for one transaction of a series that shares
    /// tempids (the batches of a bulk import): a string tempid that `known`
    /// resolves names that entity, wherever the tx data names an entity
    /// (`:db/id`, ref values, the entity of a list form, a function's
    /// output), as if its id were written in its place. Such a tempid is
    /// not one of this transaction's: [`TxReport::tempids`] leaves it out.
    pub fn with_known_tempids(
        &self,
        tx_data: &[Edn],
        instant: Instant,
        functions: &TxFunctions,
        tx_id: Option<uuid::Uuid>,
        principal: Option<&str>,
        known: &dyn Fn(&str) -> Option<EntityId>,
    ) -> Result<TxReport> {
        let db = self.latest();
        let mut ctx = forms::Ctx::new(&db, tx_data, functions, principal, known);
        ctx.expand_all()?;
        ctx.resolve_tempids()?;
        let mut built = ctx.build(instant)?;
        let tempids = ctx.tempid_report();
        if let Some(tx_id) = tx_id {
            built.datoms.extend(id::datoms(ctx.tx, tx_id, &tempids));
        }
        if let Some(principal) = principal {
            let value = crate::value::Value::String(principal.into());
            let a = crate::schema::bootstrap::TX_PRINCIPAL;
            built
                .datoms
                .push(Datom::new(ctx.tx, a, value, ctx.tx, true));
        }
        crate::limits::check_datoms(&built.datoms, &|a| db.ident(a).map(|k| k.to_string()))?;
        let schema_origin = built.schema_origin;
        let entry = TxLog {
            t: ctx.t(),
            data: built.datoms.into(),
        };
        let db_after = db
            .apply(&entry, false)
            .map_err(|e| ctx.schema_error(e, schema_origin))?;
        ctx.check_specs(&built.ensures, &db_after)?;
        drop(ctx);
        Ok(TxReport {
            db_before: db,
            db_after,
            tx_data: entry.data,
            tempids,
        })
    }

    /// [`Db::with`] for tx data written as EDN text (a vector of forms);
    /// text over [`crate::limits::MAX_TX_BYTES`] is refused unparsed.
    pub fn with_edn(
        &self,
        tx_text: &str,
        instant: Instant,
        functions: &TxFunctions,
    ) -> Result<TxReport> {
        crate::limits::check_tx_bytes(tx_text.len())?;
        match crate::edn::parse(tx_text)? {
            Edn::Vector(forms) | Edn::List(forms) => self.with(&forms, instant, functions),
            other => Err(crate::error::Error::tx(
                crate::error::TxErrorKind::InvalidForm,
                "tx data must be a vector of forms",
                other,
            )),
        }
    }
}
