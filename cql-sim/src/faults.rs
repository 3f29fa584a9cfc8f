//! Fault injection: rules that tests add through a [`Faults`] handle, drawn
//! from one seeded random generator so a failing run replays.
//!
//! Every rule applies to user statements only (never to the `system` and
//! `system_schema` queries the driver's control connection sends), may be
//! limited to statements whose text contains a string, fires with a
//! probability, and may be limited to a number of firings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A step of the coordinator's work at which a message to a replica can be
/// dropped or delayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Paxos prepare/promise.
    Prepare,
    /// The read of the current row inside a Paxos round.
    PaxosRead,
    /// Paxos propose/accept.
    Propose,
    /// Paxos commit.
    Commit,
    /// A plain (non-LWT) write.
    Write,
    /// A plain read, including the read that follows a SERIAL read's Paxos prepare.
    Read,
}

/// How many replicas had accepted the proposal when a CAS write timeout is
/// returned (the client cannot tell which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// A quorum accepted: the next Paxos round on the partition (an LWT or a
    /// SERIAL read) commits the value.
    ByQuorum,
    /// Exactly one replica accepted: the value is committed later only if a
    /// later round's quorum includes that replica.
    ByOne,
    /// No replica accepted: the write never happens.
    ByNone,
}

/// When a connection is closed by a [`FaultKind::DropConnection`] fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropPoint {
    /// Right after the request is read: nothing is executed.
    BeforeExecute,
    /// After the statement was executed (an LWT applied and committed) but
    /// before the response is sent.
    AfterExecute,
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// The coordinator's message to a replica in this phase is lost: the
    /// replica never sees it and never answers.
    DropMessage(Phase),
    /// The message is delivered (and answered) this much later; if that is
    /// past the request timeout the coordinator stops waiting, but the
    /// replica still processes it when it arrives.
    DelayMessage(Phase, Duration),
    /// An LWT's proposal reaches the given replicas, then the coordinator
    /// answers WriteTimeout (write type CAS) without committing.
    CasWriteTimeout(Accepted),
    /// A plain write is applied to one replica only, then answered with
    /// WriteTimeout (write type SIMPLE, or BATCH/UNLOGGED_BATCH for batches).
    WriteTimeout,
    /// A read (plain or SERIAL) is answered with ReadTimeout.
    ReadTimeout,
    /// The client's TCP connection is closed at this point.
    DropConnection(DropPoint),
    /// The response is sent this much later.
    SlowResponse(Duration),
    /// A planted bug, not a failure a real cluster has: the read after a
    /// SERIAL read's Paxos prepare asks one replica instead of a quorum,
    /// so it can miss a commit only a quorum holds and return a stale
    /// value. For showing that a linearizability check catches it.
    SerialReadFromOne,
}

/// A fault rule: what happens, to which statements and replicas, how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    kind: FaultKind,
    probability: f64,
    remaining: Option<u64>,
    replicas: Option<Vec<usize>>,
    query_contains: Option<String>,
}

impl Fault {
    /// A rule of this kind that always fires.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            probability: 1.0,
            remaining: None,
            replicas: None,
            query_contains: None,
        }
    }

    /// Fires with this probability (0.0 to 1.0) each time it could fire.
    pub fn with_probability(mut self, probability: f64) -> Fault {
        self.probability = probability.clamp(0.0, 1.0);
        self
    }

    /// Fires at most `n` times, then is spent.
    pub fn times(mut self, n: u64) -> Fault {
        self.remaining = Some(n);
        self
    }

    /// Fires at most once.
    pub fn once(self) -> Fault {
        self.times(1)
    }

    /// Message faults only affect messages to these replicas (0-based).
    pub fn on_replicas(mut self, replicas: &[usize]) -> Fault {
        self.replicas = Some(replicas.to_vec());
        self
    }

    /// Only statements whose CQL text contains `text` are affected.
    pub fn when_query_contains(mut self, text: &str) -> Fault {
        self.query_contains = Some(text.to_owned());
        self
    }

    fn applies(
        &self,
        matches_kind: &impl Fn(&FaultKind) -> bool,
        query: &str,
        replica: Option<usize>,
    ) -> bool {
        self.remaining != Some(0)
            && matches_kind(&self.kind)
            && self
                .query_contains
                .as_deref()
                .is_none_or(|t| query.contains(t))
            && match (&self.replicas, replica) {
                (Some(allowed), Some(r)) => allowed.contains(&r),
                _ => true,
            }
    }
}

