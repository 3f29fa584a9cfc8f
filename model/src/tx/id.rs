//! Transaction ids: a client-chosen (or generated) id recorded on the
//! transaction entity as `:tx/id`, with how the tempids resolved as
//! `:tx/tempids`, so that a resubmitted transaction is found with one AVET
//! probe (`:tx/id` is unique) and answered with its first result. The
//! window of that dedup is the database's whole history, without scanning
//! the log.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::datom::{Datom, EntityId, tx_to_t};
use crate::db::Db;
use crate::edn::Edn;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::schema::bootstrap::{TX_ID, TX_TEMPIDS};
use crate::value::Value;

/// A transaction found by its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedTx {
    /// Its basis t.
    pub t: u64,
    /// How its tempids resolved.
    pub tempids: HashMap<String, EntityId>,
    /// Its datoms, as logged.
    pub tx_data: Arc<[Datom]>,
}

/// The datoms that record `id` and `tempids` (when there are any) on
/// transaction entity `tx`.
pub(super) fn datoms(tx: EntityId, id: Uuid, tempids: &HashMap<String, EntityId>) -> Vec<Datom> {
    let mut datoms = vec![Datom::new(tx, TX_ID, Value::Uuid(id), tx, true)];
    if !tempids.is_empty() {
        let map = Edn::map(tempids.iter().map(|(k, &e)| {
            let e = i64::try_from(e).unwrap_or(i64::MAX);
            (Edn::String(k.as_str().into()), Edn::Long(e))
        }));
        let text = Value::String(map.to_string().into());
        datoms.push(Datom::new(tx, TX_TEMPIDS, text, tx, true));
    }
    datoms
}

impl Db {
    /// The committed transaction recorded with `id` (`:tx/id`), if any in
    /// this value: one AVET probe, then the transaction's own datoms.
    pub fn committed_tx(&self, id: Uuid) -> Result<Option<CommittedTx>> {
        let db = self.latest();
        let probe = [Value::Ref(TX_ID), Value::Uuid(id)];
        let Some(found) = db.datoms(Index::Avet, &probe)?.next().transpose()? else {
            return Ok(None);
        };
        let t = tx_to_t(found.e());
        let tempids = match db
            .datoms(
                Index::Eavt,
                &[Value::Ref(found.e()), Value::Ref(TX_TEMPIDS)],
            )?
            .next()
            .transpose()?
        {
            Some(d) => parse_tempids(d.v())?,
            None => HashMap::new(),
        };
        let tx_data = match db.tx_range(Some(t), Some(t + 1))?.next().transpose()? {
            Some(entry) => entry.data,
            None => Arc::from(Vec::new()),
        };
        Ok(Some(CommittedTx {
            t,
            tempids,
            tx_data,
        }))
    }
}

