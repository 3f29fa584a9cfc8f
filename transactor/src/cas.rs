//! The transactor's root writes: every lease, fencing and log-root write
//! goes through storage-core's one owner of ambiguity and retries
//! ([`storage_core::write_root`]; its module docs state the design). This
//! module only picks the budgets and turns the storage outcome into the
//! transactor's error kinds: an unsettled write is
//! [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown), never "unavailable,
//! nothing was written".

use std::time::Duration;

use storage_core::{
    CasOutcome, RetryBudget, Revision, Root, RootName, RootValue, Storage, retry_retryable,
    write_root,
};

#[cfg(test)]
use crate::error::ErrorKind;
use crate::error::Result;

/// How long a lease or fencing write keeps trying (retryable refusals, and
/// settling an ambiguous outcome by re-reading) before it gives up.
pub(crate) const ROOT_WRITE_PATIENCE: Duration = Duration::from_secs(3);

/// Compare-and-swap of `name` from `expected` to `value` within
/// [`ROOT_WRITE_PATIENCE`]; see [`settled_cas_within`].
pub(crate) async fn settled_cas(
    storage: &dyn Storage,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
) -> Result<CasOutcome> {
    settled_cas_within(storage, name, expected, value, ROOT_WRITE_PATIENCE).await
}

/// Compare-and-swap of `name` from `expected` to `value`, retried with the
/// same value for up to `patience`: `Applied` when our value (our nonce)
/// holds the revision we aimed for, `Conflict` when the write provably never
/// applies, [`Unavailable`](crate::ErrorKind::Unavailable) when nothing was
/// sent, and [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) otherwise
/// (the write may still land).
pub(crate) async fn settled_cas_within(
    storage: &dyn Storage,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
    patience: Duration,
) -> Result<CasOutcome> {
    let budget = RetryBudget::within(patience);
    Ok(write_root(storage, name, expected, value, budget).await?)
}

/// A linearizable read of `name`, retried while storage is briefly away
/// (for up to [`ROOT_WRITE_PATIENCE`]).
pub(crate) async fn reread(storage: &dyn Storage, name: &RootName) -> Result<Option<Root>> {
    let budget = RetryBudget::within(ROOT_WRITE_PATIENCE);
    let read = retry_retryable(budget, "read root", || storage.read_root(name));
    Ok(read.await?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
    use storage_core::{MemStorage, StorageExt};

    use super::*;

    #[tokio::test]
    async fn a_lost_response_is_settled_by_the_nonce() {
        let plan = FaultPlan::seeded(1);
        let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
        let name = RootName::new("db/x/log").unwrap();
        let first = RootValue::new(&b"one"[..]).unwrap();
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        let outcome = settled_cas(&storage, &name, None, &first).await.unwrap();
        assert_eq!(
            outcome,
            CasOutcome::Applied(Revision::origin(first.nonce()))
        );

        // A lost response of a write that did not apply is a conflict.
        let stale = RootValue::new(&b"stale"[..]).unwrap();
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        let outcome = settled_cas(&storage, &name, None, &stale).await.unwrap();
        let CasOutcome::Conflict(Some(root)) = outcome else {
            panic!("expected a conflict, got {outcome:?}");
        };
        assert_eq!(root.value.nonce(), first.nonce());
    }

    /// A storage whose compare-and-swaps apply, then another writer's apply
    /// on top, then the answer is lost.
    #[derive(Debug)]
    struct Overtaken(MemStorage);

    #[async_trait::async_trait]
    impl Storage for Overtaken {
        fn backend(&self) -> &'static str {
            "overtaken"
        }
        async fn put_segment(
            &self,
            id: storage_core::SegmentId,
            bytes: bytes::Bytes,
        ) -> storage_core::Result<()> {
            self.0.put_segment(id, bytes).await
        }
        async fn get_segment(
            &self,
            id: storage_core::SegmentId,
        ) -> storage_core::Result<Option<bytes::Bytes>> {
            self.0.get_segment(id).await
        }
        async fn delete_segment(&self, id: storage_core::SegmentId) -> storage_core::Result<()> {
            self.0.delete_segment(id).await
        }
        async fn delete_segment_unless_put_since(
            &self,
            id: storage_core::SegmentId,
            written_at_ms: u64,
        ) -> storage_core::Result<bool> {
            self.0
                .delete_segment_unless_put_since(id, written_at_ms)
                .await
        }
        async fn list_segments(
            &self,
            from: Option<storage_core::PageToken>,
            limit: usize,
        ) -> storage_core::Result<storage_core::SegmentPage> {
            self.0.list_segments(from, limit).await
        }
        async fn read_root(&self, name: &RootName) -> storage_core::Result<Option<Root>> {
            self.0.read_root(name).await
        }
        async fn cas_root(
            &self,
            name: &RootName,
            expected: Option<Revision>,
            value: &RootValue,
        ) -> storage_core::Result<CasOutcome> {
            let CasOutcome::Applied(ours) = self.0.cas_root(name, expected, value).await? else {
                return self.0.cas_root(name, expected, value).await;
            };
            let theirs = RootValue::new(&b"theirs"[..])?;
            self.0.cas_root(name, Some(ours), &theirs).await?;
            Err(storage_core::Error::OutcomeUnknown {
                name: name.clone(),
                detail: "lost".into(),
            })
        }
    }

    #[tokio::test]
    async fn a_root_moved_past_our_write_leaves_the_outcome_unknown() {
        let storage = Overtaken(MemStorage::new());
        let name = RootName::new("db/x/log").unwrap();
        let value = RootValue::new(&b"ours"[..]).unwrap();
        let err = settled_cas(&storage, &name, None, &value)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
        let moved = Revision::origin(value.nonce()).next().unwrap();
        assert!(
            err.to_string()
                .contains(&format!("moved on to revision {moved}")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn ambiguous_writes_never_seen_are_unknown_not_unwritten() {
        let plan = FaultPlan::seeded(3);
        let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
        let name = RootName::new("db/x/log").unwrap();
        plan.inject(Op::Cas, Fault::Strand, 1.0);
        plan.inject(Op::Cas, Fault::Blind, 1.0);
        plan.inject(Op::ReadRoot, Fault::Blind, 1.0);
        let value = RootValue::new(&b"ours"[..]).unwrap();
        let patience = Duration::from_millis(200);
        let err = settled_cas_within(&storage, &name, None, &value, patience)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
        assert!(!err.not_committed());
        plan.clear();
        let landed = storage.read_root(&name).await.unwrap().unwrap();
        assert_eq!(
            landed.value.nonce(),
            value.nonce(),
            "it was written after all"
        );
    }

    #[tokio::test]
    async fn unreadable_roots_leave_the_outcome_unknown() {
        let plan = FaultPlan::seeded(2);
        let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
        let name = RootName::new("db/x/log").unwrap();
        let first = RootValue::new(&b"a"[..]).unwrap();
        storage
            .cas_root_or_conflict(&name, None, &first)
            .await
            .unwrap();
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        plan.inject(Op::ReadRoot, Fault::FailBefore, 1.0);
        let value = RootValue::new(&b"b"[..]).unwrap();
        let origin = Revision::origin(first.nonce());
        let err = settled_cas(&storage, &name, Some(origin), &value)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
        assert!(!err.not_committed());
    }
}
