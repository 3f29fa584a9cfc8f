//! Scenario §4 end to end: excision requests committed through a real
//! transactor on durable storage, carried out by its own indexing job, and
//! checked on the database read back from storage by a fresh peer and a
//! fresh open: the excised datoms are gone from the current value, every
//! as-of value, the history and the log; every other datom is exactly as
//! the in-memory reference has it; the requests remain queryable; schema
//! and requests cannot be excised; and no segment reachable from the
//! database's roots holds an excised value.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use index::{SegmentCache, Segments, reachable_segments};
use integration_tests::scenario::Reference;
use integration_tests::stage::{Backend, Stage, blocking, within};
use model::edn::Instant;
use model::{Datom, Db, Index, TxReport, Value};
use query::Input;
use storage_core::{SegmentId, codec};

/// Every excised value, and only those, carries this mark.
const MARK: &str = "SECRET-";

const SCHEMA: &str = r#"[
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/ssn :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :event/user :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :event/category :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :event/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :filler/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

/// 2011-06-01 and 2013-06-01, in ms since 1970.
const IN_2011: i64 = 1_306_886_400_000;
const IN_2013: i64 = 1_370_044_800_000;

/// The transactor's clock, set by the test.
fn clock(now: &Arc<AtomicI64>) -> transactor::Clock {
    let now = now.clone();
    Arc::new(move || Instant(now.load(Ordering::SeqCst)))
}

/// The entities of the scenario.
struct People {
    /// Excised whole.
    forget: u64,
    /// Only `:person/ssn` excised.
    quinn: u64,
    /// A 2011 event: its user (before 2012) and its first description
    /// (before the 2013 transaction) excised.
    old_event: u64,
}

async fn commit(conn: &peer::Connection, reference: &mut Reference, tx: &str) -> TxReport {
    let report = within("a transaction", conn.transact(tx))
        .await
        .unwrap_or_else(|e| panic!("commit {tx}: {e}"));
    reference.apply(tx, &report);
    report
}

