//! Many clients CAS one row concurrently while faults are injected; the
//! recorded history must be linearizable (checked with Wing & Gong's
//! search, Lowe's memoized variant, for a register with compare-and-set)
//! and no two writers may win one revision.
//!
//! Two ways to drive it:
//! - **through the real driver** over TCP on a multi-threaded runtime:
//!   the whole stack, but timing-dependent, so a seed does not replay;
//! - **deterministically**, in process ([`cql_sim::LocalSession`]) on a
//!   current-thread runtime with paused (simulated) time: the fault
//!   choices, the clients' choices and the scheduling all follow from one
//!   seed, so a seed replays its history exactly (`ACCRETE_SEED=n` runs
//!   just that seed). These runs are also cheap enough to be many, and
//!   they are shown to catch a planted bug (SERIAL reads answered by one
//!   replica) with every default run.
//!
//! `ACCRETE_LONG=1` runs more clients, more operations and more seeds.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use cql_sim::{
    Accepted, CqlError, DropPoint, Fault, FaultKind, LocalError, LocalResult, LocalSession, Phase,
    SimCluster, SimConfig, Value,
};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};

/// The register's statements, the same through the driver and in process.
const INSERT: &str =
    "INSERT INTO lin.accrete_roots (name, rev, value) VALUES (?, ?, ?) IF NOT EXISTS";
const UPDATE: &str = "UPDATE lin.accrete_roots SET rev = ?, value = ? WHERE name = ? IF rev = ?";
const READ: &str = "SELECT rev, value FROM lin.accrete_roots WHERE name = ?";

/// The register: absent, or a revision and the nonce of the writer that made it.
type State = Option<(i64, u64)>;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Applied,
    /// Not applied; the revision the LWT reported (`None`: row absent).
    Rejected(Option<i64>),
    /// The client never learned (timeout, broken connection).
    Unknown,
}

#[derive(Clone, Debug)]
enum Op {
    Read(State),
    Cas {
        expect: Option<i64>,
        new: (i64, u64),
        outcome: Outcome,
    },
}

/// An operation as its caller saw it.
type Event = storage_core::testkit::history::Event<Op>;

/// The states an operation may leave behind when applied to `state`.
fn step(state: State, op: &Op) -> Vec<State> {
    let rev = state.map(|(r, _)| r);
    match op {
        Op::Read(seen) => {
            if *seen == state {
                vec![state]
            } else {
                vec![]
            }
        }
        Op::Cas {
            expect,
            new,
            outcome: Outcome::Applied,
        } => {
            if rev == *expect {
                vec![Some(*new)]
            } else {
                vec![]
            }
        }
        Op::Cas {
            expect,
            outcome: Outcome::Rejected(seen),
            ..
        } => {
            if rev != *expect && rev == *seen {
                vec![state]
            } else {
                vec![]
            }
        }
        Op::Cas {
            expect,
            new,
            outcome: Outcome::Unknown,
        } => {
            if rev == *expect {
                vec![Some(*new), state]
            } else {
                vec![state]
            }
        }
    }
}

/// Whether some order of the events that respects real time (an event
/// that returned before another was called comes first) explains every
/// result from an absent register.
fn linearizable(history: &[Event]) -> bool {
    storage_core::testkit::history::is_linearizable(history, None, |state, op| step(*state, op))
}

#[test]
fn the_checker_rejects_a_stale_read_and_accepts_a_concurrent_one() {
    let write = Event {
        call: 0,
        ret: Some(10),
        op: Op::Cas {
            expect: None,
            new: (1, 7),
            outcome: Outcome::Applied,
        },
    };
    let stale = Event {
        call: 20,
        ret: Some(30),
        op: Op::Read(None),
    };
    assert!(!linearizable(&[write.clone(), stale]));
    let concurrent = Event {
        call: 5,
        ret: Some(30),
        op: Op::Read(None),
    };
    assert!(linearizable(&[write.clone(), concurrent]));
    let double = Event {
        call: 0,
        ret: Some(10),
        op: Op::Cas {
            expect: None,
            new: (1, 8),
            outcome: Outcome::Applied,
        },
    };
    assert!(
        !linearizable(&[write.clone(), double]),
        "two writers cannot both create revision 1"
    );
    let unknown = Event {
        call: 0,
        ret: None,
        op: Op::Cas {
            expect: Some(1),
            new: (2, 9),
            outcome: Outcome::Unknown,
        },
    };
    let later = Event {
        call: 50,
        ret: Some(60),
        op: Op::Read(Some((2, 9))),
    };
    assert!(
        linearizable(&[write, unknown, later]),
        "an unknown outcome may take effect later"
    );
}

