//! Every injectable fault, observed through the real driver.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use cql_sim::{Accepted, DropPoint, Fault, FaultKind, Phase, SimCluster, SimConfig};
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError, WriteType};
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, Row};

/// A cluster with `lwt.accrete_roots` holding `head` at revision 1.
async fn with_root() -> (SimCluster, Session) {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    roots_table(&s, "lwt").await;
    run(
        &s,
        "INSERT INTO lwt.accrete_roots (name, rev, value) VALUES ('head', 1, 0x01) IF NOT EXISTS",
    )
    .await;
    (sim, s)
}

async fn prepared(s: &Session, cql: &str, consistency: Consistency) -> PreparedStatement {
    let mut p = s.prepare(cql).await.unwrap();
    p.set_consistency(consistency);
    p.set_retry_policy(Some(no_retry()));
    p
}

async fn bump(s: &Session, from: i64) -> Result<bool, ExecutionError> {
    let update = prepared(
        s,
        "UPDATE lwt.accrete_roots SET rev = ?, value = ? WHERE name = ? IF rev = ?",
        Consistency::Quorum,
    )
    .await;
    let result = s
        .execute_unpaged(&update, (from + 1, vec![9u8], "head", from))
        .await?;
    let row = result
        .into_rows_result()
        .unwrap()
        .first_row::<Row>()
        .unwrap();
    Ok(row.columns[0] == Some(CqlValue::Boolean(true)))
}

async fn rev_at(s: &Session, consistency: Consistency) -> i64 {
    let read = prepared(
        s,
        "SELECT rev FROM lwt.accrete_roots WHERE name = ?",
        consistency,
    )
    .await;
    let rows = s
        .execute_unpaged(&read, ("head",))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.first_row::<(i64,)>().unwrap().0
}

