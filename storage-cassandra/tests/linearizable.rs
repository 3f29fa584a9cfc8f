//! Concurrent compare-and-swap writers on three store handles while the
//! simulator drops, delays and times out Paxos messages, flaps replicas and
//! drops connections: the history the callers saw must be linearizable
//! (Wing & Gong's search with Lowe's memoization, for a register with
//! compare-and-set), no revision may have two winners, and a retryable
//! error must have changed nothing.
//!
//! `ACCRETE_LONG=1` runs more seeds, clients and operations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use cql_sim::{Accepted, DropPoint, Fault, FaultKind, Phase, SimCluster, SimConfig};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_cassandra::CassandraStorage;
use storage_cassandra::testkit::TestCluster;
use storage_core::{CasOutcome, Error, Revision, Root, RootName, RootValue, Storage};

/// The register: absent, or a revision and the id of the write that made it.
type State = Option<(u64, u64)>;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Applied,
    /// Not applied; the root the backend reported.
    Conflict(State),
    /// The caller was told the outcome is unknown: it may take effect later.
    Unknown,
}

#[derive(Clone, Debug)]
enum Op {
    Read(State),
    Cas {
        expect: Option<u64>,
        new: (u64, u64),
        outcome: Outcome,
    },
}

/// An operation as its caller saw it.
type Event = storage_core::testkit::history::Event<Op>;

/// The states `op` may leave behind when it takes effect on `state`.
fn step(state: State, op: &Op) -> Vec<State> {
    let rev = state.map(|(r, _)| r);
    match op {
        Op::Read(seen) => (state == *seen).then_some(state).into_iter().collect(),
        Op::Cas {
            expect,
            new,
            outcome: Outcome::Applied,
        } => (rev == *expect).then_some(Some(*new)).into_iter().collect(),
        Op::Cas {
            expect,
            outcome: Outcome::Conflict(seen),
            ..
        } => (rev != *expect && state == *seen)
            .then_some(state)
            .into_iter()
            .collect(),
        Op::Cas {
            expect,
            new,
            outcome: Outcome::Unknown,
        } if rev == *expect => vec![Some(*new), state],
        Op::Cas { .. } => vec![state],
    }
}

/// Whether an order of the events that respects real time explains every
/// result, starting from an absent register.
fn linearizable(history: &[Event]) -> bool {
    storage_core::testkit::history::is_linearizable(history, None, |state, op| step(*state, op))
}

#[test]
fn the_checker_rejects_stale_reads_and_double_winners() {
    let event = |call, ret, op| Event { call, ret, op };
    let create = |id, outcome| Op::Cas {
        expect: None,
        new: (1, id),
        outcome,
    };
    let write = event(0, Some(10), create(7, Outcome::Applied));
    assert!(!linearizable(&[
        write.clone(),
        event(20, Some(30), Op::Read(None))
    ]));
    assert!(linearizable(&[
        write.clone(),
        event(5, Some(30), Op::Read(None))
    ]));
    assert!(!linearizable(&[
        write.clone(),
        event(0, Some(10), create(8, Outcome::Applied))
    ]));
    let unknown = event(
        0,
        None,
        Op::Cas {
            expect: Some(1),
            new: (2, 9),
            outcome: Outcome::Unknown,
        },
    );
    let later = event(50, Some(60), Op::Read(Some((2, 9))));
    assert!(linearizable(&[write.clone(), unknown, later.clone()]));
    assert!(
        !linearizable(&[write, later]),
        "a value no write made cannot appear"
    );
}

struct Workload {
    stores: Vec<CassandraStorage>,
    name: RootName,
    start: Instant,
    history: Mutex<Vec<Event>>,
}

fn state_of(root: Option<Root>) -> State {
    root.map(|r| {
        let id = u64::from_be_bytes(r.value.data().as_ref().try_into().unwrap());
        (r.revision.get(), id)
    })
}

impl Workload {
    fn now(&self) -> u128 {
        self.start.elapsed().as_nanos()
    }

    async fn read(&self, store: usize) -> Option<State> {
        let call = self.now();
        let root = self.stores[store].read_root(&self.name).await.ok()?;
        let state = state_of(root);
        self.history.lock().push(Event {
            call,
            ret: Some(self.now()),
            op: Op::Read(state),
        });
        Some(state)
    }

    async fn cas(&self, store: usize, expect: Option<u64>, id: u64) -> Option<Outcome> {
        let value = RootValue::new(id.to_be_bytes().to_vec()).unwrap();
        let expected = expect.map(|r| Revision::new(r).unwrap());
        let new = (Revision::after(expected, value.nonce()).unwrap().get(), id);
        let call = self.now();
        let result = self.stores[store]
            .cas_root(&self.name, expected, &value)
            .await;
        let outcome = match result {
            Ok(CasOutcome::Applied(rev)) => {
                assert_eq!(rev.get(), new.0, "applied at another revision");
                Outcome::Applied
            }
            Ok(CasOutcome::Conflict(current)) => Outcome::Conflict(state_of(current)),
            Err(Error::OutcomeUnknown { .. }) => Outcome::Unknown,
            // The contract: nothing was changed. Leaving the call out of the
            // history makes the checker fail if it did change something.
            Err(e) if e.is_retryable() => return None,
            Err(e) => panic!("cas: {e}"),
        };
        let ret = (outcome != Outcome::Unknown).then(|| self.now());
        self.history.lock().push(Event {
            call,
            ret,
            op: Op::Cas {
                expect,
                new,
                outcome: outcome.clone(),
            },
        });
        Some(outcome)
    }
}

