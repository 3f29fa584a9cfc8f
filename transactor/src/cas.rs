//! Root writes whose outcome is always settled: a compare-and-swap that
//! comes back "outcome unknown" is resolved by re-reading the root and
//! comparing the writer nonce.

use std::time::Duration;

use storage_core::{CasOutcome, Revision, Root, RootName, RootValue, Storage};

use crate::error::{Error, ErrorKind, Result};

/// How many linearizable re-reads settle an unknown outcome before giving up.
const REREADS: u32 = 5;

/// Compare-and-swap of `name` from `expected` to `value`, with an unknown
/// outcome settled by re-reading: `Applied` when the root holds our value
/// (our nonce) at the revision we aimed for, `Conflict` with the root as
/// read otherwise. Fails only when the write definitely did not happen
/// (retryable storage errors) or when even the re-reads fail
/// ([`ErrorKind::OutcomeUnknown`]).
pub(crate) async fn settled_cas(
    storage: &dyn Storage,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
) -> Result<CasOutcome> {
    match storage.cas_root(name, expected, value).await {
        Ok(outcome) => Ok(outcome),
        Err(storage_core::Error::OutcomeUnknown { detail, .. }) => {
            tracing::warn!(root = %name, %detail, "root write outcome unknown; re-reading");
            let current = reread(storage, name).await?;
            Ok(settle(expected, value, current)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// What the root as read says about our write.
fn settle(
    expected: Option<Revision>,
    value: &RootValue,
    current: Option<Root>,
) -> Result<CasOutcome> {
    let target = Revision::after(expected)?;
    match current {
        Some(root) if root.revision == target && root.value.nonce() == value.nonce() => {
            Ok(CasOutcome::Applied(target))
        }
        other => Ok(CasOutcome::Conflict(other)),
    }
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