/// One register under test, as the clients use it: each call is recorded
/// in the history; `None` when the call failed definitely (nothing was
/// changed) and is left out of it.
trait Register: Send + Sync + 'static {
    /// A SERIAL read.
    fn serial_read(&self) -> impl Future<Output = Option<State>> + Send;
    /// An LWT from revision `expect` (absent: create) to `new`.
    fn cas(
        &self,
        expect: Option<i64>,
        new: (i64, u64),
    ) -> impl Future<Output = Option<Outcome>> + Send;
}

/// The register through the real driver.
struct Workload {
    session: Session,
    insert: PreparedStatement,
    update: PreparedStatement,
    read: PreparedStatement,
    start: Instant,
    history: Mutex<Vec<Event>>,
}

impl Workload {
    fn now(&self) -> u128 {
        self.start.elapsed().as_nanos()
    }
}

impl Register for Workload {
    async fn serial_read(&self) -> Option<State> {
        let call = self.now();
        let result = self
            .session
            .execute_unpaged(&self.read, ("register",))
            .await
            .ok()?;
        let ret = self.now();
        let rows = result.into_rows_result().ok()?;
        let state = rows
            .maybe_first_row::<(i64, Vec<u8>)>()
            .ok()?
            .map(|(rev, value)| (rev, nonce_of(&value)));
        self.history.lock().push(Event {
            call,
            ret: Some(ret),
            op: Op::Read(state),
        });
        Some(state)
    }

    async fn cas(&self, expect: Option<i64>, new: (i64, u64)) -> Option<Outcome> {
        let value = new.1.to_be_bytes().to_vec();
        let call = self.now();
        let result = match expect {
            None => {
                self.session
                    .execute_unpaged(&self.insert, ("register", new.0, value))
                    .await
            }
            Some(rev) => {
                self.session
                    .execute_unpaged(&self.update, (new.0, value, "register", rev))
                    .await
            }
        };
        let ret = self.now();
        if result.as_ref().is_err_and(refused_before_any_replica) {
            // Nothing changed: with the call left out of the history, the
            // checker fails if it did change something.
            return None;
        }
        let outcome = match result
            .ok()
            .and_then(|r| r.into_rows_result().ok())
            .and_then(|r| r.first_row::<Row>().ok())
        {
            Some(row) => match row.columns.as_slice() {
                [Some(CqlValue::Boolean(true))] => Outcome::Applied,
                [Some(CqlValue::Boolean(false))] => Outcome::Rejected(None),
                [Some(CqlValue::Boolean(false)), ..] => Outcome::Rejected(reported_rev(&row)),
                other => panic!("unexpected LWT result {other:?}"),
            },
            None => Outcome::Unknown,
        };
        let ret = (outcome != Outcome::Unknown).then_some(ret);
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

/// True for the errors of an LWT that no replica accepted: the coordinator
/// refused it (too few replicas alive, overloaded, starting). Timeouts and
/// broken connections stay unknown.
fn refused_before_any_replica(e: &scylla::errors::ExecutionError) -> bool {
    use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
    matches!(
        e,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::Unavailable { .. } | DbError::Overloaded | DbError::IsBootstrapping,
            _
        ))
    )
}

/// The `rev` column of a not-applied LWT: `[applied], rev` for the update,
/// `[applied], name, rev, value` for the insert.
fn reported_rev(row: &Row) -> Option<i64> {
    row.columns.iter().skip(1).find_map(|c| match c {
        Some(CqlValue::BigInt(rev)) => Some(*rev),
        _ => None,
    })
}

fn nonce_of(value: &[u8]) -> u64 {
    u64::from_be_bytes(value.try_into().unwrap())
}

async fn statement(s: &Session, cql: &str, consistency: Consistency) -> PreparedStatement {
    let mut p = s.prepare(cql).await.unwrap();
    p.set_consistency(consistency);
    p.set_serial_consistency(Some(SerialConsistency::Serial));
    p.set_retry_policy(Some(no_retry()));
    p
}