fn parse_tempids(v: &Value) -> Result<HashMap<String, EntityId>> {
    let bad = || Error::InvalidArgument(format!("`:tx/tempids` is not a tempid map: {v:?}"));
    let Value::String(text) = v else {
        return Err(bad());
    };
    let Edn::Map(map) = crate::edn::parse(text)? else {
        return Err(bad());
    };
    map.into_iter()
        .map(|(k, e)| match (k, e) {
            (Edn::String(k), Edn::Long(e)) => {
                Ok((k.to_string(), u64::try_from(e).map_err(|_| bad())?))
            }
            _ => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::edn::Instant;
    use crate::tx::TxFunctions;

    #[test]
    fn a_transaction_is_found_by_its_id_with_its_tempids() {
        let db = Db::new();
        let schema = "[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";
        let db = db
            .with_edn(schema, Instant(1), &TxFunctions::new())
            .unwrap()
            .db_after;
        let id = Uuid::from_u128(42);
        let forms = crate::edn::parse("[{:db/id \"ann\" :p/name \"Ann\"}]").unwrap();
        let Edn::Vector(forms) = forms else { panic!() };
        let report = db
            .with_tx_id(&forms, Instant(2), &TxFunctions::new(), Some(id))
            .unwrap();
        assert!(db.committed_tx(id).unwrap().is_none());
        let found = report.db_after.committed_tx(id).unwrap().unwrap();
        assert_eq!(found.t, report.t());
        assert_eq!(found.tempids, report.tempids);
        assert_eq!(found.tx_data, report.tx_data);
        assert!(
            report
                .db_after
                .committed_tx(Uuid::from_u128(7))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_principal_is_recorded_by_the_caller_and_refused_in_tx_data() {
        let schema = "[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";
        let fns = TxFunctions::new();
        let db = Db::new()
            .with_edn(schema, Instant(1), &fns)
            .unwrap()
            .db_after;
        let parse = |text: &str| match crate::edn::parse(text).unwrap() {
            Edn::Vector(forms) => forms,
            other => panic!("{other:?}"),
        };
        let forms = parse("[{:db/id \"ann\" :p/name \"Ann\"}]");
        let report = db
            .with_provenance(&forms, Instant(2), &fns, None, Some("alice"))
            .unwrap();
        let tx = report.tx();
        let principal = crate::schema::bootstrap::TX_PRINCIPAL;
        assert!(
            report.tx_data.iter().any(|d| d.e() == tx
                && d.a() == principal
                && d.v() == &Value::String("alice".into()))
        );
        assert_eq!(report.needs_admin(), None);
        for forged in [
            "[[:db/add \"datomic.tx\" :tx/principal \"root\"]]",
            "[{:db/id \"x\" :p/name \"X\" :tx/principal \"root\"}]",
        ] {
            let err = db
                .with_provenance(&parse(forged), Instant(3), &fns, None, Some("alice"))
                .unwrap_err();
            assert!(err.to_string().contains(":tx/principal"), "{err}");
            assert!(err.to_string().contains(":db.error/provenance"), "{err}");
        }
        let alter = parse("[{:db/id :p/name :db/doc \"names\"}]");
        let report = db.with(&alter, Instant(4), &fns).unwrap();
        assert!(report.needs_admin().unwrap().contains(":p/name"));
        let excise = parse("[{:db/excise :p/name}]");
        let report = db.with(&excise, Instant(4), &fns).unwrap();
        assert!(report.needs_admin().unwrap().contains("excision"));
        let install = parse(
            "[{:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]",
        );
        assert_eq!(
            db.with(&install, Instant(4), &fns).unwrap().needs_admin(),
            None
        );
        // Code and rules that run at commit time: installing, changing or
        // renaming them needs the admin role; calling them and asking for
        // a spec does not.
        for code in [
            "[{:db/ident :p/fn :db/fn \"fn main(db) { [] }\"}]",
            "[{:db/ident :p/spec :db.entity/attrs [:p/name]}]",
            "[{:db/ident :p/pred :db.pred/query \"[:find ?e :in $ ?e :where [?e :p/name]]\"}]",
            "[{:db/ident :p/rules :db/rules \"[[(named ?e) [?e :p/name]]]\"}]",
        ] {
            let report = db.with(&parse(code), Instant(4), &fns).unwrap();
            let why = report.needs_admin().unwrap_or_else(|| panic!("{code}"));
            assert!(why.contains("commit-time code or rules (:db"), "{why}");
        }
        let installed = db
            .with(
                &parse(
                    "[{:db/ident :p/spec :db.entity/attrs [:p/name]} {:db/id \"x\" :p/name \"X\"}]",
                ),
                Instant(4),
                &fns,
            )
            .unwrap()
            .db_after;
        let rename = parse("[[:db/add :p/spec :db/ident :p/spec-old]]");
        let report = installed.with(&rename, Instant(5), &fns).unwrap();
        assert!(report.needs_admin().unwrap().contains("renames entity"));
        let ensure = parse("[{:db/id \"z\" :p/name \"Z\" :db/ensure :p/spec}]");
        let report = installed.with(&ensure, Instant(5), &fns).unwrap();
        assert_eq!(report.needs_admin(), None);
    }
}
