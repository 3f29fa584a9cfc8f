//! Failover with the default lease settings, as an operator runs it: a
//! primary and a standby `accrete transactor` on one database, writers
//! committing in a loop under transaction ids (resubmitting after a
//! failover), `kill -9` of whichever transactor is active, again and again
//! (the killed one comes back as the new standby). Afterwards every
//! acknowledged transaction is in the log exactly once, at the t it was
//! acknowledged with, none answered "not committed" is there, and no id is
//! there twice; and each failover took less than 2 s.
//!
//! Per backend: file, PostgreSQL (a private server), the Cassandra
//! simulator. 4 kills each by default; `ACCRETE_LONG=1` makes it 50.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::failover::{Pair, Writers, check, kill_rounds, percentile};
use common::*;

fn kills() -> usize {
    match std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1") {
        true => 50,
        false => 4,
    }
}

/// Room for a loaded test machine (2 cores shared with builds): the figure
/// with the default 1 s ttl is about 0.7–1.3 s, and its p99 is what the
/// `failover` bench reports; with the 10 s ttl before, it fails (9.5–10 s).
const FAILOVER_LIMIT: Duration = Duration::from_secs(5);

async fn failover_loses_nothing_and_duplicates_nothing(uri: &str, seed: u64) {
    let mut pair = Pair::start(uri, &[]).await;
    let writers = Writers::start(&pair, 3);
    let times = kill_rounds(
        &mut pair,
        &writers,
        kills(),
        Duration::from_millis(500),
        seed,
    )
    .await;
    let fates = writers.stop().await;
    let checked = check(&pair.storage, &pair.db, &fates).await;
    let mut sorted = times.clone();
    sorted.sort();
    eprintln!(
        "{uri}: {} kills; failover p50 {:?}, max {:?}; {checked:?}",
        times.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 100.0)
    );
    assert!(checked.acked > 0, "nothing was acknowledged");
    assert_eq!(
        checked.unknown, 0,
        "writers gave up with an unknown outcome: {:?}",
        fates.unknown
    );
    assert_eq!(checked.refused, 0, "refused: {:?}", fates.refused);
    assert!(
        percentile(&sorted, 100.0) < FAILOVER_LIMIT,
        "failover times {times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_file() {
    let dir = tempfile::tempdir().unwrap();
    failover_loses_nothing_and_duplicates_nothing(&file_uri(dir.path(), "fo"), 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_postgres() {
    failover_loses_nothing_and_duplicates_nothing(&postgres_uri("fo").await, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_the_cassandra_simulator() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let uri = cluster.scratch_uri("fo").await.unwrap();
    failover_loses_nothing_and_duplicates_nothing(&uri, 11).await;
}

/// A client whose submission got no answer (its transactor froze), and
/// whose later tries all fail (the transactor died and nobody took over),
/// gives up with "outcome unknown", never with the last try's
/// "unavailable", which would claim the transaction was not committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_after_an_unanswered_submission_says_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "unknown");
    ok(&["create-db", &uri], "");
    let (storage, db) = open(&uri).await;
    // A client waits at most 2 ttl (at least 1 s) for an answer.
    let mut frozen = TransactorProcess::start(&uri, &["--lease-ttl", "0.5"]);
    while transactor::client::Client::connect_by_lease(storage.as_ref(), &db)
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    frozen.signal("-STOP");
    let submit = tokio::spawn({
        let (storage, db) = (storage.clone(), db.clone());
        async move {
            transactor::client::Client::transact_by_lease(
                storage.as_ref(),
                &db,
                "[[:db/add \"x\" :db/doc \"x\"]]",
                uuid::Uuid::new_v4(),
                Duration::from_secs(3),
            )
            .await
        }
    });
    // The first try goes unanswered; then the transactor dies, its lease
    // names a dead endpoint, and every later try is refused.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    frozen.kill9();
    let err = submit.await.unwrap().expect_err("nobody can commit it");
    assert_eq!(err.kind(), transactor::ErrorKind::OutcomeUnknown, "{err}");
    assert!(!err.not_committed(), "{err}");
}
