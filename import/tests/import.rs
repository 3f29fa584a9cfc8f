//! The import library (issue 22 item 1): batches, tempids across batches,
//! resuming without duplicates, errors that say where.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use import::{Format, Options, Source, import, sample};
use index::{SegmentCache, Segments, create_db};
use model::{Db, Index, Value};
use storage_core::{DbName, MemStorage, Storage};
use transactor::{Config, Transactor};

fn source(name: &str, text: String) -> Source {
    Source {
        name: name.into(),
        text: text.into(),
        format: Format::Edn,
    }
}

async fn fresh(storage: &Arc<dyn Storage>, db: &str) -> Transactor {
    let name = DbName::new(db).unwrap();
    create_db(storage, &name).await.unwrap();
    start(storage, db).await
}

async fn start(storage: &Arc<dyn Storage>, db: &str) -> Transactor {
    let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20).unwrap());
    Transactor::start(seg, &DbName::new(db).unwrap(), Config::default())
        .await
        .unwrap()
}

fn small_batches() -> Options {
    Options {
        batch_bytes: 2_000,
        ..Options::default()
    }
}

/// The entity of person `i`.
fn person(db: &Db, i: u64) -> u64 {
    let probe = [Value::keyword(":person/id"), Value::Long(i as i64)];
    let d = db
        .datoms(Index::Avet, &probe)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    d.e()
}

/// The current values of attribute `attr` of entity `e`.
fn values(db: &Db, e: u64, attr: &str) -> Vec<Value> {
    db.datoms(Index::Eavt, &[Value::Ref(e), Value::keyword(attr)])
        .unwrap()
        .map(|d| d.unwrap().v().clone())
        .collect()
}

