//! Scenario §4: excision requests are data a query finds ("you remember
//! that you forgot"), and queries over the excised database no longer see
//! what was excised.
//!
//! Carrying excision out is the indexing job's work (the `index` crate);
//! here the excised view is the database filtered by the recorded
//! requests' own `covers` rule, which is what that job removes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Instant;
use model::{Datom, Db, Index, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

struct Events {
    db: Db,
    person: u64,
    events: Vec<u64>,
    requests: BTreeSet<u64>,
}

fn events() -> Events {
    let db = tx(
        &Db::new(),
        r#"[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
            {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
            {:db/ident :event/user :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
            {:db/ident :event/category :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
            {:db/ident :event/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#,
    )
    .db_after;
    let data = tx(
        &db,
        r#"[{:db/id "p" :person/name "Forget Me" :person/email "gone@example.com"}
            {:db/id "e1" :event/user "u1" :event/category "login" :event/description "first"}
            {:db/id "e2" :event/user "u2" :event/category "logout" :event/description "second"}]"#,
    );
    let person = data.tempid("p").unwrap();
    let excise = tx(
        &data.db_after,
        &format!(
            r#"[{{:db/id "x1" :db/excise {person}}}
                {{:db/id "x2" :db/excise :event/user :db.excise/before #inst "2012"}}
                {{:db/id "x3" :db/excise :event/description :db.excise/beforeT {}}}]"#,
            data.t() + 1
        ),
    );
    Events {
        db: excise.db_after.clone(),
        person,
        events: vec![data.tempid("e1").unwrap(), data.tempid("e2").unwrap()],
        requests: ["x1", "x2", "x3"]
            .iter()
            .map(|x| excise.tempid(x).unwrap())
            .collect(),
    }
}

/// The database as it reads once the recorded excisions are carried out.
fn excised(db: &Db) -> Db {
    let requests = db.excise_requests().unwrap();
    let instant_of = |base: &Db, tx: u64| -> Instant {
        let datoms = base
            .datoms(
                Index::Eavt,
                &[Value::Ref(tx), Value::keyword(":db/txInstant")],
            )
            .unwrap()
            .next();
        match datoms {
            Some(Ok(d)) => match d.v() {
                Value::Instant(i) => *i,
                other => panic!("{other} is not an instant"),
            },
            _ => panic!("transaction {tx} has no instant"),
        }
    };
    db.filter(Arc::new(move |base: &Db, d: &Datom| {
        !requests
            .iter()
            .any(|r| d.t() < r.t && r.covers(d, instant_of(base, d.tx())))
    }))
}

#[test]
fn you_remember_that_you_forgot() {
    let ev = events();
    let query = "[:find ?e :in $ ?target :where [?e :db/excise ?target]]";
    let before = q(query, &[db(&ev.db), val(Value::Ref(ev.person))]);
    let after = q(query, &[db(&excised(&ev.db)), val(Value::Ref(ev.person))]);
    assert_eq!(ids(&before).len(), 1);
    assert_eq!(ids(&before), ids(&after));
    assert!(ev.requests.is_superset(&ids(&after)));
    // Requests for attributes are found by the attribute's ident.
    let by_attr = q(
        query,
        &[db(&excised(&ev.db)), val(Value::keyword(":event/user"))],
    );
    assert_eq!(by_attr.len(), 1);
    let all = q("[:find ?e :where [?e :db/excise]]", &[db(&excised(&ev.db))]);
    assert_eq!(ids(&all), ev.requests);
}

#[test]
fn excised_entities_and_attribute_values_are_gone() {
    let ev = events();
    let gone = excised(&ev.db);
    let person = "[:find ?a ?v :in $ ?p :where [?p ?a ?v]]";
    assert_eq!(
        q(person, &[db(&ev.db), val(Value::Ref(ev.person))]).len(),
        2
    );
    assert!(q(person, &[db(&gone), val(Value::Ref(ev.person))]).is_empty());
    assert!(q(person, &[db(&gone.history()), val(Value::Ref(ev.person))]).is_empty());

    let users = "[:find ?u :where [_ :event/user ?u]]";
    assert_eq!(q(users, &[db(&ev.db)]).len(), 2);
    assert!(q(users, &[db(&gone)]).is_empty());
    let descriptions = "[:find ?d :where [_ :event/description ?d]]";
    assert!(q(descriptions, &[db(&gone)]).is_empty());
    // Categories were not excised.
    let categories = q("[:find ?e ?c :where [?e :event/category ?c]]", &[db(&gone)]);
    assert_eq!(ids(&categories), ev.events.iter().copied().collect());
}

#[test]
fn excision_limited_to_some_attributes() {
    let ev = events();
    let report = tx(
        &ev.db,
        &format!(
            r#"[{{:db/id "x" :db/excise {} :db.excise/attrs [:event/category]}}]"#,
            ev.events[0]
        ),
    );
    let gone = excised(&report.db_after);
    let found = q(
        "[:find ?a :in $ ?e :where [?e ?a] ]",
        &[db(&gone), val(Value::Ref(ev.events[0]))],
    );
    // :event/user and :event/description went with the earlier requests,
    // :event/category with this one.
    assert!(found.is_empty(), "{found}");
    let other = q(
        "[:find ?c . :in $ ?e :where [?e :event/category ?c]]",
        &[db(&gone), val(Value::Ref(ev.events[1]))],
    );
    assert_eq!(other.to_string(), "\"logout\"");
}
