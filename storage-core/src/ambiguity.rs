//! Ambiguous root writes and retries: the one place that decides what a
//! compare-and-swap whose answer was lost means, and how long anything
//! above storage keeps trying.
//!
//! # The design every layer follows
//!
//! 1. **One logical write is one value.** A root write is one
//!    [`RootValue`], with one writer nonce, and every retry of that write
//!    sends the *same* value. On Cassandra a proposal accepted by a single
//!    replica can be finished by any later Paxos round — a later read, our
//!    own retry, another writer's round. With the same value, such a late
//!    landing is recognised as ours: our nonce at the revision we aimed for
//!    is "applied", whoever finished it. A retry that re-encoded the value
//!    (a new nonce) would meet its own earlier proposal as a stranger's
//!    conflict.
//! 2. **"Not applied" only when proven.** A linearizable re-read that
//!    still shows the expected revision proves nothing about the future
//!    (the stranded proposal may still be finished); it only allows sending
//!    the same value again ([`Resolution::NotVisible`]). What does prove a
//!    write did not apply: a decided answer with no ambiguity before it;
//!    another writer's value at the revision we aimed for (that revision is
//!    taken, ours can never land); a refusal before anything was sent
//!    ([`Error::Unavailable`], [`Error::Timeout`]) when no earlier attempt of
//!    the same write was ambiguous.
//! 3. **Everything else is [`Error::OutcomeUnknown`].** Layers above pass it
//!    on as "outcome unknown" or settle it from their own data (the
//!    transactor looks for its entries in the log), never as "not
//!    committed", "fenced" or "repeat it".
//! 4. **One owner for the retrying.** A backend runs each `cas_root` call
//!    through [`cas_resolving_ambiguity`]: a few attempts and re-reads,
//!    within one request. Everything above storage runs its root writes
//!    through [`write_root`] and its repeatable calls through
//!    [`retry_retryable`], each with a [`RetryBudget`] (a time budget, not a
//!    count): the transactor's commit loop, its lease and fencing, backup's
//!    retrying storage, and the backends' own patient reads (e.g. a
//!    Cassandra SERIAL read that timed out). No other code loops on a root
//!    write.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{BoxError, Error, Result};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};
use crate::storage::Storage;

/// How many attempts one backend `cas_root` call makes (and how many
/// re-reads settle each ambiguous one) before it gives the outcome up as
/// unknown to the caller, whose [`write_root`] goes on from there.
const ATTEMPTS: u32 = 3;

/// The least time the re-reads after an ambiguous write get, however little
/// of the caller's budget is left: an ambiguity is worth settling.
const SETTLE_FLOOR: Duration = Duration::from_millis(200);

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
    /// Our value (our nonce) is the current one at the revision we aimed for.
    Applied(Revision),
    /// Somebody else's value holds the revision we aimed for: ours can never
    /// land (proven not applied).
    Lost(Option<Root>),
    /// The root is still where it was. Our write has not applied *yet*; a
    /// proposal that reached a minority may still be finished by a later
    /// round, so this is no proof that it never will. It allows sending the
    /// same value again, nothing more.
    NotVisible,
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
    let target = Revision::after(expected, written.nonce())?;
    let Some(root) = current else {
        return Ok(Resolution::NotVisible);
    };
    if root.revision == target {
        if root.value.nonce() == written.nonce() {
            return Ok(Resolution::Applied(target));
        }
        return Ok(Resolution::Lost(Some(root)));
    }
    if expected.is_none() && !could_have_moved_on_from(target, root.revision) {
        // Another write created the root (ours would have put it at our
        // origin, and it would not have moved this far since), and a
        // create never lands on an existing root.
        return Ok(Resolution::Lost(Some(root)));
    }
    if root.revision > target {
        return Ok(Resolution::Unknown(root));
    }
    Ok(Resolution::NotVisible)
}

/// More compare-and-swaps than one root takes in the time between a write
/// and its settling re-read (seconds): 2^32.
const MOVES_WHILE_SETTLING: u64 = 1 << 32;

