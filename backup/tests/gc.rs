//! Erasure that erases, on every backend: a marker value written into many
//! entities is found in the raw bytes of the storage and of a backup
//! location; after the excision is indexed, a new backup taken, old points
//! pruned and garbage collected with a zero grace, it is found nowhere —
//! not in any segment (compressed or not), root, file, table row or
//! simulator replica — while the database and the backup still verify and
//! read the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod raw;

use std::time::Duration;

use backup::gc::{ExcisionState, GcOptions, PrunePolicy, excise_status, gc_storage, prune_backups};
use backup::{CopyOptions, backup_db, verify_backup, verify_db};
use common::{Backend, Source, all, blocking, location, storage, within};
use model::{Index, Value};

/// Unique to this test: nothing else in any storage contains it.
const MARKER: &str = "excise-me-7c1f9a3e";

fn zero_grace() -> GcOptions {
    GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    }
}

async fn erasure_erases(backend: Backend) {
    let store = storage(backend, "patients").await;
    let (location, backup_store) = location(backend).await;
    let mut source = Source::create(&store.storage, "patients").await;
    source.busy(15, 5).await;
    let mut marked = Vec::new();
    for batch in 0..6 {
        let forms: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    r#"{{:db/id "m{i}" :p/email "patient-{batch}-{i}@x.org" :p/bio "{MARKER} record {batch}-{i}"}}"#
                )
            })
            .collect();
        let report = source.tx(&format!("[{}]", forms.join("\n"))).await;
        marked.extend(report.tempids.values().copied());
        source.busy(3, 2).await;
    }
    source.index().await;
    backup_db(
        &source.seg,
        &source.name,
        &location,
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    let before = raw::count(&store, MARKER).await + raw::count(&backup_store, MARKER).await;
    assert!(
        before > 0,
        "{backend}: the scan must see the marker before the excision"
    );

    let requests: Vec<String> = marked
        .iter()
        .map(|e| format!("{{:db/excise {e}}}"))
        .collect();
    source.tx(&format!("[{}]", requests.join("\n"))).await;
    source.busy(4, 100).await;
    source.index().await;
    let waiting = excise_status(&store.storage, &source.name).await.unwrap();
    assert_eq!(waiting.len(), marked.len(), "{backend}");
    assert!(
        waiting
            .iter()
            .all(|s| matches!(s.state, ExcisionState::WaitingForGc { .. })),
        "{backend}: before gc {waiting:?}"
    );

    backup_db(
        &source.seg,
        &source.name,
        &location,
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    let predating = backup::gc::points_predating_excisions(&location)
        .await
        .unwrap();
    assert_eq!(predating.len(), 2, "{backend}");
    assert_eq!(
        predating[0].1.len(),
        marked.len(),
        "{backend}: {predating:?}"
    );
    assert!(predating[1].1.is_empty(), "{backend}: {predating:?}");
    let pruned = prune_backups(&location, PrunePolicy::Keep(1), &zero_grace())
        .await
        .unwrap();
    assert_eq!(pruned.dropped.len(), 1, "{backend}");
    assert!(pruned.gc.deleted_bytes > 0, "{backend}: {:?}", pruned.gc);
    let collected = gc_storage(&store.storage, &zero_grace()).await.unwrap();
    assert!(!collected.deleted.is_empty(), "{backend}: {collected:?}");
    assert!(
        collected.excisions_completed > 0,
        "{backend}: {collected:?}"
    );
    raw::settle(&store).await;
    raw::settle(&backup_store).await;

    let after = raw::count(&store, MARKER).await;
    let in_backup = raw::count(&backup_store, MARKER).await;
    assert_eq!(
        (after, in_backup),
        (0, 0),
        "{backend}: the excised marker survives (storage, backup location); it was found {before} times before"
    );
    let done = excise_status(&store.storage, &source.name).await.unwrap();
    assert!(
        done.iter()
            .all(|s| matches!(s.state, ExcisionState::Complete { .. })),
        "{backend}: after gc {done:?}"
    );

    // Nothing live went: the database and the backup verify and read alike.
    let verified = verify_db(&store.storage, &source.name, &CopyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_ok(), "{backend}: {verified:?}");
    let verified = verify_backup(&location, &CopyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_ok(), "{backend}: {verified:?}");
    let fresh = source.reopen().await;
    let (a, b) = (fresh.clone(), source.db.clone());
    let (read, expected) = blocking(move || (all(&a, Index::Eavt), all(&b, Index::Eavt))).await;
    assert_eq!(read, expected, "{backend}");
    assert!(
        !read
            .iter()
            .any(|d| matches!(d.v(), Value::String(s) if s.contains(MARKER))),
        "{backend}"
    );

    // A second run with nothing new deletes nothing.
    let again = gc_storage(&store.storage, &zero_grace()).await.unwrap();
    assert!(
        again.deleted.len() <= collected.waiting as usize + 2,
        "{backend}: {again:?}"
    );
    let verified = verify_db(&store.storage, &source.name, &CopyOptions::default())
        .await
        .unwrap();
    assert!(verified.is_ok(), "{backend}: {verified:?}");
    drop(backup_store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_erases_on_mem() {
    within(erasure_erases(Backend::Mem)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_erases_on_file() {
    within(erasure_erases(Backend::File)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_erases_on_postgres() {
    within(erasure_erases(Backend::Postgres)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_erases_on_cassandra_simulator() {
    within(erasure_erases(Backend::Cassandra)).await;
}

/// A restore or backup in progress holds the storage: a run deletes
/// nothing while the hold lasts, and the same run afterwards does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_pauses_deletion() {
    within(async {
        let store = storage(Backend::Mem, "held").await;
        let mut source = Source::create(&store.storage, "held").await;
        source.busy(12, 3).await;
        index::delete_db(&store.storage, &source.name)
            .await
            .unwrap();
        let storage = store.storage.clone();
        let held = backup::gc::while_held(&store.storage, "restore of `other`", async move {
            gc_storage(&storage, &zero_grace()).await
        })
        .await
        .unwrap();
        assert!(held.deleted.len() > 10, "{held:?}");
        assert_eq!(held.held_by, vec!["restore of `other`".to_string()]);
        assert_eq!(
            common::segment_count(&store.storage).await as u64,
            held.listed,
            "nothing deleted while held"
        );
        let released = gc_storage(&store.storage, &zero_grace()).await.unwrap();
        assert!(released.held_by.is_empty(), "{released:?}");
        // Only gc's own state segment is left.
        assert_eq!(common::segment_count(&store.storage).await, 1);
        assert!(released.deleted.len() as u64 >= held.listed, "{released:?}");
    })
    .await;
}
