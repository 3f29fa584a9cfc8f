//! Clear errors and reports for damaged backups and databases: a corrupt
//! or missing segment named, a truncated backup, another format version,
//! the wrong database, a location or storage that is not there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backup::{
    Access, BackupLocation, CopyOptions, ErrorKind, RestoreOptions, backup_db, restore_db,
    verify_backup, verify_db,
};
use common::{Backend, Source, location, name, registry, segments, storage, within};
use index::segment::kind;
use index::{ReachableSegment, reachable_segments};
use storage_core::{MemStorage, RootName, RootValue, SegmentId, Storage, StorageExt};

fn segment_file(dir: &Path, id: SegmentId) -> PathBuf {
    dir.join("segments")
        .join(format!("{:02x}", id.as_bytes()[0]))
        .join(id.to_hex())
}

/// The segments the latest point of `location` reaches.
async fn reached(location: &BackupLocation) -> Vec<ReachableSegment> {
    let point = location.points().await.unwrap().pop().unwrap();
    let root = location.manifest(&point).await.unwrap().log_root().unwrap();
    reachable_segments(&segments(location.storage()), &root)
        .await
        .unwrap()
}

fn first_of(reached: &[ReachableSegment], kind: u8) -> SegmentId {
    reached.iter().find(|r| r.kind == kind).unwrap().id
}

async fn restore_into_mem(location: &BackupLocation) -> backup::Result<backup::RestoreReport> {
    let target: Arc<dyn Storage> = Arc::new(MemStorage::new());
    restore_db(
        location,
        &segments(&target),
        &name("orders"),
        &RestoreOptions::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_and_missing_segments_in_a_backup_are_named() {
    within(async {
        let options = CopyOptions::default();
        let source_store = storage(Backend::Mem, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        source.busy(12, 5).await;
        let (location, store) = location(Backend::File).await;
        let dir = store.dir.as_ref().unwrap().path();
        backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        let reached = reached(&location).await;

        // A flipped byte in an index leaf.
        let leaf = first_of(&reached, kind::INDEX_LEAF);
        let mut bytes = std::fs::read(segment_file(dir, leaf)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(segment_file(dir, leaf), &bytes).unwrap();
        // A log leaf gone.
        let gone = first_of(&reached, kind::LOG_LEAF);
        std::fs::remove_file(segment_file(dir, gone)).unwrap();

        let report = verify_backup(&location, &options).await.unwrap();
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|p| p.contains(&leaf.to_hex()) && p.contains("(index leaf) is corrupt")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|p| p.contains(&gone.to_hex()) && p.contains("(log leaf) is missing")),
            "{text:?}"
        );
        assert_eq!(report.segments, reached.len() as u64 - 2);

        let err = restore_into_mem(&location).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&leaf.to_hex()) || msg.contains(&gone.to_hex()),
            "{msg}"
        );

        // A backup run again repairs what the source still has.
        let again = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        assert!(again.unchanged);
        assert_eq!(again.copy.copied, 1, "the missing leaf is copied back");
        std::fs::remove_file(segment_file(dir, leaf)).unwrap();
        let again = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        assert_eq!(
            again.copy.copied, 1,
            "the removed corrupt leaf is copied back"
        );
        assert!(verify_backup(&location, &options).await.unwrap().is_ok());
        restore_into_mem(&location).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn truncated_backups_other_versions_and_wrong_databases_are_refused() {
    within(async {
        let options = CopyOptions::default();
        let source_store = storage(Backend::Mem, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        source.busy(6, 3).await;
        let (location, store) = location(Backend::File).await;
        let dir = store.dir.as_ref().unwrap().path();
        let taken = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();

        // Another database into the same location.
        let mut other = Source::create(&source_store.storage, "other").await;
        other.busy(2, 100).await;
        let err = backup_db(&other.seg, &other.name, &location, &options)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(
            err.to_string()
                .contains("holds backups of database `orders`")
                && err.to_string().contains("`other`"),
            "{err}"
        );
        // A database that does not exist.
        let err = backup_db(&other.seg, &name("nope"), &location, &options)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string().contains("database `nope` does not exist"),
            "{err}"
        );

        // The manifest gone: a truncated backup.
        std::fs::remove_file(segment_file(dir, taken.point.manifest)).unwrap();
        let err = restore_into_mem(&location).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
        assert!(
            err.to_string().contains("(backup manifest) is missing"),
            "{err}"
        );
        let report = verify_backup(&location, &options).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0].to_string().contains("backup manifest"),
            "{:?}",
            report.problems
        );

        // A location root of a later format.
        let root = RootName::new("backups/set").unwrap();
        let current = location.storage().read_root(&root).await.unwrap().unwrap();
        let mut data = current.value.data().to_vec();
        data[0] = 2;
        location
            .storage()
            .cas_root_or_conflict(
                &root,
                Some(current.revision),
                &RootValue::new(data).unwrap(),
            )
            .await
            .unwrap();
        let err = restore_into_mem(&location).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
        assert!(
            err.to_string()
                .contains("backup format 2; this build reads format 1"),
            "{err}"
        );
        let err = location.points().await.unwrap_err();
        assert!(
            matches!(err, backup::Error::UnsupportedFormat { .. }),
            "{err}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_locations_and_unreachable_storages_are_clear_errors() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = dir.path().join("no-such-backup");
        let text = nowhere.to_str().unwrap();
        let err = BackupLocation::open(&registry(), text, Access::Existing)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!nowhere.exists(), "reading a location never creates it");
        let err = BackupLocation::open(&registry(), "", Access::Create)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");

        // A directory is a location; an empty one lists nothing.
        let created = BackupLocation::open(&registry(), text, Access::Create)
            .await
            .unwrap();
        assert!(created.points().await.unwrap().is_empty());
        let err = restore_into_mem(&created).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let err = verify_backup(&created, &CopyOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

        // Nothing listens on this port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = format!("postgres://postgres@127.0.0.1:{port}/postgres?db=x&connect_timeout=1");
        let err = BackupLocation::open(&registry(), &uri, Access::Create)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_db_reports_every_damaged_segment() {
    within(async {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut source = Source::create(&storage, "orders").await;
        source.busy(12, 4).await;
        let options = CopyOptions::default();
        let clean = verify_db(&storage, &source.name, &options).await.unwrap();
        assert!(clean.is_ok(), "{:?}", clean.problems);
        let reached = reachable_segments(&source.seg, &source.root).await.unwrap();
        assert_eq!(clean.segments, reached.len() as u64);

        let branch = first_of(&reached, kind::INDEX_BRANCH);
        let leaf = reached
            .iter()
            .rev()
            .find(|r| r.kind == kind::INDEX_LEAF)
            .unwrap()
            .id;
        mem.corrupt_segment(branch, "not a segment".into());
        storage.delete_segment(leaf).await.unwrap();
        let report = verify_db(&storage, &source.name, &options).await.unwrap();
        assert!(!report.is_ok());
        let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|p| p.contains(&branch.to_hex()) && p.contains("corrupt")),
            "{text:?}"
        );
        assert!(
            text[0].starts_with(&format!("database `orders` at t={}", source.root.basis_t)),
            "{text:?}"
        );

        // The backup of a damaged database stops at the damage, naming it.
        let (location, _keep) = location(Backend::Mem).await;
        let err = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
        assert!(
            location.points().await.unwrap().is_empty(),
            "no point is listed"
        );
        let err = verify_db(&storage, &name("nope"), &options)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    })
    .await;
}
