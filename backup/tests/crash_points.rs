//! A restore that dies right after each of its root writes. Once the
//! segments are copied (a kill during the copy is `killed.rs`), a restore
//! makes the database visible in these steps, each one compare-and-swap:
//!
//! | restoring into …            | step 1            | step 2            | step 3          |
//! |-----------------------------|-------------------|-------------------|-----------------|
//! | a storage without the db    | log root written  | catalog lists it  |                 |
//! | another db of that name     | catalog retires   | log root written  | catalog lists   |
//! |  (forced)                   | the old one       |                   | the new one     |
//!
//! After a death right after step k, a reader finds the old database (whole),
//! no database, or the restored one (whole) — never a catalog entry whose
//! log root belongs to another database — and the same restore run again
//! finishes the job. The death is a lost answer ([`Fault::FailAfter`] on
//! the k-th root write: the write is done, the restore fails at once and
//! writes nothing more), which is what a kill at that instant leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use backup::{CopyOptions, RestoreOptions, Restored, backup_db, restore_db};
use common::{Backend, Source, assert_same, location, segments, storage};
use storage_core::Storage;
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};

/// What a reader of the target finds under the restored name.
#[derive(Debug, PartialEq)]
enum Seen {
    Nothing,
    TheOldDatabase,
    TheRestoredOne,
}

async fn seen(target: &Arc<dyn Storage>, old: Option<&Source>, restored: &Source) -> Seen {
    let opened = match index::open_db(&segments(target), &restored.name).await {
        Ok(opened) => opened,
        Err(index::Error::DbNotFound(_)) => return Seen::Nothing,
        Err(e) => panic!("a reader of the half-restored target fails: {e}"),
    };
    if opened.db.basis_t() == restored.db.basis_t() && opened.entry.uuid == restored.root.db_uuid {
        assert_same(
            &opened.db,
            &restored.reopen().await,
            &restored.ts,
            "restored",
        )
        .await;
        return Seen::TheRestoredOne;
    }
    let old = old.expect("no old database was there");
    assert_same(&opened.db, &old.reopen().await, &old.ts, "old").await;
    Seen::TheOldDatabase
}

/// Restores `source`'s backup into a fresh target (holding another
/// database of that name when `over_another`), dying right after root
/// write `step` (from 1); then checks what a reader sees and runs the
/// restore again.
async fn die_after(step: u32, over_another: bool, expected: Seen) {
    let (location, _location_store) = location(Backend::Mem).await;
    let location = &location;
    let source_store = storage(Backend::Mem, "orders").await;
    let mut source = Source::create(&source_store.storage, "orders").await;
    source.busy(12, 5).await;
    backup_db(&source.seg, &source.name, location, &CopyOptions::default())
        .await
        .unwrap();

    let target_store = storage(Backend::Mem, "orders").await;
    let old = match over_another {
        true => {
            let mut old = Source::create(&target_store.storage, "orders").await;
            old.busy(3, 10).await;
            Some(old)
        }
        false => None,
    };
    let plan = FaultPlan::seeded(u64::from(step));
    let target: Arc<dyn Storage> = Arc::new(FaultyStorage::new(
        target_store.storage.clone(),
        plan.clone(),
    ));
    let options = RestoreOptions {
        force: over_another,
        ..RestoreOptions::default()
    };
    plan.inject_after(Op::Cas, step - 1, Fault::FailAfter);
    let what = format!("over another: {over_another}, died after step {step}");
    let died = restore_db(location, &segments(&target), &source.name, &options).await;
    assert!(died.is_err(), "{what}: the restore did not die: {died:?}");
    plan.clear();
    assert_eq!(
        seen(&target, old.as_ref(), &source).await,
        expected,
        "{what}"
    );

    let again = restore_db(location, &segments(&target), &source.name, &options)
        .await
        .unwrap_or_else(|e| panic!("{what}: run again: {e}"));
    let finished = match expected {
        Seen::TheRestoredOne => Restored::UpToDate,
        _ => Restored::Created,
    };
    assert_eq!(again.outcome, finished, "{what}");
    assert_eq!(
        seen(&target, old.as_ref(), &source).await,
        Seen::TheRestoredOne,
        "{what}, run again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_storage_without_the_db_dies_after_each_step() {
    die_after(1, false, Seen::Nothing).await;
    die_after(2, false, Seen::TheRestoredOne).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_restore_over_another_db_dies_after_each_step() {
    die_after(1, true, Seen::Nothing).await;
    die_after(2, true, Seen::Nothing).await;
    die_after(3, true, Seen::TheRestoredOne).await;
}
