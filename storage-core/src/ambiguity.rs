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
/// the re-read shows did not apply is attempted again (up to 3 attempts in
/// all). Once an attempt was ambiguous, every later answer is read through
/// [`resolve`]: a later attempt that "conflicts" with our own value (an
/// earlier proposal completed by a later round, as Paxos may do) is
/// [`CasOutcome::Applied`]. The outcome is [`Error::OutcomeUnknown`] when
/// the re-reads fail, when the root moved past the aimed-for revision, or
/// when every attempt was ambiguous (a proposal accepted by a minority may
/// still be completed later on some backends, so "nothing was written"
/// would not be a promise). A definite error from `attempt` is returned as
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
    let mut last_ambiguity: Option<String> = None;
    for _ in 0..ATTEMPTS {
        let current = match attempt().await? {
            CasAttempt::Decided(CasOutcome::Applied(rev)) => return Ok(CasOutcome::Applied(rev)),
            CasAttempt::Decided(CasOutcome::Conflict(current)) if last_ambiguity.is_none() => {
                return Ok(CasOutcome::Conflict(current));
            }
            CasAttempt::Decided(CasOutcome::Conflict(current)) => current,
            CasAttempt::Ambiguous(err) => {
                tracing::warn!(backend, root = %name, error = %err, "ambiguous root write; re-reading");
                last_ambiguity = Some(err.to_string());
                read_with_retries(name, &mut read).await?
            }
        };
        let unknown = |detail: String| Error::OutcomeUnknown {
            name: name.clone(),
            detail,
        };
        let why = last_ambiguity.as_deref().unwrap_or_default();
        match resolve(expected, value, current.clone())? {
            Resolution::Applied(rev) => return Ok(CasOutcome::Applied(rev)),
            Resolution::Lost(current) => return Ok(CasOutcome::Conflict(current)),
            Resolution::Unknown(root) => {
                return Err(unknown(format!(
                    "after an ambiguous write ({why}) the root had already moved on to revision {}, past the revision {} this write aimed for",
                    root.revision,
                    Revision::after(expected)?
                )));
            }
            Resolution::NotApplied => {
                tracing::info!(backend, root = %name, "ambiguous root write did not apply; trying again");
            }
        }
    }
    Err(Error::OutcomeUnknown {
        name: name.clone(),
        detail: format!(
            "{ATTEMPTS} attempts on {backend} were ambiguous and a re-read found none applied (last: {})",
            last_ambiguity.unwrap_or_default()
        ),
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

    /// Drives `cas_resolving_ambiguity` with scripted attempts and reads.
    fn run(
        attempts: Vec<Result<CasAttempt>>,
        reads: Vec<Result<Option<Root>>>,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let attempts = std::sync::Mutex::new(attempts.into_iter());
        let reads = std::sync::Mutex::new(reads.into_iter());
        let name = RootName::new("r").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(cas_resolving_ambiguity(
            "test",
            &name,
            expected,
            value,
            || {
                let next = attempts
                    .lock()
                    .unwrap()
                    .next()
                    .expect("more attempts than scripted");
                async move { next }
            },
            || {
                let next = reads
                    .lock()
                    .unwrap()
                    .next()
                    .expect("more reads than scripted");
                async move { next }
            },
        ))
    }

    fn ambiguous() -> Result<CasAttempt> {
        Ok(CasAttempt::Ambiguous("connection reset".into()))
    }

    #[test]
    fn ambiguous_write_resolved_by_reread() {
        let ours = RootValue::new(&b"ours"[..]).unwrap();
        let theirs = RootValue::new(&b"theirs"[..]).unwrap();
        let r = Revision::new;
        // Re-read shows our write: applied.
        let out = run(vec![ambiguous()], vec![Ok(root(5, &ours))], r(4), &ours).unwrap();
        assert_eq!(out, CasOutcome::Applied(r(5).unwrap()));
        // Re-read shows theirs at our revision: conflict.
        let out = run(vec![ambiguous()], vec![Ok(root(5, &theirs))], r(4), &ours).unwrap();
        assert_eq!(out, CasOutcome::Conflict(root(5, &theirs)));
        // Not applied, retried, and the retry applies.
        let out = run(
            vec![
                ambiguous(),
                Ok(CasAttempt::Decided(CasOutcome::Applied(r(5).unwrap()))),
            ],
            vec![Ok(root(4, &theirs))],
            r(4),
            &ours,
        )
        .unwrap();
        assert_eq!(out, CasOutcome::Applied(r(5).unwrap()));
        // The retry "conflicts" with our own earlier proposal, completed by
        // the retry's Paxos round: that is applied, not a conflict.
        let out = run(
            vec![
                ambiguous(),
                Ok(CasAttempt::Decided(CasOutcome::Conflict(root(5, &ours)))),
            ],
            vec![Ok(root(4, &theirs))],
            r(4),
            &ours,
        )
        .unwrap();
        assert_eq!(out, CasOutcome::Applied(r(5).unwrap()));
    }

    #[test]
    fn unresolvable_ambiguity_is_outcome_unknown() {
        let ours = RootValue::new(&b"ours"[..]).unwrap();
        let theirs = RootValue::new(&b"theirs"[..]).unwrap();
        let r = Revision::new;
        let unknown = |out: Result<CasOutcome>| match out {
            Err(Error::OutcomeUnknown { detail, .. }) => detail,
            other => panic!("expected OutcomeUnknown, got {other:?}"),
        };
        let detail = unknown(run(
            vec![ambiguous()],
            vec![Ok(root(6, &theirs))],
            r(4),
            &ours,
        ));
        assert!(detail.contains("moved on to revision 6"), "{detail}");
        let fail = || Err(Error::backend("test", "read", "down"));
        let detail = unknown(run(
            vec![ambiguous()],
            vec![fail(), fail(), fail()],
            r(4),
            &ours,
        ));
        assert!(detail.contains("re-reads failed"), "{detail}");
        let detail = unknown(run(
            vec![ambiguous(), ambiguous(), ambiguous()],
            vec![
                Ok(root(4, &theirs)),
                Ok(root(4, &theirs)),
                Ok(root(4, &theirs)),
            ],
            r(4),
            &ours,
        ));
        assert!(detail.contains("3 attempts"), "{detail}");
        // A definite conflict without any ambiguity is passed through.
        let out = run(
            vec![Ok(CasAttempt::Decided(CasOutcome::Conflict(root(
                7, &theirs,
            ))))],
            vec![],
            r(4),
            &ours,
        )
        .unwrap();
        assert_eq!(out, CasOutcome::Conflict(root(7, &theirs)));
    }
}
