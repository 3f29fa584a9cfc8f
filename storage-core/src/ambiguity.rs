//! Resolving a compare-and-swap whose outcome the backend could not see.
//!
//! Every backend resolves the same way: a linearizable re-read of the root,
//! comparing the revision and the writer nonce with what we tried to write.

use std::future::Future;
use std::time::Duration;

use crate::error::{BoxError, Error, Result};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};

/// How many times a write that provably did not apply is attempted again,
/// and how many re-reads are tried, before giving up.
const ATTEMPTS: u32 = 3;

/// The result of one attempt at a conditional write, as a backend sees it.
#[derive(Debug)]
pub enum CasAttempt {
    /// The backend saw the decision.
    Decided(CasOutcome),
    /// The request may or may not have been applied (a Paxos write timeout,
    /// a client-side timeout, a connection lost after sending). The error is
    /// kept for the message.
    Ambiguous(BoxError),
}

/// What a linearizable re-read says about an ambiguous write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Our value is the current one at the revision we aimed for.
    Applied(Revision),
    /// Somebody else's value holds the revision we aimed for.
    Lost(Option<Root>),
    /// The root is still where it was: our write did not apply (the re-read
    /// was linearizable, so it will not apply later either).
    NotApplied,
    /// The root moved past the revision we aimed for before we could look;
    /// whether that revision was ours cannot be known from the root alone.
    Unknown(Root),
}

/// Decides what `current` (read linearizably after an ambiguous write of
/// `written` expecting `expected`) says about that write.
pub fn resolve(
    expected: Option<Revision>,
    written: &RootValue,
    current: Option<Root>,
) -> Result<Resolution> {
    let target = Revision::after(expected)?;
    let Some(root) = current else {
        return Ok(Resolution::NotApplied);
    };
    if root.revision == target {
        if root.value.nonce() == written.nonce() {
            return Ok(Resolution::Applied(target));
        }
        return Ok(Resolution::Lost(Some(root)));
    }
    if root.revision > target {
        return Ok(Resolution::Unknown(root));
    }
    Ok(Resolution::NotApplied)
}

/// Runs a compare-and-swap, resolving ambiguous attempts by re-reading.
///
/// `attempt` performs one conditional write of `value` and says whether its
/// outcome was seen; `read` is a linearizable read of the root. A write that
/// provably did not apply is attempted again (up to 3 times); a write whose
/// re-read fails 3 times, or whose root moved past the aimed-for revision, is
/// [`Error::OutcomeUnknown`]. A definite error from `attempt` is returned as
/// is.
pub async fn cas_resolving_ambiguity<A, AF, R, RF>(
    backend: &'static str,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
    mut attempt: A,
    mut read: R,
) -> Result<CasOutcome>
where
    A: FnMut() -> AF,
    AF: Future<Output = Result<CasAttempt>>,
    R: FnMut() -> RF,
    RF: Future<Output = Result<Option<Root>>>,
{
    let mut last_ambiguity = String::new();
    for _ in 0..ATTEMPTS {
        match attempt().await? {
            CasAttempt::Decided(outcome) => return Ok(outcome),
            CasAttempt::Ambiguous(err) => {
                tracing::warn!(backend, root = %name, error = %err, "ambiguous root write; re-reading");
                last_ambiguity = err.to_string();
            }
        }
        let current = read_with_retries(name, &mut read).await?;
        match resolve(expected, value, current)? {
            Resolution::Applied(rev) => return Ok(CasOutcome::Applied(rev)),
            Resolution::Lost(current) => return Ok(CasOutcome::Conflict(current)),
            Resolution::Unknown(root) => {
                return Err(Error::OutcomeUnknown {
                    name: name.clone(),
                    detail: format!(
                        "after an ambiguous write ({last_ambiguity}) the root had already moved on to revision {}, past the revision {} this write aimed for",
                        root.revision,
                        Revision::after(expected)?
                    ),
                });
            }
            Resolution::NotApplied => {
                tracing::info!(backend, root = %name, "ambiguous root write did not apply; trying again");
            }
        }
    }
    Err(Error::Unavailable {
        backend,
        op: format!("cas_root {name}"),
        detail: format!(
            "{ATTEMPTS} attempts were ambiguous and none applied (last: {last_ambiguity}); nothing was written"
        ),
        source: None,
    })
}

async fn read_with_retries<R, RF>(name: &RootName, read: &mut R) -> Result<Option<Root>>
where
    R: FnMut() -> RF,
    RF: Future<Output = Result<Option<Root>>>,
{
    let mut delay = Duration::from_millis(20);
    let mut last = String::new();
    for i in 0..ATTEMPTS {
        match read().await {
            Ok(root) => return Ok(root),
            Err(e) => last = e.to_string(),
        }
        if i + 1 < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 4;
        }
    }
    Err(Error::OutcomeUnknown {
        name: name.clone(),
        detail: format!("the write was ambiguous and {ATTEMPTS} re-reads failed, last: {last}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(rev: u64, value: &RootValue) -> Option<Root> {
        Some(Root {
            revision: Revision::new(rev).unwrap(),
            value: value.clone(),
        })
    }

    #[test]
    fn resolution_table() {
        let ours = RootValue::new(&b"ours"[..]).unwrap();
        let theirs = RootValue::new(&b"theirs"[..]).unwrap();
        let r = |n| Revision::new(n);
        assert_eq!(resolve(None, &ours, None).unwrap(), Resolution::NotApplied);
        assert_eq!(
            resolve(None, &ours, root(1, &ours)).unwrap(),
            Resolution::Applied(r(1).unwrap())
        );
        assert_eq!(
            resolve(None, &ours, root(1, &theirs)).unwrap(),
            Resolution::Lost(root(1, &theirs))
        );
        assert_eq!(
            resolve(r(4), &ours, root(4, &theirs)).unwrap(),
            Resolution::NotApplied
        );
        assert_eq!(
            resolve(r(4), &ours, root(5, &ours)).unwrap(),
            Resolution::Applied(r(5).unwrap())
        );
        assert_eq!(
            resolve(r(4), &ours, root(5, &theirs)).unwrap(),
            Resolution::Lost(root(5, &theirs))
        );
        assert!(matches!(
            resolve(r(4), &ours, root(6, &theirs)).unwrap(),
            Resolution::Unknown(_)
        ));
    }
}
