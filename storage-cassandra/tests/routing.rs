//! The store's driver session routes by token: on a simulated cluster of
//! three coordinators, every segment and root statement reaches the node
//! owning its partition, and opening a store makes the driver warn of
//! nothing (it once said "ALL schema metadata fetching is now disabled …
//! Token-aware and tablet-aware routing will NOT function").

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use cql_sim::{SimCluster, SimConfig};
use storage_cassandra::{Replication, create_keyspace};
use storage_core::{Storage, StorageExt, StorageUri};

/// What the driver logs (warnings and worse), captured for the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_statement_reaches_the_node_owning_its_partition_and_the_driver_warns_of_nothing() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let sim = SimCluster::start(SimConfig {
        nodes: 3,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uri = format!("cassandra://{}/routed?db=x", sim.contact_point());
    let parsed = StorageUri::parse(&uri).unwrap();
    // One replica per token, so exactly one node owns each partition.
    within(
        60,
        create_keyspace(&parsed, &"simple:1".parse::<Replication>().unwrap()),
    )
    .await
    .unwrap();
    let store = open(&uri).await;
    let said = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        !said.contains("schema metadata") && !said.contains("routing will NOT"),
        "the driver warned: {said}"
    );
    sim.clear_received();
    let mut ids = Vec::new();
    for i in 0..40u32 {
        let bytes = Bytes::from(format!("segment {i} ").repeat(50));
        ids.push(within(30, store.put(bytes)).await.unwrap());
    }
    for id in &ids {
        assert!(within(30, store.get_segment(*id)).await.unwrap().is_some());
    }

    let received = sim.received();
    let routed: Vec<_> = received.iter().filter(|s| s.token.is_some()).collect();
    assert!(
        routed.len() >= ids.len() * 2,
        "every put and get names its partition: {} of {}",
        routed.len(),
        received.len()
    );
    let mut per_node = [0usize; 3];
    for statement in &routed {
        let owner = sim.owner_of_token(statement.token.unwrap());
        assert_eq!(
            statement.node, owner,
            "{} (token {:?}) went to node {} instead of its owner {owner}",
            statement.query, statement.token, statement.node
        );
        per_node[owner] += 1;
    }
    assert!(
        per_node.iter().all(|n| *n > 0),
        "40 segments spread over every node: {per_node:?}"
    );

    drop(store);
    sim.shutdown().await;
}
