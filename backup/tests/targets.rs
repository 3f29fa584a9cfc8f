//! What a restore does to the database it restores into: creates it,
//! leaves it alone when up to date, moves it forward, refuses to replace
//! another database or to discard transactions unless forced (and then
//! says what it discards and fences a running transactor), and makes a
//! clone with its own identity under a new name in a storage that holds
//! the original, sharing every segment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use backup::{
    BackupLocation, CopyOptions, ErrorKind, RestoreOptions, RestoreReport, Restored, backup_db,
    restore_db,
};
use common::{Backend, Source, blocking, location, name, segments, storage, within};
use model::{Index, Value};
use storage_core::{DbName, Storage};
use transactor::{Config, Transactor};

async fn restore(
    location: &BackupLocation,
    target: &Arc<dyn Storage>,
    db: &DbName,
    t: Option<u64>,
    force: bool,
) -> backup::Result<RestoreReport> {
    let options = RestoreOptions {
        t,
        force,
        ..RestoreOptions::default()
    };
    restore_db(location, &segments(target), db, &options).await
}

async fn basis(storage: &Arc<dyn Storage>, db: &DbName) -> u64 {
    index::open_db(&segments(storage), db)
        .await
        .unwrap()
        .root
        .basis_t
}

async fn transact(storage: &Arc<dyn Storage>, db: &DbName, text: &str) -> u64 {
    let transactor = Transactor::start(segments(storage), db, Config::default())
        .await
        .unwrap();
    let t = transactor.transact_edn(text).await.unwrap().t();
    transactor.shutdown().await.unwrap();
    t
}

