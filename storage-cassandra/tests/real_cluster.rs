//! The conformance suite and the keyspace checks against a real Cassandra
//! or ScyllaDB: `ACCRETE_TEST_CASSANDRA=HOST:PORT` (credentials from
//! `ACCRETE_CASSANDRA_USER` / `ACCRETE_CASSANDRA_PASSWORD`, replication
//! from `ACCRETE_TEST_CASSANDRA_REPLICATION`, default `simple:1`), or
//! `ACCRETE_TEST_DOCKER=1` with a Docker daemon. Those tests are ignored
//! by default and run with
//! `cargo test -p storage-cassandra --test real_cluster -- --ignored`:
//! a default run lists them as ignored, with that reason, and passes none
//! of them in their stead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::*;
use storage_cassandra::testkit::{TestCluster, scratch_keyspace};
use storage_core::testkit::conformance;

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