fn inject_faults(sim: &SimCluster) {
    let f = sim.faults();
    let roots = |fault: Fault| fault.when_query_contains("accrete_roots");
    for phase in [
        Phase::Prepare,
        Phase::Propose,
        Phase::Commit,
        Phase::PaxosRead,
        Phase::Read,
    ] {
        f.inject(roots(
            Fault::new(FaultKind::DelayMessage(phase, Duration::from_millis(1)))
                .with_probability(0.2),
        ));
        f.inject(roots(
            Fault::new(FaultKind::DelayMessage(phase, Duration::from_millis(15)))
                .with_probability(0.05),
        ));
        f.inject(roots(
            Fault::new(FaultKind::DropMessage(phase)).with_probability(0.03),
        ));
    }
    for accepted in [Accepted::ByQuorum, Accepted::ByOne, Accepted::ByNone] {
        f.inject(roots(
            Fault::new(FaultKind::CasWriteTimeout(accepted)).with_probability(0.04),
        ));
    }
    f.inject(roots(
        Fault::new(FaultKind::ReadTimeout).with_probability(0.03),
    ));
    f.inject(roots(
        Fault::new(FaultKind::SlowResponse(Duration::from_millis(10))).with_probability(0.03),
    ));
    f.inject(roots(
        Fault::new(FaultKind::DropConnection(DropPoint::AfterExecute)).with_probability(0.01),
    ));
    f.inject(roots(
        Fault::new(FaultKind::DropConnection(DropPoint::BeforeExecute)).with_probability(0.01),
    ));
}

async fn client(work: Arc<Workload>, id: u64, ops: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ (id * 7919));
    let store = id as usize % work.stores.len();
    let mut known: Option<State> = None;
    let mut seq = 0;
    while seq < ops {
        if known.is_none() || rng.random_bool(0.3) {
            match work.read(store).await {
                Some(state) => {
                    known = Some(state);
                    seq += 1;
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        }
        seq += 1;
        let expect = known.flatten().map(|(rev, _)| rev);
        known = match work.cas(store, expect, id << 32 | seq).await {
            // A create lands at a random origin: read it back.
            Some(Outcome::Applied) => expect.map(|rev| Some((rev + 1, id << 32 | seq))),
            Some(Outcome::Conflict(seen)) => Some(seen),
            _ => None,
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
    }
}

/// Takes one replica at a time down for a moment, so quorums stay possible.
async fn flap_replicas(sim: &SimCluster, seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let replica = rng.random_range(0..3);
        sim.replica_down(replica);
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..40))).await;
        sim.replica_up(replica);
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..40))).await;
    }
}

async fn run_history(seed: u64, clients: u64, ops: u64) {
    let cluster = TestCluster::sim_with(SimConfig {
        seed,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uri = cluster.scratch_uri("lin").await.unwrap();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(open(&uri).await);
    }
    let work = Arc::new(Workload {
        stores,
        name: RootName::new("db/lin/log").unwrap(),
        start: Instant::now(),
        history: Mutex::new(Vec::new()),
    });
    let sim = cluster.simulator().unwrap();
    inject_faults(sim);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(client(work.clone(), id, ops, seed)))
        .collect();
    let all_done = async {
        for worker in workers {
            worker.await.unwrap();
        }
        stop.store(true, Ordering::SeqCst);
    };
    within(600, async {
        tokio::join!(flap_replicas(sim, seed, stop.clone()), all_done)
    })
    .await;
    sim.faults().clear();
    let last = within(60, async {
        loop {
            if let Some(state) = work.read(0).await {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let history = work.history.lock().clone();
    check(&history, last, sim.faults().log().len(), seed);
}

fn check(history: &[Event], last: State, faults_fired: usize, seed: u64) {
    let mut winners: HashMap<u64, u64> = HashMap::new();
    for event in history {
        if let Op::Cas {
            new: (rev, id),
            outcome: Outcome::Applied,
            ..
        } = &event.op
            && let Some(other) = winners.insert(*rev, *id)
        {
            panic!("seed {seed}: writes {other:#x} and {id:#x} both won revision {rev}");
        }
    }
    let unknown = history.iter().filter(|e| e.ret.is_none()).count();
    let applied = winners.len();
    eprintln!(
        "seed {seed}: {} events, {applied} applied, {unknown} unknown, {faults_fired} faults fired, final {last:?}",
        history.len()
    );
    assert!(applied > 3, "seed {seed}: only {applied} applied");
    assert!(faults_fired > 0, "seed {seed}: no fault fired");
    assert!(
        linearizable(history),
        "seed {seed}: history of {} events ({unknown} unknown) is not linearizable: {history:#?}",
        history.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cas_under_faults_is_linearizable() {
    let long = std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1");
    let (seeds, clients, ops) = if long { (0..12, 10, 60) } else { (0..2, 6, 25) };
    for seed in seeds {
        run_history(seed, clients, ops).await;
    }
}