/// Whether a root created at `origin` may be at `now` by the time a
/// re-read after its create looks. Origins are random in `[1, 2^62)`
/// (see [`Revision`]), so a root that another write created is almost
/// always far below or far above ours; only one within
/// [`MOVES_WHILE_SETTLING`] above it (a chance of 2^-30) leaves a create's
/// outcome unknown.
fn could_have_moved_on_from(origin: Revision, now: Revision) -> bool {
    now >= origin && now.get() - origin.get() <= MOVES_WHILE_SETTLING
}

/// Runs one backend compare-and-swap, resolving ambiguous attempts by
/// re-reading (the backend half of the design in the module docs).
///
/// `attempt` performs one conditional write of `value` and says whether its
/// outcome was seen; `read` is a linearizable read of the root. The same
/// `value` is sent on every attempt (up to 3). Once an attempt was
/// ambiguous, every later answer is read through [`resolve`]: a later
/// attempt that "conflicts" with our own value (an earlier proposal finished
/// by a later round) is [`CasOutcome::Applied`], and a definite error of a
/// later attempt no longer proves anything. The outcome is
/// [`Error::OutcomeUnknown`] when the re-reads fail, when the root moved
/// past the aimed-for revision, when a later attempt failed, or when every
/// attempt was ambiguous: a re-read that shows the old root is no proof
/// (see [`Resolution::NotVisible`]). A definite error with no ambiguity
/// before it is returned as is.
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
    let unknown = |detail: String| Error::OutcomeUnknown {
        name: name.clone(),
        detail,
    };
    for _ in 0..ATTEMPTS {
        let current = match (attempt().await, &last_ambiguity) {
            (Ok(CasAttempt::Decided(CasOutcome::Applied(rev))), _) => {
                return Ok(CasOutcome::Applied(rev));
            }
            (Ok(CasAttempt::Decided(CasOutcome::Conflict(current))), None) => {
                return Ok(CasOutcome::Conflict(current));
            }
            (Ok(CasAttempt::Decided(CasOutcome::Conflict(current))), Some(_)) => current,
            (Ok(CasAttempt::Ambiguous(err)), _) => {
                tracing::warn!(backend, root = %name, error = %err, "ambiguous root write; re-reading");
                last_ambiguity = Some(err.to_string());
                read_with_retries(name, &mut read).await?
            }
            (Err(e), None) => return Err(e),
            (Err(e), Some(why)) => {
                return Err(unknown(format!(
                    "an attempt was ambiguous ({why}) and the next one failed: {e}"
                )));
            }
        };
        let why = last_ambiguity.as_deref().unwrap_or_default();
        match resolve(expected, value, current)? {
            Resolution::Applied(rev) => return Ok(CasOutcome::Applied(rev)),
            Resolution::Lost(current) => return Ok(CasOutcome::Conflict(current)),
            Resolution::Unknown(root) => {
                return Err(unknown(format!(
                    "after an ambiguous write ({why}) the root had already moved on to revision {}, past the revision {} this write aimed for",
                    root.revision,
                    Revision::after(expected, value.nonce())?
                )));
            }
            Resolution::NotVisible => {
                tracing::info!(backend, root = %name, "ambiguous root write not visible; sending the same value again");
            }
        }
    }
    Err(unknown(format!(
        "{ATTEMPTS} attempts on {backend} were ambiguous and no re-read showed one applied; a stranded proposal may still land (last: {})",
        last_ambiguity.unwrap_or_default()
    )))
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

/// How long a call that may be repeated keeps being tried: a time budget,
/// with pauses that double from `first_pause` up to `max_pause`. At least
/// one attempt is always made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBudget {
    /// Time after the first attempt within which further attempts start.
    pub within: Duration,
    /// The pause before the second attempt.
    pub first_pause: Duration,
    /// The longest pause between attempts.
    pub max_pause: Duration,
}