fn is_cas_timeout(e: &ExecutionError) -> bool {
    matches!(
        db_error(e),
        Some(DbError::WriteTimeout {
            write_type: WriteType::Cas,
            ..
        })
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_timeout_after_a_quorum_accepted_is_completed_by_a_serial_read() {
    let (sim, s) = with_root().await;
    sim.faults().inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByQuorum))
            .once()
            .when_query_contains("IF rev"),
    );
    let err = bump(&s, 1).await.unwrap_err();
    assert!(is_cas_timeout(&err), "{err:?}");
    assert_eq!(
        rev_at(&s, Consistency::Quorum).await,
        1,
        "accepted, not yet committed"
    );
    assert_eq!(
        rev_at(&s, Consistency::Serial).await,
        2,
        "the SERIAL read completed the proposal"
    );
    assert_eq!(rev_at(&s, Consistency::Quorum).await, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_timeout_accepted_by_no_one_never_applies() {
    let (sim, s) = with_root().await;
    sim.faults()
        .inject(Fault::new(FaultKind::CasWriteTimeout(Accepted::ByNone)).once());
    assert!(is_cas_timeout(&bump(&s, 1).await.unwrap_err()));
    assert_eq!(rev_at(&s, Consistency::Serial).await, 1);
    assert!(
        bump(&s, 1).await.unwrap(),
        "a retry of the same CAS applies"
    );
    assert_eq!(rev_at(&s, Consistency::Serial).await, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_timeout_accepted_by_one_replica_surfaces_only_when_a_quorum_includes_it() {
    let (sim, s) = with_root().await;
    sim.faults()
        .inject(Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne)).once());
    assert!(is_cas_timeout(&bump(&s, 1).await.unwrap_err()));
    sim.replica_down(0); // the replica that accepted (the first live one)
    assert_eq!(
        rev_at(&s, Consistency::Serial).await,
        1,
        "a quorum without the acceptor does not see it"
    );
    sim.replica_up(0);
    assert_eq!(
        rev_at(&s, Consistency::Serial).await,
        2,
        "a later round finds and commits the accepted proposal"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_propose_messages_leave_the_outcome_unknown() {
    let (sim, s) = with_root().await;
    sim.faults().inject(
        Fault::new(FaultKind::DropMessage(Phase::Propose))
            .on_replicas(&[1, 2])
            .times(2),
    );
    let err = bump(&s, 1).await.unwrap_err();
    assert!(is_cas_timeout(&err), "{err:?}");
    let log = sim.faults().log();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|e| e.kind == FaultKind::DropMessage(Phase::Propose))
    );
    // Replica 0 accepted: every later round with a quorum includes it here.
    assert_eq!(rev_at(&s, Consistency::Serial).await, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_commit_reaches_its_replica_late() {
    let (sim, s) = with_root().await;
    let delay = Duration::from_millis(300);
    sim.faults().inject(
        Fault::new(FaultKind::DelayMessage(Phase::Commit, delay))
            .on_replicas(&[2])
            .once(),
    );
    let insert = prepared(
        &s,
        "INSERT INTO lwt.accrete_roots (name, rev, value) VALUES (?, 1, 0x00) IF NOT EXISTS",
        Consistency::Quorum,
    )
    .await;
    s.execute_unpaged(&insert, ("late",)).await.unwrap();
    assert_eq!(
        sim.replica_live_rows(2, "lwt", "accrete_roots"),
        Some(1),
        "replica 2 has only `head` so far"
    );
    tokio::time::sleep(delay + Duration::from_millis(200)).await;
    assert_eq!(sim.replica_live_rows(2, "lwt", "accrete_roots"), Some(2));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_prepares_beyond_the_timeout_are_a_cas_timeout() {
    let config = SimConfig {
        request_timeout: Duration::from_millis(200),
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let s = session(&sim).await;
    roots_table(&s, "lwt").await;
    run(
        &s,
        "INSERT INTO lwt.accrete_roots (name, rev, value) VALUES ('head', 1, 0x01) IF NOT EXISTS",
    )
    .await;
    sim.faults().inject(
        Fault::new(FaultKind::DelayMessage(
            Phase::Prepare,
            Duration::from_millis(500),
        ))
        .on_replicas(&[0, 1])
        .times(2),
    );
    let err = bump(&s, 1).await.unwrap_err();
    assert!(
        matches!(
            db_error(&err),
            Some(DbError::WriteTimeout {
                write_type: WriteType::Cas,
                received: 1,
                required: 2,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(rev_at(&s, Consistency::Serial).await, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_timeouts() {
    let (sim, s) = with_root().await;
    sim.faults()
        .inject(Fault::new(FaultKind::ReadTimeout).once());
    let read = prepared(
        &s,
        "SELECT rev FROM lwt.accrete_roots WHERE name = ?",
        Consistency::Quorum,
    )
    .await;
    let err = s.execute_unpaged(&read, ("head",)).await.unwrap_err();
    assert!(
        matches!(db_error(&err), Some(DbError::ReadTimeout { .. })),
        "{err:?}"
    );

    create_keyspace(&s, "wt").await;
    run(&s, "CREATE TABLE wt.kv (k int PRIMARY KEY, v int)").await;
    sim.faults()
        .inject(Fault::new(FaultKind::WriteTimeout).once());
    let write = prepared(
        &s,
        "INSERT INTO wt.kv (k, v) VALUES (1, 1)",
        Consistency::Quorum,
    )
    .await;
    let err = s.execute_unpaged(&write, ()).await.unwrap_err();
    assert!(
        matches!(
            db_error(&err),
            Some(DbError::WriteTimeout {
                write_type: WriteType::Simple,
                ..
            })
        ),
        "{err:?}"
    );
    let holders = (0..3)
        .filter(|r| sim.replica_live_rows(*r, "wt", "kv") == Some(1))
        .count();
    assert_eq!(
        holders, 1,
        "the timed-out write reached exactly one replica"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_after_the_lwt_applied_hides_the_outcome() {
    let (sim, s) = with_root().await;
    sim.faults().inject(
        Fault::new(FaultKind::DropConnection(DropPoint::AfterExecute))
            .once()
            .when_query_contains("IF rev"),
    );
    let err = within(30, bump(&s, 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ExecutionError::LastAttemptError(RequestAttemptError::BrokenConnectionError(_))
        ),
        "{err:?}"
    );
    let after = within(30, async {
        loop {
            let read = s
                .prepare("SELECT rev FROM lwt.accrete_roots WHERE name = ?")
                .await;
            if let Ok(mut read) = read {
                read.set_consistency(Consistency::Serial);
                if let Ok(r) = s.execute_unpaged(&read, ("head",)).await {
                    return r
                        .into_rows_result()
                        .unwrap()
                        .first_row::<(i64,)>()
                        .unwrap()
                        .0;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        after, 2,
        "the LWT was applied although the client never heard so"
    );

    sim.faults().inject(
        Fault::new(FaultKind::DropConnection(DropPoint::BeforeExecute))
            .once()
            .when_query_contains("IF rev"),
    );
    let err = within(30, bump(&s, 2)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ExecutionError::LastAttemptError(RequestAttemptError::BrokenConnectionError(_))
        ),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rev_at(&s, Consistency::Serial).await,
        2,
        "nothing was executed"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_arrive_late() {
    let (sim, s) = with_root().await;
    sim.faults().inject(
        Fault::new(FaultKind::SlowResponse(Duration::from_millis(300)))
            .once()
            .when_query_contains("SELECT rev"),
    );
    let started = Instant::now();
    assert_eq!(rev_at(&s, Consistency::Quorum).await, 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.shutdown().await;
}

/// Runs a fixed sequential workload under probabilistic faults and returns
/// what fired.
async fn seeded_run(seed: u64) -> Vec<cql_sim::FaultEvent> {
    let sim = start(SimConfig {
        seed,
        ..SimConfig::default()
    })
    .await;
    let s = session(&sim).await;
    roots_table(&s, "seeded").await;
    let faults = sim.faults();
    faults.inject(Fault::new(FaultKind::DropMessage(Phase::Prepare)).with_probability(0.2));
    faults.inject(Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne)).with_probability(0.2));
    faults.inject(Fault::new(FaultKind::ReadTimeout).with_probability(0.2));
    let insert = prepared(
        &s,
        "INSERT INTO seeded.accrete_roots (name, rev, value) VALUES (?, 1, 0x00) IF NOT EXISTS",
        Consistency::Quorum,
    )
    .await;
    let read = prepared(
        &s,
        "SELECT rev FROM seeded.accrete_roots WHERE name = ?",
        Consistency::Serial,
    )
    .await;
    for i in 0..40 {
        let _ = s.execute_unpaged(&insert, (format!("r{i}"),)).await;
        let _ = s.execute_unpaged(&read, (format!("r{i}"),)).await;
    }
    let log = faults.log();
    sim.shutdown().await;
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_replays_the_same_faults() {
    let first = seeded_run(7).await;
    assert!(first.len() > 5, "faults fired: {}", first.len());
    assert_eq!(first, seeded_run(7).await);
    assert_ne!(first, seeded_run(8).await);
}
