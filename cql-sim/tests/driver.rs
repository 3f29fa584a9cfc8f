//! The real `scylla` driver against the simulator: connecting, DDL,
//! prepared reads and writes, paging, LWT result shapes, errors.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cql_sim::SimConfig;
use scylla::client::Compression;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::DbError;
use scylla::value::{CqlValue, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_and_without_schema_metadata() {
    let sim = start(SimConfig::default()).await;
    let plain = session(&sim).await;
    create_keyspace(&plain, "meta").await;
    run(
        &plain,
        "CREATE TABLE meta.t (k text, c int, v blob, PRIMARY KEY (k, c))",
    )
    .await;
    let full = connect(
        &sim,
        SessionBuilder::new()
            .fetch_schema_metadata(true)
            .compression(Some(Compression::Lz4)),
    )
    .await;
    within(30, full.refresh_metadata())
        .await
        .expect("metadata refresh");
    let state = full.get_cluster_state();
    let keyspace = state.get_keyspace("meta").expect("keyspace metadata");
    let table = keyspace.tables.get("t").expect("table metadata");
    assert_eq!(table.partition_key, vec!["k".to_string()]);
    assert_eq!(table.clustering_key, vec!["c".to_string()]);
    assert_eq!(table.columns.len(), 3);
    let filtered = connect(&sim, SessionBuilder::new().keyspaces_to_fetch(["meta"])).await;
    within(30, filtered.refresh_metadata())
        .await
        .expect("filtered metadata refresh");
    let state = filtered.get_cluster_state();
    assert!(
        state
            .get_keyspace("meta")
            .is_some_and(|ks| ks.tables.contains_key("t"))
    );
    assert!(
        state.get_keyspace("system_schema").is_none(),
        "only the asked keyspace was fetched"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_writes_and_reads_round_trip() {
    let sim = start(SimConfig::default()).await;
    let s = connect(
        &sim,
        SessionBuilder::new()
            .fetch_schema_metadata(false)
            .compression(Some(Compression::Lz4)),
    )
    .await;
    create_keyspace(&s, "rw").await;
    run(&s, "CREATE TABLE IF NOT EXISTS rw.accrete_segments (id text, chunk int, data blob, PRIMARY KEY (id, chunk))").await;
    let insert = s
        .prepare("INSERT INTO rw.accrete_segments (id, chunk, data) VALUES (?, ?, ?)")
        .await
        .unwrap();
    for chunk in 0..3 {
        s.execute_unpaged(&insert, ("seg-1", chunk, vec![chunk as u8; 1000]))
            .await
            .unwrap();
    }
    let select = s
        .prepare("SELECT chunk, data FROM rw.accrete_segments WHERE id = ?")
        .await
        .unwrap();
    let rows: Vec<(i32, Vec<u8>)> = s
        .execute_unpaged(&select, ("seg-1",))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows::<(i32, Vec<u8>)>()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], (2, vec![2u8; 1000]));
    let missing = s
        .execute_unpaged(&select, ("nope",))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(missing.rows_num(), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lwt_results_have_cassandra_shapes() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "lwt").await;
    run(
        &s,
        "CREATE TABLE lwt.accrete_roots (name text PRIMARY KEY, rev bigint, value blob)",
    )
    .await;
    let create = s
        .prepare("INSERT INTO lwt.accrete_roots (name, rev, value) VALUES (?, ?, ?) IF NOT EXISTS")
        .await
        .unwrap();
    let applied = first_row(
        s.execute_unpaged(&create, ("head", 1_i64, vec![1u8]))
            .await
            .unwrap(),
    );
    assert_eq!(applied.columns, vec![Some(CqlValue::Boolean(true))]);
    let again = first_row(
        s.execute_unpaged(&create, ("head", 9_i64, vec![9u8]))
            .await
            .unwrap(),
    );
    assert_eq!(again.columns[0], Some(CqlValue::Boolean(false)));
    assert_eq!(
        again.columns.len(),
        4,
        "[applied] then every column of the existing row"
    );
    assert_eq!(again.columns[1], Some(CqlValue::Text("head".into())));
    assert_eq!(again.columns[2], Some(CqlValue::BigInt(1)));

    let update = s
        .prepare("UPDATE lwt.accrete_roots SET rev = ?, value = ? WHERE name = ? IF rev = ?")
        .await
        .unwrap();
    let ok = first_row(
        s.execute_unpaged(&update, (2_i64, vec![2u8], "head", 1_i64))
            .await
            .unwrap(),
    );
    assert_eq!(ok.columns, vec![Some(CqlValue::Boolean(true))]);
    let stale = first_row(
        s.execute_unpaged(&update, (3_i64, vec![3u8], "head", 1_i64))
            .await
            .unwrap(),
    );
    assert_eq!(
        stale.columns,
        vec![Some(CqlValue::Boolean(false)), Some(CqlValue::BigInt(2))]
    );
    let absent = first_row(
        s.execute_unpaged(&update, (3_i64, vec![3u8], "other", 1_i64))
            .await
            .unwrap(),
    );
    assert_eq!(absent.columns, vec![Some(CqlValue::Boolean(false))]);

    let delete = s
        .prepare("DELETE FROM lwt.accrete_roots WHERE name = ? IF EXISTS")
        .await
        .unwrap();
    assert_eq!(
        first_row(s.execute_unpaged(&delete, ("head",)).await.unwrap()).columns,
        vec![Some(CqlValue::Boolean(true))]
    );
    assert_eq!(
        first_row(s.execute_unpaged(&delete, ("head",)).await.unwrap()).columns,
        vec![Some(CqlValue::Boolean(false))]
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_cassandra_codes() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    let syntax = s
        .query_unpaged("ALTER TABLE x ADD y int", ())
        .await
        .unwrap_err();
    assert!(
        matches!(db_error(&syntax), Some(DbError::SyntaxError)),
        "{syntax:?}"
    );
    let keyspace = s
        .query_unpaged("SELECT * FROM nowhere.t", ())
        .await
        .unwrap_err();
    assert!(
        matches!(db_error(&keyspace), Some(DbError::Invalid)),
        "{keyspace:?}"
    );
    assert!(
        keyspace
            .to_string()
            .contains("Keyspace 'nowhere' does not exist"),
        "{keyspace}"
    );
    create_keyspace(&s, "errs").await;
    let table = s
        .query_unpaged("SELECT * FROM errs.missing", ())
        .await
        .unwrap_err();
    assert!(
        table.to_string().contains("unconfigured table missing"),
        "{table}"
    );
    run(&s, "CREATE TABLE errs.t (k int PRIMARY KEY)").await;
    let exists = s
        .query_unpaged("CREATE TABLE errs.t (k int PRIMARY KEY)", ())
        .await
        .unwrap_err();
    assert!(
        matches!(db_error(&exists), Some(DbError::AlreadyExists { .. })),
        "{exists:?}"
    );
    sim.shutdown().await;
}

fn first_row(result: scylla::response::query_result::QueryResult) -> Row {
    result
        .into_rows_result()
        .unwrap()
        .first_row::<Row>()
        .unwrap()
}

/// Three coordinators, a driver with its default settings (full schema
/// metadata, token-aware routing): the driver finds every node through
/// `system.peers`, and each prepared statement reaches the node that owns
/// its partition's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_driver_routes_each_statement_to_the_node_owning_its_partition() {
    let sim = start(SimConfig {
        nodes: 3,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(sim.node_addresses().len(), 3);
    let s = connect(&sim, SessionBuilder::new()).await;
    run(&s, "CREATE KEYSPACE routed WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").await;
    run(
        &s,
        "CREATE TABLE routed.t (k text, c int, v blob, PRIMARY KEY (k, c))",
    )
    .await;
    within(30, s.refresh_metadata()).await.unwrap();
    let state = s.get_cluster_state();
    assert_eq!(state.get_nodes_info().len(), 3, "every node found");
    assert!(state.get_keyspace("routed").is_some());

    let insert = s
        .prepare("INSERT INTO routed.t (k, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    let select = s
        .prepare("SELECT c, v FROM routed.t WHERE k = ?")
        .await
        .unwrap();
    sim.clear_received();
    let keys: Vec<String> = (0..60).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        s.execute_unpaged(&insert, (key.as_str(), 1, vec![1u8; 8]))
            .await
            .unwrap();
        let rows = s
            .execute_unpaged(&select, (key.as_str(),))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        assert_eq!(rows.rows_num(), 1, "{key}");
    }
    let received = sim.received();
    assert_eq!(received.len(), keys.len() * 2);
    let mut per_node = [0usize; 3];
    for (statement, key) in received.iter().zip(keys.iter().flat_map(|k| [k, k])) {
        let token = cql_sim::token_of(key.as_bytes());
        assert_eq!(statement.token, Some(token), "{}", statement.query);
        let owner = sim.owner_of_token(token);
        assert_eq!(
            statement.node, owner,
            "{} for {key} (token {token}) went to node {} instead of its owner {owner}",
            statement.query, statement.node
        );
        per_node[owner] += 1;
    }
    assert!(
        per_node.iter().all(|n| *n > 0),
        "60 keys spread over every node: {per_node:?}"
    );
    sim.shutdown().await;
}
