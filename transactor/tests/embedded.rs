//! The embedded transactor on every backend: commit, read back, reopen,
//! many concurrent callers sharing commits, refused transactions, reports.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use model::{Index, Value};
use storage_core::testkit::faults::{Fault, Op};
use transactor::ErrorKind;

async fn commits_survive_reopening_on_every_backend(backend: Backend) {
    let store = storage(backend).await;
    let db = create(&store.storage, "orders").await;
    let t = start(&store.storage, &db, steady_config()).await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let report = within(t.transact_edn(r#"[{:db/id "ed" :user/email "ed@x" :user/name "Ed"}]"#))
        .await
        .expect("data");
    let ed = report.tempid("ed").expect("tempid");
    assert_eq!(t.db().basis_t(), report.t());
    within(t.shutdown()).await.expect("shutdown");

    let reopened = reopen(&store.storage, &db).await;
    assert_eq!(reopened.basis_t(), report.t(), "{backend:?}");
    let names: Vec<Value> = blocking(move || {
        reopened
            .datoms(Index::Eavt, &[Value::Ref(ed), Value::keyword(":user/name")])
            .unwrap()
            .map(|d| d.unwrap().v().clone())
            .collect()
    })
    .await;
    assert_eq!(names, vec![Value::string("Ed")], "{backend:?}");

    // A second run continues where the first stopped.
    let t = start(&store.storage, &db, steady_config()).await;
    let next = within(t.transact_edn(r#"[[:db/add [:user/email "ed@x"] :user/name "Edward"]]"#))
        .await
        .expect("update");
    assert!(next.t() > report.t());
    within(t.shutdown()).await.expect("shutdown");
    assert_eq!(
        reopen(&store.storage, &db).await.basis_t(),
        next.t(),
        "{backend:?}"
    );
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_survive_reopening_on_every_backend for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

async fn concurrent_callers_share_log_root_writes(backend: Backend) {
    let store = storage(backend).await;
    let db = create(&store.storage, "load").await;
    let t = Arc::new(start(&store.storage, &db, steady_config()).await);
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let before = t.metrics();
    let (clients, each) = (16u64, 12u64);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut ts = Vec::new();
                for i in 0..each {
                    let report = t.transact_edn(&marked(c * 1000 + i)).await.expect("commit");
                    ts.push(report.t());
                }
                ts
            })
        })
        .collect();
    let mut ts = Vec::new();
    for task in tasks {
        ts.extend(within(task).await.expect("client"));
    }
    ts.sort_unstable();
    ts.dedup();
    assert_eq!(
        ts.len() as u64,
        clients * each,
        "every commit has its own t"
    );
    let m = t.metrics();
    let (txs, commits) = (
        m.transactions - before.transactions,
        m.commits - before.commits,
    );
    assert_eq!(txs, clients * each);
    assert!(
        commits < txs,
        "{backend:?}: {commits} root writes for {txs} transactions"
    );
    within(t.shutdown()).await.expect("shutdown");
    let reopened = reopen(&store.storage, &db).await;
    let missing = blocking(move || {
        (0..clients)
            .flat_map(|c| (0..each).map(move |i| c * 1000 + i))
            .filter(|n| parts_of(&reopened, *n) != 3)
            .count()
    })
    .await;
    assert_eq!(missing, 0, "{backend:?}");
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_log_root_writes for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_caller_waits_for_no_timer() {
    let storage = mem();
    let db = create(&storage, "idle").await;
    let t = start(&storage, &db, steady_config()).await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let started = Instant::now();
    for n in 0..200 {
        within(t.transact_edn(&marked(n))).await.expect("commit");
    }
    let took = started.elapsed();
    // A batching timer of even 5 ms would make this take a second.
    assert!(
        took < Duration::from_millis(1000),
        "200 sequential commits took {took:?}"
    );
    assert_eq!(
        t.metrics().commits,
        201,
        "one root write per lone transaction"
    );
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_transactions_change_nothing_and_spare_their_batch() {
    let (storage, plan) = faulty(&mem(), 3);
    let db = create(&storage, "refusals").await;
    let t = Arc::new(start(&storage, &db, steady_config()).await);
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    // Slow root writes so that the next transactions share one batch.
    plan.inject(Op::Cas, Fault::Delay(Duration::from_millis(50)), 1.0);
    let good = |n| {
        let t = t.clone();
        tokio::spawn(async move { t.transact_edn(&marked(n)).await })
    };
    let first = good(1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (a, b) = (good(2), good(3));
    let bad = {
        let t = t.clone();
        tokio::spawn(async move { t.transact_edn("[[:db/add \"x\" :no/such 1]]").await })
    };
    let err = within(bad).await.unwrap().expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.tx_code(), Some(":db.error/not-an-attribute"));
    assert!(err.not_committed());
    for task in [first, a, b] {
        within(task).await.unwrap().expect("the rest commits");
    }
    plan.clear();
    let err = within(t.transact_edn("{:not :a-vector}"))
        .await
        .expect_err("not tx data");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("vector of forms"), "{err}");
    let err = within(t.transact_edn("[[:db/add"))
        .await
        .expect_err("bad EDN");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let db_value = t.db();
    let parts = blocking(move || (1..=3).map(|n| parts_of(&db_value, n)).collect::<Vec<_>>()).await;
    assert_eq!(parts, vec![3, 3, 3]);
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_every_committed_transaction_in_order() {
    let storage = mem();
    let db = create(&storage, "feed").await;
    let t = Arc::new(start(&storage, &db, steady_config()).await);
    let schema = within(t.transact_edn(SCHEMA)).await.expect("schema");
    let mut reports = t.reports();
    let mut from_start = t.subscribe(schema.t());
    let writer = {
        let t = t.clone();
        tokio::spawn(async move {
            let mut ts = Vec::new();
            for n in 0..50 {
                ts.push(t.transact_edn(&marked(n)).await.expect("commit").t());
            }
            ts
        })
    };
    let mut late = t.subscribe(schema.t() + 1);
    let ts = within(writer).await.expect("writer");
    let mut seen = vec![within(from_start.next()).await.expect("entry").t];
    let mut seen_late = Vec::new();
    for _ in 0..50 {
        seen.push(within(from_start.next()).await.expect("entry").t);
        seen_late.push(within(late.next()).await.expect("entry").t);
        let report = within(reports.recv()).await.expect("report");
        assert_eq!(report.db_after.basis_t(), report.t());
    }
    assert_eq!(seen[0], schema.t());
    assert_eq!(seen[1..], ts[..]);
    assert_eq!(seen_late, ts);
    within(t.shutdown()).await.expect("shutdown");
    let err = within(from_start.next()).await.expect_err("ended");
    assert_eq!(err.kind(), ErrorKind::ShuttingDown, "{err}");
}

/// Issue 14 item 5, the library path: tx data over the one limit is
/// refused before it is parsed, with the size and the limit, and a
/// transaction whose datoms would not fit a log segment is refused before
/// it commits; the transactor goes on committing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_transactions_are_refused_before_the_work() {
    let store = storage(ALL[0]).await;
    let db = create(&store.storage, "big").await;
    let t = start(&store.storage, &db, steady_config()).await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let over = format!("[{}]", " ".repeat(model::limits::MAX_TX_BYTES));
    let started = Instant::now();
    let err = within(t.transact_edn(&over)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.to_string()
            .contains("transaction of 3.5 MiB is over the limit of 3.5 MiB; split it"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let err = transactor::parse_tx(&over).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    // A value over its limit, as parsed forms.
    let value = "x".repeat(model::limits::MAX_VALUE_BYTES + 1);
    let forms = transactor::parse_tx(&format!(r#"[{{:db/id "x" :user/name "{value}"}}]"#)).unwrap();
    let err = within(t.transact(forms)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.to_string()
            .contains("over the limit of 1.0 MiB per value"),
        "{err}"
    );
    within(t.transact_edn(r#"[{:db/id "ed" :user/email "ed@x"}]"#))
        .await
        .expect("still committing");
    within(t.shutdown()).await.expect("shutdown");
}
