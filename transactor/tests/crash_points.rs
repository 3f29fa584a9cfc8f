//! Delete-db dying right after each of its steps while a transactor runs
//! on the database. The steps, each a compare-and-swap:
//!
//! 1. the catalog marks the database deleted (no new reader or transactor
//!    finds it from here on);
//! 2. the log root is rewritten with a higher epoch (the running
//!    transactor's next commit conflicts: it is fenced).
//!
//! After a death right after either step, the database is gone for readers,
//! and running the delete again finishes it: the running transactor commits
//! nothing more. (The index root swap's crash points are in
//! `index/tests/faults.rs`; restore's in `backup/tests/crash_points.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use storage_core::Storage;
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
use transactor::ErrorKind;

async fn delete_dies_after(step: u32) {
    let storage = mem();
    let db = create(&storage, "doomed").await;
    let t = start(&storage, &db, config()).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    within(t.transact_edn(&marked(1))).await.unwrap();
    let basis = t.db().basis_t();

    let plan = FaultPlan::seeded(u64::from(step));
    let dying: Arc<dyn Storage> = Arc::new(FaultyStorage::new(storage.clone(), plan.clone()));
    plan.inject_after(Op::Cas, step - 1, Fault::FailAfter);
    let died = index::delete_db(&dying, &db).await;
    assert!(
        died.is_err(),
        "step {step}: the delete did not die: {died:?}"
    );
    plan.clear();
    let open = index::open_db(&segments(&storage), &db).await;
    assert!(
        matches!(open, Err(index::Error::DbNotFound(_))),
        "step {step}: a reader still finds the database: {:?}",
        open.map(|o| o.db.basis_t())
    );

    // Run again, the delete finishes (the database is already marked, so
    // it may say so).
    match index::delete_db(&storage, &db).await {
        Ok(_) | Err(index::Error::DbNotFound(_)) => {}
        Err(e) => panic!("step {step}: the delete run again failed: {e}"),
    }
    let err = within(t.transact_edn(&marked(2)))
        .await
        .expect_err("a transactor committed to a deleted database");
    assert_eq!(err.kind(), ErrorKind::Fenced, "step {step}: {err}");
    let head = storage
        .read_root(&index::log_root_name(&db))
        .await
        .unwrap()
        .unwrap();
    let root = index::LogRoot::decode(&index::log_root_name(&db), head.value.data()).unwrap();
    assert_eq!(
        root.basis_t, basis,
        "step {step}: committed after the delete"
    );
    let _ = within(t.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_db_dies_after_the_catalog_write() {
    delete_dies_after(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_db_dies_after_the_log_root_fence() {
    delete_dies_after(2).await;
}