/// Every datom of the people's attributes, as (e, a, v), sorted.
fn people_datoms(db: &Db) -> Vec<(u64, u64, String)> {
    let mut out = Vec::new();
    for attr in [
        ":person/id",
        ":person/name",
        ":person/email",
        ":person/age",
        ":person/salary",
        ":person/dept",
        ":person/friends",
        ":person/manager",
    ] {
        for d in db.datoms(Index::Aevt, &[Value::keyword(attr)]).unwrap() {
            let d = d.unwrap();
            out.push((d.e(), d.a(), format!("{:?}", d.v())));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tempid_used_in_many_batches_is_one_entity() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let t = fresh(&storage, "people").await;
    let n = 300;
    let summary = import(
        &t,
        vec![source("people.edn", sample::people_edn(n))],
        &small_batches(),
        &|_| {},
    )
    .await
    .unwrap();
    assert!(summary.batches > 10, "{summary:?}");
    assert_eq!(summary.skipped, 0);
    assert_eq!(
        summary.indexed_t,
        Some(summary.basis_t),
        "indexed at the end"
    );
    let db = t.db();
    assert_eq!(db.novelty_len(), 0);
    let check = tokio::task::spawn_blocking(move || {
        for i in 1..n {
            let e = person(&db, i);
            let manager = db
                .datoms(
                    Index::Eavt,
                    &[Value::Ref(e), Value::keyword(":person/manager")],
                )
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            let expected = person(&db, sample::manager(i).unwrap());
            assert_eq!(manager.v(), &Value::Ref(expected), "manager of person {i}");
            let mut friends = values(&db, e, ":person/friends");
            friends.sort_by_key(|v| format!("{v:?}"));
            let mut expected: Vec<_> = sample::friends(i)
                .into_iter()
                .map(|f| Value::Ref(person(&db, f)))
                .collect();
            expected.sort_by_key(|v| format!("{v:?}"));
            assert_eq!(friends, expected, "friends of person {i}");
        }
        // One entity per person: no tempid made a second one.
        let people = db
            .datoms(Index::Aevt, &[Value::keyword(":person/id")])
            .unwrap()
            .count();
        let names = db
            .datoms(Index::Aevt, &[Value::keyword(":person/name")])
            .unwrap()
            .count();
        assert_eq!((people, names), (n as usize, n as usize));
    });
    check.await.unwrap();
    t.shutdown().await.unwrap();
}

/// A tempid of an earlier batch names its entity wherever a later batch
/// names an entity: the entity of `:db/cas`, `:db/retract` and
/// `:db/retractEntity`, and the value of a reverse attribute, not only
/// `:db/id` and ref values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tempid_names_its_entity_in_every_position_of_later_batches() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let t = fresh(&storage, "positions").await;
    let text = r#"[{:db/ident :pal/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                   {:db/ident :pal/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]
                  [{:db/id "ann" :pal/name "Ann"}]
                  [{:db/id "bob" :pal/name "Bob" :pal/friend "ann"}]
                  [[:db/cas "ann" :pal/name "Ann" "Anne"]]
                  [{:db/id "cid" :pal/name "Cid" :pal/_friend "bob"}]
                  [{:db/id "dan" :pal/name "Dan"}]
                  [[:db/add "bob" :pal/friend "dan"]]
                  [[:db/retract "bob" :pal/friend "ann"]]
                  [[:db/retractEntity "cid"]]"#;
    let options = Options {
        batch_bytes: 1,
        ..Options::default()
    };
    let summary = import(&t, vec![source("pals.edn", text.into())], &options, &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.batches, 10, "one batch per form: {summary:?}");
    assert_eq!(summary.tempids, 4, "{summary:?}");
    let db = t.db();
    let check = tokio::task::spawn_blocking(move || {
        let names: Vec<(u64, String)> = db
            .datoms(Index::Aevt, &[Value::keyword(":pal/name")])
            .unwrap()
            .map(|d| {
                let d = d.unwrap();
                (d.e(), format!("{:?}", d.v()))
            })
            .collect();
        let named = |name: &str| {
            names
                .iter()
                .find(|(_, n)| n.contains(name))
                .map(|(e, _)| *e)
                .unwrap_or_else(|| panic!("{name} in {names:?}"))
        };
        // The cas renamed Ann; the retractEntity removed Cid; no tempid
        // of a later batch made a new entity.
        assert_eq!(names.len(), 3, "{names:?}");
        let (ann, bob, dan) = (named("Anne"), named("Bob"), named("Dan"));
        let friends = values(&db, bob, ":pal/friend");
        assert_eq!(friends, vec![Value::Ref(dan)], "Ann retracted, Cid gone");
        assert!(ann != bob && bob != dan);
    });
    check.await.unwrap();
    t.shutdown().await.unwrap();
}

/// `text` imported without interruption into a fresh database `whole` in
/// small batches: the import's summary and the people's datoms it left.
async fn uninterrupted(
    storage: &Arc<dyn Storage>,
    text: &str,
) -> (import::Summary, Vec<(u64, u64, String)>) {
    let whole = fresh(storage, "whole").await;
    let full = import(
        &whole,
        vec![source("p.edn", text.to_string())],
        &small_batches(),
        &|_| {},
    )
    .await
    .unwrap();
    let expected = people_datoms(&whole.db());
    whole.shutdown().await.unwrap();
    (full, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_resumed_ends_with_the_same_datoms() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let text = sample::people_edn(400);
    let (full, expected) = uninterrupted(&storage, &text).await;
    // Interrupted after a few batches: the import future is dropped and
    // its transactor stopped, as a killed process would leave it (the
    // process test in cli/tests/import.rs kills one for real).
    let first = fresh(&storage, "resumed").await;
    let committed = AtomicU64::new(0);
    let notify = tokio::sync::Notify::new();
    let progress = |p: &import::Progress| {
        committed.store(p.batches, Ordering::SeqCst);
        if p.batches >= 5 {
            notify.notify_one();
        }
    };
    let options = small_batches();
    tokio::select! {
        _ = import(&first, vec![source("p.edn", text.clone())], &options, &progress) => panic!("finished before the interruption"),
        () = notify.notified() => {}
    }
    first.shutdown().await.unwrap();
    let again = start(&storage, "resumed").await;
    let resumed = import(
        &again,
        vec![source("p.edn", text.clone())],
        &small_batches(),
        &|_| {},
    )
    .await
    .unwrap();
    assert!(resumed.skipped >= 5, "{resumed:?}");
    assert_eq!(
        resumed.skipped + resumed.batches,
        full.batches,
        "{resumed:?}"
    );
    assert_eq!(people_datoms(&again.db()), expected);
    // A third run finds everything committed and commits nothing.
    let third = import(
        &again,
        vec![source("p.edn", text)],
        &small_batches(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((third.batches, third.skipped), (0, full.batches));
    assert_eq!(people_datoms(&again.db()), expected);
    again.shutdown().await.unwrap();
}

/// A rerun given another batch size cuts where the first run cut (the
/// size is recorded on the first batch's transaction): nothing commits
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_import_keeps_its_batch_size_whatever_it_is_given() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let text = sample::people_edn(400);
    let (full, expected) = uninterrupted(&storage, &text).await;

    let first = fresh(&storage, "resumed").await;
    let notify = tokio::sync::Notify::new();
    let progress = |p: &import::Progress| {
        if p.batches >= 5 {
            notify.notify_one();
        }
    };
    let options = small_batches();
    tokio::select! {
        _ = import(&first, vec![source("p.edn", text.clone())], &options, &progress) => panic!("finished before the interruption"),
        () = notify.notified() => {}
    }
    first.shutdown().await.unwrap();
    let again = start(&storage, "resumed").await;
    for other in [options.batch_bytes * 3, options.batch_bytes / 2, 1 << 20] {
        let resumed = import(
            &again,
            vec![source("p.edn", text.clone())],
            &Options {
                batch_bytes: other,
                ..small_batches()
            },
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!(resumed.batch_bytes, options.batch_bytes, "{resumed:?}");
        assert_eq!(
            resumed.skipped + resumed.batches,
            full.batches,
            "{resumed:?}"
        );
        assert_eq!(people_datoms(&again.db()), expected, "given {other}");
    }
    let log = again.db().tx_range(None, None).unwrap().count();
    let whole_log = {
        let whole = start(&storage, "whole").await;
        let n = whole.db().tx_range(None, None).unwrap().count();
        whole.shutdown().await.unwrap();
        n
    };
    assert_eq!(
        log, whole_log,
        "as many transactions as the uninterrupted import"
    );
    again.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_of_vectors_and_json_lines_import_alike() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let schema = r#"[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
                     {:db/ident :x/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]"#;
    let edn = format!(
        "{schema}\n[{{:db/id \"a\" :x/n 1}}]\n[[:db/add \"b\" :x/n 2] [:db/add \"b\" :x/ref \"a\"]]\n"
    );
    let t = fresh(&storage, "edn").await;
    import(
        &t,
        vec![source("s.edn", edn)],
        &Options {
            batch_bytes: 1,
            ..Options::default()
        },
        &|_| {},
    )
    .await
    .unwrap();
    let json = Source {
        name: "s.jsonl".into(),
        text: concat!(
            r#"[{"db/ident": {"~kw": ":x/n"}, "db/valueType": {"~kw": ":db.type/long"}, "db/cardinality": {"~kw": ":db.cardinality/one"}}, {"db/ident": {"~kw": ":x/ref"}, "db/valueType": {"~kw": ":db.type/ref"}, "db/cardinality": {"~kw": ":db.cardinality/one"}}]"#,
            "\n",
            r#"[{"db/id": "a", "x/n": 1}]"#,
            "\n\n",
            r#"[[{"~kw": ":db/add"}, "b", {"~kw": ":x/n"}, 2], [{"~kw": ":db/add"}, "b", {"~kw": ":x/ref"}, "a"]]"#,
            "\n"
        )
        .into(),
        format: Format::JsonLines,
    };
    let j = fresh(&storage, "json").await;
    import(
        &j,
        vec![json],
        &Options {
            batch_bytes: 1,
            ..Options::default()
        },
        &|_| {},
    )
    .await
    .unwrap();
    for t in [&t, &j] {
        let db = t.db();
        let refs = tokio::task::spawn_blocking(move || {
            let a = db
                .datoms(Index::Avet, &[Value::keyword(":x/n"), Value::Long(1)])
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .e();
            let b = db
                .datoms(Index::Avet, &[Value::keyword(":x/n"), Value::Long(2)])
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .e();
            let r = db
                .datoms(Index::Eavt, &[Value::Ref(b), Value::keyword(":x/ref")])
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            (r.v().clone(), Value::Ref(a))
        })
        .await
        .unwrap();
        assert_eq!(refs.0, refs.1, "b refers to a across transactions");
    }
    t.shutdown().await.unwrap();
    j.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_says_which_file_and_line_and_keeps_what_committed() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let t = fresh(&storage, "bad").await;
    let syntax = format!("{}[{{:person/id 1}}\n{{:person/id 2", sample::SCHEMA);
    let err = import(
        &t,
        vec![source("broken.edn", syntax)],
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(err.is_invalid_input());
    let message = err.to_string();
    assert!(message.starts_with("broken.edn: "), "{message}");
    assert!(message.contains("line 10"), "{message}");
    // A batch the transactor refuses: named with its lines.
    let refused = format!(
        "{}[{{:db/id \"a\" :person/id 1}}\n{{:db/id \"b\" :person/age \"old\"}}]",
        sample::SCHEMA
    );
    let err = import(
        &t,
        vec![source("typed.edn", refused)],
        &Options::default(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(err.is_invalid_input());
    let message = err.to_string();
    // The schema is a batch of its own (an attribute cannot be used in the
    // transaction that installs it).
    assert!(
        message.starts_with("batch 1 (typed.edn, lines 9–10)"),
        "{message}"
    );
    t.shutdown().await.unwrap();
}

/// A batch size whose batches make more datoms than a transaction may hold
/// is refused with the way out: a smaller batch size, in a fresh database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_transaction_limit_says_to_lower_the_batch_size() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let t = fresh(&storage, "large").await;
    let text = sample::people_edn(30_000);
    let batch_bytes = 6 << 20;
    assert!(text.len() > batch_bytes + sample::SCHEMA.len());
    let options = Options {
        batch_bytes,
        ..Options::default()
    };
    let err = import(&t, vec![source("people.edn", text)], &options, &|_| {})
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    let message = err.to_string();
    assert!(
        message.starts_with("batch 1 (people.edn, lines 9–"),
        "{message}"
    );
    assert!(
        message.contains("of datoms is over the limit of 3.9 MiB"),
        "{message}"
    );
    assert!(
        message.contains(&format!("cuts batches at {batch_bytes} bytes of text")),
        "{message}"
    );
    assert!(
        message.contains("fresh database with a smaller batch size"),
        "{message}"
    );
    assert!(
        !message.contains("accrete import URI FILE"),
        "not the advice to use import: {message}"
    );
    t.shutdown().await.unwrap();
}
