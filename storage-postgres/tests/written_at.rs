//! Tables made before segments had a write time keep working: opening them
//! adds `written_at`, existing segments count as written then, and a put
//! of an existing segment moves its write time forward.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use storage_core::{Registry, SegmentId};
use storage_postgres::testkit::PgServer;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tables_get_a_write_time() {
    let server = PgServer::shared().await.unwrap();
    let uri = server.scratch_uri("old");
    let schema = uri
        .split("schema=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let admin = server.admin().await.unwrap();
    let bytes = Bytes::from_static(b"a segment from before written_at");
    let id = SegmentId::of(&bytes);
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\";
             CREATE TABLE \"{schema}\".segments (id bytea PRIMARY KEY, bytes bytea NOT NULL);
             CREATE TABLE \"{schema}\".roots (name text PRIMARY KEY, rev bigint NOT NULL, value bytea NOT NULL);"
        ))
        .await
        .unwrap();
    admin
        .execute(
            &format!("INSERT INTO \"{schema}\".segments (id, bytes) VALUES ($1, $2)"),
            &[&id.as_bytes().as_slice(), &bytes.as_ref()],
        )
        .await
        .unwrap();

    let before = now_ms();
    let mut registry = Registry::default();
    storage_postgres::register(&mut registry);
    let (storage, _) = registry.open(&uri).await.unwrap();
    let listed = storage.list_segment_infos(None, 10).await.unwrap().segments;
    assert_eq!(listed.len(), 1);
    let first = listed[0].written_at_ms.expect("a write time");
    assert!(first + 60_000 >= before, "{first} vs {before}");
    assert_eq!(listed[0].bytes, Some(bytes.len() as u64));
    assert_eq!(storage.get_segment(id).await.unwrap(), Some(bytes.clone()));

    tokio::time::sleep(Duration::from_millis(20)).await;
    storage.put_segment(id, bytes).await.unwrap();
    let again = storage.list_segment_infos(None, 10).await.unwrap().segments[0];
    assert!(again.written_at_ms.unwrap() > first, "{again:?}");
}
