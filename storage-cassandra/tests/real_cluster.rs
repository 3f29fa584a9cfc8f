//! The conformance suite and the keyspace checks against a real Cassandra
//! or ScyllaDB: `ACCRETE_TEST_CASSANDRA=HOST:PORT` (credentials from
//! `ACCRETE_CASSANDRA_USER` / `ACCRETE_CASSANDRA_PASSWORD`, replication
//! from `ACCRETE_TEST_CASSANDRA_REPLICATION`, default `simple:1`), or
//! `ACCRETE_TEST_DOCKER=1` with a Docker daemon. Those tests are ignored
//! by default and run with
//! `cargo test -p storage-cassandra --test real_cluster -- --ignored`;
//! `real_cluster_status` says in every run whether they can.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::*;
use storage_cassandra::testkit::{
    CONTACT_VAR, NOT_ASKED, RealCluster, TestCluster, real_cluster_status, scratch_keyspace,
};
use storage_core::testkit::conformance;

const HOW: &str = "cargo test -p storage-cassandra --test real_cluster -- --ignored";

/// Reports whether the real-cluster tests can run; fails only when the
/// environment names a cluster badly. It passes as a report, not as a
/// stand-in for the ignored tests.
#[test]
fn real_cluster_status_report() {
    match real_cluster_status() {
        Ok(None) => eprintln!(
            "NOT RUN: the real Cassandra/ScyllaDB tests (ignored) did not run: {NOT_ASKED}; then run `{HOW}`"
        ),
        Ok(Some(RealCluster::External(contact))) => eprintln!(
            "real-cluster tests are configured ({CONTACT_VAR}={contact}); they run with `{HOW}`"
        ),
        Ok(Some(RealCluster::Docker(image))) => {
            eprintln!("real-cluster tests will start a container of {image}; they run with `{HOW}`")
        }
        Err(e) => panic!("{e}"),
    }
}

async fn real() -> Arc<TestCluster> {
    Arc::new(
        TestCluster::real()
            .await
            .unwrap_or_else(|e| panic!("no real cluster: {e}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a real cluster: ACCRETE_TEST_CASSANDRA=HOST:PORT or ACCRETE_TEST_DOCKER=1, then --ignored"]
async fn real_cluster_passes_the_whole_suite() {
    let cluster = real().await;
    let report = conformance::run_all(&CassandraFixture {
        cluster: cluster.clone(),
    })
    .await;
    cluster.drop_scratch_keyspaces().await.unwrap();
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: ACCRETE_TEST_CASSANDRA=HOST:PORT or ACCRETE_TEST_DOCKER=1, then --ignored"]
async fn real_cluster_refuses_a_missing_keyspace() {
    let cluster = real().await;
    let uri = cluster.uri(&scratch_keyspace(), "db=x");
    let err = storage_cassandra::CassandraStorage::open(settings(&uri))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("create_keyspace"),
        "{err}"
    );
}