/// Identifies an injected rule, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

/// One fault that fired, for test diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultEvent {
    /// What happened.
    pub kind: FaultKind,
    /// The replica a message fault hit.
    pub replica: Option<usize>,
    /// The statement it hit.
    pub query: String,
}

struct State {
    rules: Vec<(FaultId, Fault)>,
    next_id: u64,
    rng: StdRng,
    log: Vec<FaultEvent>,
}

/// The handle tests hold to inject faults and take replicas down. Cloning
/// it gives another handle to the same cluster.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
    replicas_up: Arc<[AtomicBool]>,
}

const LOG_LIMIT: usize = 100_000;

impl Faults {
    pub(crate) fn new(seed: u64, replicas: usize) -> Faults {
        let state = State {
            rules: Vec::new(),
            next_id: 0,
            rng: StdRng::seed_from_u64(seed),
            log: Vec::new(),
        };
        Faults {
            state: Arc::new(Mutex::new(state)),
            replicas_up: (0..replicas).map(|_| AtomicBool::new(true)).collect(),
        }
    }

    /// Adds a rule; rules are consulted in the order they were added.
    pub fn inject(&self, fault: Fault) -> FaultId {
        let mut state = self.state.lock();
        let id = FaultId(state.next_id);
        state.next_id += 1;
        state.rules.push((id, fault));
        id
    }

    /// Removes a rule.
    pub fn remove(&self, id: FaultId) {
        self.state.lock().rules.retain(|(rule, _)| *rule != id);
    }

    /// Removes every rule (replicas stay as they are).
    pub fn clear(&self) {
        self.state.lock().rules.clear();
    }

    /// Restarts the random sequence from `seed`.
    pub fn reseed(&self, seed: u64) {
        self.state.lock().rng = StdRng::seed_from_u64(seed);
    }

    /// The faults that fired so far, oldest first.
    pub fn log(&self) -> Vec<FaultEvent> {
        self.state.lock().log.clone()
    }

    /// Takes a replica down: the coordinator sees it as dead, sends it
    /// nothing, and it misses every write until it is up again (no hints).
    pub fn replica_down(&self, replica: usize) {
        if let Some(flag) = self.replicas_up.get(replica) {
            flag.store(false, Ordering::SeqCst);
        }
    }

    /// Brings a replica back up, with whatever data it had.
    pub fn replica_up(&self, replica: usize) {
        if let Some(flag) = self.replicas_up.get(replica) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether a replica is up.
    pub fn is_up(&self, replica: usize) -> bool {
        self.replicas_up
            .get(replica)
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// The replicas that are up, in index order.
    pub(crate) fn live_replicas(&self) -> Vec<usize> {
        (0..self.replicas_up.len())
            .filter(|r| self.is_up(*r))
            .collect()
    }

    /// Draws a random number from the seeded sequence (replica choice, backoff).
    pub(crate) fn random_below(&self, bound: u64) -> u64 {
        self.state.lock().rng.random_range(0..bound.max(1))
    }

    /// The first rule matching `matches_kind` that fires for this statement
    /// (and replica), consuming one of its firings and logging it.
    pub(crate) fn fire(
        &self,
        query: &FaultScope,
        replica: Option<usize>,
        matches_kind: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let FaultScope::User(query) = query else {
            return None;
        };
        let mut state = self.state.lock();
        let State {
            rules, rng, log, ..
        } = &mut *state;
        for (_, rule) in rules.iter_mut() {
            if !rule.applies(&matches_kind, query, replica) {
                continue;
            }
            if rule.probability < 1.0 && !rng.random_bool(rule.probability) {
                continue;
            }
            if let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
            if log.len() < LOG_LIMIT {
                log.push(FaultEvent {
                    kind: rule.kind,
                    replica,
                    query: query.to_string(),
                });
            }
            return Some(rule.kind);
        }
        None
    }
}

/// Which statements a request's faults may touch.
#[derive(Clone, Debug)]
pub(crate) enum FaultScope {
    /// A user statement, with its text.
    User(Arc<str>),
    /// System queries and internal work: never faulted.
    Exempt,
}
