//! A fault-injecting wrapper: any storage, with errors, delays, lost
//! responses and pauses injected per operation from a seeded plan, so a
//! failing run replays.
//!
//! ```
//! # async fn demo() -> storage_core::Result<()> {
//! use std::sync::Arc;
//! use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
//! use storage_core::{MemStorage, StorageExt};
//! let plan = FaultPlan::seeded(7);
//! let storage = FaultyStorage::new(Arc::new(MemStorage::new()), plan.clone());
//! plan.inject(Op::Put, Fault::FailBefore, 1.0);
//! assert!(storage.put("x".into()).await.unwrap_err().is_retryable());
//! plan.clear();
//! storage.put("x".into()).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};
use crate::segment::SegmentId;
use crate::storage::{PageToken, SegmentInfoPage, SegmentPage, Storage};

/// The operations of [`Storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `put_segment`
    Put,
    /// `get_segment`
    Get,
    /// `delete_segment`
    Delete,
    /// `list_segments`
    List,
    /// `read_root`
    ReadRoot,
    /// `cas_root`
    Cas,
}

/// What to do to an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail with [`Error::Unavailable`] without doing anything.
    FailBefore,
    /// Do the operation, then fail with [`Error::Unavailable`] as if the
    /// response were lost. For `Cas` this is [`Error::OutcomeUnknown`]: the
    /// worst a real backend can report.
    FailAfter,
    /// Wait this long first.
    Delay(Duration),
    /// Report success without storing anything: a broken backend, for
    /// showing that the conformance suite catches one. `Put` only.
    LoseWrite,
    /// `Cas` only: the write is not applied now and its answer is lost
    /// ([`Error::OutcomeUnknown`]), but the proposal is kept, as a Paxos
    /// proposal accepted by one replica is: the next `ReadRoot` or `Cas` of
    /// that root finishes it (applies it if the root is still at the
    /// revision it expected) unless a [`Fault::Blind`] fires for that
    /// operation. A newer stranded proposal on the root replaces an older.
    Strand,
    /// `ReadRoot` or `Cas`: the operation misses the replica that holds a
    /// stranded proposal, so it neither sees nor finishes it.
    Blind,
    /// Do the operation, then the process dies: this call and every later
    /// one through the plan fail with a non-retryable error (no retry layer
    /// can settle or repeat anything) until [`FaultPlan::clear`]. A kill at
    /// that instant, for crash-point tests of multi-step operations.
    Die,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    op: Op,
    fault: Fault,
    probability: f64,
    remaining: Option<u32>,
    /// Calls of `op` to let through before the rule applies.
    skip: u32,
}

/// The faults to inject, shared between a test and its [`FaultyStorage`]s.
#[derive(Debug)]
pub struct FaultPlan {
    rng: Mutex<StdRng>,
    rules: Mutex<Vec<Rule>>,
    paused: watch::Sender<bool>,
    /// Proposals left by [`Fault::Strand`], by root: expected revision and
    /// value.
    stranded: Mutex<HashMap<RootName, (Option<Revision>, RootValue)>>,
    /// Set by [`Fault::Die`]: every operation fails until cleared.
    dead: AtomicBool,
}

impl FaultPlan {
    /// An empty plan whose random choices follow `seed`.
    pub fn seeded(seed: u64) -> Arc<Self> {
        Arc::new(FaultPlan {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            rules: Mutex::new(Vec::new()),
            paused: watch::Sender::new(false),
            stranded: Mutex::new(HashMap::new()),
            dead: AtomicBool::new(false),
        })
    }

    /// Applies `fault` to each `op` with `probability` (0.0..=1.0).
    pub fn inject(&self, op: Op, fault: Fault, probability: f64) {
        lock(&self.rules).push(Rule {
            op,
            fault,
            probability,
            remaining: None,
            skip: 0,
        });
    }

    /// Applies `fault` to the next `times` calls of `op`.
    pub fn inject_times(&self, op: Op, fault: Fault, times: u32) {
        lock(&self.rules).push(Rule {
            op,
            fault,
            probability: 1.0,
            remaining: Some(times),
            skip: 0,
        });
    }

    /// Lets the next `skip` calls of `op` through, then applies `fault` to
    /// the one after: a crash point at the n-th step of a multi-step
    /// operation (with [`Fault::FailAfter`], the step is done and the
    /// caller fails as if it died right after it).
    pub fn inject_after(&self, op: Op, skip: u32, fault: Fault) {
        lock(&self.rules).push(Rule {
            op,
            fault,
            probability: 1.0,
            remaining: Some(1),
            skip,
        });
    }

    /// Removes every rule and brings a dead process back (a pause stays
    /// until [`FaultPlan::resume`]).
    pub fn clear(&self) {
        lock(&self.rules).clear();
        self.dead.store(false, Ordering::SeqCst);
    }

    /// Makes every operation wait until [`FaultPlan::resume`]: a process
    /// frozen mid-flight, e.g. a transactor paused while another takes over.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Lets paused operations continue.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    fn pick(&self, op: Op) -> Vec<Fault> {
        let mut rules = lock(&self.rules);
        let mut rng = lock(&self.rng);
        let mut picked = Vec::new();
        for rule in rules.iter_mut().filter(|r| r.op == op) {
            if rule.remaining == Some(0) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if rng.random_bool(rule.probability.clamp(0.0, 1.0)) {
                picked.push(rule.fault);
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                }
            }
        }
        picked
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A storage that forwards to another, injecting the faults of a plan.
#[derive(Debug)]
pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    plan: Arc<FaultPlan>,
}

