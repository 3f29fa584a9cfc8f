//! Failover with real processes, shared by `tests/failover.rs` and
//! `benches/failover.rs`: two `accrete transactor` processes on one
//! database (one active, one standing by), writers committing in a loop
//! under transaction ids through [`Client::transact_by_lease`], `kill -9`
//! of whichever transactor is active (restarted as the new standby), and a
//! check of the log against what every writer was told.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use model::Value;
use model::schema::bootstrap::TX_ID;
use parking_lot::Mutex;
use storage_core::{DbName, Storage};
use tokio::task::JoinHandle;
use transactor::client::Client;
use uuid::Uuid;

use super::{TransactorProcess, accrete, code, open, stderr};

const SCHEMA: &str =
    "[{:db/ident :load/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

/// How long a writer keeps resubmitting one transaction.
const PATIENCE: Duration = Duration::from_secs(60);

/// The transaction of writer number `n`: a new entity (no upsert, so a
/// second commit would be a second entity, and a second `:tx/id`).
fn tx(n: u64) -> String {
    format!("[{{:db/id \"e\" :load/n {n}}}]")
}

/// What the writers were told, per transaction id.
#[derive(Default)]
pub struct Fates {
    /// Committed at t.
    pub acked: Vec<(Uuid, u64)>,
    /// Refused as not committed.
    pub refused: Vec<(Uuid, String)>,
    /// Outcome unknown when the writer gave up.
    pub unknown: Vec<(Uuid, String)>,
}

/// Two transactor processes serving one database.
pub struct Pair {
    pub uri: String,
    pub storage: Arc<dyn Storage>,
    pub db: DbName,
    extra: Vec<String>,
    procs: Vec<TransactorProcess>,
}

impl Pair {
    /// Creates the database at `uri`, starts a transactor (`accrete
    /// transactor URI EXTRA…`), waits until it serves, and starts a second
    /// one that stands by.
    pub async fn start(uri: &str, extra: &[&str]) -> Pair {
        let created = accrete(&["create-db", uri], "");
        assert_eq!(code(&created), 0, "create-db: {}", stderr(&created));
        let schema = accrete(&["transact", uri], SCHEMA);
        assert_eq!(code(&schema), 0, "schema: {}", stderr(&schema));
        let (storage, db) = open(uri).await;
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut pair = Pair {
            uri: uri.to_string(),
            storage,
            db,
            extra,
            procs: Vec::new(),
        };
        pair.spawn();
        pair.wait_serving(Duration::from_secs(30)).await;
        pair.spawn();
        pair
    }

    fn spawn(&mut self) {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.procs.push(TransactorProcess::start(&self.uri, &extra));
    }

    /// Waits until the transactor the lease names answers.
    async fn wait_serving(&self, within: Duration) {
        let started = Instant::now();
        while Client::connect_by_lease(self.storage.as_ref(), &self.db)
            .await
            .is_err()
        {
            assert!(started.elapsed() < within, "no transactor serves");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process the lease names now.
    async fn active(&self) -> Option<usize> {
        let lease = transactor::lease::read_lease(self.storage.as_ref(), &self.db)
            .await
            .ok()??;
        let endpoint = lease.holder?.endpoint()?.to_string();
        self.procs.iter().position(|p| p.endpoint == endpoint)
    }

    /// `kill -9` of the active transactor; returns when it is dead, and
    /// which one it was.
    pub async fn kill_active(&mut self) -> usize {
        let started = Instant::now();
        loop {
            if let Some(i) = self.active().await {
                self.procs[i].kill9();
                return i;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no transactor holds the lease"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts transactor `i` (killed) again, as the new standby.
    pub fn restart(&mut self, i: usize) {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.procs[i] = TransactorProcess::start(&self.uri, &extra);
    }
}

/// Writers committing in a loop until stopped.
pub struct Writers {
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
    pub fates: Arc<Mutex<Fates>>,
}

impl Writers {
    /// Starts `count` writers on `pair`'s database.
    pub fn start(pair: &Pair, count: usize) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(1));
        let fates = Arc::new(Mutex::new(Fates::default()));
        let tasks = (0..count)
            .map(|_| {
                let (storage, db) = (pair.storage.clone(), pair.db.clone());
                let (stop, next, fates) = (stop.clone(), next.clone(), fates.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        commit(storage.as_ref(), &db, n, &fates).await;
                    }
                })
            })
            .collect();
        Writers {
            stop,
            next,
            tasks,
            fates,
        }
    }

    /// How many transactions were acknowledged so far.
    pub fn acked(&self) -> usize {
        self.fates.lock().acked.len()
    }

    /// Waits until `more` transactions beyond the ones acknowledged now
    /// are acknowledged.
    pub async fn wait_for_more(&self, more: usize, within: Duration) {
        let (from, started) = (self.acked(), Instant::now());
        while self.acked() < from + more {
            assert!(
                started.elapsed() < within,
                "no commits for {within:?} ({} acknowledged)",
                self.acked()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// One more transaction, sent now by a new client: how long until it
    /// is committed (through whichever transactor serves by then).
    pub async fn probe(&self, pair: &Pair) -> Duration {
        let started = Instant::now();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        commit(pair.storage.as_ref(), &pair.db, n, &self.fates).await;
        started.elapsed()
    }

    /// Stops the writers once their transactions in flight are answered.
    pub async fn stop(self) -> Fates {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a writer panicked");
        }
        std::mem::take(&mut *self.fates.lock())
    }
}

/// `kills` rounds of: commits through the active transactor, `kill -9` of
/// it at a random moment, a new client's first commit through the standby
/// timed from the kill, the killed one restarted as the new standby (and
/// given `settle` to be up before the next kill). The failover times.
pub async fn kill_rounds(
    pair: &mut Pair,
    writers: &Writers,
    kills: usize,
    settle: Duration,
    seed: u64,
) -> Vec<Duration> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut times = Vec::with_capacity(kills);
    for _ in 0..kills {
        writers.wait_for_more(3, Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..200))).await;
        let killed = pair.kill_active().await;
        times.push(writers.probe(pair).await);
        pair.restart(killed);
        tokio::time::sleep(settle).await;
    }
    times
}

