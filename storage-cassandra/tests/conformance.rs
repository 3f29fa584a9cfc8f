//! The storage-core conformance suite against a simulated cluster of three
//! replicas: all up, and with one replica down (QUORUM still has two). With
//! `ACCRETE_TEST_CONTAINERS=1` the first runs against a container instead
//! (`TestCluster::for_suites`); the second needs the simulator's faults.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::CassandraFixture;
use storage_cassandra::testkit::TestCluster;
use storage_core::testkit::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_cluster_passes_the_whole_suite() {
    let cluster = Arc::new(TestCluster::for_suites().await.unwrap());
    let report = conformance::run_all(&CassandraFixture { cluster }).await;
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_replica_down_passes_the_whole_suite() {
    let cluster = Arc::new(TestCluster::sim().await.unwrap());
    cluster.simulator().unwrap().replica_down(1);
    let report = conformance::run_all(&CassandraFixture {
        cluster: cluster.clone(),
    })
    .await;
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
    assert!(
        !cluster.simulator().unwrap().faults().is_up(1),
        "the replica stayed down throughout"
    );
}
