//! Paging with the real driver: a full scan of more than 10,000 rows, and
//! the token-range walk the Cassandra backend uses to list partitions.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cql_sim::{SimConfig, token_of};
use futures::TryStreamExt;
use scylla::routing::partitioner::{Murmur3Partitioner, Partitioner, PartitionerHasher};
use scylla::statement::Consistency;

const PARTITIONS: usize = 2_500;
const CHUNKS: i32 = 4;

async fn loaded() -> (cql_sim::SimCluster, scylla::client::session::Session) {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "pg").await;
    run(
        &s,
        "CREATE TABLE pg.segments (id text, chunk int, data blob, PRIMARY KEY (id, chunk))",
    )
    .await;
    let insert = s
        .prepare("INSERT INTO pg.segments (id, chunk, data) VALUES (?, ?, ?)")
        .await
        .unwrap();
    for p in 0..PARTITIONS {
        for chunk in 0..CHUNKS {
            s.execute_unpaged(&insert, (format!("seg-{p:05}"), chunk, vec![1u8; 8]))
                .await
                .unwrap();
        }
    }
    (sim, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_pages_over_ten_thousand_rows() {
    let (sim, s) = within(120, loaded()).await;
    let mut scan = s
        .prepare("SELECT id, chunk FROM pg.segments")
        .await
        .unwrap();
    scan.set_page_size(777);
    scan.set_consistency(Consistency::Quorum);
    let rows: Vec<(String, i32)> = within(120, async {
        s.execute_iter(scan, ())
            .await
            .unwrap()
            .rows_stream::<(String, i32)>()
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    })
    .await;
    assert_eq!(rows.len(), PARTITIONS * CHUNKS as usize);
    let mut unique = rows.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        rows.len(),
        "no row is returned twice across pages"
    );
    let count = s
        .query_unpaged("SELECT count(*) FROM pg.segments", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        count.first_row::<(i64,)>().unwrap().0,
        (PARTITIONS * CHUNKS as usize) as i64
    );
    let limited = s
        .query_unpaged("SELECT id FROM pg.segments LIMIT 5", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(limited.rows_num(), 5);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_range_walk_lists_each_partition_once_in_ring_order() {
    let (sim, s) = within(120, loaded()).await;
    let step = s
        .prepare("SELECT DISTINCT id, token(id) FROM pg.segments WHERE token(id) > ? LIMIT ?")
        .await
        .unwrap();
    let mut after = i64::MIN;
    let mut seen = Vec::new();
    loop {
        let page = s
            .execute_unpaged(&step, (after, 1000_i32))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let rows: Vec<(String, i64)> = page
            .rows::<(String, i64)>()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let Some((_, last)) = rows.last() else { break };
        after = *last;
        seen.extend(rows);
    }
    assert_eq!(seen.len(), PARTITIONS);
    assert!(
        seen.windows(2).all(|w| w[0].1 < w[1].1),
        "tokens strictly increase"
    );
    for (id, token) in &seen {
        let mut hasher = Murmur3Partitioner.build_hasher();
        hasher.write(id.as_bytes());
        assert_eq!(
            *token,
            hasher.finish().value(),
            "the driver's partitioner agrees on {id}"
        );
        assert_eq!(*token, token_of(id.as_bytes()));
    }
    sim.shutdown().await;
}
