//! Bringing a database created by an older accrete up to this version's
//! built-in schema.
//!
//! The built-in entities live in the log as the bootstrap transaction
//! (t = 0) of each database, written when it was created. A later accrete
//! may define more of them (`:tx/principal`, `:db/fn`, `:db/ensure`, …), in
//! the reserved id range below [`BUILTIN_LIMIT`](b::BUILTIN_LIMIT) that no
//! user transaction can touch. A database created before has none of those
//! datoms, so the new attributes are unknown to it. [`Db::upgrade`] builds
//! the system transaction that asserts what is missing; the transactor
//! commits it when it takes a database over, before any client's
//! transaction. It is an ordinary log entry: peers, indexes, backups and
//! history see it like any other, and a database that is current gets none.

use super::Db;
use crate::datom::{Datom, t_to_tx};
use crate::edn::Instant;
use crate::error::Result;
use crate::log::TxLog;
use crate::schema::bootstrap::{self as b, bootstrap_tx};
use crate::tx::TxReport;
use crate::value::Value;
use std::collections::HashMap;

impl Db {
    /// The datoms of this version's bootstrap transaction that are not
    /// current in this database (none for a database created by this
    /// version), in bootstrap order.
    pub fn missing_builtins(&self) -> Result<Vec<Datom>> {
        let db = self.latest();
        let bootstrap = bootstrap_tx();
        let genesis = bootstrap.tx();
        let mut missing = Vec::new();
        for d in bootstrap.data.iter().filter(|d| d.e() != genesis) {
            let current = db.current_values(d.e(), d.a())?;
            if !current.iter().any(|c| c.v() == d.v()) {
                missing.push(d.clone());
            }
        }
        Ok(missing)
    }

    /// The system transaction that installs the built-in entities this
    /// database lacks ([`Db::missing_builtins`]), or `None` when it has
    /// them all. Recorded at `instant` (later than the last transaction's)
    /// and, when the database already knows `:tx/principal`, as committed
    /// by `principal`.
    pub fn upgrade(&self, instant: Instant, principal: &str) -> Result<Option<TxReport>> {
        let db = self.latest();
        let missing = db.missing_builtins()?;
        if missing.is_empty() {
            return Ok(None);
        }
        let t = db.next_t();
        let tx = t_to_tx(t);
        let mut data = vec![Datom::new(
            tx,
            b::TX_INSTANT,
            Value::Instant(instant),
            tx,
            true,
        )];
        // A datom may only use an attribute the database knew before the
        // transaction: a database that lacks `:tx/principal` gets it here
        // and records principals from its next transaction on.
        if db.attribute(b::TX_PRINCIPAL).is_some() {
            let who = Value::String(principal.into());
            data.push(Datom::new(tx, b::TX_PRINCIPAL, who, tx, true));
        }
        data.extend(
            missing
                .into_iter()
                .map(|d| Datom::new(d.e(), d.a(), d.v().clone(), tx, true)),
        );
        let entry = TxLog {
            t,
            data: data.into(),
        };
        let db_after = db.apply(&entry, false)?;
        Ok(Some(TxReport {
            db_before: db,
            db_after,
            tx_data: entry.data,
            tempids: HashMap::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_this_version_needs_no_upgrade() {
        let db = Db::new();
        assert!(db.missing_builtins().unwrap().is_empty());
        assert!(db.upgrade(Instant(1), "local:test").unwrap().is_none());
    }
}
