//! Excision (scenarios §4): the indexing job removes what requests cover
//! from every index, both layers and the log; the requests remain; nothing
//! reachable in storage holds the excised values; later writes and readers
//! carry on, including a retraction committed while the job ran.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::*;
use index::{TreeConfig, reachable_segments};
use model::edn::Instant;
use model::{Datom, Db, ExciseRequest, Index, TxLog, Value};
use storage_core::StorageExt;

const EVENTS: &str = r#"[
 {:db/ident :event/user :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :event/category :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :event/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/ssn :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

/// Every datom and log byte reachable from the database's log root,
/// decoded, as text: no excised value may appear in it.
fn reachable_text(rt: &tokio::runtime::Runtime, w: &Writer) -> String {
    let mut text = format!("{:?}", w.root.tail);
    for r in rt.block_on(reachable_segments(&w.seg, &w.root)).unwrap() {
        let frame = rt.block_on(w.seg.storage.get_frame(r.id)).unwrap().unwrap();
        let node = index::segment::Node::decode(frame.kind, &frame.payload).unwrap();
        text.push_str(&format!("{node:?}"));
    }
    text
}

/// The tx instant of every t, from the all-novelty reference.
fn instants(db: &Db) -> HashMap<u64, Instant> {
    all(db, Index::Aevt, &[Value::keyword(":db/txInstant")])
        .into_iter()
        .filter_map(|d| match d.v() {
            Value::Instant(i) => Some((d.t(), *i)),
            _ => None,
        })
        .collect()
}

/// What the excision rule removes: covered datoms from before the request,
/// and retractions of removed assertions.
fn excised(reference: &Db, requests: &[ExciseRequest]) -> impl Fn(&Datom) -> bool + use<> {
    let instants = instants(reference);
    let requests = requests.to_vec();
    let history = all(&reference.history(), Index::Eavt, &[]);
    let covered = move |d: &Datom| {
        let i = instants.get(&d.t()).copied().unwrap_or(Instant(i64::MAX));
        requests.iter().any(|r| d.t() < r.t && r.covers(d, i))
    };
    // A retraction goes with the assertion it retracts.
    let gone: std::collections::HashSet<Datom> = history
        .windows(2)
        .filter(|w| w[0].same_fact(&w[1]) && w[0].added() && !w[1].added() && covered(&w[0]))
        .map(|w| w[1].clone())
        .chain(history.iter().filter(|d| covered(d)).cloned())
        .collect();
    move |d: &Datom| gone.contains(d)
}

fn excision_removes_covered_datoms_everywhere_and_remembers_the_requests(backend: Backend) {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, backend);
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let mut w = Writer::create(&rt, &seg, "events");
    w.tx(&rt, EVENTS);
    let alice = w
        .tx(
            &rt,
            r#"[{:db/id "a" :person/name "Alice" :person/ssn "secret-ssn-alice"}]"#,
        )
        .tempid("a")
        .unwrap();
    let bob = w
        .tx(
            &rt,
            r#"[{:db/id "b" :person/name "Bob" :person/ssn "secret-ssn-bob"}]"#,
        )
        .tempid("b")
        .unwrap();
    w.tx(&rt, &format!(r#"[[:db/add {alice} :person/name "Alice B"] [:db/add {bob} :person/friend {alice}] [:db/add {alice} :person/friend {bob}]]"#));
    for i in 0..6 {
        w.tx(&rt, &format!(r#"[{{:event/user "old-user-{i}" :event/category :c/{i} :event/description "old-desc-{i}"}}]"#));
    }
    // Part of the data is indexed before the requests, part is novelty.
    w.index(&rt);
    let cutoff = Instant(w.clock() + 500);
    let mid_t = w.db.basis_t();
    for i in 0..3 {
        w.tx(&rt, &format!(r#"[{{:event/user "new-user-{i}" :event/category :c/n{i} :event/description "new-desc-{i}"}}]"#));
    }
    let requests_t = w
        .tx(
            &rt,
            &format!(
                r#"[{{:db/id "x1" :db/excise {alice}}}
                    {{:db/id "x2" :db/excise {bob} :db.excise/attrs [:person/ssn]}}
                    {{:db/id "x3" :db/excise :event/user :db.excise/before #inst "{}"}}
                    {{:db/id "x4" :db/excise :event/description :db.excise/beforeT {}}}]"#,
                cutoff,
                mid_t - 2
            ),
        )
        .t();
    // A later assertion about the excised entity is not excised.
    w.tx(
        &rt,
        &format!(r#"[[:db/add {alice} :person/name "Alice again"]]"#),
    );
    let requests = w.db.excise_requests().unwrap();
    assert_eq!(requests.len(), 4);
    let job = w.index(&rt);
    assert_eq!(job.stats.excisions, 4);
    assert!(job.rewrites_log());
    let gone = excised(&w.reference, &requests);
    let expect = |db: &Db| -> Vec<Vec<Datom>> {
        everything(db)
            .into_iter()
            .map(|v| v.into_iter().filter(|d| !gone(d)).collect())
            .collect()
    };
    let fresh = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    for (what, db) in [("writer", w.db.clone()), ("reader", w.reopen(&rt, &fresh))] {
        let what = format!("{backend:?} {what}");
        assert_eq!(
            everything(&db.history()),
            expect(&w.reference.history()),
            "{what}: history"
        );
        assert_eq!(everything(&db), expect(&w.reference), "{what}: current");
        let before = w.reference.as_of(mid_t).unwrap();
        assert_eq!(
            everything(&db.as_of(mid_t).unwrap()),
            expect(&before),
            "{what}: as of"
        );
        // Entity excision: only the assertion made after the request remains.
        let left = all(&db.history(), Index::Eavt, &[Value::Ref(alice)]);
        assert_eq!(left.len(), 1, "{what}: {left:?}");
        assert!(left[0].t() > requests_t);
        // Attrs-limited: Bob keeps his name, loses his ssn.
        assert_eq!(
            all(&db.history(), Index::Eavt, &[Value::Ref(bob)]).len(),
            2,
            "{what}: name and friend"
        );
        // Attribute excision by instant and by t: only the newer values.
        let users: Vec<Value> = all(&db, Index::Aevt, &[Value::keyword(":event/user")])
            .into_iter()
            .map(|d| d.v().clone())
            .collect();
        assert_eq!(users.len(), 3, "{what}: {users:?}");
        assert!(all(&db, Index::Aevt, &[Value::keyword(":event/description")]).len() < 9);
        // The log forgot too, and the requests are remembered.
        let log: Vec<TxLog> = db
            .tx_range(None, None)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert!(
            log.iter().flat_map(|e| e.data.iter()).all(|d| !gone(d)),
            "{what}: log"
        );
        assert_eq!(
            log.len(),
            w.ts.len(),
            "{what}: every transaction keeps its entry"
        );
        let remembered = all(
            &db,
            Index::Vaet,
            &[Value::Ref(alice), Value::keyword(":db/excise")],
        );
        assert_eq!(remembered.len(), 1, "{what}: [?e :db/excise alice]");
        assert_eq!(db.excise_requests().unwrap(), requests);
    }
    let text = reachable_text(&rt, &w);
    for secret in [
        "secret-ssn-alice",
        "secret-ssn-bob",
        "old-user-0",
        "old-user-5",
    ] {
        assert!(
            !text.contains(secret),
            "{backend:?}: {secret} is still reachable"
        );
    }
    assert!(text.contains("new-user-2") && text.contains("Bob"));
    // Writes go on; the next job carries out nothing again.
    w.tx(&rt, r#"[{:event/user "later" :event/description "later"}]"#);
    let job = w.index(&rt);
    assert_eq!(job.stats.excisions, 0);
    assert_eq!(
        everything(&w.reopen(&rt, &fresh).history()),
        everything(&w.db.history())
    );
}

storage_core::per_backend! {
    #[test]
    fn excision_removes_covered_datoms_everywhere_and_remembers_the_requests for Backend {
        mem = Mem, file = File
    }
}

#[test]
fn a_retraction_committed_while_the_job_excises_its_fact_is_dropped() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let mut w = Writer::create(&rt, &seg, "race");
    w.tx(&rt, EVENTS);
    let carol = w
        .tx(
            &rt,
            r#"[{:db/id "c" :person/name "Carol" :person/ssn "secret-carol"}]"#,
        )
        .tempid("c")
        .unwrap();
    w.index(&rt);
    w.tx(
        &rt,
        &format!("[{{:db/id \"x\" :db/excise {carol} :db.excise/attrs [:person/ssn]}}]"),
    );
    // The job starts from this moment...
    let job = rt.block_on(index::index_db(&seg, &w.db, &w.root)).unwrap();
    // ...while a writer still sees the fact and retracts it.
    w.tx(&rt, &format!(r#"[[:db/retract {carol} :person/ssn "secret-carol"] [:db/add {carol} :person/name "C"]]"#));
    let next = rt.block_on(job.next_root(&seg, &w.root)).unwrap();
    w.cas(&rt, next);
    w.db = job.rebase(&w.db).unwrap();
    let fresh = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    let opened = w.reopen(&rt, &fresh);
    for db in [&w.db, &opened] {
        let left: Vec<Datom> = all(&db.history(), Index::Eavt, &[Value::Ref(carol)]);
        assert!(
            left.iter().all(|d| d.a()
                != w.db
                    .attribute_named(&model::edn::Keyword::new(":person/ssn"))
                    .unwrap()
                    .id),
            "{left:?}"
        );
        assert_eq!(all(db, Index::Eavt, &[Value::Ref(carol)]).len(), 1);
    }
    // Until the next job the retraction is still in the log; then it is gone.
    assert!(reachable_text(&rt, &w).contains("secret-carol"));
    w.index(&rt);
    assert!(!reachable_text(&rt, &w).contains("secret-carol"));
    assert_eq!(
        everything(&w.reopen(&rt, &fresh).history()),
        everything(&w.db.history())
    );
}
