//! A backup taken while a transactor commits and indexes is consistent:
//! each point restores to exactly the database as of its basis t, with
//! every transaction whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup::{CopyOptions, RestoreOptions, backup_db, restore_db, verify_backup};
use common::{Backend, Source, assert_as_of, location, name, segments, storage, within};
use transactor::{Config, Transactor};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backups_during_writes_and_indexing_are_consistent() {
    within(async {
        let options = CopyOptions::default();
        let store = storage(Backend::File, "busy").await;
        let source = Source::create(&store.storage, "busy").await;
        let config = Config {
            index_threshold: 100,
            ..Config::default()
        };
        let transactor = Arc::new(Transactor::start(segments(&store.storage), &source.name, config).await.unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn({
            let (transactor, stop) = (transactor.clone(), stop.clone());
            async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let tx = format!(
                        r#"[{{:db/id "a" :p/email "a{n}@x.org" :p/age {n} :p/bio "bio {n}"}} {{:db/id "b" :p/email "b{n}@x.org" :p/friend "a"}}]"#
                    );
                    transactor.transact_edn(&tx).await.unwrap();
                    n += 1;
                }
                n
            }
        });
        let (location, _keep) = location(Backend::File).await;
        let mut points = Vec::new();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let taken = backup_db(&source.seg, &source.name, &location, &options).await.unwrap();
            points.push(taken.manifest.basis_t);
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer.await.unwrap();
        transactor.shutdown().await.unwrap();
        assert!(written > 20, "the writer kept writing ({written} transactions)");
        assert!(points.windows(2).all(|w| w[0] < w[1]), "each backup saw later writes: {points:?}");
        let jobs = transactor.metrics().index_jobs;
        assert!(jobs >= 2, "indexing jobs ran meanwhile ({jobs}, {written} transactions, {:?})", transactor.metrics());

        let latest = source.reopen().await;
        for basis in points {
            let target = storage(Backend::Mem, "then").await;
            let restore = RestoreOptions {
                t: Some(basis),
                ..RestoreOptions::default()
            };
            let report = restore_db(&location, &segments(&target.storage), &name("then"), &restore).await.unwrap();
            assert!(!report.cut, "a point's own basis restores without a cut");
            let restored = index::open_db(&segments(&target.storage), &name("then")).await.unwrap().db;
            assert_as_of(&restored, &latest, basis, &format!("point t={basis}")).await;
        }
        assert!(verify_backup(&location, &options).await.unwrap().is_ok());
    })
    .await;
}
