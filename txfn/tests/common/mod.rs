//! Databases and transactions for the tests of installed functions and specs.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use model::edn::{Edn, Instant};
use model::{Db, Error, TxErrorKind, TxFunctions, TxReport};
use query::{Input, q};

pub const SCHEMA: &str = r#"[
  {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
  {:db/ident :account/owner :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
  {:db/ident :account/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

pub fn fns() -> TxFunctions {
    txfn::tx_functions()
}

fn next(db: &Db) -> Instant {
    Instant(db.last_tx_instant().0 + 1)
}

/// Runs `text` against `db` with the shared runtime.
pub fn try_tx(db: &Db, text: &str) -> Result<TxReport, Error> {
    db.with_edn(text, next(db), &fns())
}

/// Runs `text` as committed by `principal`.
pub fn try_tx_as(db: &Db, text: &str, principal: &str) -> Result<TxReport, Error> {
    let forms = match model::edn::parse(text).unwrap() {
        Edn::Vector(forms) => forms,
        other => panic!("not tx data: {other}"),
    };
    db.with_provenance(&forms, next(db), &fns(), None, Some(principal))
}

pub fn tx(db: &Db, text: &str) -> TxReport {
    try_tx(db, text).unwrap_or_else(|e| panic!("transaction failed: {e}\n{text}"))
}

/// Asserts the transaction fails with `kind` and a message holding every
/// one of `says`; returns the message.
pub fn refused(result: Result<TxReport, Error>, kind: TxErrorKind, says: &[&str]) -> String {
    let error = match result {
        Ok(report) => panic!("committed, expected {kind}: {:?}", report.tx_data),
        Err(e) => e,
    };
    let message = error.to_string();
    assert_eq!(error.tx_kind(), Some(kind), "{message}");
    for s in says {
        assert!(message.contains(s), "{message:?} lacks {s:?}");
    }
    message
}

/// A database with the test schema and Ann, Bob and Cid.
pub fn people() -> Db {
    let db = tx(&Db::new(), SCHEMA).db_after;
    tx(
        &db,
        r#"[{:db/id "ann" :person/name "Ann" :person/friend "bob"}
            {:db/id "bob" :person/name "Bob" :person/friend "cid"}
            {:db/id "cid" :person/name "Cid"}]"#,
    )
    .db_after
}

/// Installs `code` as function `ident`.
pub fn install(db: &Db, ident: &str, code: &str) -> Db {
    let form = Edn::Vector(vec![Edn::Map(
        [
            (Edn::keyword(":db/ident"), Edn::keyword(ident)),
            (Edn::keyword(":db/fn"), Edn::String(code.into())),
        ]
        .into_iter()
        .collect(),
    )]);
    tx(db, &form.to_string()).db_after
}

/// The entity named `name`.
pub fn person(db: &Db, name: &str) -> u64 {
    db.entid(&model::edn::parse(&format!("[:person/name \"{name}\"]")).unwrap())
        .unwrap()
        .unwrap_or_else(|| panic!("no person {name}"))
}

/// A query's result as EDN text.
pub fn query(db: &Db, text: &str) -> String {
    q(text, &[Input::Db(db.clone())]).unwrap().to_string()
}