fn inject_faults(sim: &SimCluster) {
    let f = sim.faults();
    let user = |fault: Fault| fault.when_query_contains("lin.accrete_roots");
    for phase in [
        Phase::Prepare,
        Phase::Propose,
        Phase::Commit,
        Phase::PaxosRead,
    ] {
        f.inject(user(
            Fault::new(FaultKind::DelayMessage(phase, Duration::from_millis(1)))
                .with_probability(0.2),
        ));
        f.inject(user(
            Fault::new(FaultKind::DelayMessage(phase, Duration::from_millis(15)))
                .with_probability(0.05),
        ));
        f.inject(user(
            Fault::new(FaultKind::DropMessage(phase)).with_probability(0.03),
        ));
    }
    for accepted in [Accepted::ByQuorum, Accepted::ByOne, Accepted::ByNone] {
        f.inject(user(
            Fault::new(FaultKind::CasWriteTimeout(accepted)).with_probability(0.03),
        ));
    }
    f.inject(user(
        Fault::new(FaultKind::ReadTimeout).with_probability(0.03),
    ));
    f.inject(user(
        Fault::new(FaultKind::SlowResponse(Duration::from_millis(10))).with_probability(0.03),
    ));
    f.inject(user(
        Fault::new(FaultKind::DropConnection(DropPoint::AfterExecute)).with_probability(0.005),
    ));
}

/// Issues `ops` operations that reach the cluster; failed reads (which
/// change nothing) are retried after a pause, so a dropped connection has
/// time to be re-established.
async fn client(work: Arc<impl Register>, id: u64, ops: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ id);
    let mut known: Option<State> = None;
    let mut seq = 0;
    while seq < ops {
        if known.is_none() || rng.random_bool(0.3) {
            match work.serial_read().await {
                Some(state) => {
                    known = Some(state);
                    seq += 1;
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        }
        seq += 1;
        let current = known.flatten();
        let expect = current.map(|(rev, _)| rev);
        let new = (expect.unwrap_or(0) + 1, id << 32 | seq);
        known = match work.cas(expect, new).await {
            Some(Outcome::Applied) => Some(Some(new)),
            Some(Outcome::Rejected(_) | Outcome::Unknown) | None => None,
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
    }
}

/// Takes one replica at a time down for a moment, so quorums stay possible.
async fn flap_replicas(sim: &SimCluster, seed: u64, until: Arc<std::sync::atomic::AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !until.load(std::sync::atomic::Ordering::SeqCst) {
        let replica = rng.random_range(0..3);
        sim.replica_down(replica);
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..40))).await;
        sim.replica_up(replica);
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..40))).await;
    }
}

async fn run_history(seed: u64, clients: u64, ops: u64) {
    let sim = start(SimConfig {
        seed,
        ..SimConfig::default()
    })
    .await;
    let session = common::session(&sim).await;
    roots_table(&session, "lin").await;
    let work = Arc::new(Workload {
        insert: statement(&session, INSERT, Consistency::Quorum).await,
        update: statement(&session, UPDATE, Consistency::Quorum).await,
        read: statement(&session, READ, Consistency::Serial).await,
        session,
        start: Instant::now(),
        history: Mutex::new(Vec::new()),
    });
    inject_faults(&sim);
    let last = drive(&sim, &work, seed, clients, ops).await;
    let history = work.history.lock().clone();
    check(&history, last, sim.faults().log().len(), seed);
    sim.shutdown().await;
}

