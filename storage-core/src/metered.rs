//! [`Metered`]: a storage wrapper that records every call through the
//! `metrics` facade — segment reads and writes with bytes and latency, root
//! compare-and-swaps by outcome, and errors by kind — labelled with the
//! backend. Without an installed recorder each record is a no-op call.
//!
//! Series (Prometheus names; `backend` is `mem`, `file`, `postgres` or
//! `cassandra`):
//!
//! | series | kind | labels |
//! | --- | --- | --- |
//! | `accrete_segment_reads_total` | counter | backend, found (`true`/`false`) |
//! | `accrete_segment_read_bytes_total` | counter | backend |
//! | `accrete_segment_read_duration_seconds` | histogram | backend |
//! | `accrete_segment_writes_total` | counter | backend |
//! | `accrete_segment_write_bytes_total` | counter | backend |
//! | `accrete_segment_write_duration_seconds` | histogram | backend |
//! | `accrete_root_reads_total` | counter | backend |
//! | `accrete_root_cas_total` | counter | backend, outcome (`applied`, `conflict`, `unknown`, `error`) |
//! | `accrete_root_cas_duration_seconds` | histogram | backend, outcome |
//! | `accrete_storage_errors_total` | counter | backend, op, kind |

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};
use crate::segment::SegmentId;
use crate::storage::{PageToken, SegmentInfoPage, SegmentPage, Storage};

/// `storage` with every call recorded (see the module docs). Wrapping a
/// storage that is already metered returns it as it is.
pub fn metered(storage: Arc<dyn Storage>) -> Arc<dyn Storage> {
    if storage.is_metered() {
        return storage;
    }
    Arc::new(Metered { inner: storage })
}

/// The wrapper of [`metered`]; forwards every method.
pub struct Metered {
    inner: Arc<dyn Storage>,
}

impl fmt::Debug for Metered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The inner storage's Debug hides its secrets.
        f.debug_struct("Metered")
            .field("inner", &self.inner)
            .finish()
    }
}

/// The short name of an error's kind, for the `kind` label.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Conflict { .. } => "conflict",
        Error::Corruption { .. } => "corruption",
        Error::Unavailable { .. } => "unavailable",
        Error::Timeout { .. } => "timeout",
        Error::OutcomeUnknown { .. } => "outcome_unknown",
        Error::InvalidInput(_) => "invalid_input",
        Error::Backend { .. } => "backend",
        #[allow(unreachable_patterns)] // the enum is non_exhaustive
        _ => "other",
    }
}

impl Metered {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn failed<T>(&self, op: &'static str, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            metrics::counter!("accrete_storage_errors_total",
                "backend" => self.backend(), "op" => op, "kind" => error_kind(e))
            .increment(1);
        }
        result
    }
}

fn seconds(started: Instant) -> f64 {
    Duration::as_secs_f64(&started.elapsed())
}

#[async_trait]
impl Storage for Metered {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn is_metered(&self) -> bool {
        true
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        let len = bytes.len() as u64;
        let started = Instant::now();
        let result = self.inner.put_segment(id, bytes).await;
        if result.is_ok() {
            let backend = self.backend();
            metrics::histogram!("accrete_segment_write_duration_seconds", "backend" => backend)
                .record(seconds(started));
            metrics::counter!("accrete_segment_writes_total", "backend" => backend).increment(1);
            metrics::counter!("accrete_segment_write_bytes_total", "backend" => backend)
                .increment(len);
        }
        self.failed("put_segment", result)
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        let started = Instant::now();
        let result = self.inner.get_segment(id).await;
        if let Ok(found) = &result {
            let backend = self.backend();
            metrics::histogram!("accrete_segment_read_duration_seconds", "backend" => backend)
                .record(seconds(started));
            let label = if found.is_some() { "true" } else { "false" };
            metrics::counter!("accrete_segment_reads_total", "backend" => backend, "found" => label)
                .increment(1);
            if let Some(bytes) = found {
                metrics::counter!("accrete_segment_read_bytes_total", "backend" => backend)
                    .increment(bytes.len() as u64);
            }
        }
        self.failed("get_segment", result)
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        let result = self.inner.delete_segment(id).await;
        self.failed("delete_segment", result)
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        let result = self
            .inner
            .delete_segment_unless_put_since(id, written_at_ms)
            .await;
        self.failed("delete_segment", result)
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        let result = self.inner.list_segments(from, limit).await;
        self.failed("list_segments", result)
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        let result = self.inner.list_segment_infos(from, limit).await;
        self.failed("list_segment_infos", result)
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        let result = self.inner.list_roots().await;
        self.failed("list_roots", result)
    }

    async fn erase_superseded(&self, name: &RootName, older_than: Duration) -> Result<u64> {
        let result = self.inner.erase_superseded(name, older_than).await;
        self.failed("erase_superseded", result)
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let result = self.inner.read_root(name).await;
        if result.is_ok() {
            metrics::counter!("accrete_root_reads_total", "backend" => self.backend()).increment(1);
        }
        self.failed("read_root", result)
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let started = Instant::now();
        let result = self.inner.cas_root(name, expected, value).await;
        let outcome = match &result {
            Ok(CasOutcome::Applied(_)) => "applied",
            Ok(CasOutcome::Conflict(_)) => "conflict",
            Err(Error::OutcomeUnknown { .. }) => "unknown",
            Err(_) => "error",
        };
        let backend = self.backend();
        metrics::histogram!("accrete_root_cas_duration_seconds", "backend" => backend, "outcome" => outcome)
            .record(seconds(started));
        metrics::counter!("accrete_root_cas_total", "backend" => backend, "outcome" => outcome)
            .increment(1);
        self.failed("cas_root", result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStorage;
    use crate::StorageExt;

    #[tokio::test]
    async fn forwards_every_call_and_is_not_wrapped_twice() {
        let storage = metered(Arc::new(MemStorage::new()));
        assert!(storage.is_metered());
        let again = metered(storage.clone());
        assert!(Arc::ptr_eq(&storage, &again));
        assert_eq!(storage.backend(), "mem");
        let id = storage.put(Bytes::from_static(b"abc")).await.expect("put");
        let got = storage.get_segment(id).await.expect("get");
        assert_eq!(got.as_deref(), Some(&b"abc"[..]));
        let name = RootName::new("t/root").expect("name");
        let value = RootValue::new(Bytes::from_static(b"v")).expect("value");
        let applied = storage.cas_root(&name, None, &value).await.expect("cas");
        assert!(matches!(applied, CasOutcome::Applied(_)));
        let conflict = storage.cas_root(&name, None, &value).await.expect("cas");
        assert!(matches!(conflict, CasOutcome::Conflict(_)));
        assert!(storage.read_root(&name).await.expect("read").is_some());
    }
}
