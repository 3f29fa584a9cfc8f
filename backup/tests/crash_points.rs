//! A restore that dies right after each of its root writes. Once the
//! segments are copied (a kill during the copy is `killed.rs`), a restore
//! makes the database visible in these steps, each one compare-and-swap:
//!
//! | restoring into …         | step 1    | step 2           | step 3           | step 4          | step 5    |
//! |--------------------------|-----------|------------------|------------------|-----------------|-----------|
//! | a storage without the db | gc hold   | log root written | catalog lists it | hold released   |           |
//! | another db of that name  | gc hold   | catalog retires  | log root written | catalog lists   | hold      |
//! |  (forced)                | taken     | the old one      |                  | the new one     | released  |
//!
//! After a death right after step k, a reader finds the old database (whole),
//! no database, or the restored one (whole) — never a catalog entry whose
//! log root belongs to another database — and the same restore run again
//! finishes the job. The death is [`Fault::Die`] on the k-th root write:
//! the write is done, then every storage call fails for good, so no retry
//! layer can settle or repeat anything — what a kill at that instant leaves.
//! (A lost answer alone, [`Fault::FailAfter`], is settled by the restore's
//! retry layer and is not a death.)

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
    plan.inject_after(Op::Cas, step - 1, Fault::Die);
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
        Seen::TheRestoredOne => matches!(again.outcome, Restored::UpToDate),
        Seen::TheOldDatabase => matches!(again.outcome, Restored::Replaced { .. }),
        Seen::Nothing => matches!(again.outcome, Restored::Created),
    };
    assert!(finished, "{what}: run again: {:?}", again.outcome);
    assert_eq!(
        seen(&target, old.as_ref(), &source).await,
        Seen::TheRestoredOne,
        "{what}, run again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_storage_without_the_db_dies_after_each_step() {
    die_after(1, false, Seen::Nothing).await;
    die_after(2, false, Seen::Nothing).await;
    die_after(3, false, Seen::TheRestoredOne).await;
    die_after(4, false, Seen::TheRestoredOne).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_restore_over_another_db_dies_after_each_step() {
    die_after(1, true, Seen::TheOldDatabase).await;
    die_after(2, true, Seen::Nothing).await;
    die_after(3, true, Seen::Nothing).await;
    die_after(4, true, Seen::TheRestoredOne).await;
    die_after(5, true, Seen::TheRestoredOne).await;
}
