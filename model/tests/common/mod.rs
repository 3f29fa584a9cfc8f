//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use model::edn::{Instant, Keyword};
use model::{Datom, Db, Entity, EntityValue, Error, Index, TxFunctions, TxReport, Value};

/// Transaction instants that always move forward.
pub fn instant(db: &Db) -> Instant {
    Instant(db.last_tx_instant().0.max(1_000_000_000_000) + 1000)
}

/// Runs EDN tx data, panicking with the error if it fails.
pub fn tx(db: &Db, text: &str) -> TxReport {
    db.with_edn(text, instant(db), &TxFunctions::new())
        .unwrap_or_else(|e| panic!("{e}\nin {text}"))
}

/// Runs EDN tx data that must fail; returns the error.
pub fn tx_err(db: &Db, text: &str) -> Error {
    match db.with_edn(text, instant(db), &TxFunctions::new()) {
        Ok(report) => panic!("expected an error, got tx data {:?}", report.tx_data),
        Err(e) => e,
    }
}

pub fn kw(text: &str) -> Keyword {
    Keyword::new(text)
}

pub fn attr_id(db: &Db, ident: &str) -> u64 {
    db.attribute_named(&kw(ident))
        .unwrap_or_else(|| panic!("no attribute {ident}"))
        .id
}

/// The value of a cardinality-one attribute of an entity.
pub fn get(entity: &Entity, attr: &str) -> Option<Value> {
    entity
        .get(&kw(attr))
        .unwrap()
        .and_then(|v| v.as_value().cloned())
}

/// The entity ids of a many-valued or reverse attribute.
pub fn refs(entity: &Entity, attr: &str) -> Vec<u64> {
    match entity.get(&kw(attr)).unwrap() {
        None => vec![],
        Some(EntityValue::Entity(e)) => vec![e.id()],
        Some(EntityValue::Many(items)) => {
            items.iter().map(|i| i.as_entity().unwrap().id()).collect()
        }
        Some(other) => panic!("not refs: {other:?}"),
    }
}

pub fn all(db: &Db, index: Index, components: &[Value]) -> Vec<Datom> {
    db.datoms(index, components)
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The datoms of one attribute, as `(e, v)`.
pub fn pairs(db: &Db, attr: &str) -> Vec<(u64, Value)> {
    all(db, Index::Aevt, &[Value::keyword(attr)])
        .into_iter()
        .map(|d| (d.e(), d.v().clone()))
        .collect()
}

pub use model::testkit::SOCIAL_SCHEMA;

pub const ORDER_SCHEMA: &str = r#"[
 {:db/id #db/id [:db.part/db] :db/ident :order/lineItems :db/isComponent true
  :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db.install/_attribute :db.part/db}
 {:db/ident :lineItem/product :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/quantity :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/price :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}
 {:db/ident :product/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
]"#;

/// A database with the social-news schema installed.
pub fn social() -> Db {
    tx(&Db::new(), SOCIAL_SCHEMA).db_after
}

/// Runs tx data that must fail with `kind`, and checks the message names
/// `needle` (and the offending form, via `form_part`).
pub fn expect_tx_err(db: &Db, text: &str, kind: model::TxErrorKind, needle: &str, form_part: &str) {
    let e = tx_err(db, text);
    assert_eq!(e.tx_kind(), Some(kind), "{e}");
    let message = e.to_string();
    assert!(message.starts_with(kind.code()), "{message}");
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
    let model::Error::Tx { form, .. } = &e else {
        unreachable!()
    };
    assert!(
        form.contains(form_part),
        "form {form:?} lacks {form_part:?}"
    );
    assert!(e.is_invalid_input());
}
