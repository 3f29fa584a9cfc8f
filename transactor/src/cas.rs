//! Root writes whose outcome is always settled: a compare-and-swap that
//! comes back "outcome unknown" is resolved by re-reading the root and
//! comparing the writer nonce.

use std::time::Duration;

use storage_core::{CasOutcome, Resolution, Revision, Root, RootName, RootValue, Storage, resolve};

use crate::error::{Error, ErrorKind, Result};

/// How many linearizable re-reads settle an unknown outcome before giving up.
const REREADS: u32 = 5;

/// How many ambiguous writes that provably did not apply are tried again.
const ATTEMPTS: u32 = 3;

/// Compare-and-swap of `name` from `expected` to `value`, with an unknown
/// outcome settled by a linearizable re-read ([`storage_core::resolve`]):
/// `Applied` when the root holds our value (our nonce) at the revision we
/// aimed for, `Conflict` when another value holds it, and the write tried
/// again when the root is still where it was. Fails when the write
/// definitely did not happen (retryable storage errors), and with
/// [`ErrorKind::OutcomeUnknown`] when the re-reads fail or the root moved
/// past the revision we aimed for before we could look (our write may be
/// under the newer value).
pub(crate) async fn settled_cas(
    storage: &dyn Storage,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
) -> Result<CasOutcome> {
    for _ in 0..ATTEMPTS {
        let detail = match storage.cas_root(name, expected, value).await {
            Ok(outcome) => return Ok(outcome),
            Err(storage_core::Error::OutcomeUnknown { detail, .. }) => detail,
            Err(e) => return Err(e.into()),
        };
        tracing::warn!(root = %name, %detail, "root write outcome unknown; re-reading");
        let current = reread(storage, name).await?;
        match resolve(expected, value, current)? {
            Resolution::Applied(revision) => return Ok(CasOutcome::Applied(revision)),
            Resolution::Lost(current) => return Ok(CasOutcome::Conflict(current)),
            Resolution::NotApplied => continue,
            Resolution::Unknown(root) => {
                return Err(Error::new(
                    ErrorKind::OutcomeUnknown,
                    format!(
                        "root `{name}`: a write's outcome is unknown and the root moved on to revision {} before it could be re-read",
                        root.revision
                    ),
                ));
            }
        }
    }
    Err(Error::new(
        ErrorKind::Unavailable,
        format!(
            "root `{name}`: {ATTEMPTS} writes were ambiguous and none applied; nothing was written"
        ),
    ))
}

/// A linearizable read of `name`, retried while storage is briefly away.
pub(crate) async fn reread(storage: &dyn Storage, name: &RootName) -> Result<Option<Root>> {
    let mut delay = Duration::from_millis(20);
    let mut last = None;
    for _ in 0..REREADS {
        match storage.read_root(name).await {
            Ok(root) => return Ok(root),
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3).min(Duration::from_secs(2));
    }
    let detail = last.map_or_else(String::new, |e| e.to_string());
    Err(Error::new(
        ErrorKind::OutcomeUnknown,
        format!(
            "root `{name}`: a write's outcome is unknown and {REREADS} re-reads failed, last: {detail}"
        ),
    ))
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
        assert_eq!(outcome, CasOutcome::Applied(Revision::FIRST));

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
        assert!(err.to_string().contains("moved on to revision 2"), "{err}");
    }

    #[tokio::test]
    async fn unreadable_roots_leave_the_outcome_unknown() {
        let plan = FaultPlan::seeded(2);
        let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
        let name = RootName::new("db/x/log").unwrap();
        storage
            .cas_root_or_conflict(&name, None, &RootValue::new(&b"a"[..]).unwrap())
            .await
            .unwrap();
        plan.inject_times(Op::Cas, Fault::FailAfter, 1);
        plan.inject(Op::ReadRoot, Fault::FailBefore, 1.0);
        let value = RootValue::new(&b"b"[..]).unwrap();
        let err = settled_cas(&storage, &name, Some(Revision::FIRST), &value)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
        assert!(!err.not_committed());
    }
}