/// Commits transaction `n` under a fresh id and records what it was told.
async fn commit(storage: &dyn Storage, db: &DbName, n: u64, fates: &Mutex<Fates>) {
    let id = Uuid::new_v4();
    match Client::transact_by_lease(storage, db, &tx(n), id, PATIENCE).await {
        Ok(committed) => fates.lock().acked.push((id, committed.t())),
        Err(e) if e.not_committed() => fates.lock().refused.push((id, e.to_string())),
        Err(e) => fates.lock().unknown.push((id, e.to_string())),
    }
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Checked {
    /// Transactions in the log carrying a writer's id.
    pub logged: usize,
    /// Acknowledged transactions (each found once, at its t).
    pub acked: usize,
    /// Transactions answered "not committed" (each absent).
    pub refused: usize,
    /// Unknown outcomes, and how many of them are in the log (once).
    pub unknown: usize,
    pub unknown_committed: usize,
}

/// Reads the whole log of `db` and checks it against `fates`: every
/// acknowledged id exactly once at the t it was acknowledged with, every
/// refused id absent, no id twice.
pub async fn check(storage: &Arc<dyn Storage>, db: &DbName, fates: &Fates) -> Checked {
    let seg = index::Segments::new(storage.clone(), index::SegmentCache::new(64 << 20).unwrap());
    let value = index::open_db(&seg, db).await.unwrap().db;
    let logged = tokio::task::spawn_blocking(move || {
        let mut logged: HashMap<Uuid, Vec<u64>> = HashMap::new();
        for entry in value.tx_range(None, None).unwrap() {
            let entry = entry.unwrap();
            for d in entry.data.iter().filter(|d| d.a() == TX_ID) {
                if let Value::Uuid(id) = d.v() {
                    logged.entry(*id).or_default().push(entry.t);
                }
            }
        }
        logged
    })
    .await
    .unwrap();
    for (id, ts) in &logged {
        assert_eq!(
            ts.len(),
            1,
            "transaction {id} committed more than once: at t {ts:?}"
        );
    }
    for (id, t) in &fates.acked {
        assert_eq!(
            logged.get(id),
            Some(&vec![*t]),
            "transaction {id} was acknowledged at t {t}"
        );
    }
    for (id, why) in &fates.refused {
        assert!(
            !logged.contains_key(id),
            "transaction {id} was answered `{why}` but it is in the log"
        );
    }
    let unknown_committed = fates
        .unknown
        .iter()
        .filter(|(id, _)| logged.contains_key(id))
        .count();
    Checked {
        logged: logged.len(),
        acked: fates.acked.len(),
        refused: fates.refused.len(),
        unknown: fates.unknown.len(),
        unknown_committed,
    }
}

/// Failover times, sorted: the p-th percentile (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
