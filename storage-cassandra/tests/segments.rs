//! Chunked segments and their rows looked at underneath: a missing chunk
//! is corruption naming the segment, a row deleted while chunks remain
//! reads as deleted, deletion removes the chunks, and bad page tokens are
//! refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use bytes::Bytes;
use common::*;
use storage_cassandra::CHUNK_BYTES;
use storage_cassandra::testkit::TestCluster;
use storage_core::{Error, PageToken, Storage, StorageExt};

fn big(seed: u8) -> Bytes {
    Bytes::from(
        (0..CHUNK_BYTES * 2 + 1000)
            .map(|i| (i as u8).wrapping_mul(seed))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_missing_underneath_are_corruption_or_deletion() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri("chunks").await.unwrap();
    let ks = keyspace(&uri);
    let s = open(&uri).await;
    let raw = raw_session(&cluster).await;
    let sim = cluster.simulator().unwrap();

    let id = s.put(big(3)).await.unwrap();
    run_underneath(
        &raw,
        &format!("DELETE FROM {ks}.accrete_segment_chunks WHERE id = ? AND idx = 1"),
        (id.as_bytes().to_vec(),),
    )
    .await;
    match s.get_segment(id).await {
        Err(e @ Error::Corruption { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&id.to_string()) && msg.contains("chunk 1 of the 3"),
                "{msg}"
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }

    let other = s.put(big(5)).await.unwrap();
    run_underneath(
        &raw,
        &format!("DELETE FROM {ks}.accrete_segments WHERE id = ?"),
        (other.as_bytes().to_vec(),),
    )
    .await;
    assert_eq!(
        s.get_segment(other).await.unwrap(),
        None,
        "chunks without their row are not a segment"
    );
    s.delete_segment(other).await.unwrap();
    s.delete_segment(id).await.unwrap();
    for replica in 0..3 {
        assert_eq!(
            sim.replica_live_rows(replica, &ks, "accrete_segment_chunks"),
            Some(0),
            "deletion left chunks on replica {replica}"
        );
    }
    assert_eq!(s.get_segment(id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_tokens_that_are_not_ours_are_refused() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("tokens").await.unwrap()).await;
    for bad in ["", "12", "x:y", "1:abc", &format!("nan:{}", "0".repeat(64))] {
        match s.list_segments(Some(PageToken(bad.to_string())), 10).await {
            Err(Error::InvalidInput(msg)) => assert!(msg.contains("not one of mine"), "{msg}"),
            other => panic!("{bad:?}: expected InvalidInput, got {other:?}"),
        }
    }
    // A token from a listing resumes it.
    for i in 0..5u8 {
        s.put(Bytes::from(vec![i; 10])).await.unwrap();
    }
    let first = s.list_segments(None, 2).await.unwrap();
    let next = first.next.clone().unwrap();
    assert!(next.0.contains(':'), "{next:?}");
    let rest = s.list_segments(Some(next), 10).await.unwrap();
    assert_eq!(first.ids.len() + rest.ids.len(), 5);
    assert!(rest.next.is_none());
    assert!(first.ids.iter().all(|id| !rest.ids.contains(id)));
}
