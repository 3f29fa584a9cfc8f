//! Shared test helpers: a simulated cluster plus a real driver session.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use cql_sim::{SimCluster, SimConfig};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;

/// Fails the test instead of hanging when `f` takes longer than `secs`.
pub(crate) async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

pub(crate) async fn start(config: SimConfig) -> SimCluster {
    SimCluster::start(config).await.expect("start simulator")
}

pub(crate) async fn connect(sim: &SimCluster, builder: SessionBuilder) -> Session {
    within(30, builder.known_node_addr(sim.contact_point()).build())
        .await
        .expect("driver connects")
}

pub(crate) async fn session(sim: &SimCluster) -> Session {
    connect(sim, SessionBuilder::new().fetch_schema_metadata(false)).await
}

/// Runs a schema or data statement, failing the test on error.
pub(crate) async fn run(session: &Session, cql: &str) {
    within(30, session.query_unpaged(cql, ()))
        .await
        .unwrap_or_else(|e| panic!("{cql}: {e}"));
}

pub(crate) async fn create_keyspace(session: &Session, ks: &str) {
    run(session, &format!("CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 3}}")).await;
}

pub(crate) fn statement(cql: &str, consistency: Consistency) -> Statement {
    let mut s = Statement::new(cql);
    s.set_consistency(consistency);
    s
}

/// The database error inside a driver error, if it is one.
pub(crate) fn db_error(e: &ExecutionError) -> Option<&DbError> {
    match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => Some(db),
        _ => None,
    }
}

/// A statement with the retry policy that never retries, so each fault
/// reaches the test as the driver first saw it.
pub(crate) fn no_retry() -> std::sync::Arc<scylla::policies::retry::FallthroughRetryPolicy> {
    std::sync::Arc::new(scylla::policies::retry::FallthroughRetryPolicy::new())
}

/// A keyspace and the roots table the Cassandra backend uses.
pub(crate) async fn roots_table(session: &Session, ks: &str) {
    create_keyspace(session, ks).await;
    run(session, &format!("CREATE TABLE IF NOT EXISTS {ks}.accrete_roots (name text PRIMARY KEY, rev bigint, value blob)")).await;
}
