//! Schema as data: installation, old-style installs, aliases, and the
//! alterations Datomic allows or refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Edn;
use model::{Cardinality, Db, Index, TxErrorKind as K, Unique, Value, ValueType};

#[test]
fn attributes_are_installed_from_ordinary_datoms() {
    let db = social();
    let email = db.attribute_named(&kw(":user/email")).unwrap();
    assert_eq!(email.value_type, ValueType::String);
    assert_eq!(email.cardinality, Cardinality::One);
    assert_eq!(email.unique, Some(Unique::Identity));
    assert!(model::partition_of(email.id) == model::PART_DB);
    let comments = db.attribute_named(&kw(":comments")).unwrap();
    assert!(comments.is_component && comments.is_many() && comments.is_ref());
    // Schema is queryable data.
    let idents = all(&db, Index::Eavt, &[Value::Ref(email.id)]);
    assert!(
        idents
            .iter()
            .any(|d| d.v() == &Value::keyword(":user/email"))
    );
    assert_eq!(db.ident(email.id), Some(&kw(":user/email")));
}

#[test]
fn old_style_install_attribute_is_accepted() {
    let db = tx(&Db::new(), ORDER_SCHEMA).db_after;
    let items = db.attribute_named(&kw(":order/lineItems")).unwrap();
    assert!(items.is_component);
    let installs = all(
        &db,
        Index::Eavt,
        &[
            Value::keyword(":db.part/db"),
            Value::keyword(":db.install/attribute"),
            Value::Ref(items.id),
        ],
    );
    assert_eq!(installs.len(), 1);
    let db = tx(&db, r#"[{:db/id #db/id [:db.part/db] :db/ident :x/y :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
                        [:db/add :db.part/db :db.install/attribute :x/y]]"#).db_after;
    assert!(db.attribute_named(&kw(":x/y")).is_some());
}

#[test]
fn incomplete_attributes_are_refused() {
    let db = Db::new();
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/b :db/valueType :db.type/long}]"#,
        K::Schema,
        "needs :db/cardinality",
        ":a/b",
    );
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/b :db/valueType :db.type/nope :db/cardinality :db.cardinality/one}]"#,
        K::UnknownEntity,
        "unable to resolve entity :db.type/nope",
        ":db.type/nope",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "a" :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#,
        K::Schema,
        "an attribute needs :db/ident",
        ":db/valueType",
    );
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/isComponent true}]"#,
        K::Schema,
        "only ref attributes can be components",
        ":db/isComponent",
    );
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/t :db/valueType :db.type/tuple :db/cardinality :db.cardinality/one}]"#,
        K::Schema,
        "needs exactly one of :db/tupleAttrs",
        ":a/t",
    );
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.cardinality/one}]"#,
        K::Schema,
        ":db/unique must be",
        ":a/b",
    );
    // Using an attribute in the transaction that defines it.
    expect_tx_err(
        &db,
        r#"[{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one} {:db/id "x" :a/b 1}]"#,
        K::UnknownAttribute,
        "unknown attribute :a/b",
        ":a/b 1",
    );
}

#[test]
fn renaming_an_ident_keeps_the_old_one_as_an_alias() {
    let (db, u) = {
        let r = tx(
            &social(),
            r#"[{:db/id "u" :user/email "a@x" :user/firstName "Ann"}]"#,
        );
        (r.db_after.clone(), r.tempid("u").unwrap())
    };
    let first = attr_id(&db, ":user/firstName");
    let db = tx(
        &db,
        &format!("[[:db/add {first} :db/ident :user/givenName]]"),
    )
    .db_after;
    assert_eq!(db.ident(first), Some(&kw(":user/givenName")));
    assert_eq!(
        db.attribute_named(&kw(":user/givenName")).unwrap().id,
        first
    );
    assert_eq!(
        db.attribute_named(&kw(":user/firstName")).unwrap().id,
        first,
        "the old ident still resolves"
    );
    assert_eq!(
        get(&db.entity(u), ":user/givenName"),
        Some(Value::string("Ann"))
    );
    let db = tx(&db, &format!(r#"[[:db/add {u} :user/firstName "Anna"]]"#)).db_after;
    assert_eq!(
        get(&db.entity(u), ":user/givenName"),
        Some(Value::string("Anna"))
    );
    let touched = db.entity(u).touch().unwrap();
    assert!(
        touched.get(&Edn::keyword("user/givenName")).is_some(),
        "{touched}"
    );
}

#[test]
fn allowed_alterations() {
    let r = tx(
        &social(),
        r#"[{:db/id "u" :user/email "a@x" :user/firstName "Ann" :user/lastName "A"}
                             {:db/id "v" :user/email "b@x" :user/firstName "Bob" :user/lastName "B"}]"#,
    );
    let db = r.db_after;
    // one → many, many → one when no entity has two values, adding unique when values are distinct.
    let db = tx(
        &db,
        "[[:db/add :user/lastName :db/cardinality :db.cardinality/many]]",
    )
    .db_after;
    assert!(db.attribute_named(&kw(":user/lastName")).unwrap().is_many());
    let db = tx(
        &db,
        "[[:db/add :user/lastName :db/cardinality :db.cardinality/one]]",
    )
    .db_after;
    assert!(!db.attribute_named(&kw(":user/lastName")).unwrap().is_many());
    let db = tx(
        &db,
        "[[:db/add :user/firstName :db/unique :db.unique/value]]",
    )
    .db_after;
    assert_eq!(
        db.attribute_named(&kw(":user/firstName")).unwrap().unique,
        Some(Unique::Value)
    );
    let db = tx(
        &db,
        "[[:db/retract :user/firstName :db/unique :db.unique/value]]",
    )
    .db_after;
    assert_eq!(
        db.attribute_named(&kw(":user/firstName")).unwrap().unique,
        None
    );
    let db = tx(
        &db,
        r#"[{:db/id :user/lastName :db/doc "family name" :db/noHistory true :db/index true}
                        [:db/add :user/upVotes :db/isComponent true]]"#,
    )
    .db_after;
    let last = db.attribute_named(&kw(":user/lastName")).unwrap();
    assert_eq!(last.doc.as_deref(), Some("family name"));
    assert!(last.no_history && last.index);
    assert!(
        db.attribute_named(&kw(":user/upVotes"))
            .unwrap()
            .is_component
    );
}

