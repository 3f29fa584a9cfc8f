//! Garbage collection while a writer commits and indexes and peers read:
//! gc runs in a loop with a short grace; every peer reads a database value
//! it opened from the log root, through a cache too small to hide storage,
//! and every read that finishes within the grace of that opening must
//! succeed; at the end the database holds exactly what an in-memory
//! reference built from the committed log entries holds, and verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backup::gc::{GcOptions, gc_storage};
use backup::{CopyOptions, verify_db};
use common::{Backend, Source, blocking, storage};
use index::{LogRoot, SegmentCache, Segments, db_from_root, log_root_name};
use model::{Db, Index};
use storage_core::{DbName, Storage};

const GRACE: Duration = Duration::from_millis(1500);

/// Reads every datom of `db`, current and history.
fn read_all(db: &Db) -> model::Result<usize> {
    let mut n = 0;
    for d in db.datoms(Index::Eavt, &[])? {
        d?;
        n += 1;
    }
    for d in db.history().datoms(Index::Aevt, &[])? {
        d?;
        n += 1;
    }
    Ok(n)
}

/// A peer: opens the latest value, reads it over and over while the value
/// is within the grace, then opens the latest again.
async fn peer(storage: Arc<dyn Storage>, name: DbName, done: Arc<AtomicBool>) -> u64 {
    // 256 KiB: most reads go to storage, none is served from a stale cache.
    let seg = Segments::new(storage.clone(), SegmentCache::new(256 << 10).unwrap());
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) {
        let opened = Instant::now();
        let stored = storage
            .read_root(&log_root_name(&name))
            .await
            .unwrap()
            .unwrap();
        let root = LogRoot::decode(&log_root_name(&name), stored.value.data()).unwrap();
        let db = match db_from_root(&seg, &root).await {
            Ok(db) => db,
            Err(e) if opened.elapsed() >= GRACE => {
                let _ = e; // opened too slowly: outside the promise
                continue;
            }
            Err(e) => panic!("opening a value within the grace: {e}"),
        };
        while opened.elapsed() < GRACE / 2 && !done.load(Ordering::SeqCst) {
            let value = db.clone();
            let read = blocking(move || read_all(&value)).await;
            match read {
                Ok(_) => reads += 1,
                Err(e) if opened.elapsed() >= GRACE => {
                    let _ = e;
                    break;
                }
                Err(e) => panic!(
                    "a peer met a missing or damaged segment {:?} after opening its value: {e}",
                    opened.elapsed()
                ),
            }
        }
    }
    reads
}

async fn gc_while_committing(backend: Backend) {
    let store = storage(backend, "busy").await;
    let mut source = Source::create(&store.storage, "busy").await;
    let mut reference = Db::new()
        .apply_tx(
            &source
                .db
                .tx_range(Some(1), None)
                .unwrap()
                .next()
                .unwrap()
                .unwrap(),
        )
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let deleted = Arc::new(AtomicU64::new(0));
    let collector = {
        let (storage, done, deleted) = (store.storage.clone(), done.clone(), deleted.clone());
        tokio::spawn(async move {
            let options = GcOptions {
                grace: GRACE,
                ..GcOptions::default()
            };
            while !done.load(Ordering::SeqCst) {
                let report = gc_storage(&storage, &options).await.unwrap();
                deleted.fetch_add(report.deleted.len() as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let peers: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(peer(
                store.storage.clone(),
                source.name.clone(),
                done.clone(),
            ))
        })
        .collect();

    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(8) || deleted.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gc never deleted"
        );
        let text = format!(
            r#"[{{:db/id "a{i}" :p/email "a{i}@x.org" :p/age {} :p/bio "bio {i} with filler text to grow segments"}}
                {{:db/id "b{i}" :p/email "b{i}@x.org" :p/age {} :p/tags [:t/x]}}]"#,
            i % 90,
            (i * 7) % 90
        );
        let report = source.tx(&text).await;
        reference = reference.apply_tx(&report.log_entry()).unwrap();
        if i > 0 && i % 3 == 0 {
            let report = source
                .tx(&format!(
                    r#"[[:db/add [:p/email "a{}@x.org"] :p/age {i}]]"#,
                    i - 1
                ))
                .await;
            reference = reference.apply_tx(&report.log_entry()).unwrap();
        }
        if i % 4 == 3 {
            source.index().await;
        }
        i += 1;
    }
    done.store(true, Ordering::SeqCst);
    collector.await.unwrap();
    let mut reads = 0;
    for p in peers {
        reads += p.await.unwrap();
    }
    assert!(reads > 0, "{backend}: the peers read nothing");

    let fresh = source.reopen().await;
    let (a, b) = (fresh.clone(), reference.clone());
    let (got, want) = blocking(move || {
        let all = |db: &Db| -> Vec<model::Datom> {
            db.history()
                .datoms(Index::Eavt, &[])
                .unwrap()
                .map(|d| d.unwrap())
                .collect()
        };
        (all(&a), all(&b))
    })
    .await;
    assert_eq!(got.len(), want.len(), "{backend}: committed datoms lost");
    assert_eq!(got, want, "{backend}");
    let verified = verify_db(&store.storage, &source.name, &CopyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_ok(), "{backend}: {verified:?}");
    println!(
        "{backend}: {i} transactions, {reads} full reads, {} segments collected",
        deleted.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_while_committing_on_mem() {
    gc_while_committing(Backend::Mem).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_while_committing_on_file() {
    gc_while_committing(Backend::File).await;
}