/// Runs the clients and the replica flapping on `work` to the end, then
/// clears the faults and returns the register's final state.
async fn drive(
    sim: &SimCluster,
    work: &Arc<impl Register>,
    seed: u64,
    clients: u64,
    ops: u64,
) -> State {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(client(Arc::clone(work), id, ops, seed)))
        .collect();
    let flapping = flap_replicas(sim, seed, Arc::clone(&stop));
    let all_done = async {
        for worker in workers {
            worker.await.unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    within(300, async { tokio::join!(flapping, all_done) }).await;
    // One last linearizable read settles the register after all the faults.
    sim.faults().clear();
    within(30, async {
        loop {
            if let Some(state) = work.serial_read().await {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

fn check(history: &[Event], last: State, faults_fired: usize, seed: u64) {
    if let Err(why) = verdict(history, last, faults_fired, seed) {
        panic!("{why}");
    }
}

/// Whether a history passes: no revision with two winners, enough
/// happened, the final state accounts for every win, and it is
/// linearizable.
fn verdict(history: &[Event], last: State, faults_fired: usize, seed: u64) -> Result<(), String> {
    let mut winners: HashMap<i64, u64> = HashMap::new();
    for event in history {
        if let Op::Cas {
            new: (rev, nonce),
            outcome: Outcome::Applied,
            ..
        } = &event.op
            && let Some(other) = winners.insert(*rev, *nonce)
        {
            return Err(format!(
                "seed {seed}: writers {other:#x} and {nonce:#x} both won revision {rev}"
            ));
        }
    }
    let applied = winners.len();
    let unknown = history.iter().filter(|e| e.ret.is_none()).count();
    eprintln!(
        "seed {seed}: {} events, {applied} CAS applied, {unknown} unknown, {faults_fired} faults fired",
        history.len()
    );
    if applied <= 3 {
        return Err(format!("seed {seed}: only {applied} CAS applied"));
    }
    if faults_fired == 0 {
        return Err(format!("seed {seed}: no fault fired"));
    }
    if last.is_none_or(|(rev, _)| (rev as usize) < applied) {
        return Err(format!(
            "seed {seed}: final state {last:?} after {applied} wins"
        ));
    }
    if !linearizable(history) {
        return Err(format!(
            "seed {seed}: history of {} events ({unknown} unknown) is not linearizable: {history:#?}",
            history.len()
        ));
    }
    Ok(())
}

fn long_run() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cas_under_faults_is_linearizable() {
    let (seeds, clients, ops) = if long_run() {
        (0..20, 12, 80)
    } else {
        (0..1, 6, 25)
    };
    for seed in seeds {
        run_history(seed, clients, ops).await;
    }
}

/// The register in process (see the module docs): events are stamped by
/// a logical clock that ticks at every call and return, which on one
/// thread orders them exactly as they happened.
struct LocalRegister {
    session: LocalSession,
    clock: AtomicU64,
    history: Mutex<Vec<Event>>,
}

impl LocalRegister {
    fn now(&self) -> u128 {
        u128::from(self.clock.fetch_add(1, Ordering::SeqCst))
    }

    fn record(&self, call: u128, ret: Option<u128>, op: Op) {
        self.history.lock().push(Event { call, ret, op });
    }
}

impl Register for LocalRegister {
    async fn serial_read(&self) -> Option<State> {
        let call = self.now();
        let key = [Value::Text("register".into())];
        let result = self
            .session
            .execute(
                READ,
                &key,
                cql_sim::Consistency::Serial,
                cql_sim::Consistency::Serial,
            )
            .await
            .ok()?;
        let ret = self.now();
        let LocalResult::Rows { rows, .. } = result else {
            panic!("a SELECT returned no rows result: {result:?}");
        };
        let state = rows.first().map(|row| match row.as_slice() {
            [Some(Value::BigInt(rev)), Some(Value::Blob(value))] => (*rev, nonce_of(value)),
            other => panic!("unexpected register row {other:?}"),
        });
        self.record(call, Some(ret), Op::Read(state));
        Some(state)
    }

    async fn cas(&self, expect: Option<i64>, new: (i64, u64)) -> Option<Outcome> {
        let key = Value::Text("register".into());
        let value = Value::Blob(new.1.to_be_bytes().to_vec());
        let (query, values) = match expect {
            None => (INSERT, vec![key, Value::BigInt(new.0), value]),
            Some(rev) => (
                UPDATE,
                vec![Value::BigInt(new.0), value, key, Value::BigInt(rev)],
            ),
        };
        let call = self.now();
        let result = self
            .session
            .execute(
                query,
                &values,
                cql_sim::Consistency::Quorum,
                cql_sim::Consistency::Serial,
            )
            .await;
        let ret = self.now();
        let outcome = match result {
            Ok(LocalResult::Rows { columns, rows }) => lwt_outcome(&columns, &rows),
            // Definite failures, before anything of ours was proposed: too
            // few replicas, or the Paxos read timed out. Left out of the
            // history, the checker fails if they changed something.
            Err(LocalError::Cql(CqlError::Unavailable { .. } | CqlError::ReadTimeout { .. })) => {
                return None;
            }
            Err(LocalError::Cql(CqlError::WriteTimeout { .. }) | LocalError::ConnectionDropped) => {
                Outcome::Unknown
            }
            other => panic!("unexpected LWT answer {other:?}"),
        };
        let ret = (outcome != Outcome::Unknown).then_some(ret);
        let op = Op::Cas {
            expect,
            new,
            outcome: outcome.clone(),
        };
        self.record(call, ret, op);
        Some(outcome)
    }
}

/// `[applied]`, and when not applied the `rev` the LWT reported.
fn lwt_outcome(columns: &[String], rows: &[Vec<Option<Value>>]) -> Outcome {
    let row = rows.first().expect("an LWT answers one row");
    let column = |name: &str| {
        let at = columns.iter().position(|c| c == name)?;
        row.get(at).cloned().flatten()
    };
    match column("[applied]") {
        Some(Value::Boolean(true)) => Outcome::Applied,
        Some(Value::Boolean(false)) => Outcome::Rejected(match column("rev") {
            Some(Value::BigInt(rev)) => Some(rev),
            _ => None,
        }),
        other => panic!("unexpected [applied] {other:?}"),
    }
}

/// What one deterministic run produced.
#[derive(Debug, PartialEq)]
struct Run {
    history: String,
    faults: String,
    verdict: Result<(), String>,
}

/// One deterministic run of `clients` × `ops` operations from `seed`,
/// with SERIAL reads answered by one replica when `broken`.
fn deterministic_run(seed: u64, clients: u64, ops: u64, broken: bool) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = SimCluster::start(SimConfig {
            seed,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let setup = sim.local_session();
        for cql in [
            "CREATE KEYSPACE lin WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
            "CREATE TABLE lin.accrete_roots (name text PRIMARY KEY, rev bigint, value blob)",
        ] {
            let all = cql_sim::Consistency::All;
            setup.execute(cql, &[], all, cql_sim::Consistency::Serial).await.unwrap();
        }
        inject_faults(&sim);
        if broken {
            sim.faults().inject(
                Fault::new(FaultKind::SerialReadFromOne).when_query_contains("lin.accrete_roots"),
            );
        }
        let work = Arc::new(LocalRegister {
            session: sim.local_session(),
            clock: AtomicU64::new(0),
            history: Mutex::new(Vec::new()),
        });
        let last = drive(&sim, &work, seed, clients, ops).await;
        let history = work.history.lock().clone();
        let faults = sim.faults().log();
        let verdict = verdict(&history, last, faults.len(), seed);
        sim.shutdown().await;
        Run {
            history: format!("{history:?} {last:?}"),
            faults: format!("{faults:?}"),
            verdict,
        }
    })
}

/// The seeds of a deterministic test: `ACCRETE_SEED` alone when set, else
/// `default` of them (`long` with `ACCRETE_LONG=1`).
fn seeds(default: u64, long: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("ACCRETE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    (0..if long_run() { long } else { default }).collect()
}

/// Clients × operations of a deterministic run. Larger histories that
/// are not linearizable take the checker's search minutes and gigabytes
/// to refute, so long runs add seeds rather than size.
fn deterministic_size() -> (u64, u64) {
    if long_run() { (8, 36) } else { (6, 30) }
}

#[test]
fn deterministic_runs_under_faults_are_linearizable() {
    let (clients, ops) = deterministic_size();
    for seed in seeds(16, 200) {
        let run = deterministic_run(seed, clients, ops, false);
        if let Err(why) = run.verdict {
            panic!("replay with ACCRETE_SEED={seed}: {why}");
        }
    }
}

#[test]
fn a_seed_replays_its_history_exactly() {
    let (clients, ops) = deterministic_size();
    for seed in seeds(2, 10) {
        let first = deterministic_run(seed, clients, ops, false);
        let again = deterministic_run(seed, clients, ops, false);
        assert!(
            first == again,
            "seed {seed} did not replay: {first:?}\n{again:?}"
        );
    }
    let other = deterministic_run(1_000_003, clients, ops, false);
    let first = deterministic_run(0, clients, ops, false);
    assert_ne!(first.history, other.history, "the seed decides nothing");
}

/// The planted bug of issue 27 (SERIAL reads answered by one replica) is
/// caught by the seeds of every default run of
/// `deterministic_runs_under_faults_are_linearizable`: about 2 seeds in 5
/// catch it on their own (76 of seeds 0..200, 8 of the default 16), so 16
/// seeds drawn at random would miss it with a chance of about 0.62^16, or
/// 1 in 2,000; the default seeds, being fixed, never do.
#[test]
fn deterministic_runs_catch_serial_reads_from_one_replica() {
    let (clients, ops) = (6, 30);
    let seeds = seeds(16, 200);
    let mut caught = Vec::new();
    for &seed in &seeds {
        if let Err(why) = deterministic_run(seed, clients, ops, true).verdict {
            let why: String = why.chars().take(60).collect();
            eprintln!("caught: {why}");
            caught.push(seed);
        }
    }
    eprintln!(
        "one-replica SERIAL reads caught by {} of {} seeds: {caught:?}",
        caught.len(),
        seeds.len()
    );
    assert!(
        !caught.is_empty(),
        "no seed caught one-replica SERIAL reads"
    );
}
