//! Transactor processes killed and frozen: `kill -9` at random instants
//! while clients commit (every acknowledged transaction survives, none is
//! half there), and a frozen (SIGSTOP) transactor deposed by a standby
//! process can never commit again. `ACCRETE_LONG=1` runs many more rounds.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use storage_core::{DbName, Storage};
use transactor::client::Client;

const SCHEMA: &str = r#"[{:db/ident :test/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :test/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
  {:db/ident :test/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

fn marked(n: u64) -> String {
    format!("[{{:db/id \"e\" :test/id {n} :test/a {n} :test/b {n}}}]")
}

fn long() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

/// What the clients sent, and which transactions they heard committed.
#[derive(Default)]
struct Ledger {
    sent: Vec<u64>,
    acked: Vec<u64>,
}

/// How many of entity `n`'s three attributes the database holds.
fn parts_of(db: &model::Db, n: u64) -> usize {
    use model::{Index, Value};
    let found = db
        .datoms(
            Index::Avet,
            &[Value::keyword(":test/id"), Value::Long(n as i64)],
        )
        .unwrap()
        .next()
        .map(|d| d.unwrap().e());
    found.map_or(0, |e| {
        db.datoms(Index::Eavt, &[Value::Ref(e)]).unwrap().count()
    })
}

/// Clients commit through the transactor at `endpoint` until it dies.
async fn load(
    storage: Arc<dyn Storage>,
    endpoint: String,
    db: DbName,
    ledger: Arc<Mutex<Ledger>>,
    clients: u64,
    base: u64,
) {
    let tasks = (0..clients).map(|c| {
        let (storage, endpoint, db, ledger) = (
            storage.clone(),
            endpoint.clone(),
            db.clone(),
            ledger.clone(),
        );
        tokio::spawn(async move {
            // A new transactor serves once its predecessor's lease lapsed.
            let Ok(client) = connect_when_serving(storage.as_ref(), &endpoint, &db).await else {
                return;
            };
            for i in 0.. {
                let n = base + c * 100_000 + i;
                ledger.lock().sent.push(n);
                match client.transact(&marked(n)).await {
                    Ok(_) => ledger.lock().acked.push(n),
                    Err(_) => return,
                }
            }
        })
    });
    for task in tasks.collect::<Vec<_>>() {
        let _ = task.await;
    }
}

/// A client of the transactor at `endpoint` once the lease of `db` names
/// it and it serves (within 20 s), or the last failure if it died first.
async fn connect_when_serving(
    storage: &dyn Storage,
    endpoint: &str,
    db: &DbName,
) -> Result<Client, String> {
    let mut last = String::from("no attempt");
    // Failures while the lease names `endpoint`, in a row: a dead process
    // after a second of them, a storage slow under load before that.
    let mut dead_for = 0;
    for _ in 0..400 {
        match Client::connect_by_lease(storage, db).await {
            Ok(client) if client.endpoint() == endpoint => return Ok(client),
            Ok(client) => {
                last = format!("the lease names {}", client.endpoint());
                dead_for = 0;
            }
            Err(e) => {
                let ours = advertised(storage, db).await.as_deref() == Some(endpoint);
                dead_for = match e.kind() != transactor::ErrorKind::NotServing && ours {
                    true => dead_for + 1,
                    false => 0,
                };
                last = e.to_string();
                if dead_for >= 20 {
                    return Err(format!("the lease names it but it does not answer: {last}"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last)
}

/// The endpoint the lease of `db` names now.
async fn advertised(storage: &dyn Storage, db: &DbName) -> Option<String> {
    let lease = transactor::lease::read_lease(storage, db).await.ok()??;
    lease.holder?.endpoint().map(str::to_string)
}

/// Reopens the database from storage and checks the ledger against it.
async fn check(storage: &Arc<dyn Storage>, db: &DbName, ledger: &Ledger) {
    let seg = index::Segments::new(storage.clone(), index::SegmentCache::new(64 << 20).unwrap());
    let value = index::open_db(&seg, db).await.unwrap().db;
    let (sent, acked) = (ledger.sent.clone(), ledger.acked.clone());
    tokio::task::spawn_blocking(move || {
        for n in &acked {
            assert_eq!(
                parts_of(&value, *n),
                3,
                "acknowledged transaction {n} is missing"
            );
        }
        for n in &sent {
            let parts = parts_of(&value, *n);
            assert!(
                parts == 0 || parts == 3,
                "transaction {n} is half there ({parts} of 3)"
            );
        }
    })
    .await
    .unwrap();
}

async fn crash_rounds(uri: &str, rounds: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    assert_eq!(code(&accrete(&["create-db", uri], "")), 0);
    let (storage, db) = open(uri).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // A tiny indexing threshold, so kills also land in indexing jobs.
    let extra = [
        "--lease-ttl",
        "0.5",
        "--index-threshold",
        "300",
        "--novelty-cap",
        "100000",
    ];
    let mut acked_total = 0;
    let mut takeovers = Vec::new();
    for round in 0..rounds {
        let started = std::time::Instant::now();
        let mut transactor = TransactorProcess::start(uri, &extra);
        let endpoint = transactor.endpoint.clone();
        // It serves once the killed predecessor's lease lapsed (0.5 s).
        let client = connect_when_serving(storage.as_ref(), &endpoint, &db)
            .await
            .unwrap_or_else(|e| panic!("round {round}: the new transactor never served: {e}"));
        takeovers.push(started.elapsed());
        if round == 0 {
            client.transact(SCHEMA).await.unwrap();
        }
        let base = round as u64 * 10_000_000;
        let load = tokio::spawn(load(
            storage.clone(),
            endpoint,
            db.clone(),
            ledger.clone(),
            8,
            base,
        ));
        // Once this transactor commits, the kill lands anywhere in the next
        // second of commits and indexing jobs.
        tokio::time::timeout(Duration::from_secs(30), async {
            while ledger.lock().acked.len() == acked_total {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: the new transactor commits nothing"));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1000))).await;
        transactor.kill9();
        tokio::time::timeout(Duration::from_secs(60), load)
            .await
            .unwrap()
            .unwrap();
        acked_total = ledger.lock().acked.len();
    }
    takeovers.sort();
    eprintln!(
        "{uri}: time to serve after the previous kill: median {:?}, max {:?}",
        takeovers[takeovers.len() / 2],
        takeovers[takeovers.len() - 1]
    );
    let ledger = std::mem::take(&mut *ledger.lock());
    check(&storage, &db, &ledger).await;
    eprintln!(
        "{uri}: {rounds} kills, {} transactions sent, {} acknowledged, all acknowledged present, none half present",
        ledger.sent.len(),
        ledger.acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_commit_loses_nothing_acknowledged_on_file() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = if long() { 40 } else { 3 };
    crash_rounds(&file_uri(dir.path(), "crash"), rounds, 17).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_commit_loses_nothing_acknowledged_on_postgres() {
    let rounds = if long() { 40 } else { 3 };
    crash_rounds(&postgres_uri("crash").await, rounds, 29).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_commit_loses_nothing_acknowledged_on_the_cassandra_simulator() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let rounds = if long() { 40 } else { 3 };
    crash_rounds(&cluster.scratch_uri("crash").await.unwrap(), rounds, 43).await;
}

/// A transactor process frozen with SIGSTOP is deposed by a standby
/// process; resumed, it cannot commit: the transaction it was sent while
/// frozen fails as fenced (not committed) and is absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_transactor_process_is_fenced_by_its_standby() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "frozen");
    assert_eq!(code(&accrete(&["create-db", &uri], "")), 0);
    let (storage, db) = open(&uri).await;
    let extra = ["--lease-ttl", "1"];
    let first = TransactorProcess::start(&uri, &extra);
    let old = connect_when_serving(storage.as_ref(), &first.endpoint, &db)
        .await
        .unwrap();
    old.transact(SCHEMA).await.unwrap();
    old.transact(&marked(1)).await.unwrap();
    let standby = TransactorProcess::start(&uri, &extra);

    first.signal("-STOP");
    let pending = tokio::spawn(async move {
        let outcome = old.transact(&marked(2)).await;
        (old, outcome)
    });
    let new = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(client) = Client::connect_by_lease(storage.as_ref(), &db).await
                && client.endpoint() == standby.endpoint
            {
                return client;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the standby takes over within 30 s");
    new.transact(&marked(3)).await.unwrap();

    first.signal("-CONT");
    let (old, outcome) = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .unwrap()
        .unwrap();
    let err = outcome.expect_err("the frozen transactor must not commit");
    assert!(err.not_committed(), "{err}");
    let err = old.transact(&marked(4)).await.expect_err("nor later");
    assert!(err.not_committed(), "{err}");
    new.transact(&marked(5)).await.unwrap();

    let seg = index::Segments::new(storage.clone(), index::SegmentCache::new(64 << 20).unwrap());
    let value = index::open_db(&seg, &db).await.unwrap().db;
    let parts = tokio::task::spawn_blocking(move || {
        (1..=5).map(|n| parts_of(&value, n)).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(parts, vec![3, 0, 3, 0, 3]);
}
