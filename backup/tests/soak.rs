//! Backups and restores through storages that fail transiently, lose
//! responses, answer slowly and get interrupted at random moments: copies
//! retry what a backend refuses for a moment, every run is safe to repeat,
//! and repeating converges to a restored database identical to the source.
//!
//! One seed by default; 20 seeds with `ACCRETE_LONG=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use backup::{
    BackupLocation, CopyOptions, ErrorKind, RestoreOptions, backup_db, restore_db, verify_backup,
    verify_db,
};
use common::{Source, assert_same, name, segments};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
use storage_core::{MemStorage, Storage};

fn long() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

/// A storage failing now and then in every way a backend may.
fn flaky(inner: &Arc<dyn Storage>, seed: u64) -> Arc<dyn Storage> {
    let plan = FaultPlan::seeded(seed);
    plan.inject(Op::Put, Fault::FailBefore, 0.15);
    plan.inject(Op::Put, Fault::FailAfter, 0.05);
    plan.inject(Op::Get, Fault::FailBefore, 0.1);
    plan.inject(Op::Get, Fault::Delay(Duration::from_millis(2)), 0.3);
    plan.inject(Op::List, Fault::FailBefore, 0.1);
    plan.inject(Op::ReadRoot, Fault::FailBefore, 0.05);
    plan.inject(Op::Cas, Fault::FailAfter, 0.2);
    Arc::new(FaultyStorage::new(inner.clone(), plan))
}

/// Runs `attempt` until it succeeds, each try cut off after a random
/// time; only failures that say "try again" or "read first" are allowed.
async fn until_done<T, F, Fut>(rng: &mut StdRng, what: &str, mut attempt: F) -> (T, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = backup::Result<T>>,
{
    for tries in 1..=200 {
        // The first try is always cut off early: every run is interrupted.
        let cut_off = match tries {
            1 => Duration::from_millis(rng.random_range(2..30)),
            _ => Duration::from_millis(rng.random_range(20..600)),
        };
        match tokio::time::timeout(cut_off, attempt()).await {
            Ok(Ok(done)) => return (done, tries),
            Ok(Err(e)) => assert!(
                matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::OutcomeUnknown),
                "{what}: {e}"
            ),
            Err(_) => {} // interrupted: run it again
        }
    }
    panic!("{what}: no success in 200 tries");
}

async fn converges(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let live: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let mut source = Source::create(&live, "orders").await;
    source.busy(20 + rng.random_range(0..20), 7).await;

    let store: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let location = BackupLocation::new(flaky(&store, seed), "flaky backup", &name("set")).unwrap();
    let options = CopyOptions {
        parallel: 4,
        ..CopyOptions::default()
    };
    let (taken, tries) = until_done(&mut rng, "backup", || {
        backup_db(&source.seg, &source.name, &location, &options)
    })
    .await;
    let points = location.points().await;
    let clean = BackupLocation::new(store.clone(), "backup", &name("set")).unwrap();
    assert_eq!(
        clean.points().await.unwrap().len(),
        1,
        "seed {seed}: one point ({tries} tries; {points:?})"
    );
    assert!(
        verify_backup(&clean, &options).await.unwrap().is_ok(),
        "seed {seed}"
    );

    let target: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let flaky_target = segments(&flaky(&target, seed + 1000));
    let restore = RestoreOptions {
        copy: options.clone(),
        ..RestoreOptions::default()
    };
    let (report, _) = until_done(&mut rng, "restore", || {
        restore_db(&clean, &flaky_target, &source.name, &restore)
    })
    .await;
    assert_eq!(report.basis_t, taken.manifest.basis_t, "seed {seed}");
    let restored = index::open_db(&segments(&target), &source.name)
        .await
        .unwrap()
        .db;
    assert_same(
        &restored,
        &source.reopen().await,
        &source.ts,
        &format!("seed {seed}"),
    )
    .await;
    assert!(
        verify_db(&target, &source.name, &options)
            .await
            .unwrap()
            .is_ok(),
        "seed {seed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_and_interrupted_copies_converge() {
    let seeds = if long() { 20 } else { 1 };
    tokio::time::timeout(Duration::from_secs(60 * seeds), async {
        for seed in 0..seeds {
            converges(seed).await;
        }
    })
    .await
    .expect("the soak took too long");
}