async fn excision_end_to_end(backend: Backend) {
    let stage = Stage::new(backend, "forget").await;
    let now = Arc::new(AtomicI64::new(IN_2011));
    let served = stage
        .serve(transactor::Config {
            index_threshold: 40,
            clock: clock(&now),
            ..transactor::Config::default()
        })
        .await;
    let conn = stage.connect().await;
    let mut reference = Reference::default();

    commit(&conn, &mut reference, SCHEMA).await;
    let data = commit(
        &conn,
        &mut reference,
        r#"[{:db/id "forget" :person/name "SECRET-old name" :person/ssn "SECRET-ssn of forget"}
            {:db/id "quinn" :person/name "Quinn" :person/ssn "SECRET-ssn of quinn"}
            {:db/id "e1" :event/user "SECRET-user of 2011" :event/category "login"
             :event/description "SECRET-description of 2011"}]"#,
    )
    .await;
    let people = People {
        forget: data.tempid("forget").unwrap(),
        quinn: data.tempid("quinn").unwrap(),
        old_event: data.tempid("e1").unwrap(),
    };
    let rename = format!(
        r#"[[:db/add {} :person/name "SECRET-new name"]]"#,
        people.forget
    );
    commit(&conn, &mut reference, &rename).await;
    now.store(IN_2013, Ordering::SeqCst);
    let later = format!(
        r#"[{{:db/id "e2" :event/user "kept user of 2013" :event/category "logout"
             :event/description "kept description of 2013"}}
            [:db/add {} :event/description "kept new description"]]"#,
        people.old_event
    );
    let later_t = commit(&conn, &mut reference, &later).await.t();

    // Other entities first, so that the secrets share index segments with
    // data that must survive the excision: 1,000 by default, 10,000 with
    // ACCRETE_LONG=1 (then the secrets sit in a few leaves of trees
    // several levels deep).
    let bulk = if crate::long() { 40 } else { 4 };
    let mut n = 0;
    for _ in 0..bulk {
        let entities: Vec<String> = (n..n + 250).map(|i| format!("{{:filler/n {i}}}")).collect();
        commit(&conn, &mut reference, &format!("[{}]", entities.join(" "))).await;
        n += 250;
    }
    // Until an indexing job covers every secret, so that segments hold
    // them before the excision (filler transactions grow novelty past the
    // threshold).
    within("an index covering the data", async {
        while stage.log_root().await.index.is_none()
            || served.transactor.db().store().basis_t() < Some(later_t)
        {
            let filler = format!("[{{:filler/n {n}}}]");
            commit(&conn, &mut reference, &filler).await;
            n += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let before = segments_holding(&stage, MARK).await;
    let reached = reachable(&stage, &seg_of(&stage)).await;
    assert!(
        before.intersection(&reached).next().is_some(),
        "{backend}: before the excision, segments reachable from the roots hold the secrets (the scan sees them)"
    );

    let jobs = served.transactor.metrics().index_jobs;
    let requests = format!(
        r#"[{{:db/id "x1" :db/excise {forget}}}
            {{:db/id "x2" :db/excise {quinn} :db.excise/attrs [:person/ssn]}}
            {{:db/id "x3" :db/excise :event/user :db.excise/before #inst "2012"}}
            {{:db/id "x4" :db/excise :event/description :db.excise/beforeT {later_t}}}]"#,
        forget = people.forget,
        quinn = people.quinn,
    );
    let excise = commit(&conn, &mut reference, &requests).await;
    let excise_t = excise.t();
    let request_ids: BTreeSet<u64> = ["x1", "x2", "x3", "x4"]
        .iter()
        .map(|x| excise.tempid(x).unwrap())
        .collect();
    served
        .until("the excision job", |m| {
            m.index_jobs > jobs && m.excised_datoms > 0
        })
        .await;
    within("the excision job covering the request", async {
        while served.transactor.db().store().basis_t() < Some(excise_t) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    // Excised: the forgotten person's name, its retraction, the new name
    // and the ssn; Quinn's ssn; the 2011 user; the 2011 description and
    // its retraction.
    let excised = served.transactor.metrics().excised_datoms;
    assert_eq!(excised, 8, "{backend}: datoms excised");

    refusals(&conn, &people, &request_ids).await;
    served.shutdown().await;

    // Read back: a fresh peer, and a fresh open with a cache of its own.
    let fresh_peer = stage.connect().await.db();
    let seg = seg_of(&stage);
    let opened = within("opening the database", index::open_db(&seg, &stage.db))
        .await
        .unwrap()
        .db;
    for (how, db) in [("fresh peer", fresh_peer), ("fresh open", opened)] {
        let (reference, people, requests) = (
            reference.db.clone(),
            (people.forget, people.quinn, people.old_event),
            request_ids.clone(),
        );
        blocking(move || {
            let label = format!("{backend} {how}");
            assert_eq!(db.basis_t(), reference.basis_t(), "{label}");
            assert!(
                db.store().basis_t() >= Some(excise_t),
                "{label}: read from index segments"
            );
            same_datoms_except_excised(&db, &reference, &label);
            scenario_answers(&db, people, &requests, &label);
        })
        .await;
    }

    // Storage: nothing reachable from the roots holds an excised value.
    let root = stage.log_root().await;
    let tail = format!("{:?}", root.tail);
    assert!(
        !tail.contains(MARK),
        "{backend}: the log root's inline tail holds a secret"
    );
    let reachable = reachable(&stage, &seg).await;
    let after = segments_holding(&stage, MARK).await;
    let leaked: Vec<_> = after.intersection(&reachable).collect();
    assert!(
        leaked.is_empty(),
        "{backend}: reachable segments hold excised values: {leaked:?}"
    );
    // Old versions of the trees and the log stay in storage, unreachable:
    // nothing deletes unreachable segments yet (no garbage collection).
    eprintln!(
        "{backend}: {} of {} segments held secrets before the excision; after it {} of {} do, none of them reachable from the roots ({} reachable)",
        before.len(),
        stage.segment_ids().await.len(),
        after.len(),
        stage.segment_ids().await.len(),
        reachable.len()
    );
}

/// Schema, built-in attributes and excision requests cannot be excised:
/// each attempt is refused as a whole and commits nothing.
async fn refusals(conn: &peer::Connection, people: &People, requests: &BTreeSet<u64>) {
    let request = requests.first().unwrap();
    let attempts = [
        (
            r#"[{:db/id "r" :db/excise :db/ident}]"#.to_string(),
            "built-in schema cannot be excised",
        ),
        (
            format!(r#"[{{:db/id "r" :db/excise {request}}}]"#),
            "excision requests cannot be excised",
        ),
        (
            format!(
                r#"[{{:db/id "r" :db/excise {} :db.excise/attrs [:db/txInstant]}}]"#,
                people.quinn
            ),
            "built-in attributes cannot be excised",
        ),
        (
            r#"[{:db/id "r" :db/excise :person/ssn :db.excise/attrs [:db/ident]}]"#.to_string(),
            "built-in attributes cannot be excised",
        ),
    ];
    for (tx, expected) in attempts {
        let basis = conn.sync().await.unwrap().basis_t();
        let err = within("a refused excision", conn.transact(&tx))
            .await
            .expect_err(&format!("refused: {tx}"));
        assert!(err.not_committed(), "{tx}: {err}");
        assert!(err.to_string().contains(expected), "{tx}: {err}");
        assert_eq!(
            conn.sync().await.unwrap().basis_t(),
            basis,
            "{tx} committed nothing"
        );
    }
}

fn all(db: &Db, index: Index) -> Vec<Datom> {
    db.datoms(index, &[]).unwrap().map(|d| d.unwrap()).collect()
}

fn is_excised(d: &Datom) -> bool {
    matches!(d.v(), Value::String(s) if s.contains(MARK))
}

/// `db` holds exactly the reference's datoms minus the excised ones, in
/// every index of the current value, the history, every as-of value, and
/// the log.
fn same_datoms_except_excised(db: &Db, reference: &Db, label: &str) {
    let kept = |datoms: Vec<Datom>| -> Vec<Datom> {
        datoms.into_iter().filter(|d| !is_excised(d)).collect()
    };
    let mut views = vec![("current".to_string(), db.clone(), reference.clone())];
    views.push(("history".to_string(), db.history(), reference.history()));
    let ts: Vec<u64> = reference
        .tx_range(None, None)
        .unwrap()
        .map(|e| e.unwrap().t)
        // Every t is checked; with ACCRETE_LONG's bulk, every fifth.
        .enumerate()
        .filter(|(i, _)| !crate::long() || i % 5 == 0)
        .map(|(_, t)| t)
        .collect();
    for &t in &ts {
        views.push((
            format!("as-of {t}"),
            db.as_of(t).unwrap(),
            reference.as_of(t).unwrap(),
        ));
        views.push((
            format!("history as-of {t}"),
            db.as_of(t).unwrap().history(),
            reference.as_of(t).unwrap().history(),
        ));
    }
    for (view, d, r) in views {
        for index in [Index::Eavt, Index::Aevt, Index::Avet] {
            let got = all(&d, index);
            assert!(
                !got.iter().any(is_excised),
                "{label} {view} {index:?}: an excised datom is still there"
            );
            assert_eq!(got, kept(all(&r, index)), "{label} {view} {index:?}");
        }
    }
    let log: Vec<(u64, Vec<Datom>)> = db
        .tx_range(None, None)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.t, e.data.to_vec())
        })
        .collect();
    let expected: Vec<(u64, Vec<Datom>)> = reference
        .tx_range(None, None)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.t, kept(e.data.to_vec()))
        })
        .collect();
    assert_eq!(
        log, expected,
        "{label}: the log keeps every transaction, minus the excised datoms"
    );
}

