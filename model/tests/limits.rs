//! The size limits of a transaction (issue 14 items 2 and 5): tx data, one
//! value, and the datoms of a transaction are refused over their limits,
//! with the size, the limit and what to do, before anything is applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::{Edn, Instant};
use model::limits::{MAX_TX_BYTES, MAX_VALUE_BYTES};
use model::{Db, TxFunctions};

fn schema() -> Db {
    let db = Db::new();
    tx(
        &db,
        r#"[{:db/ident :x/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
            {:db/ident :x/blob :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
            {:db/ident :x/bytes :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one}]"#,
    )
    .db_after
}

fn with_forms(db: &Db, forms: Vec<Edn>) -> model::Result<model::TxReport> {
    db.with(&forms, instant(db), &TxFunctions::new())
}

fn blob(name: &str, len: usize) -> Edn {
    let text = format!(r#"{{:x/name "{name}" :x/blob "{}"}}"#, "v".repeat(len));
    model::edn::parse(&text).unwrap()
}

#[test]
fn tx_data_over_the_limit_is_refused_before_parsing() {
    let db = schema();
    // Not even valid EDN: the size speaks first, so nothing is parsed.
    let text = format!("[{}", " ".repeat(10 * 1024 * 1024));
    let err = db
        .with_edn(&text, Instant(1), &TxFunctions::new())
        .unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(
        err.to_string(),
        "transaction of 10.0 MiB is over the limit of 3.5 MiB; split it into smaller transactions, \
         or load it with `accrete import URI FILE`, which does"
    );
    let just = format!("[{}]", " ".repeat(MAX_TX_BYTES - 2));
    db.with_edn(&just, instant(&db), &TxFunctions::new())
        .unwrap();
}

#[test]
fn a_value_over_the_limit_is_refused_with_its_size_and_attribute() {
    let db = schema();
    // The 4.15 MB string of the issue's first reproduction.
    let err = with_forms(&db, vec![blob("a", 4_150_000)]).unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(
        err.to_string(),
        "a value of 4.0 MiB for :x/blob is over the limit of 1.0 MiB per value; \
         keep large values outside the database and store a reference to them"
    );
    // Byte arrays count alike (`#bytes "hex"`): one byte over is refused.
    let hex = "07".repeat(MAX_VALUE_BYTES);
    let form = format!(r#"[[:db/add "b" :x/bytes #bytes "{hex}"]]"#);
    let err = tx_err(&db, &form);
    assert!(
        err.to_string()
            .starts_with("a value of 1.0 MiB for :x/bytes"),
        "{err}"
    );
    // The largest value is accepted.
    with_forms(&db, vec![blob("c", MAX_VALUE_BYTES - 8)]).unwrap();
}

#[test]
fn datoms_over_the_log_entry_limit_are_refused_before_they_apply() {
    let mut db = schema();
    // Four values of almost 1 MiB on one entity, one transaction each…
    for i in 0..4 {
        let mut text = "v".repeat(MAX_VALUE_BYTES - 16);
        text.push_str(&i.to_string());
        let form = format!(r#"[{{:x/name "e" :x/blob "{text}"}}]"#);
        db = tx(&db, &form).db_after;
    }
    // …then one small form that retracts them all: the retractions carry
    // the values, over what one log entry may hold.
    let err = db
        .with_edn(
            r#"[[:db/retractEntity [:x/name "e"]]]"#,
            instant(&db),
            &TxFunctions::new(),
        )
        .unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(
        err.to_string(),
        "transaction of 4.0 MiB of datoms is over the limit of 3.9 MiB; split it into smaller \
         transactions, or load it with `accrete import URI FILE`, which does"
    );
}