async fn emails(storage: &Arc<dyn Storage>, db: &DbName) -> Vec<String> {
    let db = index::open_db(&segments(storage), db).await.unwrap().db;
    blocking(move || {
        db.datoms(Index::Aevt, &[Value::keyword(":p/email")])
            .unwrap()
            .map(|d| d.unwrap().v().to_string())
            .collect()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restores_create_advance_refuse_rewind_and_replace() {
    within(async {
        let options = CopyOptions::default();
        let source_store = storage(Backend::File, "orders").await;
        let mut source = Source::create(&source_store.storage, "orders").await;
        let (location, _keep) = location(Backend::File).await;
        source.busy(10, 4).await;
        let p1 = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap()
            .manifest
            .basis_t;
        source.busy(10, 4).await;
        let p2 = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap()
            .manifest
            .basis_t;
        let orders = name("orders");
        let b = storage(Backend::File, "orders").await;

        let r = restore(&location, &b.storage, &orders, None, false)
            .await
            .unwrap();
        assert_eq!(r.outcome, Restored::Created);
        let r = restore(&location, &b.storage, &orders, None, false)
            .await
            .unwrap();
        assert_eq!((r.outcome, r.copy.copied), (Restored::UpToDate, 0));

        // An older point over the same database: refused, then forced while
        // a transactor runs on it (which is fenced).
        let err = restore(&location, &b.storage, &orders, Some(p1), false)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "discard its transactions after t={p1} up to t={p2}"
            )),
            "{msg}"
        );
        assert_eq!(
            basis(&b.storage, &orders).await,
            p2,
            "a refused restore changes nothing"
        );
        let running = Transactor::start(segments(&b.storage), &orders, Config::default())
            .await
            .unwrap();
        let r = restore(&location, &b.storage, &orders, Some(p1), true)
            .await
            .unwrap();
        assert_eq!(r.outcome, Restored::Rewound { discarded_to_t: p2 });
        assert_eq!(basis(&b.storage, &orders).await, p1);
        let fenced = running
            .transact_edn(r#"[{:db/id "z" :p/email "late@x.org"}]"#)
            .await
            .unwrap_err();
        assert_eq!(fenced.kind(), transactor::ErrorKind::Fenced, "{fenced}");
        assert_eq!(
            basis(&b.storage, &orders).await,
            p1,
            "the fenced transactor committed nothing"
        );
        drop(running);

        // The latest point over it again: forward, no force needed.
        let r = restore(&location, &b.storage, &orders, None, false)
            .await
            .unwrap();
        assert_eq!(r.outcome, Restored::Advanced { from_t: p1 });
        assert_eq!(basis(&b.storage, &orders).await, p2);

        // Histories that parted: refused, then forced.
        let theirs = transact(
            &b.storage,
            &orders,
            r#"[{:db/id "t" :p/email "theirs@x.org"}]"#,
        )
        .await;
        source.tx(r#"[{:db/id "o" :p/email "ours@x.org"}]"#).await;
        let p3 = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap()
            .manifest
            .basis_t;
        let err = restore(&location, &b.storage, &orders, None, false)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("parts from the backup's"), "{err}");
        let r = restore(&location, &b.storage, &orders, None, true)
            .await
            .unwrap();
        assert!(
            matches!(r.outcome, Restored::Replaced { old_basis_t, .. } if old_basis_t == theirs),
            "{:?}",
            r.outcome
        );
        assert_eq!(basis(&b.storage, &orders).await, p3);
        let now = emails(&b.storage, &orders).await;
        assert!(
            now.contains(&"\"ours@x.org\"".to_string())
                && !now.contains(&"\"theirs@x.org\"".to_string()),
            "{now:?}"
        );

        // Another database of the same name: refused, then replaced.
        let c = storage(Backend::File, "orders").await;
        index::create_db(&c.storage, &orders).await.unwrap();
        let other = index::read_catalog(&c.storage)
            .await
            .unwrap()
            .0
            .live("orders")
            .unwrap()
            .uuid;
        let err = restore(&location, &c.storage, &orders, None, false)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("is another database"), "{err}");
        let r = restore(&location, &c.storage, &orders, None, true)
            .await
            .unwrap();
        assert!(
            matches!(r.outcome, Restored::Replaced { old_uuid, .. } if old_uuid == other),
            "{:?}",
            r.outcome
        );
        let entry = index::read_catalog(&c.storage)
            .await
            .unwrap()
            .0
            .live("orders")
            .unwrap()
            .clone();
        assert_eq!(entry.uuid, r.db_uuid);
        assert_eq!(basis(&c.storage, &orders).await, p3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clone_in_the_same_storage_shares_segments_and_diverges() {
    within(async {
        let options = CopyOptions::default();
        let store = storage(Backend::File, "orders").await;
        let mut source = Source::create(&store.storage, "orders").await;
        let (location, _keep) = location(Backend::Mem).await;
        source.busy(15, 5).await;
        let taken = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        let original_uuid = taken.manifest.db_uuid;

        let copy = name("orders-copy");
        let r = restore(&location, &store.storage, &copy, None, false)
            .await
            .unwrap();
        assert_eq!(
            r.outcome,
            Restored::Cloned {
                original: "orders".into()
            }
        );
        assert_ne!(r.db_uuid, original_uuid, "a clone has its own identity");
        assert_eq!(
            (r.copy.copied, r.copy.present),
            (0, taken.manifest.segments),
            "every segment is shared"
        );
        let catalog = index::read_catalog(&store.storage).await.unwrap().0;
        assert_eq!(catalog.live("orders").unwrap().uuid, original_uuid);
        assert_eq!(catalog.live("orders-copy").unwrap().uuid, r.db_uuid);

        // Restoring the original's own backup over it is a no-op.
        let same = restore(&location, &store.storage, &source.name, None, false)
            .await
            .unwrap();
        assert_eq!(same.outcome, Restored::UpToDate);

        let before = emails(&store.storage, &source.name).await;
        assert_eq!(emails(&store.storage, &copy).await, before);
        transact(
            &store.storage,
            &copy,
            r#"[{:db/id "c" :p/email "clone-only@x.org"}]"#,
        )
        .await;
        transact(
            &store.storage,
            &source.name,
            r#"[{:db/id "o" :p/email "original-only@x.org"}]"#,
        )
        .await;
        let (original, clone) = (
            emails(&store.storage, &source.name).await,
            emails(&store.storage, &copy).await,
        );
        assert!(
            original.contains(&"\"original-only@x.org\"".to_string()),
            "{original:?}"
        );
        assert!(
            !original.contains(&"\"clone-only@x.org\"".to_string()),
            "{original:?}"
        );
        assert!(
            clone.contains(&"\"clone-only@x.org\"".to_string()),
            "{clone:?}"
        );
        assert!(
            !clone.contains(&"\"original-only@x.org\"".to_string()),
            "{clone:?}"
        );
        assert_eq!(original.len(), before.len() + 1);
        assert_eq!(clone.len(), before.len() + 1);
    })
    .await;
}