fn rows(db: &Db, query: &str, inputs: Vec<Input>) -> BTreeSet<String> {
    let mut all = vec![Input::Db(db.clone())];
    all.extend(inputs);
    query::q(query, &all)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .rows()
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The scenario's queries on the excised database.
fn scenario_answers(
    db: &Db,
    (forget, quinn, old_event): (u64, u64, u64),
    requests: &BTreeSet<u64>,
    label: &str,
) {
    let of = |e: u64, db: &Db| {
        rows(
            db,
            "[:find ?a ?v :in $ ?e :where [?e ?a ?v]]",
            vec![Input::Value(Value::Ref(e))],
        )
    };
    let history = db.history();
    assert!(
        of(forget, db).is_empty() && of(forget, &history).is_empty(),
        "{label}: everything about the forgotten person"
    );
    let idents = |db: &Db, e: u64| {
        rows(
            db,
            "[:find ?ident ?v :in $ ?e :where [?e ?a ?v] [?a :db/ident ?ident]]",
            vec![Input::Value(Value::Ref(e))],
        )
    };
    assert_eq!(
        idents(db, quinn),
        set(&[":person/name \"Quinn\""]),
        "{label}: only Quinn's ssn"
    );
    assert_eq!(
        idents(db, old_event),
        set(&[
            ":event/category \"login\"",
            ":event/description \"kept new description\""
        ]),
        "{label}: the 2011 event's user and first description"
    );
    let users = rows(db, "[:find ?u :where [_ :event/user ?u]]", vec![]);
    assert_eq!(users, set(&["\"kept user of 2013\""]), "{label}");
    let described = rows(
        &history,
        "[:find ?d ?op :where [_ :event/description ?d _ ?op]]",
        vec![],
    );
    assert_eq!(
        described,
        set(&[
            "\"kept description of 2013\" true",
            "\"kept new description\" true"
        ]),
        "{label}: the history has neither the old description nor its retraction"
    );
    // You remember that you forgot.
    let found = rows(
        db,
        "[:find ?x :in $ ?e :where [?x :db/excise ?e]]",
        vec![Input::Value(Value::Ref(forget))],
    );
    assert_eq!(
        found.len(),
        1,
        "{label}: the request about the forgotten person"
    );
    let all_requests = rows(db, "[:find ?x :where [?x :db/excise]]", vec![]);
    let expected: BTreeSet<String> = requests.iter().map(|x| x.to_string()).collect();
    assert_eq!(all_requests, expected, "{label}: every request remains");
}

fn seg_of(stage: &Stage) -> Segments {
    Segments::new(stage.storage.clone(), SegmentCache::new(16 << 20).unwrap())
}

/// The segments the database's log root reaches now.
async fn reachable(stage: &Stage, seg: &Segments) -> BTreeSet<SegmentId> {
    let root = stage.log_root().await;
    within("reachable segments", reachable_segments(seg, &root))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// The ids of stored segments whose decoded payload contains `needle`.
async fn segments_holding(stage: &Stage, needle: &str) -> BTreeSet<SegmentId> {
    let mut holding = BTreeSet::new();
    for id in stage.segment_ids().await {
        let bytes = within("reading a segment", stage.storage.get_segment(id))
            .await
            .unwrap()
            .expect("a listed segment is stored");
        let frame = codec::decode(&bytes).unwrap_or_else(|e| panic!("segment {id}: {e}"));
        if frame
            .payload
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            holding.insert(id);
        }
    }
    holding
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excision_on_mem() {
    excision_end_to_end(Backend::Mem).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excision_on_file() {
    excision_end_to_end(Backend::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excision_on_postgres() {
    excision_end_to_end(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excision_on_cassandra_simulator() {
    excision_end_to_end(Backend::Cassandra).await;
}
