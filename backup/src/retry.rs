//! A storage that repeats the calls a backend refused for a moment.
//!
//! [`storage_core::Error::is_retryable`] errors (unavailable, timed out)
//! mean nothing was changed, so the same call may be repeated. Backups and
//! restores run for long against busy backends: every storage they touch
//! is wrapped in [`Retrying`], so a passing hiccup neither fails a long
//! copy nor surfaces, disguised, from a read deep inside a database value.
//!
//! The repeating itself is storage-core's, the one owner of retries and
//! ambiguity ([`storage_core::retry_retryable`], and
//! [`storage_core::write_root`] for root writes, which also settles an
//! ambiguous outcome by re-reading and sends the same value again, so it is
//! never mistaken for "not written").

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use index::Segments;
use storage_core::{
    CasOutcome, PageToken, Result, RetryBudget, Revision, Root, RootName, RootValue, SegmentId,
    SegmentInfoPage, SegmentPage, Storage, retry_retryable, write_root,
};

/// How long a call that fails retryably keeps being repeated (the pauses
/// double from [`FIRST_BACKOFF`]: about six attempts).
const PATIENCE: Duration = Duration::from_secs(3);
/// The wait before the second attempt; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// `inner`, retrying each call for up to [`PATIENCE`] with backoff.
#[derive(Debug)]
pub(crate) struct Retrying {
    inner: Arc<dyn Storage>,
    budget: RetryBudget,
}

/// `storage` wrapped in [`Retrying`].
pub(crate) fn retrying_storage(storage: &Arc<dyn Storage>) -> Arc<dyn Storage> {
    Arc::new(Retrying {
        inner: storage.clone(),
        budget: RetryBudget::within(PATIENCE).with_pauses(FIRST_BACKOFF, PATIENCE),
    })
}

/// `seg` with its storage wrapped in [`Retrying`] (same cache and shape).
pub(crate) fn retrying_segments(seg: &Segments) -> crate::Result<Segments> {
    let storage = retrying_storage(&seg.storage);
    Ok(Segments::new(storage, seg.cache.clone()).with_config(*seg.config())?)
}

impl Retrying {
    async fn retrying<T, F, Fut>(&self, op: &str, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        retry_retryable(self.budget, op, call).await
    }
}

#[async_trait]
impl Storage for Retrying {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.retrying("put", || self.inner.put_segment(id, bytes.clone()))
            .await
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.retrying("get", || self.inner.get_segment(id)).await
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.retrying("delete", || self.inner.delete_segment(id))
            .await
    }

    /// A retry after an attempt whose answer was lost finds the segment
    /// gone, which is `true` as well.
    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.retrying("delete", || {
            self.inner
                .delete_segment_unless_put_since(id, written_at_ms)
        })
        .await
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        self.retrying("list", || self.inner.list_segments(from.clone(), limit))
            .await
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        self.retrying("list", || {
            self.inner.list_segment_infos(from.clone(), limit)
        })
        .await
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        self.retrying("list roots", || self.inner.list_roots())
            .await
    }

    async fn erase_superseded(&self, name: &RootName, older_than: Duration) -> Result<u64> {
        self.retrying("erase superseded root values", || {
            self.inner.erase_superseded(name, older_than)
        })
        .await
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        self.retrying("read root", || self.inner.read_root(name))
            .await
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        // The same value on every attempt; an ambiguous outcome is settled
        // by re-reading, and stays `OutcomeUnknown` when it cannot be.
        write_root(self.inner.as_ref(), name, expected, value, self.budget).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
    use storage_core::{MemStorage, StorageExt};

    #[tokio::test]
    async fn retries_what_may_be_repeated_and_gives_up_in_the_end() {
        let plan = FaultPlan::seeded(1);
        let faulty: Arc<dyn Storage> = Arc::new(FaultyStorage::new(
            Arc::new(MemStorage::new()),
            plan.clone(),
        ));
        let storage = Retrying {
            inner: faulty,
            budget: RetryBudget::within(Duration::from_millis(100))
                .with_pauses(Duration::from_millis(1), Duration::from_millis(10)),
        };
        plan.inject_times(Op::Put, Fault::FailBefore, 5);
        let id = storage.put(Bytes::from_static(b"x")).await.unwrap();
        plan.inject(Op::Get, Fault::FailBefore, 1.0);
        let err = storage.get_segment(id).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        plan.clear();
        assert!(storage.get_segment(id).await.unwrap().is_some());
        // A lost answer is settled by re-reading: the write applied.
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        let name = RootName::new("r").unwrap();
        let value = RootValue::new("v").unwrap();
        let out = storage.cas_root(&name, None, &value).await.unwrap();
        let origin = Revision::origin(value.nonce());
        assert_eq!(out, CasOutcome::Applied(origin));
        // One that stays invisible is unknown, never "not written".
        plan.inject(Op::Cas, Fault::Strand, 1.0);
        plan.inject(Op::Cas, Fault::Blind, 1.0);
        plan.inject(Op::ReadRoot, Fault::Blind, 1.0);
        let next = RootValue::new("w").unwrap();
        let err = storage
            .cas_root(&name, Some(origin), &next)
            .await
            .unwrap_err();
        assert!(
            matches!(err, storage_core::Error::OutcomeUnknown { .. }),
            "{err}"
        );
    }
}
