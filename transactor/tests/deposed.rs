//! A deposed transactor resuming at every point of its successor's
//! takeover, on every backend. The lease alone cannot stop it (its
//! renewals are held at a gate, as in a process frozen between them); the
//! successor's fence of the log root must. Each point:
//!
//! 1. **before the successor's first commit** — the successor has fenced
//!    but written nothing else; the old writer's next commit must fail
//!    "fenced: not committed" (without the fence its revision would still
//!    match and it would commit, deposing the legitimate holder);
//! 2. **between the successor's lease write and its fence** — the old
//!    writer may still commit (its commit is ordered before the fence and
//!    the successor must then include it), but nothing after the fence;
//! 3. **mid-commit, before the old writer's log-root write** — the write
//!    must find the fence and fail as not committed;
//! 4. **mid-commit, after its log-root write but before its answer** — the
//!    commit is durable and the successor includes it; the next is fenced.
//!
//! Every test ends by checking what storage holds: each acknowledged
//! transaction whole, each refused one absent.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::gate::{At, Gate, GatedStorage};
use common::*;
use storage_core::testkit::faults::Op;
use storage_core::{DbName, Storage};
use transactor::{ErrorKind, Transactor};

/// One test per backend for each scenario, so a failure names both.
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mem() { super::$scenario(Backend::Mem).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn file() { super::$scenario(Backend::File).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$scenario(Backend::Postgres).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cassandra_sim() { super::$scenario(Backend::Cassandra).await }
        }
    )*};
}

on_every_backend!(
    resumes_before_the_successor_commits,
    resumes_between_the_successor_lease_and_fence,
    resumes_mid_commit_before_its_log_write,
    resumes_mid_commit_after_its_log_write,
);

/// The old transactor, committed to at t 1 (schema) and 2 (`marked(1)`),
/// writing through a gated storage whose lease renewals are held from now
/// on: only the log-root fence can stop it.
struct Old {
    store: TestStorage,
    db: DbName,
    gated: Arc<GatedStorage>,
    renewals: Arc<Gate>,
    transactor: Arc<Transactor>,
}

impl Old {
    async fn start(backend: Backend) -> Old {
        let store = storage(backend).await;
        let db = create(&store.storage, "deposed").await;
        let gated = GatedStorage::new(store.storage.clone());
        let as_storage: Arc<dyn Storage> = gated.clone();
        let transactor = Arc::new(start(&as_storage, &db, config()).await);
        within(transactor.transact_edn(SCHEMA)).await.unwrap();
        within(transactor.transact_edn(&marked(1))).await.unwrap();
        let renewals = gated.gate(Op::Cas, index::lease_root_name(&db), At::Before);
        Old {
            store,
            db,
            gated,
            renewals,
            transactor,
        }
    }

    /// A gate on this transactor's log-root writes.
    fn hold_log_write(&self, at: At) -> Arc<Gate> {
        self.gated.gate(Op::Cas, index::log_root_name(&self.db), at)
    }

    /// Commits `marked(n)` in the background.
    fn commit_later(&self, n: u64) -> tokio::task::JoinHandle<transactor::Result<u64>> {
        let old = self.transactor.clone();
        tokio::spawn(async move { old.transact_edn(&marked(n)).await.map(|r| r.t()) })
    }

    /// Starts the successor on the plain storage (it takes over once the
    /// held renewals let the lease lapse, then fences).
    async fn successor(&self) -> Transactor {
        let new = start(&self.store.storage, &self.db, config()).await;
        assert!(new.epoch() > self.transactor.epoch());
        new
    }

    /// Commits `marked(n)` and expects "fenced: not committed".
    async fn is_fenced(&self, n: u64, backend: Backend) {
        let err = within(self.transactor.transact_edn(&marked(n)))
            .await
            .expect_err("a deposed transactor committed after the fence");
        assert_eq!(err.kind(), ErrorKind::Fenced, "{backend}: {err}");
        assert!(err.not_committed(), "{backend}: {err}");
    }

    /// Lets the renewals through: the old transactor learns it was
    /// deposed and stops.
    async fn stop(&self, backend: Backend) {
        self.renewals.open();
        let why = within(self.transactor.wait_stopped()).await;
        assert_eq!(why.kind(), ErrorKind::Fenced, "{backend}: {why}");
        let _ = within(self.transactor.shutdown()).await;
    }

