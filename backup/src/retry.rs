//! A storage that repeats the calls a backend refused for a moment.
//!
//! [`storage_core::Error::is_retryable`] errors (unavailable, timed out)
//! mean nothing was changed, so the same call may be repeated. Backups and
//! restores run for long against busy backends: every storage they touch
//! is wrapped in [`Retrying`], so a passing hiccup neither fails a long
//! copy nor surfaces, disguised, from a read deep inside a database value.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use index::Segments;
use storage_core::{
    CasOutcome, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId, SegmentInfoPage,
    SegmentPage, Storage,
};

/// Attempts of a call that fails with a retryable error.
const ATTEMPTS: u32 = 6;
/// The wait before the second attempt; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// `inner`, retrying each call up to [`ATTEMPTS`] times with backoff.
#[derive(Debug)]
pub(crate) struct Retrying {
    inner: Arc<dyn Storage>,
    first_backoff: Duration,
}

/// `storage` wrapped in [`Retrying`].
pub(crate) fn retrying_storage(storage: &Arc<dyn Storage>) -> Arc<dyn Storage> {
    Arc::new(Retrying {
        inner: storage.clone(),
        first_backoff: FIRST_BACKOFF,
    })
}

/// `seg` with its storage wrapped in [`Retrying`] (same cache and shape).
pub(crate) fn retrying_segments(seg: &Segments) -> crate::Result<Segments> {
    let storage = retrying_storage(&seg.storage);
    Ok(Segments::new(storage, seg.cache.clone()).with_config(*seg.config())?)
}

impl Retrying {
    async fn retrying<T, F, Fut>(&self, op: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, op, attempt, "retrying after {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
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
        // Retryable errors mean nothing was written; an ambiguous outcome
        // is `OutcomeUnknown`, which is not retried.
        self.retrying("cas root", || self.inner.cas_root(name, expected, value))
            .await
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
            first_backoff: Duration::from_millis(1),
        };
        plan.inject_times(Op::Put, Fault::FailBefore, ATTEMPTS - 1);
        let id = storage.put(Bytes::from_static(b"x")).await.unwrap();
        plan.inject_times(Op::Get, Fault::FailBefore, ATTEMPTS);
        let err = storage.get_segment(id).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(storage.get_segment(id).await.unwrap().is_some());
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        let name = RootName::new("r").unwrap();
        let err = storage
            .cas_root(&name, None, &RootValue::new("v").unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(err, storage_core::Error::OutcomeUnknown { .. }),
            "not retried: {err}"
        );
    }
}