impl FaultyStorage {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Storage>, plan: Arc<FaultPlan>) -> Self {
        FaultyStorage { inner, plan }
    }

    /// Waits out a pause and delays; returns the faults to act on after.
    async fn before(&self, op: Op, what: &str) -> Result<Vec<Fault>> {
        let mut paused = self.plan.paused.subscribe();
        // The sender lives in the plan, which this storage keeps alive.
        let _ = paused.wait_for(|p| !*p).await;
        if self.plan.dead.load(Ordering::SeqCst) {
            return Err(self.died(op, what, "before"));
        }
        let faults = self.plan.pick(op);
        for fault in &faults {
            match fault {
                Fault::Delay(d) => tokio::time::sleep(*d).await,
                Fault::FailBefore => return Err(self.unavailable(op, what, "before")),
                _ => {}
            }
        }
        Ok(faults)
    }

    /// Finishes the proposal stranded on `name`, if any, unless this
    /// operation is blind to it: applied when the root is still at the
    /// revision it expected, superseded otherwise.
    async fn finish_stranded(&self, name: &RootName, faults: &[Fault]) -> Result<()> {
        if faults.contains(&Fault::Blind) {
            return Ok(());
        }
        let Some((expected, value)) = lock(&self.plan.stranded).remove(name) else {
            return Ok(());
        };
        self.inner.cas_root(name, expected, &value).await.map(drop)
    }

    /// The error of an operation of a process that died (see [`Fault::Die`]).
    fn died(&self, op: Op, what: &str, when: &str) -> Error {
        Error::Backend {
            backend: self.inner.backend(),
            op: format!("{op:?} {what}"),
            detail: format!("injected crash: the process died {when} this operation"),
            source: None,
        }
    }

    /// Fails with [`Fault::Die`]'s error (and marks the process dead) when
    /// `faults` holds it; the operation itself is already done.
    fn die_after(&self, faults: &[Fault], op: Op, what: &str) -> Result<()> {
        if faults.contains(&Fault::Die) {
            self.plan.dead.store(true, Ordering::SeqCst);
            return Err(self.died(op, what, "after"));
        }
        Ok(())
    }

    fn unavailable(&self, op: Op, what: &str, when: &str) -> Error {
        Error::Unavailable {
            backend: self.inner.backend(),
            op: format!("{op:?} {what}"),
            detail: format!("injected fault ({when} the operation)"),
            source: None,
        }
    }
}

fn fails_after(faults: &[Fault]) -> bool {
    faults.contains(&Fault::FailAfter)
}

#[async_trait]
impl Storage for FaultyStorage {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        let faults = self.before(Op::Put, &id.to_string()).await?;
        if faults.contains(&Fault::LoseWrite) {
            return id.check_put(&bytes);
        }
        self.inner.put_segment(id, bytes).await?;
        self.die_after(&faults, Op::Put, &id.to_string())?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::Put, &id.to_string(), "after"));
        }
        Ok(())
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        let faults = self.before(Op::Get, &id.to_string()).await?;
        let got = self.inner.get_segment(id).await?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::Get, &id.to_string(), "after"));
        }
        Ok(got)
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        let faults = self.before(Op::Delete, &id.to_string()).await?;
        self.inner.delete_segment(id).await?;
        self.die_after(&faults, Op::Delete, &id.to_string())?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::Delete, &id.to_string(), "after"));
        }
        Ok(())
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        let faults = self.before(Op::Delete, &id.to_string()).await?;
        let deleted = self
            .inner
            .delete_segment_unless_put_since(id, written_at_ms)
            .await?;
        self.die_after(&faults, Op::Delete, &id.to_string())?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::Delete, &id.to_string(), "after"));
        }
        Ok(deleted)
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        let faults = self.before(Op::List, "").await?;
        let page = self.inner.list_segments(from, limit).await?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::List, "", "after"));
        }
        Ok(page)
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        let faults = self.before(Op::List, "").await?;
        let page = self.inner.list_segment_infos(from, limit).await?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::List, "", "after"));
        }
        Ok(page)
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        let faults = self.before(Op::List, "roots").await?;
        let names = self.inner.list_roots().await?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::List, "roots", "after"));
        }
        Ok(names)
    }

    async fn erase_superseded(&self, name: &RootName, older_than: Duration) -> Result<u64> {
        let faults = self.before(Op::Delete, name.as_str()).await?;
        let erased = self.inner.erase_superseded(name, older_than).await?;
        self.die_after(&faults, Op::Delete, name.as_str())?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::Delete, name.as_str(), "after"));
        }
        Ok(erased)
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let faults = self.before(Op::ReadRoot, name.as_str()).await?;
        self.finish_stranded(name, &faults).await?;
        let root = self.inner.read_root(name).await?;
        if fails_after(&faults) {
            return Err(self.unavailable(Op::ReadRoot, name.as_str(), "after"));
        }
        Ok(root)
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let faults = self.before(Op::Cas, name.as_str()).await?;
        self.finish_stranded(name, &faults).await?;
        if faults.contains(&Fault::Strand) {
            lock(&self.plan.stranded).insert(name.clone(), (expected, value.clone()));
            return Err(Error::OutcomeUnknown {
                name: name.clone(),
                detail: "injected fault: the proposal reached one replica and the answer was lost"
                    .into(),
            });
        }
        let outcome = self.inner.cas_root(name, expected, value).await?;
        self.die_after(&faults, Op::Cas, name.as_str())?;
        if fails_after(&faults) {
            return Err(Error::OutcomeUnknown {
                name: name.clone(),
                detail: format!(
                    "injected fault: the response was lost (the write {})",
                    if outcome.is_applied() {
                        "applied"
                    } else {
                        "did not apply"
                    }
                ),
            });
        }
        Ok(outcome)
    }
}