    /// Asserts which of `marked(1..)` storage holds, each whole or absent.
    async fn holds(&self, present: &[bool], backend: Backend) {
        let db = reopen(&self.store.storage, &self.db).await;
        let expected: Vec<usize> = present.iter().map(|&p| if p { 3 } else { 0 }).collect();
        let n = present.len() as u64;
        let found = blocking(move || (1..=n).map(|i| parts_of(&db, i)).collect::<Vec<_>>()).await;
        assert_eq!(found, expected, "{backend}: parts of marked(1..={n})");
    }
}

/// The successor's view includes `marked(n)`.
async fn sees(new: &Transactor, n: u64) -> bool {
    let db = new.db();
    blocking(move || parts_of(&db, n) == 3).await
}

async fn resumes_before_the_successor_commits(backend: Backend) {
    let old = Old::start(backend).await;
    let new = old.successor().await;
    old.is_fenced(2, backend).await;
    within(new.transact_edn(&marked(3)))
        .await
        .expect("the successor commits");
    old.stop(backend).await;
    within(new.shutdown()).await.unwrap();
    old.holds(&[true, false, true], backend).await;
}

async fn resumes_between_the_successor_lease_and_fence(backend: Backend) {
    let old = Old::start(backend).await;
    // The successor's lease write is applied; its answer (and so the
    // fence that follows it) waits at the gate.
    let gated = GatedStorage::new(old.store.storage.clone());
    let lease_written = gated.gate(Op::Cas, index::lease_root_name(&old.db), At::After);
    let successor = {
        let (storage, db): (Arc<dyn Storage>, _) = (gated.clone(), old.db.clone());
        tokio::spawn(async move { start(&storage, &db, config()).await })
    };
    within(lease_written.reached()).await;
    // Ordered before the fence: it may commit, and then the successor
    // must build on it.
    let before_fence = within(old.transactor.transact_edn(&marked(2))).await;
    if let Err(e) = &before_fence {
        assert!(e.not_committed(), "{backend}: {e}");
    }
    lease_written.open();
    let new = within(successor).await.unwrap();
    assert!(new.epoch() > old.transactor.epoch());
    assert_eq!(
        sees(&new, 2).await,
        before_fence.is_ok(),
        "{backend}: the successor's view of a commit before its fence"
    );
    old.is_fenced(3, backend).await;
    within(new.transact_edn(&marked(4)))
        .await
        .expect("the successor commits");
    old.stop(backend).await;
    within(new.shutdown()).await.unwrap();
    old.holds(&[true, before_fence.is_ok(), false, true], backend)
        .await;
}

async fn resumes_mid_commit_before_its_log_write(backend: Backend) {
    let old = Old::start(backend).await;
    let log_write = old.hold_log_write(At::Before);
    let stuck = old.commit_later(2);
    within(log_write.reached()).await;
    let new = old.successor().await;
    log_write.open();
    let err = within(stuck)
        .await
        .unwrap()
        .expect_err("a write prepared before the fence committed after it");
    assert_eq!(err.kind(), ErrorKind::Fenced, "{backend}: {err}");
    assert!(err.not_committed(), "{backend}: {err}");
    within(new.transact_edn(&marked(3)))
        .await
        .expect("the successor commits");
    old.stop(backend).await;
    within(new.shutdown()).await.unwrap();
    old.holds(&[true, false, true], backend).await;
}

async fn resumes_mid_commit_after_its_log_write(backend: Backend) {
    let old = Old::start(backend).await;
    let answer = old.hold_log_write(At::After);
    let stuck = old.commit_later(2);
    within(answer.reached()).await;
    let new = old.successor().await;
    assert!(
        sees(&new, 2).await,
        "{backend}: the successor lost a commit its fence came after"
    );
    answer.open();
    let t = within(stuck).await.unwrap().expect("the write applied");
    assert!(t > 0);
    old.is_fenced(3, backend).await;
    within(new.transact_edn(&marked(4)))
        .await
        .expect("the successor commits");
    old.stop(backend).await;
    within(new.shutdown()).await.unwrap();
    old.holds(&[true, true, false, true], backend).await;
}