impl RetryBudget {
    /// Retries for up to `within`, pausing 20 ms, doubling up to 1 s.
    pub const fn within(within: Duration) -> Self {
        RetryBudget {
            within,
            first_pause: Duration::from_millis(20),
            max_pause: Duration::from_secs(1),
        }
    }

    /// The same budget with other pauses.
    pub const fn with_pauses(self, first_pause: Duration, max_pause: Duration) -> Self {
        RetryBudget {
            first_pause,
            max_pause,
            ..self
        }
    }

    fn clock(self) -> Clock {
        Clock {
            deadline: Instant::now() + self.within,
            pause: self.first_pause,
            max_pause: self.max_pause,
        }
    }
}

/// A running budget: the deadline and the next pause.
struct Clock {
    deadline: Instant,
    pause: Duration,
    max_pause: Duration,
}

impl Clock {
    /// Sleeps before the next attempt; false when the budget is spent.
    async fn pause(&mut self) -> bool {
        if Instant::now() + self.pause > self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(self.max_pause);
        true
    }

    /// What is left, but never under `floor`.
    fn left(&self, floor: Duration) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .max(floor)
    }
}

/// Runs `call` until it succeeds, fails with an error that is not
/// [`Error::is_retryable`], or `budget` is spent (then the last error).
/// Only for calls whose repetition is harmless: reads, segment puts, and a
/// root write of the same value (prefer [`write_root`] for those).
pub async fn retry_retryable<T, F, Fut>(budget: RetryBudget, op: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut clock = budget.clock();
    loop {
        match call().await {
            Err(e) if e.is_retryable() => {
                if !clock.pause().await {
                    return Err(e);
                }
                tracing::debug!(error = %e, op, "retrying");
            }
            outcome => return outcome,
        }
    }
}

