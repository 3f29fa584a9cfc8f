//! Incremental and resumable backups: a second backup of an unchanged
//! database copies nothing and adds no point; after new transactions it
//! copies exactly the segments the new point reaches that the old one did
//! not; an interrupted backup lists nothing and, run again, copies only
//! the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backup::{BackupLocation, CopyOptions, backup_db, verify_backup};
use common::{Backend, Source, name, segments, storage, within};
use index::{ReachableSegment, reachable_segments};
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
use storage_core::{SegmentId, Storage};

async fn reached(location: &BackupLocation, basis_t: u64) -> BTreeSet<SegmentId> {
    let points = location.points().await.unwrap();
    let point = points.iter().find(|p| p.basis_t == basis_t).unwrap();
    let root = location.manifest(point).await.unwrap().log_root().unwrap();
    let all: Vec<ReachableSegment> = reachable_segments(&segments(location.storage()), &root)
        .await
        .unwrap();
    all.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backups_copy_only_what_is_new() {
    within(async {
        let options = CopyOptions::default();
        let source_store = storage(Backend::File, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        source.busy(60, 20).await;
        let dir = tempfile::tempdir().unwrap();
        let location = BackupLocation::open(
            &common::registry(),
            dir.path().to_str().unwrap(),
            backup::Access::Create,
        )
        .await
        .unwrap();

        let first = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        assert_eq!(first.copy.copied, first.manifest.segments);
        let again = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        assert!(again.unchanged);
        assert_eq!(
            (again.copy.copied, again.copy.present),
            (0, first.manifest.segments)
        );
        assert_eq!(again.point, first.point);
        assert_eq!(location.points().await.unwrap().len(), 1);

        source.busy(2, 100).await;
        source.index().await;
        let second = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        let (old, new) = (
            reached(&location, first.manifest.basis_t).await,
            reached(&location, second.manifest.basis_t).await,
        );
        let fresh = new.difference(&old).count() as u64;
        assert_eq!(
            second.copy.copied, fresh,
            "exactly the segments the old point lacks"
        );
        assert!(
            fresh > 0 && fresh < second.manifest.segments / 2,
            "{fresh} of {}",
            second.manifest.segments
        );
        assert_eq!(second.point.copied_segments, fresh);
        assert_eq!(location.points().await.unwrap().len(), 2);
        assert!(verify_backup(&location, &options).await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_backup_is_finished_by_running_it_again() {
    within(async {
        let options = CopyOptions {
            parallel: 2,
            ..CopyOptions::default()
        };
        let source_store = storage(Backend::Mem, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        source.busy(40, 10).await;
        let target = storage(Backend::File, "set").await;
        let plan = FaultPlan::seeded(1);
        let slow: Arc<dyn Storage> =
            Arc::new(FaultyStorage::new(target.storage.clone(), plan.clone()));
        let location = BackupLocation::new(slow, "slow backup", &name("set")).unwrap();

        plan.inject(Op::Put, Fault::Delay(Duration::from_millis(20)), 1.0);
        // Interrupted (dropped) once some segments are in.
        let some_copied = async {
            while common::segment_count(&target.storage).await < 5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            done = backup_db(&source.seg, &source.name, &location, &options) => {
                panic!("the backup finished before it was interrupted: {:?}", done.map(|r| r.copy));
            }
            () = some_copied => {}
        }
        assert!(
            location.points().await.unwrap().is_empty(),
            "an interrupted backup is never listed"
        );
        let copied_before = common::segment_count(&target.storage).await as u64;
        assert!(copied_before > 0);

        plan.clear();
        let done = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        assert!(done.copy.present >= copied_before, "{:?}", done.copy);
        assert_eq!(done.copy.present + done.copy.copied, done.manifest.segments);
        assert!(done.copy.copied > 0);
        assert_eq!(location.points().await.unwrap().len(), 1);
        assert!(verify_backup(&location, &options).await.unwrap().is_ok());
    })
    .await;
}
