//! The conformance suite and the keyspace checks against a real Cassandra
//! or ScyllaDB: `ACCRETE_TEST_CASSANDRA=HOST:PORT` (credentials from
//! `ACCRETE_CASSANDRA_USER` / `ACCRETE_CASSANDRA_PASSWORD`, replication
//! from `ACCRETE_TEST_CASSANDRA_REPLICATION`, default `simple:1`), or
//! `ACCRETE_TEST_CONTAINERS=1` with a Docker daemon (flavour from
//! `ACCRETE_TEST_CONTAINER_CASSANDRA=cassandra-4.1|cassandra-5.0|scylla`).
//! Those tests are ignored by default and run with
//! `ACCRETE_TEST_CONTAINERS=1 cargo test -p storage-cassandra --test real_cluster -- --ignored`:
//! a default run lists them as ignored, with that reason, and passes none
//! of them in their stead. The three-node tests need containers (they stop
//! and pause nodes) and fail with the reason when there are none.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::*;
use storage_cassandra::CassandraStorage;
use storage_cassandra::testkit::{Flavour, TestCluster, containers_asked, scratch_keyspace};
use storage_core::testkit::conformance;
use storage_core::{CasOutcome, Revision, RootName, RootValue, Storage};

async fn real() -> Arc<TestCluster> {
    Arc::new(
        TestCluster::real()
            .await
            .unwrap_or_else(|e| panic!("no real cluster: {e}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a real cluster: ACCRETE_TEST_CASSANDRA=HOST:PORT or ACCRETE_TEST_CONTAINERS=1, then --ignored"]
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
#[ignore = "needs a real cluster: ACCRETE_TEST_CASSANDRA=HOST:PORT or ACCRETE_TEST_CONTAINERS=1, then --ignored"]
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

/// How one node is taken away.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `docker stop`: the node is gone, its connections closed.
    Stop,
    /// `docker pause`: the node hangs with its sockets open.
    Pause,
}

/// The step number a root value holds.
fn counter(root: &storage_core::Root) -> u64 {
    std::str::from_utf8(root.value.data())
        .unwrap()
        .parse()
        .unwrap()
}

/// A CAS loop on one root: every step moves the root from the revision it
/// was at to the next value `n`. An ambiguous outcome is resolved by
/// reading the root back (the value names its step), never by guessing.
struct Loop {
    storage: CassandraStorage,
    name: RootName,
    rev: Option<Revision>,
    acked: u64,
}

impl Loop {
    async fn step(&mut self) -> Result<(), String> {
        let n = self.acked + 1;
        let value = RootValue::new(n.to_string()).unwrap();
        match self.storage.cas_root(&self.name, self.rev, &value).await {
            Ok(CasOutcome::Applied(rev)) => {
                self.rev = Some(rev);
                self.acked = n;
                Ok(())
            }
            Ok(CasOutcome::Conflict(current)) => Err(format!(
                "step {n}: conflict with nobody else writing: {current:?}"
            )),
            Err(e) => {
                // Unknown or failed: what the root holds now decides (read
                // again while the read itself meets the outage).
                let mut last = e.to_string();
                for _ in 0..5 {
                    match self.storage.read_root(&self.name).await {
                        Ok(Some(root)) => {
                            let held = counter(&root);
                            assert!(held == n || held == n - 1, "root holds {held} at step {n}");
                            if held == n {
                                self.acked = n;
                            }
                            self.rev = Some(root.revision);
                            return Ok(());
                        }
                        Ok(None) => return Err("the root vanished".to_string()),
                        Err(e) => last = e.to_string(),
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                Err(format!(
                    "step {n}: outcome unresolved after 5 reads: {last}"
                ))
            }
        }
    }

    async fn check(&self) {
        let root = self.storage.read_root(&self.name).await.unwrap().unwrap();
        let held: u64 = std::str::from_utf8(root.value.data())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(held, self.acked, "an acknowledged CAS was lost");
        assert_eq!(Some(root.revision), self.rev);
    }
}

/// Three nodes, keyspace replicated three times, QUORUM writes and SERIAL
/// roots: with one node stopped or paused, 2 of 3 still form both quorums,
/// so every CAS goes on succeeding and none acknowledged is lost, before,
/// during and after the outage.
async fn cas_through_an_outage(outage: Outage) {
    assert!(
        containers_asked().unwrap(),
        "the three-node tests start containers: set ACCRETE_TEST_CONTAINERS=1 where a Docker daemon runs"
    );
    let flavour = Flavour::from_env().unwrap();
    let mut cluster = TestCluster::three_nodes(flavour)
        .await
        .unwrap_or_else(|e| panic!("three {} nodes: {e}", flavour.name()));
    let uri = cluster
        .scratch_uri_with("db=cas&request_timeout=10000")
        .await
        .unwrap();
    let mut cas = Loop {
        storage: within(120, CassandraStorage::open(settings(&uri)))
            .await
            .unwrap(),
        name: RootName::new("db/cas/log").unwrap(),
        rev: None,
        acked: 0,
    };
    for _ in 0..20 {
        within(60, cas.step()).await.unwrap();
    }
    cas.check().await;

    let victim = 2;
    let nodes = cluster.nodes().unwrap();
    match outage {
        Outage::Stop => nodes.nodes[victim].stop().await.unwrap(),
        Outage::Pause => nodes.nodes[victim].pause().await.unwrap(),
    }
    let during = cas.acked;
    for _ in 0..50 {
        within(60, cas.step()).await.unwrap();
    }
    assert!(
        cas.acked >= during + 45,
        "with 2 of 3 nodes up, QUORUM and SERIAL must keep working: {} of 50 steps acknowledged",
        cas.acked - during
    );
    cas.check().await;

    let nodes = cluster.nodes_mut().unwrap();
    match outage {
        Outage::Stop => nodes.nodes[victim].restart().await.unwrap(),
        Outage::Pause => nodes.nodes[victim].unpause().await.unwrap(),
    }
    for _ in 0..20 {
        within(60, cas.step()).await.unwrap();
    }
    cas.check().await;
    cluster.drop_scratch_keyspaces().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts three containers: ACCRETE_TEST_CONTAINERS=1 with a Docker daemon, then --ignored"]
async fn three_nodes_keep_cas_with_one_stopped() {
    cas_through_an_outage(Outage::Stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts three containers: ACCRETE_TEST_CONTAINERS=1 with a Docker daemon, then --ignored"]
async fn three_nodes_keep_cas_with_one_paused() {
    cas_through_an_outage(Outage::Pause).await;
}