/// A compare-and-swap of `name` from `expected` to `value` whose outcome is
/// settled, within `budget` (the caller half of the design in the module
/// docs).
///
/// Retryable failures are retried; an [`Error::OutcomeUnknown`] from the
/// backend is settled by a linearizable re-read ([`resolve`]), and while
/// the write is not visible the *same* `value` is sent again, so that our
/// own late landing is recognised by its nonce. Returns:
/// - `Applied` when our value holds the revision we aimed for;
/// - `Conflict` when the backend decided against the write with no
///   ambiguity before, or another value holds the aimed-for revision —
///   either way the write never applies;
/// - a retryable error when every attempt was refused before anything was
///   sent (nothing was written);
/// - [`Error::OutcomeUnknown`] in every other case once the budget is
///   spent: the write may still be applied later, and the caller must
///   settle it from its own data or say "unknown".
pub async fn write_root(
    storage: &dyn Storage,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
    budget: RetryBudget,
) -> Result<CasOutcome> {
    let mut clock = budget.clock();
    let mut ambiguity: Option<String> = None;
    let unknown = |detail: String| Error::OutcomeUnknown {
        name: name.clone(),
        detail,
    };
    loop {
        let current = match (storage.cas_root(name, expected, value).await, &ambiguity) {
            (Ok(CasOutcome::Applied(rev)), _) => return Ok(CasOutcome::Applied(rev)),
            (Ok(CasOutcome::Conflict(current)), None) => return Ok(CasOutcome::Conflict(current)),
            (Ok(CasOutcome::Conflict(current)), Some(_)) => Some(current),
            (Err(Error::OutcomeUnknown { detail, .. }), _) => {
                tracing::warn!(root = %name, %detail, "root write outcome unknown; re-reading");
                ambiguity = Some(detail);
                let read = retry_retryable(
                    RetryBudget::within(clock.left(SETTLE_FLOOR)),
                    "re-read after an ambiguous root write",
                    || storage.read_root(name),
                )
                .await;
                match read {
                    Ok(current) => Some(current),
                    Err(e) => {
                        return Err(unknown(format!(
                            "the write was ambiguous ({}) and re-reading failed: {e}",
                            ambiguity.unwrap_or_default()
                        )));
                    }
                }
            }
            (Err(e), None) if e.is_retryable() => {
                if !clock.pause().await {
                    return Err(e);
                }
                None
            }
            (Err(e), None) => return Err(e),
            (Err(e), Some(why)) if !e.is_retryable() => {
                return Err(unknown(format!(
                    "an attempt was ambiguous ({why}) and the next one failed: {e}"
                )));
            }
            (Err(_), Some(_)) => None,
        };
        if let Some(current) = current {
            match resolve(expected, value, current)? {
                Resolution::Applied(rev) => return Ok(CasOutcome::Applied(rev)),
                Resolution::Lost(current) => return Ok(CasOutcome::Conflict(current)),
                Resolution::Unknown(root) => {
                    return Err(unknown(format!(
                        "after an ambiguous write ({}) the root moved on to revision {} before it could be re-read",
                        ambiguity.unwrap_or_default(),
                        root.revision
                    )));
                }
                Resolution::NotVisible => {}
            }
        }
        if ambiguity.is_some() && !clock.pause().await {
            return Err(unknown(format!(
                "the write was ambiguous and is still not visible after {:?}; a stranded proposal may still land (last: {})",
                budget.within,
                ambiguity.unwrap_or_default()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Nonce;

    fn root(rev: u64, value: &RootValue) -> Option<Root> {
        Some(Root {
            revision: Revision::new(rev).unwrap(),
            value: value.clone(),
        })
    }

    #[test]
    fn resolution_table() {
        // A nonce whose origin is revision 64.
        let mut nonce = [7u8; 16];
        nonce[..8].copy_from_slice(&256u64.to_be_bytes());
        let ours = RootValue::with_nonce(Nonce::from_bytes(nonce), &b"ours"[..]).unwrap();
        let theirs = RootValue::new(&b"theirs"[..]).unwrap();
        let r = |n| Revision::new(n);
        assert_eq!(Revision::origin(ours.nonce()), r(64).unwrap());
        assert_eq!(resolve(None, &ours, None).unwrap(), Resolution::NotVisible);
        assert_eq!(
            resolve(None, &ours, root(64, &ours)).unwrap(),
            Resolution::Applied(r(64).unwrap())
        );
        assert_eq!(
            resolve(None, &ours, root(64, &theirs)).unwrap(),
            Resolution::Lost(root(64, &theirs))
        );
        // Created by another write below our origin: ours never lands.
        assert_eq!(
            resolve(None, &ours, root(3, &theirs)).unwrap(),
            Resolution::Lost(root(3, &theirs))
        );
        // Just above our origin: ours may have been created and moved on.
        assert!(matches!(
            resolve(None, &ours, root(65, &theirs)).unwrap(),
            Resolution::Unknown(_)
        ));
        // Far above: more writes than a root takes while a write settles.
        let far = 64 + MOVES_WHILE_SETTLING + 1;
        assert_eq!(
            resolve(None, &ours, root(far, &theirs)).unwrap(),
            Resolution::Lost(root(far, &theirs))
        );
        assert_eq!(
            resolve(r(4), &ours, root(4, &theirs)).unwrap(),
            Resolution::NotVisible
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

    #[test]
    fn a_failure_after_an_ambiguous_attempt_proves_nothing() {
        let ours = RootValue::new(&b"ours"[..]).unwrap();
        let theirs = RootValue::new(&b"theirs"[..]).unwrap();
        let r = Revision::new;
        let out = run(
            vec![ambiguous(), Err(Error::backend("test", "cas", "refused"))],
            vec![Ok(root(4, &theirs))],
            r(4),
            &ours,
        );
        match out {
            Err(Error::OutcomeUnknown { detail, .. }) => {
                assert!(detail.contains("refused"), "{detail}")
            }
            other => panic!("expected OutcomeUnknown, got {other:?}"),
        }
    }

    mod write_root {
        use std::sync::Arc;

        use super::super::*;
        use crate::MemStorage;
        use crate::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};

        fn faulty() -> (FaultyStorage, Arc<FaultPlan>, RootName) {
            let plan = FaultPlan::seeded(3);
            let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
            (storage, plan, RootName::new("db/x/log").unwrap())
        }

        const SHORT: RetryBudget = RetryBudget::within(Duration::from_millis(300))
            .with_pauses(Duration::from_millis(1), Duration::from_millis(20));

        #[tokio::test]
        async fn a_stranded_proposal_finished_by_the_retry_is_ours() {
            let (storage, plan, name) = faulty();
            plan.inject_times(Op::Cas, Fault::Strand, 1);
            plan.inject_times(Op::ReadRoot, Fault::Blind, 1);
            let ours = RootValue::new(&b"ours"[..]).unwrap();
            let out = write_root(&storage, &name, None, &ours, SHORT)
                .await
                .unwrap();
            assert_eq!(out, CasOutcome::Applied(Revision::origin(ours.nonce())));
            let now = storage.read_root(&name).await.unwrap().unwrap();
            assert_eq!(now.value, ours);
        }

        #[tokio::test]
        async fn a_proposal_that_stays_invisible_is_unknown_never_not_written() {
            let (storage, plan, name) = faulty();
            plan.inject(Op::Cas, Fault::Strand, 1.0);
            plan.inject(Op::Cas, Fault::Blind, 1.0);
            plan.inject(Op::ReadRoot, Fault::Blind, 1.0);
            let ours = RootValue::new(&b"ours"[..]).unwrap();
            let err = write_root(&storage, &name, None, &ours, SHORT)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
            assert!(err.to_string().contains("may still land"), "{err}");
            // The next round that reaches the replica finishes it: saying
            // "nothing was written" would have been a lie.
            plan.clear();
            let now = storage.read_root(&name).await.unwrap().unwrap();
            let origin = Revision::origin(ours.nonce());
            assert_eq!((now.revision, &now.value), (origin, &ours));
        }

        #[tokio::test]
        async fn another_value_at_our_revision_is_a_conflict() {
            let (storage, plan, name) = faulty();
            let ours = RootValue::new(&b"ours"[..]).unwrap();
            let theirs = RootValue::new(&b"theirs"[..]).unwrap();
            // Our proposal strands; a competitor that misses it creates the
            // root.
            plan.inject_times(Op::Cas, Fault::Strand, 1);
            let first = storage.cas_root(&name, None, &ours).await.unwrap_err();
            assert!(matches!(first, Error::OutcomeUnknown { .. }));
            plan.inject_times(Op::Cas, Fault::Blind, 1);
            let won = storage.cas_root(&name, None, &theirs).await.unwrap();
            assert_eq!(won, CasOutcome::Applied(Revision::origin(theirs.nonce())));
            let out = write_root(&storage, &name, None, &ours, SHORT)
                .await
                .unwrap();
            let CasOutcome::Conflict(Some(root)) = out else {
                panic!("expected a conflict, got {out:?}");
            };
            assert_eq!(root.value, theirs);
        }

        #[tokio::test]
        async fn refusals_before_sending_are_retried_then_returned() {
            let (storage, plan, name) = faulty();
            let value = RootValue::new(&b"v"[..]).unwrap();
            plan.inject_times(Op::Cas, Fault::FailBefore, 3);
            let out = write_root(&storage, &name, None, &value, SHORT)
                .await
                .unwrap();
            let origin = Revision::origin(value.nonce());
            assert_eq!(out, CasOutcome::Applied(origin));
            plan.inject(Op::Cas, Fault::FailBefore, 1.0);
            let err = write_root(&storage, &name, Some(origin), &value, SHORT)
                .await
                .unwrap_err();
            assert!(err.is_retryable(), "nothing was sent: {err}");
        }

        #[tokio::test]
        async fn retry_retryable_gives_up_with_the_last_error() {
            let mut calls = 0;
            let out: Result<()> = retry_retryable(SHORT, "test", || {
                calls += 1;
                async { Err(Error::backend("test", "op", "broken")) }
            })
            .await;
            assert!(out.is_err());
            assert_eq!(calls, 1, "a definite error is not repeated");
        }
    }
}
