//! Opening stores: keyspace creation as the explicit step, tables created on
//! demand and checked, table prefixes sharing a keyspace, data centres,
//! logins, and the registry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use bytes::Bytes;
use common::*;
use cql_sim::SimConfig;
use storage_cassandra::testkit::{TestCluster, scratch_keyspace};
use storage_cassandra::{CassandraStorage, KeyspaceStatus, Replication, create_keyspace};
use storage_core::{Error, Registry, Storage, StorageExt, StorageUri};

async fn open_err(uri: &str) -> String {
    let err = within(60, CassandraStorage::open(settings(uri)))
        .await
        .unwrap_err();
    err.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_keyspace_is_not_created_but_explained() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.uri("nowhere", "db=x");
    let msg = open_err(&uri).await;
    assert!(msg.contains("keyspace `nowhere` does not exist"), "{msg}");
    // How to create it, in terms any user has (the CLI adds its command).
    assert!(
        msg.contains("create it first with its replication")
            && msg.contains("CREATE KEYSPACE nowhere"),
        "{msg}"
    );
    let msg = open_err(&uri).await;
    assert!(msg.contains("does not exist"), "still not created: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_keyspace_then_open() {
    let cluster = TestCluster::sim().await.unwrap();
    let ks = scratch_keyspace();
    let uri = StorageUri::parse(&cluster.uri(&ks, "db=x")).unwrap();
    let replication: Replication = "datacenter1:3".parse().unwrap();
    assert_eq!(
        create_keyspace(&uri, &replication).await.unwrap(),
        KeyspaceStatus::Created
    );
    let KeyspaceStatus::AlreadyExisted(map) = create_keyspace(&uri, &Replication::Simple(1))
        .await
        .unwrap()
    else {
        panic!("the second call must find the keyspace");
    };
    assert!(
        map.get("class")
            .is_some_and(|c| c.ends_with("NetworkTopologyStrategy")),
        "{map:?}"
    );
    assert_eq!(map.get("datacenter1").map(String::as_str), Some("3"));
    // The tables were made by create_keyspace: opening only checks them.
    let raw = raw_session(&cluster).await;
    let tables = raw
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
            (ks.as_str(),),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows::<(String,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect::<Vec<_>>();
    assert_eq!(
        tables.len(),
        3,
        "segments, segment_chunks and roots: {tables:?}"
    );
    let s = open(&uri.to_string()).await;
    let id = s.put(Bytes::from_static(b"x")).await.unwrap();
    assert!(s.get_segment(id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tables_are_refused_and_prefixes_share_a_keyspace() {
    let cluster = TestCluster::sim().await.unwrap();
    let ks = scratch_keyspace();
    let raw = raw_session(&cluster).await;
    raw.query_unpaged(
        format!("CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 3}}"),
        (),
    )
    .await
    .unwrap();
    raw.query_unpaged(
        format!("CREATE TABLE {ks}.accrete_roots (name text PRIMARY KEY, payload text)"),
        (),
    )
    .await
    .unwrap();
    let msg = open_err(&cluster.uri(&ks, "db=x")).await;
    assert!(
        msg.contains("not accrete's") && msg.contains("accrete_roots.rev bigint"),
        "{msg}"
    );
    assert!(msg.contains("table_prefix="), "{msg}");

    let a = open(&cluster.uri(&ks, "db=x&table_prefix=a_")).await;
    let b = open(&cluster.uri(&ks, "db=x&table_prefix=b_")).await;
    let id = a.put(Bytes::from_static(b"only in a")).await.unwrap();
    assert!(a.get_segment(id).await.unwrap().is_some());
    assert!(b.get_segment(id).await.unwrap().is_none());
    assert_eq!(b.list_segments(None, 10).await.unwrap().ids, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_data_centre_is_named() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster
        .scratch_uri_with("db=x&consistency=local_quorum&dc=mars")
        .await;
    // create_keyspace opens a session with the same settings, so it fails
    // the same way.
    let msg = uri.unwrap_err().to_string();
    assert!(
        msg.contains("data centre `mars`") && msg.contains("datacenter1"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_work_and_failures_say_what_to_set() {
    let cluster = TestCluster::sim_with(SimConfig {
        credentials: Some(("app".into(), "s3cret".into())),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let contact = cluster.contact_point();
    let ks = scratch_keyspace();
    let good = format!("cassandra://app:s3cret@{contact}/{ks}?db=x");
    create_keyspace(&StorageUri::parse(&good).unwrap(), &Replication::Simple(3))
        .await
        .unwrap();
    let s = open(&good).await;
    s.put(Bytes::from_static(b"logged in")).await.unwrap();

    let msg = open_err(&format!("cassandra://{contact}/{ks}?db=x")).await;
    assert!(msg.contains("requires a login"), "{msg}");
    let msg = open_err(&format!("cassandra://app:wrong-pw@{contact}/{ks}?db=x")).await;
    assert!(
        msg.contains("user `app`") && msg.contains("password from the URI"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-pw"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_opens_cassandra_uris() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri("reg").await.unwrap();
    let mut registry = Registry::default();
    storage_cassandra::register(&mut registry);
    assert!(registry.schemes().contains(&"cassandra"));
    let (storage, parsed) = registry.open(&uri).await.unwrap();
    assert_eq!(storage.backend(), "cassandra");
    assert_eq!(parsed.db().unwrap().as_str(), "reg");
    let err = registry.open(&format!("{uri}&bogus=1")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("unknown parameter `bogus`"));
}
