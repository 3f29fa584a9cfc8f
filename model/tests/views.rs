//! Database values over time: as_of, since, history, filter, the log,
//! seek_datoms and index_range, and values that coexist.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Instant;
use model::{Datom, Db, Index, TimePoint, Value};
use std::sync::Arc;

/// Three transactions changing one user: returns the dbs after each.
fn timeline() -> (Vec<Db>, u64) {
    let db0 = social();
    let r1 = tx(
        &db0,
        r#"[{:db/id "u" :user/email "a@x" :user/firstName "Ann"}]"#,
    );
    let u = r1.tempid("u").unwrap();
    let r2 = tx(
        &r1.db_after,
        &format!(r#"[[:db/add {u} :user/firstName "Anna"] [:db/add {u} :user/lastName "L"]]"#),
    );
    let r3 = tx(
        &r2.db_after,
        &format!(r#"[[:db/retract {u} :user/lastName "L"]]"#),
    );
    (vec![db0, r1.db_after, r2.db_after, r3.db_after], u)
}

fn facts(db: &Db, u: u64) -> Vec<(String, Value)> {
    all(db, Index::Eavt, &[Value::Ref(u)])
        .into_iter()
        .map(|d| (db.ident(d.a()).unwrap().to_string(), d.v().clone()))
        .collect()
}

#[test]
fn as_of_each_point_equals_the_value_then() {
    let (dbs, u) = timeline();
    let latest = dbs.last().unwrap();
    for db in &dbs {
        let by_t = latest.as_of(db.basis_t()).unwrap();
        assert_eq!(facts(&by_t, u), facts(db, u), "as of t {}", db.basis_t());
        let by_tx = latest.as_of(model::t_to_tx(db.basis_t())).unwrap();
        assert_eq!(facts(&by_tx, u), facts(db, u));
        let by_instant = latest.as_of(db.last_tx_instant()).unwrap();
        assert_eq!(by_instant.as_of_t(), Some(db.basis_t()));
        assert_eq!(all(&by_t, Index::Aevt, &[]), all(db, Index::Aevt, &[]));
        assert_eq!(all(&by_t, Index::Avet, &[]), all(db, Index::Avet, &[]));
        assert_eq!(all(&by_t, Index::Vaet, &[]), all(db, Index::Vaet, &[]));
    }
    assert_eq!(
        latest
            .as_of(TimePoint::Instant(Instant(0)))
            .unwrap()
            .as_of_t(),
        Some(0)
    );
}

#[test]
fn since_shows_only_later_datoms() {
    let (dbs, u) = timeline();
    let latest = dbs.last().unwrap();
    let since = latest.since(dbs[1].basis_t()).unwrap();
    assert_eq!(
        facts(&since, u),
        vec![(":user/firstName".into(), Value::string("Anna"))]
    );
    assert_eq!(since.since_t(), Some(dbs[1].basis_t()));
    let window = latest
        .as_of(dbs[2].basis_t())
        .unwrap()
        .since(dbs[1].basis_t())
        .unwrap();
    assert_eq!(
        facts(&window, u).len(),
        2,
        "firstName Anna and lastName L were added in the window"
    );
}

#[test]
fn history_has_every_assertion_and_retraction() {
    let (dbs, u) = timeline();
    let history = dbs.last().unwrap().history();
    assert!(history.is_history());
    let ops: Vec<(String, bool)> = all(&history, Index::Eavt, &[Value::Ref(u)])
        .iter()
        .map(|d| (format!("{}", d.v()), d.added()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("\"a@x\"".into(), true),
            ("\"Ann\"".into(), true),
            ("\"Ann\"".into(), false),
            ("\"Anna\"".into(), true),
            ("\"L\"".into(), true),
            ("\"L\"".into(), false),
        ]
    );
    let since_history = history.since(dbs[2].basis_t()).unwrap();
    assert_eq!(all(&since_history, Index::Eavt, &[Value::Ref(u)]).len(), 1);
}

#[test]
fn filter_hides_datoms_everywhere() {
    let (dbs, u) = timeline();
    let latest = dbs.last().unwrap();
    let email = attr_id(latest, ":user/email");
    let filtered = latest.filter(Arc::new(move |_db: &Db, d: &Datom| d.a() != email));
    assert!(filtered.is_filtered());
    assert!(facts(&filtered, u).iter().all(|(a, _)| a != ":user/email"));
    assert_eq!(get(&filtered.entity(u), ":user/email"), None);
    assert_eq!(
        get(&latest.entity(u), ":user/email"),
        Some(Value::string("a@x"))
    );
}

#[test]
fn old_values_stay_valid_after_many_transactions() {
    let (dbs, u) = timeline();
    let mut db = dbs.last().unwrap().clone();
    let kept = db.clone();
    for i in 0..50 {
        db = tx(&db, &format!(r#"[[:db/add {u} :user/firstName "N{i}"]]"#)).db_after;
    }
    assert_eq!(
        get(&kept.entity(u), ":user/firstName"),
        Some(Value::string("Anna"))
    );
    assert_eq!(
        get(&db.entity(u), ":user/firstName"),
        Some(Value::string("N49"))
    );
    assert_eq!(db.basis_t(), kept.basis_t() + 50);
}

#[test]
fn the_log_by_t() {
    let (dbs, u) = timeline();
    let latest = dbs.last().unwrap();
    let entries: Vec<_> = latest
        .tx_range(Some(dbs[1].basis_t()), None)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(
        entries.iter().map(|e| e.t).collect::<Vec<_>>(),
        vec![dbs[1].basis_t(), dbs[2].basis_t(), dbs[3].basis_t()]
    );
    assert!(entries[0].data.iter().any(|d| d.e() == u));
    let one: Vec<_> = latest
        .tx_range(Some(dbs[2].basis_t()), Some(dbs[3].basis_t()))
        .unwrap()
        .collect();
    assert_eq!(one.len(), 1);
    assert_eq!(
        latest.tx_range(None, None).unwrap().count(),
        5,
        "bootstrap, schema and three transactions"
    );
}

#[test]
fn seek_datoms_and_index_range() {
    let db = social();
    let r = tx(
        &db,
        r#"[{:db/id "a" :user/email "a@x"} {:db/id "b" :user/email "b@x"} {:db/id "c" :user/email "c@x"}]"#,
    );
    let db = r.db_after.clone();
    let range: Vec<Value> = db
        .index_range(
            &Value::keyword(":user/email"),
            Some(&Value::string("b@x")),
            Some(&Value::string("c@x")),
        )
        .unwrap()
        .map(|d| d.unwrap().v().clone())
        .collect();
    assert_eq!(range, vec![Value::string("b@x")]);
    let open: Vec<_> = db
        .index_range(&Value::keyword(":user/email"), None, None)
        .unwrap()
        .collect();
    assert_eq!(open.len(), 3);
    let b = r.tempid("b").unwrap();
    let seek: Vec<Datom> = db
        .seek_datoms(Index::Eavt, &[Value::Ref(b)])
        .unwrap()
        .map(|d| d.unwrap())
        .collect();
    assert_eq!(seek.first().unwrap().e(), b);
    assert!(
        seek.iter().any(|d| d.e() == r.tempid("c").unwrap()),
        "seek runs to the end of the index"
    );
    let err = db
        .datoms(Index::Eavt, &[Value::keyword(":no/such")])
        .err()
        .unwrap();
    assert!(
        err.to_string().contains(":no/such names no entity"),
        "{err}"
    );
    let c = db
        .components(
            Index::Avet,
            &[Value::keyword(":user/email"), Value::string("a@x")],
        )
        .unwrap();
    assert_eq!(c.a, Some(attr_id(&db, ":user/email")));
}

#[test]
fn entity_api_is_lazy_and_navigates_both_ways() {
    let db = social();
    let r = tx(
        &db,
        r#"[{:db/id "ed" :user/email "ed@x" :user/firstName "Edward" :user/lastName "Itor"}
                       {:db/id "s" :story/url "http://s" :comments [{:db/id "c1" :comment/body "first" :comment/author "ed"
                                                                    :comments [{:comment/body "reply" :comment/author "ed"}]}]}]"#,
    );
    let db = r.db_after.clone();
    let ed = db.entity(r.tempid("ed").unwrap());
    assert_eq!(ed.to_string(), format!("{{:db/id {}}}", ed.id()));
    assert_eq!(get(&ed, ":user/firstName"), Some(Value::string("Edward")));
    let authored = refs(&ed, ":comment/_author");
    assert_eq!(authored.len(), 2);
    let c1 = db.entity(r.tempid("c1").unwrap());
    let replies = refs(&c1, ":comments");
    assert_eq!(replies.len(), 1);
    // A component's reverse ref is a single parent entity.
    let parent = c1.get(&kw(":_comments")).unwrap().unwrap();
    assert_eq!(parent.as_entity().unwrap().id(), r.tempid("s").unwrap());
    let keys: Vec<String> = ed.keys().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        vec![":user/email", ":user/firstName", ":user/lastName"]
    );
    let touched = ed.touch().unwrap().to_string();
    assert!(touched.contains(":user/lastName \"Itor\""), "{touched}");
    assert!(ed.get(&kw(":no/attr")).is_err());
    assert_eq!(get(&ed, ":db/id"), Some(Value::Ref(ed.id())));
}

#[test]
fn values_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Db>();
    send_sync::<model::TxReport>();
    send_sync::<model::Entity>();
    send_sync::<model::Error>();
    send_sync::<model::edn::Edn>();
    let (dbs, u) = timeline();
    let db = dbs.last().unwrap().clone();
    let name = std::thread::spawn(move || get(&db.entity(u), ":user/firstName"))
        .join()
        .unwrap();
    assert_eq!(name, Some(Value::string("Anna")));
}
