//! Scans of the raw bytes a storage keeps, below the Storage trait: every
//! file of a directory, every row of the PostgreSQL tables read with SQL,
//! every value on every replica of the Cassandra simulator (shadowed cells
//! and Paxos state included), every segment and root of mem. Each blob is
//! searched as it is and, when it is a segment frame, decompressed.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use futures::StreamExt as _;
use storage_core::StorageExt as _;
use storage_core::codec;
use test_storages::{Backend, FreshStorage};

/// How many times `marker` occurs in the raw bytes of `store`.
pub async fn count(store: &FreshStorage, marker: &str) -> usize {
    let marker = marker.as_bytes();
    match store.backend {
        Backend::Mem => mem_blobs(store).await,
        Backend::File => {
            let mut blobs = Vec::new();
            files(
                store
                    .dir
                    .as_ref()
                    .expect("a file storage's directory")
                    .path(),
                &mut blobs,
            );
            blobs
        }
        Backend::Postgres => postgres_blobs(store).await,
        Backend::Cassandra => cassandra_blobs(store),
    }
    .iter()
    .map(|blob| occurrences(blob, marker))
    .sum()
}

/// What the backend's own housekeeping would do before bytes leave the
/// disk: compaction on the simulator (tombstones shadow data until then).
pub async fn settle(store: &FreshStorage) {
    if let Some(sim) = store.cluster.as_ref().and_then(|c| c.simulator()) {
        sim.compact();
    }
}

/// Occurrences in `blob` as stored and, if it is a segment frame, in its
/// decoded payload.
fn occurrences(blob: &[u8], marker: &[u8]) -> usize {
    let raw = find_all(blob, marker);
    let decoded = codec::decode(&bytes::Bytes::copy_from_slice(blob))
        .map_or(0, |frame| find_all(&frame.payload, marker));
    raw + decoded
}

fn find_all(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

async fn mem_blobs(store: &FreshStorage) -> Vec<Vec<u8>> {
    let s = &store.storage;
    let mut blobs = Vec::new();
    let ids: Vec<_> = s.segment_ids(1000).map(|id| id.unwrap()).collect().await;
    for id in ids {
        if let Some(bytes) = s.get_segment(id).await.unwrap() {
            blobs.push(bytes.to_vec());
        }
    }
    for name in s.list_roots().await.unwrap() {
        if let Some(root) = s.read_root(&name).await.unwrap() {
            blobs.push(root.value.data().to_vec());
        }
    }
    blobs
}

fn files(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
}

/// The scratch schema a test storage's URI names.
fn param<'a>(uri: &'a str, key: &str) -> &'a str {
    let query = uri.split_once('?').expect("a URI with parameters").1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {uri}"))
}

async fn postgres_blobs(store: &FreshStorage) -> Vec<Vec<u8>> {
    let server = storage_postgres::testkit::PgServer::shared().await.unwrap();
    let client = server.admin().await.unwrap();
    let schema = param(&store.uri, "schema");
    let mut blobs = Vec::new();
    for sql in [
        format!("SELECT bytes FROM \"{schema}\".segments"),
        format!("SELECT value FROM \"{schema}\".roots"),
    ] {
        for row in client.query(&sql, &[]).await.unwrap() {
            blobs.push(row.get::<_, Vec<u8>>(0));
        }
    }
    blobs
}

fn cassandra_blobs(store: &FreshStorage) -> Vec<Vec<u8>> {
    let sim = store
        .cluster
        .as_ref()
        .and_then(|c| c.simulator())
        .expect("the simulator");
    let path = store.uri.split_once("//").unwrap().1;
    let keyspace = path.split_once('/').unwrap().1.split('?').next().unwrap();
    let mut blobs = Vec::new();
    for replica in 0..sim.replica_count() {
        for table in [
            "accrete_segments",
            "accrete_segment_chunks",
            "accrete_roots",
        ] {
            let partitions = sim
                .replica_raw_values(replica, keyspace, table)
                .unwrap_or_else(|| panic!("no table {keyspace}.{table} on replica {replica}"));
            for values in partitions {
                // A chunked segment is its chunks in order: whole, it
                // decodes; each value is searched on its own as well.
                blobs.push(values.concat());
                if values.len() > 1 {
                    blobs.extend(values);
                }
            }
        }
    }
    blobs
}
