//! A holder's writes are bound to its database's identity and its own
//! renewals: a holder that cannot renew for a whole ttl steps down, and a
//! storage reset with the database created anew under a running
//! transactor lets none of the old holder's writes into the new
//! incarnation. `ACCRETE_LONG=1` runs 20 reset cycles.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::swap::SwappableStorage;
use common::*;
use parking_lot::Mutex;
use storage_core::Storage;
use storage_core::testkit::faults::{Fault, Op};
use transactor::{ErrorKind, Transactor};

fn long() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

/// A holder whose renewals all fail stops accepting transactions within
/// about one ttl of its last renewal, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_cannot_renew_steps_down_within_its_ttl() {
    let (storage, plan) = faulty(&mem(), 3);
    let db = create(&storage, "lapse").await;
    let config = config();
    let ttl = config.lease_ttl;
    let t = start(&storage, &db, config).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let failing = Instant::now();
    plan.inject(Op::ReadRoot, Fault::FailBefore, 1.0);
    plan.inject(Op::Cas, Fault::FailBefore, 1.0);
    let why = tokio::time::timeout(ttl * 4, t.wait_stopped())
        .await
        .expect("the holder steps down");
    let took = failing.elapsed();
    assert!(took <= ttl + ttl / 2, "stepped down after {took:?}");
    assert_eq!(why.kind(), ErrorKind::Fenced, "{why}");
    assert!(why.to_string().contains("not renewed"), "{why}");
    let err = within(t.transact_edn(&marked(1)))
        .await
        .expect_err("no more transactions");
    assert!(err.not_committed(), "{err}");
    plan.clear();
}

/// Marks of cycle `cycle`: one range per incarnation.
fn mark(cycle: u64, i: u64) -> u64 {
    cycle * 1_000_000 + i
}

/// Commits marks of `cycle` through `t` until it stops; returns the acked.
fn writer(t: Arc<Transactor>, cycle: u64) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0.. {
            match t.transact_edn(&marked(mark(cycle, i))).await {
                Ok(_) => acked.push(mark(cycle, i)),
                Err(_) => return acked,
            }
        }
        acked
    })
}

/// Wipes the storage and creates the database anew while the transactor
/// of the last incarnation keeps committing; a transactor of the new
/// incarnation takes over. The old holder stops, fenced, and the new
/// incarnation holds only its own transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_reset_under_a_running_transactor_lets_none_of_its_writes_in() {
    let cycles = if long() { 20 } else { 3 };
    let resettable = SwappableStorage::new(mem());
    let storage: Arc<dyn Storage> = resettable.clone();
    let db = create(&storage, "reset").await;
    let mut current = Arc::new(start(&storage, &db, config()).await);
    within(current.transact_edn(SCHEMA)).await.unwrap();
    let mut writing = writer(current.clone(), 0);
    let stray = Arc::new(Mutex::new(Vec::new()));
    for cycle in 1..=cycles {
        let before = current.metrics().transactions;
        while current.metrics().transactions < before + 20 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        resettable.swap(mem());
        let entry = index::create_db(&storage, &db).await.unwrap();
        let next = Arc::new(start(&storage, &db, config()).await);
        assert_eq!(next.db_id(), entry.uuid);
        within(next.transact_edn(SCHEMA)).await.unwrap();
        let next_writing = writer(next.clone(), cycle);

        let why = tokio::time::timeout(Duration::from_secs(5), current.wait_stopped())
            .await
            .unwrap_or_else(|_| panic!("cycle {cycle}: the old holder never stopped"));
        assert!(why.not_committed(), "cycle {cycle}: {why}");
        let old_acked = within(writing).await.unwrap();
        stray.lock().extend(old_acked);
        let _ = current.shutdown().await;

        let value = reopen(&storage, &db).await;
        let (old, new_id) = (stray.lock().clone(), next.db_id());
        let root = index::open_db(&segments(&storage), &db).await.unwrap().root;
        assert_eq!(root.db_uuid, new_id, "cycle {cycle}");
        blocking(move || {
            for n in old {
                assert_eq!(
                    parts_of(&value, n),
                    0,
                    "cycle {cycle}: {n} of an old holder"
                );
            }
        })
        .await;
        current = next;
        writing = next_writing;
    }
    within(current.shutdown()).await.unwrap();
    let acked = within(writing).await.unwrap();
    let value = reopen(&storage, &db).await;
    blocking(move || {
        for n in acked {
            assert_eq!(parts_of(&value, n), 3, "acknowledged {n}");
        }
    })
    .await;
}

/// The defect of issue 26: a holder paused across a storage reset whose
/// lease revision the new incarnation's lease then reaches. Its renewal
/// reads the root first and finds another database's lease, so it is
/// deposed instead of taking the new incarnation's lease over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_never_lands_on_another_incarnations_lease() {
    let resettable = SwappableStorage::new(mem());
    let storage: Arc<dyn Storage> = resettable.clone();
    let (paused_view, plan) = faulty(&storage, 9);
    let db = create(&storage, "again").await;
    let old = start(&paused_view, &db, config()).await;
    let lease_root = index::lease_root_name(&db);
    let lease_revision = async || {
        let root = storage.read_root(&lease_root).await.unwrap().unwrap();
        root.revision.get()
    };
    let claimed = lease_revision().await;
    plan.pause();
    let renewals = lease_revision().await - claimed;

    resettable.swap(mem());
    index::create_db(&storage, &db).await.unwrap();
    let new = start(&storage, &db, config()).await;
    // As many renewals as the old holder's: with leases counting from 1,
    // the new lease then stood at the old holder's revision.
    let claimed = lease_revision().await;
    within(async {
        while lease_revision().await - claimed < renewals {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    plan.resume();

    let why = tokio::time::timeout(Duration::from_secs(3), old.wait_stopped())
        .await
        .expect("the old holder is deposed");
    assert_eq!(why.kind(), ErrorKind::Fenced, "{why}");
    tokio::time::sleep(config().lease_ttl).await;
    assert!(new.stopped().is_none(), "{:?}", new.stopped());
    let lease = transactor::lease::read_lease(storage.as_ref(), &db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.db_id, Some(new.db_id()));
    assert_eq!(lease.epoch, new.epoch());
    within(new.transact_edn(SCHEMA)).await.unwrap();
    within(new.shutdown()).await.unwrap();
}
