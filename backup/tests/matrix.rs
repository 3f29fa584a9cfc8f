//! Every backend to every backend (mem, file, PostgreSQL, the Cassandra
//! simulator): a database backed up into a location on one backend and
//! restored into another reads the same, datom for datom, in every index,
//! in history, at several t, and in its log; and both the backup and the
//! restored database verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use backup::{
    CopyOptions, RestoreOptions, Restored, backup_db, restore_db, verify_backup, verify_db,
};
use common::{ALL, Backend, Source, assert_same, location, name, segments, storage, within};

/// From one backend to every backend (one test per source backend, so the
/// sources run in parallel and a failure names its pair).
async fn every_pair_of_backends_restores_identical_databases(from: Backend) {
    within(async {
        let source_store = storage(from, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        source.busy(40, 9).await;
        let source_db = source.reopen().await;
        for to in ALL {
            round_trip(&source, &source_db, from, to).await;
        }
    })
    .await;
}

storage_core::per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_pair_of_backends_restores_identical_databases for Backend {
        mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
    }
}

async fn round_trip(source: &Source, source_db: &model::Db, from: Backend, to: Backend) {
    let what = format!("{from:?} -> {to:?}");
    let options = CopyOptions::default();
    let (location, _keep) = location(to).await;
    let taken = backup_db(&source.seg, &source.name, &location, &options)
        .await
        .unwrap();
    assert!(!taken.unchanged, "{what}");
    assert_eq!(taken.manifest.basis_t, source_db.basis_t(), "{what}");
    assert_eq!(
        taken.copy.copied, taken.manifest.segments,
        "{what}: a first backup copies all"
    );
    assert!(
        taken.manifest.segments > 20,
        "{what}: deep trees expected, got {}",
        taken.manifest.segments
    );

    let target = storage(to, "restored").await;
    let restored_name = name("restored");
    let report = restore_db(
        &location,
        &segments(&target.storage),
        &restored_name,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Restored::Created, "{what}");
    assert_eq!(
        report.db_uuid, taken.manifest.db_uuid,
        "{what}: a restore keeps the identity"
    );
    assert_eq!(report.copy.copied, taken.manifest.segments, "{what}");

    let restored = index::open_db(&segments(&target.storage), &restored_name)
        .await
        .unwrap()
        .db;
    assert_same(&restored, source_db, &source.ts, &what).await;

    let verified = verify_db(&target.storage, &restored_name, &options)
        .await
        .unwrap();
    assert!(verified.is_ok(), "{what}: {:?}", verified.problems);
    assert_eq!(verified.segments, taken.manifest.segments, "{what}");
    let verified = verify_backup(&location, &options).await.unwrap();
    assert!(verified.is_ok(), "{what}: {:?}", verified.problems);
    assert_eq!(verified.segments, taken.manifest.segments, "{what}");
}
