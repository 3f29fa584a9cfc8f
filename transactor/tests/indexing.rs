//! Background indexing: jobs start past the threshold and ride in the next
//! commit, writers keep going, back-pressure past the cap, excision soon,
//! index segments shared between old and new database values.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use index::{LogRoot, log_root_name, reachable_segments};
use model::{Index, Value};
use storage_core::testkit::faults::{Fault, Op};
use storage_core::{DbName, Storage};
use transactor::{BackPressure, Config, ErrorKind, Transactor};

fn indexing_config(threshold: usize, cap: usize, back_pressure: BackPressure) -> Config {
    Config {
        index_threshold: threshold,
        novelty_cap: cap,
        back_pressure,
        ..config()
    }
}

async fn log_root(storage: &Arc<dyn Storage>, db: &DbName) -> LogRoot {
    let name = log_root_name(db);
    let root = storage.read_root(&name).await.unwrap().unwrap();
    LogRoot::decode(&name, root.value.data()).unwrap()
}

/// Waits until `done` holds for the transactor's metrics.
async fn until(t: &Transactor, done: impl Fn(&transactor::Metrics) -> bool) {
    within(async {
        while !done(&t.metrics()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

async fn jobs_run_past_the_threshold_and_share_segments(backend: Backend) {
    let store = storage(backend).await;
    let db = create(&store.storage, "indexed").await;
    let t = start(
        &store.storage,
        &db,
        indexing_config(200, 100_000, BackPressure::Wait),
    )
    .await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    for n in 0..80 {
        within(t.transact_edn(&marked(n))).await.expect("commit");
    }
    until(&t, |m| m.index_jobs >= 1).await;
    let first = log_root(&store.storage, &db).await;
    assert!(
        first.index.is_some(),
        "{backend:?}: the job rode in a commit"
    );
    assert!(t.db().store().basis_t().is_some(), "{backend:?}: rebased");
    assert!(
        t.db().novelty_len() < 200 * 2,
        "{backend:?}: novelty dropped"
    );

    for n in 80..160 {
        within(t.transact_edn(&marked(n))).await.expect("commit");
    }
    until(&t, |m| m.index_jobs >= 2).await;
    let second = log_root(&store.storage, &db).await;
    assert_ne!(first.index, second.index);
    let seg = segments(&store.storage);
    let old: BTreeSet<_> = reachable_segments(&seg, &first)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let new: BTreeSet<_> = reachable_segments(&seg, &second)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let shared = old.intersection(&new).count();
    assert!(
        shared > 0,
        "{backend:?}: copy-on-write shares untouched segments"
    );
    assert!(
        new.len() > shared,
        "{backend:?}: the new root has new segments"
    );

    let m = t.metrics();
    assert!(m.indexed_datoms > 0 && m.index_segments > 0, "{m:?}");
    within(t.shutdown()).await.expect("shutdown");
    let reopened = reopen(&store.storage, &db).await;
    let parts = blocking(move || (0..160).filter(|n| parts_of(&reopened, *n) == 3).count()).await;
    assert_eq!(parts, 160, "{backend:?}");
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_past_the_threshold_and_share_segments for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_callers_are_refused_when_so_configured() {
    let (storage, plan) = faulty(&mem(), 5);
    let db = create(&storage, "reject").await;
    let t = start(
        &storage,
        &db,
        indexing_config(300, 500, BackPressure::Reject),
    )
    .await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    // Segment writes crawl, so the job cannot catch up.
    plan.inject(Op::Put, Fault::Delay(Duration::from_millis(300)), 1.0);
    let mut refused = None;
    for n in 0..200 {
        match within(t.transact_edn(&marked(n))).await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let err = refused.expect("back-pressure before 200 transactions");
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert!(
        err.not_committed() && err.to_string().contains("cap of 500"),
        "{err}"
    );
    plan.clear();
    until(&t, |m| m.index_jobs >= 1).await;
    within(t.transact_edn(&marked(1000)))
        .await
        .expect("accepted again");
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_callers_wait_when_so_configured() {
    let (storage, plan) = faulty(&mem(), 6);
    let db = create(&storage, "wait").await;
    let t = Arc::new(start(&storage, &db, indexing_config(300, 500, BackPressure::Wait)).await);
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    plan.inject(Op::Put, Fault::Delay(Duration::from_millis(100)), 1.0);
    let writer = {
        let t = t.clone();
        tokio::spawn(async move {
            for n in 0..120 {
                t.transact_edn(&marked(n))
                    .await
                    .expect("waits, then commits");
            }
        })
    };
    within(writer).await.expect("writer");
    assert!(
        t.metrics().index_jobs >= 1,
        "the writer could only finish after a job"
    );
    plan.clear();
    within(t.shutdown()).await.expect("shutdown");
}

async fn an_excision_request_is_indexed_soon(backend: Backend) {
    let store = storage(backend).await;
    let db = create(&store.storage, "excise").await;
    let t = start(
        &store.storage,
        &db,
        indexing_config(1_000_000, 2_000_000, BackPressure::Wait),
    )
    .await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let report = within(t.transact_edn(r#"[{:db/id "s" :user/email "secret@x" :user/name "S"}]"#))
        .await
        .expect("data");
    let secret = report.tempid("s").unwrap();
    within(t.transact_edn(&format!(r#"[{{:db/id "x" :db/excise {secret}}}]"#)))
        .await
        .expect("excision request");
    until(&t, |m| m.index_jobs >= 1).await;
    assert!(
        t.metrics().excised_datoms >= 2,
        "{backend:?}: {:?}",
        t.metrics()
    );
    within(t.shutdown()).await.expect("shutdown");
    let reopened = reopen(&store.storage, &db).await;
    let left = blocking(move || {
        reopened
            .history()
            .datoms(Index::Eavt, &[Value::Ref(secret)])
            .unwrap()
            .count()
    })
    .await;
    assert_eq!(left, 0, "{backend:?}: excised from every layer");
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_excision_request_is_indexed_soon for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

/// A short-lived embedded transactor (the CLI's) still indexes: shutdown
/// lets the running job finish and commits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_a_running_job() {
    let (storage, plan) = faulty(&mem(), 8);
    let db = create(&storage, "brief").await;
    let t = start(
        &storage,
        &db,
        indexing_config(100, 100_000, BackPressure::Wait),
    )
    .await;
    plan.inject(Op::Put, Fault::Delay(Duration::from_millis(50)), 1.0);
    within(t.transact_edn(SCHEMA))
        .await
        .expect("schema starts a job");
    within(t.shutdown()).await.expect("shutdown");
    assert_eq!(t.metrics().index_jobs, 1);
    plan.clear();
    let root = log_root(&storage, &db).await;
    assert!(root.index.is_some(), "the job was committed on the way out");
}
