//! A backup taken while an `accrete transactor` process commits what two
//! peers send (the scenario steps from one, a stream of other transactions
//! from the other), restored into another backend with `accrete
//! restore-db`: the restored database is at the backup's t, verifies
//! intact, and a peer reading it gets exactly the scenario answers of the
//! in-memory reference as of that t — current, history, as of and since
//! every t.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integration_tests::accrete::{self, TransactorProcess};
use integration_tests::scenario::{self, QUERIES, Reference, first_difference};
use integration_tests::stage::{Backend, DURABLE, Stage, blocking, within};
use model::TxReport;
use tokio::sync::Mutex;

/// True when the heavier variants run (`ACCRETE_LONG=1`).
fn long() -> bool {
    std::env::var("ACCRETE_LONG").as_deref() == Ok("1")
}

/// Committed transactions by t: their tx data and report.
type Commits = Arc<Mutex<BTreeMap<u64, (String, TxReport)>>>;

const LOAD_SCHEMA: &str =
    "[{:db/ident :load/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

async fn commit(conn: &peer::Connection, commits: &Commits, tx: String) -> u64 {
    let report = within("a transaction", conn.transact(&tx))
        .await
        .unwrap_or_else(|e| panic!("commit {tx}: {e}"));
    let t = report.t();
    commits.lock().await.insert(t, (tx, report));
    t
}

/// `accrete backup-db` of the source into `location`; the backup's t.
async fn backup(uri: &str, location: &Path) -> u64 {
    let (uri, location) = (uri.to_string(), location.display().to_string());
    let said = blocking(move || accrete::ok(&["backup-db", &uri, &location])).await;
    t_in(&said, "backed up ")
}

/// The t of `… at t=N …` on the line starting with `prefix`.
fn t_in(said: &str, prefix: &str) -> u64 {
    said.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.split("at t=").nth(1))
        .and_then(|rest| rest.split([' ', ',']).next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}… at t=N` in {said:?}"))
}

async fn backup_while_writing(source: Backend, target: Backend) {
    accrete::use_binary(env!("CARGO_BIN_EXE_accrete"));
    let label = format!("{source} -> {target}");
    let src = Stage::new(source, "news").await;
    let uri = src.uri.clone();
    let process = blocking(move || {
        TransactorProcess::start(&uri, &["--lease-ttl", "2", "--index-threshold", "150"])
    })
    .await;
    let (scenario_peer, load_peer) = (src.connect().await, src.connect().await);
    let commits = Commits::default();
    commit(&load_peer, &commits, LOAD_SCHEMA.to_string()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (stop, commits) = (stop.clone(), commits.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                commit(&load_peer, &commits, format!("[{{:load/n {n}}}]")).await;
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        }
    });
    let location = tempfile::tempdir().unwrap();
    let steps = scenario::steps();
    let mut backup_t = None;
    for (i, tx) in steps.iter().enumerate() {
        commit(&scenario_peer, &commits, tx.to_string()).await;
        if i == steps.len() - 3 {
            backup_t = Some(backup(&src.uri, location.path()).await);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let loaded = within("the writer", writer).await.unwrap();
    let basis = backup_t.unwrap();
    drop(process);
    assert!(loaded > 0, "{label}: the other peer wrote meanwhile");

    // The reference: every commit in t order; the scenario's ts up to the backup.
    let mut reference = Reference::default();
    let mut ts = Vec::new();
    for (t, (tx, report)) in commits.lock().await.iter() {
        reference.apply(tx, report);
        if steps.contains(&tx.as_str()) && *t <= basis {
            ts.push(*t);
        }
    }
    assert!(
        ts.len() >= steps.len() - 3,
        "{label}: the backup at t={basis} holds the first {} steps",
        ts.len()
    );

    let restored = Stage::empty(target, "news").await;
    let (location_text, target_uri) = (location.path().display().to_string(), restored.uri.clone());
    let said = blocking(move || {
        let said = accrete::ok(&["restore-db", &location_text, &target_uri]);
        let verified = accrete::run(&["verify-db", &target_uri]);
        assert!(verified.status.success(), "verify-db: {verified:?}");
        said
    })
    .await;
    assert_eq!(t_in(&said, "restored "), basis, "{label}: {said}");

    let db = restored.connect().await.db();
    let at_backup = reference.db.as_of(basis).unwrap();
    blocking(move || {
        assert_eq!(db.basis_t(), basis, "{label}");
        assert!(
            db.store().basis_t().is_some(),
            "{label}: the restored index segments are read"
        );
        let (difference, compared) = first_difference(&db, &at_backup, &ts);
        if let Some(difference) = difference {
            panic!("{label}, backup at t={basis}: {difference}");
        }
        assert_eq!(compared, QUERIES.len() * (2 + 3 * ts.len()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_file_restored_on_postgres() {
    backup_while_writing(Backend::File, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_postgres_restored_on_cassandra_simulator() {
    backup_while_writing(Backend::Postgres, Backend::Cassandra).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_cassandra_simulator_restored_on_file() {
    backup_while_writing(Backend::Cassandra, Backend::File).await;
}

/// The other six pairs of durable backends (each backend onto itself
/// included): the first of them (file onto file, a clone beside its
/// original) in the default run, all six with `ACCRETE_LONG=1` (the name
/// says what a default run covers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_file_onto_file_or_every_other_pair_when_long() {
    let covered = [
        (Backend::File, Backend::Postgres),
        (Backend::Postgres, Backend::Cassandra),
        (Backend::Cassandra, Backend::File),
    ];
    let others = DURABLE
        .into_iter()
        .flat_map(|source| DURABLE.into_iter().map(move |target| (source, target)))
        .filter(|pair| !covered.contains(pair));
    let pairs: Vec<_> = if long() {
        others.collect()
    } else {
        others.take(1).collect()
    };
    assert_eq!(pairs.len(), if long() { 6 } else { 1 });
    assert!(long() || pairs == [(Backend::File, Backend::File)]);
    for (source, target) in pairs {
        backup_while_writing(source, target).await;
    }
}
