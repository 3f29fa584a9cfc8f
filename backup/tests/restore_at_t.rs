//! Restoring at an earlier t: the restored database is a real database
//! value with that basis, identical to the source as of t; the point's
//! index is reused when it covers nothing later, and rebuilt from the log
//! otherwise; excised data stays excised; and the restored database takes
//! new transactions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use backup::{CopyOptions, ErrorKind, RestoreOptions, Restored, backup_db, restore_db, verify_db};
use common::{Backend, Source, assert_as_of, blocking, location, name, segments, storage, within};
use model::Index;
use transactor::{Config, Transactor};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restore_at_t_is_the_database_as_of_t() {
    within(async {
        let source_store = storage(Backend::File, "events").await;
        let mut source = Source::create(&source_store.storage, "events").await;
        let options = CopyOptions::default();
        let (location, _keep) = location(Backend::File).await;

        source.busy(24, 8).await;
        let victim = source
            .tx(r#"[{:db/id "v" :p/email "victim@x.org" :p/bio "secret"}]"#)
            .await;
        let victim = victim.tempid("v").unwrap();
        source
            .tx(&format!(r#"[{{:db/id "x" :db/excise {victim}}}]"#))
            .await;
        source.busy(5, 100).await;
        source.index().await; // carries out the excision, in the trees and the log
        let first = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        source.busy(30, 10).await;
        source.busy(4, 100).await; // novelty after the last index job
        let second = backup_db(&source.seg, &source.name, &location, &options)
            .await
            .unwrap();
        let latest = source.reopen().await;
        let ts = source.ts.clone();
        let index_basis = second.manifest.index_basis_t.unwrap();
        assert!(index_basis < second.manifest.basis_t);

        let cases = [
            ("before the first point's index", ts[10], true, true),
            (
                "the first point exactly",
                first.manifest.basis_t,
                false,
                false,
            ),
            ("between t values", ts[20] + 1, true, true),
            ("before the latest index", ts[45], true, true),
            ("after the latest index", ts[ts.len() - 2], true, false),
            ("the bootstrap only", 0, true, true),
        ];
        for (what, t, cut, reindexed) in cases {
            let target = storage(Backend::Mem, "then").await;
            let then = name("then");
            let restore = RestoreOptions {
                t: Some(t),
                ..RestoreOptions::default()
            };
            let report = restore_db(&location, &segments(&target.storage), &then, &restore)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(report.outcome, Restored::Created, "{what}");
            assert_eq!((report.cut, report.reindexed), (cut, reindexed), "{what}");
            let restored = index::open_db(&segments(&target.storage), &then)
                .await
                .unwrap();
            assert_eq!(restored.root.basis_t, report.basis_t, "{what}");
            assert_as_of(&restored.db, &latest, t, what).await;
            let verified = verify_db(&target.storage, &then, &options).await.unwrap();
            assert!(verified.is_ok(), "{what}: {:?}", verified.problems);
            if report.basis_t >= ts[1] {
                takes_new_transactions(&target.storage, &then, report.basis_t).await;
            }
        }

        let too_late = RestoreOptions {
            t: Some(latest.basis_t() + 1),
            ..RestoreOptions::default()
        };
        let target = storage(Backend::Mem, "later").await;
        let err = restore_db(
            &location,
            &segments(&target.storage),
            &name("later"),
            &too_late,
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("the latest is t={}", latest.basis_t())),
            "{err}"
        );
    })
    .await;
}

/// A transactor takes the restored database over and commits after its
/// basis.
async fn takes_new_transactions(
    storage: &std::sync::Arc<dyn storage_core::Storage>,
    db: &storage_core::DbName,
    basis: u64,
) {
    let seg = segments(storage);
    let transactor = Transactor::start(seg, db, Config::default()).await.unwrap();
    let report = transactor
        .transact_edn(r#"[{:db/id "n" :p/email "new@x.org" :p/age 1}]"#)
        .await
        .unwrap();
    assert!(report.t() > basis);
    transactor.shutdown().await.unwrap();
    let db = index::open_db(&segments(storage), db).await.unwrap().db;
    let found = blocking(move || {
        db.datoms(
            Index::Avet,
            &[
                model::Value::keyword(":p/email"),
                model::Value::string("new@x.org"),
            ],
        )
        .unwrap()
        .count()
    })
    .await;
    assert_eq!(found, 1);
}
