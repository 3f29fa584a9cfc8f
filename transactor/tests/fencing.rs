//! Leases and fencing: one committer per database, a paused transactor
//! deposed by a standby can never commit again, a released lease is taken
//! at once.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use transactor::lease::{Patience, read_lease};
use transactor::{Config, ErrorKind, Transactor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_transactor_waits_for_a_live_lease() {
    let storage = mem();
    let db = create(&storage, "held").await;
    let first = start(&storage, &db, config()).await;
    let impatient = Config {
        patience: Patience::AtMost(Duration::from_millis(1500)),
        ..config()
    };
    let started = Instant::now();
    let err = within(Transactor::start(segments(&storage), &db, impatient))
        .await
        .expect_err("the lease is held and renewed");
    assert_eq!(err.kind(), ErrorKind::LeaseHeld, "{err}");
    assert!(err.to_string().contains("without an endpoint"), "{err}");
    // The holder renews every ttl/3, so the claimant saw changes all along.
    assert!(started.elapsed() >= Duration::from_millis(1500));
    within(first.transact_edn(SCHEMA))
        .await
        .expect("the holder still commits");
    within(first.shutdown()).await.expect("shutdown");
}

async fn a_released_lease_is_taken_at_once_with_a_new_epoch(backend: Backend) {
    let store = storage(backend).await;
    let db = create(&store.storage, "handover").await;
    let first = start(&store.storage, &db, config()).await;
    let epoch = first.epoch();
    within(first.transact_edn(SCHEMA)).await.expect("schema");
    within(first.shutdown()).await.expect("shutdown");
    let lease = read_lease(store.storage.as_ref(), &db)
        .await
        .unwrap()
        .unwrap();
    assert!(lease.holder.is_none(), "{backend:?}: released");
    let slow_lapse = Config {
        lease_ttl: Duration::from_secs(30),
        ..config()
    };
    let started = Instant::now();
    let second = start(&store.storage, &db, slow_lapse).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{backend:?}");
    assert!(second.epoch() > epoch);
    within(second.transact_edn(&marked(1)))
        .await
        .expect("commit");
    within(second.shutdown()).await.expect("shutdown");
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_released_lease_is_taken_at_once_with_a_new_epoch for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

/// A transactor frozen mid-commit (every storage call of it paused) is
/// deposed by a standby; once it resumes, neither the transaction it was
/// committing nor any later one commits.
async fn a_paused_transactor_is_fenced_and_never_commits_again(backend: Backend) {
    let store = storage(backend).await;
    let (paused_storage, plan) = faulty(&store.storage, 7);
    let db = create(&store.storage, "fenced").await;
    let old = Arc::new(start(&paused_storage, &db, config()).await);
    within(old.transact_edn(SCHEMA)).await.expect("schema");
    within(old.transact_edn(&marked(1)))
        .await
        .expect("before the pause");

    plan.pause();
    let stuck = {
        let old = old.clone();
        tokio::spawn(async move { old.transact_edn(&marked(2)).await })
    };
    // The standby sees no renewal for a ttl, takes over and fences.
    let new = start(&store.storage, &db, config()).await;
    assert!(new.epoch() > old.epoch());
    within(new.transact_edn(&marked(3)))
        .await
        .expect("the new holder commits");

    plan.resume();
    let err = within(stuck).await.unwrap().expect_err("the paused commit");
    assert_eq!(err.kind(), ErrorKind::Fenced, "{backend:?}: {err}");
    assert!(err.not_committed());
    let err = within(old.transact_edn(&marked(4)))
        .await
        .expect_err("later commits");
    assert_eq!(err.kind(), ErrorKind::Fenced, "{backend:?}: {err}");
    assert_eq!(within(old.wait_stopped()).await.kind(), ErrorKind::Fenced);
    within(old.shutdown())
        .await
        .expect("the deposed one stops quietly");

    within(new.transact_edn(&marked(5)))
        .await
        .expect("still the committer");
    within(new.shutdown()).await.expect("shutdown");
    let db_value = reopen(&store.storage, &db).await;
    let parts = blocking(move || (1..=5).map(|n| parts_of(&db_value, n)).collect::<Vec<_>>()).await;
    assert_eq!(parts, vec![3, 0, 3, 0, 3], "{backend:?}");
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_transactor_is_fenced_and_never_commits_again for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

/// The deposed transactor learns it lost the lease from its renewals even
/// when it has nothing to commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_deposed_transactor_stops() {
    let storage = mem();
    let (paused_storage, plan) = faulty(&storage, 11);
    let db = create(&storage, "idle").await;
    let old = start(&paused_storage, &db, config()).await;
    plan.pause();
    let new = start(&storage, &db, config()).await;
    plan.resume();
    let why = within(old.wait_stopped()).await;
    assert_eq!(why.kind(), ErrorKind::Fenced, "{why}");
    within(new.transact_edn(SCHEMA)).await.expect("commit");
    within(new.shutdown()).await.expect("shutdown");
    within(old.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_is_not_found() {
    let storage = mem();
    let err = within(Transactor::start(
        segments(&storage),
        &name("nope"),
        config(),
    ))
    .await
    .expect_err("no such database");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let db = create(&storage, "gone").await;
    index::delete_db(&storage, &db).await.expect("delete");
    let err = within(Transactor::start(segments(&storage), &db, config()))
        .await
        .expect_err("deleted");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// Deleting a database fences the transactor still running on it: its next
/// commit fails as not committed, it stops, and nothing reaches the log.
async fn deleting_a_database_fences_its_running_transactor(backend: Backend) {
    let storage = common::storage(backend).await;
    let storage = storage.storage.clone();
    let db = create(&storage, "doomed").await;
    let t = start(&storage, &db, config()).await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    let basis = t.db().basis_t();
    index::delete_db(&storage, &db).await.expect("delete");
    let err = within(t.transact_edn(&marked(1)))
        .await
        .expect_err("a deleted database takes no commit");
    assert_eq!(err.kind(), ErrorKind::Fenced, "{backend:?}: {err}");
    let why = within(t.wait_stopped()).await;
    assert_eq!(why.kind(), ErrorKind::Fenced, "{why}");
    let head = storage
        .read_root(&index::log_root_name(&db))
        .await
        .unwrap()
        .unwrap();
    let root = index::LogRoot::decode(&index::log_root_name(&db), head.value.data()).unwrap();
    assert_eq!(
        root.basis_t, basis,
        "{backend:?}: nothing committed after the delete"
    );
    let _ = within(t.shutdown()).await;
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_a_database_fences_its_running_transactor for Backend {
        mem = Mem, file = File
    }
}

/// Deleting and creating a database anew writes a log root with a higher
/// epoch; the next transactor still gets a higher one and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_database_gets_a_transactor_above_its_log_epoch() {
    let storage = mem();
    let db = create(&storage, "again").await;
    let t = start(&storage, &db, config()).await;
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    within(t.shutdown()).await.expect("shutdown");
    for _ in 0..3 {
        index::delete_db(&storage, &db).await.expect("delete");
        index::create_db(&storage, &db).await.expect("create");
    }
    let t = start(&storage, &db, config()).await;
    let report = within(t.transact_edn(SCHEMA))
        .await
        .expect("schema in the new database");
    assert_eq!(t.db().basis_t(), report.t());
    within(t.shutdown()).await.expect("shutdown");
}

/// A renewal whose answer was lost (and could not be settled) applied all
/// the same; the next renewal adopts it instead of believing itself deposed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_renewal_answer_does_not_depose_the_holder() {
    use storage_core::testkit::faults::{Fault, Op};
    use transactor::lease::{Epoch, Holder, Lease};
    let (storage, plan) = faulty(&mem(), 31);
    let db = create(&storage, "renew").await;
    let holder = Holder::new(uuid::Uuid::new_v4(), None, 1).unwrap();
    let ttl = Duration::from_secs(5);
    let (catalog, _) = index::read_catalog(&storage).await.unwrap();
    let db_id = catalog.live("renew").unwrap().uuid;
    let mut lease = Lease::acquire(
        storage.clone(),
        &db,
        db_id,
        holder,
        ttl,
        Patience::Forever,
        Epoch::FIRST,
    )
    .await
    .unwrap();
    // The renewal's check read goes through; its write applies but the
    // answer is lost, and the re-reads that would settle it fail.
    plan.inject_times(Op::Cas, Fault::Delay(Duration::from_millis(300)), 1);
    plan.inject_times(Op::Cas, Fault::FailAfter, 1);
    let break_rereads = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        plan.inject(Op::ReadRoot, Fault::FailBefore, 1.0);
    };
    let (renewed, ()) = tokio::join!(lease.renew(), break_rereads);
    let err = renewed.expect_err("the answer was lost");
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    plan.clear();
    lease.renew().await.expect("still the holder");
    let record = read_lease(storage.as_ref(), &db).await.unwrap().unwrap();
    assert_eq!(record.epoch, lease.epoch());
    lease.release().await.expect("release");
}
