//! Issue 26 item 1: a transactor whose storage is reset under it (the
//! store wiped, the database created again under the same name and
//! written to) must never write into the new database. Its commit is
//! paused just before its log-root write; the new database is written to
//! as often as the old one was, which put its log root at the very
//! revision the old holder expects while roots counted from 1. Then the
//! old holder goes on: its commit must be refused as not committed, and
//! the new database must not hold its datoms.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::gate::{At, GatedStorage};
use common::swap::SwappableStorage;
use common::*;
use storage_core::testkit::faults::Op;
use storage_core::{MemStorage, Storage};
use storage_file::FileStorage;
use transactor::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mem_store_replaced_under_a_holder() {
    let swappable = SwappableStorage::new(mem());
    let store: Arc<dyn Storage> = swappable.clone();
    old_holder_meets_a_new_incarnation(&store, async || {
        swappable.swap(Arc::new(MemStorage::new()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_wiped_under_a_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let store: Arc<dyn Storage> = Arc::new(FileStorage::open(&path).await.unwrap());
    // The old handle stays in use: it sees whatever the directory holds.
    old_holder_meets_a_new_incarnation(&store, async || wipe(&path).await).await;
}

async fn wipe(path: &Path) {
    std::fs::remove_dir_all(path).unwrap();
    FileStorage::open(path).await.unwrap();
}

/// The old holder, paused mid-commit, meets the database created again
/// in `store` after `reset`.
async fn old_holder_meets_a_new_incarnation(store: &Arc<dyn Storage>, reset: impl AsyncFnOnce()) {
    let db = create(store, "reborn").await;
    let log = index::log_root_name(&db);
    let gated = GatedStorage::new(store.clone());
    let old_view: Arc<dyn Storage> = gated.clone();
    let old = Arc::new(start(&old_view, &db, patient()).await);
    within(old.transact_edn(SCHEMA)).await.unwrap();
    within(old.transact_edn(&marked(1))).await.unwrap();
    // Paused like a frozen process: renewals and the next log write held.
    let _renewals = gated.gate(Op::Cas, index::lease_root_name(&db), At::Before);
    let log_write = gated.gate(Op::Cas, log.clone(), At::Before);
    let paused = {
        let old = old.clone();
        tokio::spawn(async move { old.transact_edn(&marked(2)).await })
    };
    within(log_write.reached()).await;
    let expected = store.read_root(&log).await.unwrap().unwrap().revision;

    reset().await;
    let db = create(store, "reborn").await;
    let new = start(store, &db, config()).await;
    within(new.transact_edn(SCHEMA)).await.unwrap();
    // As many writes as the old incarnation had (and a few more while its
    // log root is below the old one's revision): with roots counting from
    // 1 this lands on `expected` exactly.
    let mut n = 10;
    loop {
        n += 1;
        within(new.transact_edn(&marked(n))).await.unwrap();
        let now = store.read_root(&log).await.unwrap().unwrap().revision;
        if now >= expected || n > 20 {
            eprintln!("old holder expects revision {expected}; the new log root is at {now}");
            break;
        }
    }

    log_write.open();
    let outcome = within(paused).await.unwrap();
    let err = outcome.expect_err("the old holder committed into the new database");
    assert!(err.not_committed(), "{err}");
    within(new.transact_edn(&marked(3)))
        .await
        .expect("the new database's own transactor goes on");
    within(new.shutdown()).await.unwrap();
    let reborn = reopen(store, &db).await;
    let found = blocking(move || [2, 3, 11].map(|n| parts_of(&reborn, n))).await;
    assert_eq!(
        found,
        [0, 3, 3],
        "marked(2) of the old holder, marked(3) and marked(11) of the new"
    );
}

/// A lease long enough that the paused holder does not step down on its
/// own while the test runs: only the revision can stop it.
fn patient() -> Config {
    Config {
        lease_ttl: Duration::from_secs(60),
        ..config()
    }
}
