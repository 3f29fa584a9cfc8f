//! A restore whose process is killed midway leaves nothing visible, and
//! run again finishes without copying what is already there.
//!
//! The test runs itself as the child process that restores (slowly, so it
//! is surely killed midway) and is killed with SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup::{
    Access, BackupLocation, CopyOptions, RestoreOptions, Restored, backup_db, restore_db, verify_db,
};
use common::{Backend, Source, assert_same, name, registry, segments, storage};
use storage_core::Storage;
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};

/// Set in the child: `LOCATION_DIR|TARGET_DIR`.
const CHILD: &str = "ACCRETE_BACKUP_TEST_KILLED_CHILD";
const TEST: &str = "a_killed_restore_is_finished_by_running_it_again";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_killed_restore_is_finished_by_running_it_again() {
    match std::env::var(CHILD) {
        Ok(spec) => runtime().block_on(restore_slowly(&spec)),
        Err(_) => runtime().block_on(kill_and_resume()),
    }
}

/// The child: restores with every segment write delayed.
async fn restore_slowly(spec: &str) {
    let (location_dir, target_dir) = spec.split_once('|').unwrap();
    let location = BackupLocation::open(&registry(), location_dir, Access::Existing)
        .await
        .unwrap();
    let target = storage_file::FileStorage::open(target_dir).await.unwrap();
    let plan = FaultPlan::seeded(3);
    plan.inject(Op::Put, Fault::Delay(Duration::from_millis(40)), 1.0);
    let slow: Arc<dyn Storage> = Arc::new(FaultyStorage::new(Arc::new(target), plan));
    let options = RestoreOptions {
        copy: CopyOptions {
            parallel: 2,
            ..CopyOptions::default()
        },
        ..RestoreOptions::default()
    };
    restore_db(&location, &segments(&slow), &name("orders"), &options)
        .await
        .unwrap();
    panic!("the restore finished before it was killed");
}

async fn segment_files(dir: &Path) -> usize {
    let Ok(fanouts) = std::fs::read_dir(dir.join("segments")) else {
        return 0;
    };
    fanouts
        .flatten()
        .map(|d| std::fs::read_dir(d.path()).map_or(0, |f| f.count()))
        .sum()
}

async fn kill_and_resume() {
    let source_store = storage(Backend::Mem, "orders").await;
    let mut source = Source::create(&source_store.storage, "orders").await;
    source.busy(40, 10).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let location = BackupLocation::open(
        &registry(),
        backup_dir.path().to_str().unwrap(),
        Access::Create,
    )
    .await
    .unwrap();
    let taken = backup_db(
        &source.seg,
        &source.name,
        &location,
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    let target_dir = tempfile::tempdir().unwrap();

    let spec = format!(
        "{}|{}",
        backup_dir.path().display(),
        target_dir.path().display()
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while segment_files(target_dir.path()).await < 10 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before it was killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child restored nothing in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let copied_before = segment_files(target_dir.path()).await as u64;
    assert!(
        copied_before < taken.manifest.segments,
        "killed midway: {copied_before} of {}",
        taken.manifest.segments
    );

    let target: Arc<dyn Storage> = Arc::new(
        storage_file::FileStorage::open(target_dir.path())
            .await
            .unwrap(),
    );
    assert!(
        index::list_dbs(&target).await.unwrap().is_empty(),
        "nothing is visible"
    );
    let orders = name("orders");
    assert!(index::open_db(&segments(&target), &orders).await.is_err());

    let report = restore_db(
        &location,
        &segments(&target),
        &orders,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Restored::Created);
    assert_eq!(
        report.copy.present, copied_before,
        "what the killed run copied is kept"
    );
    assert_eq!(
        report.copy.present + report.copy.copied,
        taken.manifest.segments
    );
    let restored = index::open_db(&segments(&target), &orders)
        .await
        .unwrap()
        .db;
    assert_same(
        &restored,
        &source.reopen().await,
        &source.ts,
        "resumed restore",
    )
    .await;
    assert!(
        verify_db(&target, &orders, &CopyOptions::default())
            .await
            .unwrap()
            .is_ok()
    );
}