#[test]
fn refused_alterations() {
    let r = tx(
        &social(),
        r#"[{:db/id "u" :user/email "a@x" :user/firstName "Ann" :user/upVotes "s"} {:db/id "s" :story/url "http://s"}
                             {:db/id "s2" :story/url "http://s2"} {:db/id "v" :user/email "b@x" :user/firstName "Ann"}]"#,
    );
    let (u, s2) = (r.tempid("u").unwrap(), r.tempid("s2").unwrap());
    let db = tx(&r.db_after, &format!("[[:db/add {u} :user/upVotes {s2}]]")).db_after;
    expect_tx_err(
        &db,
        "[[:db/add :user/firstName :db/valueType :db.type/long]]",
        K::Schema,
        "the value type of :user/firstName cannot be changed",
        ":db/valueType",
    );
    expect_tx_err(
        &db,
        "[[:db/add :user/upVotes :db/cardinality :db.cardinality/one]]",
        K::Schema,
        "cannot become cardinality one",
        ":user/upVotes",
    );
    expect_tx_err(
        &db,
        "[[:db/add :user/firstName :db/unique :db.unique/identity]]",
        K::Schema,
        "cannot become unique: \"Ann\" is held by several entities",
        ":db/unique",
    );
    expect_tx_err(
        &db,
        "[[:db/retract :user/firstName :db/valueType :db.type/string]]",
        K::Schema,
        "the attribute is in use",
        ":db/retract",
    );
    expect_tx_err(
        &db,
        "[[:db/retractEntity :user/email]]",
        K::Schema,
        "the attribute is in use",
        ":db/retractEntity",
    );
    expect_tx_err(
        &db,
        "[[:db/add :user/firstName :db/isComponent true]]",
        K::Schema,
        "only ref attributes can be components",
        ":db/isComponent",
    );
    expect_tx_err(
        &db,
        "[[:db/add :db/ident :db/doc \"mine\"]]",
        K::Schema,
        "built-in :db/ident cannot be changed",
        ":db/doc",
    );
    expect_tx_err(
        &db,
        "[[:db/add :db/txInstant :db/noHistory true]]",
        K::Schema,
        "built-in :db/txInstant cannot be changed",
        ":db/noHistory",
    );
    // An unused attribute can be retired.
    let db = tx(
        &db,
        r#"[{:db/ident :tmp/x :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#,
    )
    .db_after;
    let db = tx(&db, "[[:db/retractEntity :tmp/x]]").db_after;
    assert!(db.attribute_named(&kw(":tmp/x")).is_none());
}

#[test]
fn tuple_definitions_cannot_change() {
    let db = tx(&Db::new(), r#"[{:db/ident :p/t :db/valueType :db.type/tuple :db/tupleTypes [:db.type/long :db.type/string] :db/cardinality :db.cardinality/one}]"#).db_after;
    expect_tx_err(
        &db,
        "[[:db/add :p/t :db/tupleTypes [:db.type/long :db.type/long]]]",
        K::Schema,
        "the tuple definition of :p/t cannot be changed",
        ":db/tupleTypes",
    );
}

#[test]
fn excision_of_protected_data_is_refused() {
    let r = tx(&social(), r#"[{:db/id "u" :user/email "a@x"}]"#);
    let u = r.tempid("u").unwrap();
    let db = r.db_after;
    expect_tx_err(
        &db,
        r#"[{:db/id "x" :db/excise :db/ident}]"#,
        K::Excision,
        "built-in schema cannot be excised",
        ":db/ident",
    );
    let req = tx(&db, &format!(r#"[{{:db/id "x" :db/excise {u}}}]"#));
    let x = req.tempid("x").unwrap();
    let db = req.db_after;
    expect_tx_err(
        &db,
        &format!(r#"[{{:db/id "y" :db/excise {x}}}]"#),
        K::Excision,
        "excision requests cannot be excised",
        ":db/excise",
    );
    expect_tx_err(
        &db,
        &format!("[[:db/retractEntity {x}]]"),
        K::Excision,
        "excision requests cannot be retracted",
        ":db/retractEntity",
    );
    expect_tx_err(
        &db,
        &format!(r#"[{{:db/id "y" :db/excise {u} :db.excise/attrs [:db/ident]}}]"#),
        K::Excision,
        "built-in attributes cannot be excised",
        ":db.excise/attrs",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "y" :db.excise/beforeT 5}]"#,
        K::Excision,
        "needs :db/excise",
        ":db.excise/beforeT",
    );
}
