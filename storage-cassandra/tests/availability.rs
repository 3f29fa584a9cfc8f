//! Replicas down, dropped connections and timeouts: a clear, retryable
//! error and no partial state when a quorum is gone; retries that succeed
//! once it is back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use bytes::Bytes;
use common::*;
use cql_sim::{DropPoint, Fault, FaultKind, Phase};
use storage_cassandra::CHUNK_BYTES;
use storage_cassandra::testkit::TestCluster;
use storage_core::{
    CasOutcome, Error, Revision, RootName, RootValue, SegmentId, Storage, StorageExt,
};

fn unavailable(what: &str, result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(e @ Error::Unavailable { .. }) => {
            assert!(e.is_retryable());
            let msg = e.to_string();
            assert!(
                msg.contains("Unavailable") || msg.contains("alive"),
                "{what}: {msg}"
            );
        }
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_down_is_unavailable_and_leaves_nothing_behind() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri("down").await.unwrap();
    let ks = keyspace(&uri);
    let s = open(&uri).await;
    let sim = cluster.simulator().unwrap();
    let name = RootName::new("db/down/log").unwrap();
    let v1 = RootValue::new("one").unwrap();
    let origin = Revision::origin(v1.nonce());
    s.cas_root(&name, None, &v1).await.unwrap();
    let kept = s.put(Bytes::from_static(b"kept")).await.unwrap();

    sim.replica_down(1);
    sim.replica_down(2);
    let small = Bytes::from_static(b"small segment");
    let big = Bytes::from(vec![7u8; CHUNK_BYTES * 2 + 5]);
    unavailable("small put", s.put(small.clone()).await);
    unavailable("chunked put", s.put(big.clone()).await);
    // A read at ONE still finds what one live replica holds; a miss needs
    // the QUORUM read, which cannot be had.
    assert!(s.get_segment(kept).await.unwrap().is_some());
    unavailable(
        "get of a missing id",
        s.get_segment(SegmentId::of(b"none")).await,
    );
    unavailable("delete", s.delete_segment(kept).await);
    unavailable("list", s.list_segments(None, 10).await);
    unavailable("read_root", s.read_root(&name).await);
    let v2 = RootValue::new("two").unwrap();
    unavailable("cas_root", s.cas_root(&name, Some(origin), &v2).await);

    sim.replica_up(1);
    sim.replica_up(2);
    for replica in 0..3 {
        assert_eq!(
            sim.replica_live_rows(replica, &ks, "accrete_segment_chunks"),
            Some(0),
            "replica {replica} holds chunks of a refused put"
        );
        assert_eq!(
            sim.replica_live_rows(replica, &ks, "accrete_segments"),
            Some(1),
            "replica {replica} holds other segments than the one kept"
        );
    }
    assert_eq!(s.get_segment(SegmentId::of(&small)).await.unwrap(), None);
    assert_eq!(s.get_segment(SegmentId::of(&big)).await.unwrap(), None);
    assert!(s.get_segment(kept).await.unwrap().is_some());
    let root = s.read_root(&name).await.unwrap().unwrap();
    assert_eq!((root.revision, &root.value), (origin, &v1));
    // The same calls succeed now.
    s.put(big.clone()).await.unwrap();
    assert_eq!(s.get_segment(SegmentId::of(&big)).await.unwrap(), Some(big));
    let out = s.cas_root(&name, Some(origin), &v2).await.unwrap();
    assert!(out.is_applied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_around_segment_writes_are_retryable() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("drop").await.unwrap()).await;
    let faults = cluster.simulator().unwrap().faults();
    for point in [DropPoint::BeforeExecute, DropPoint::AfterExecute] {
        let bytes = Bytes::from(format!("segment dropped {point:?}"));
        faults.inject(
            Fault::new(FaultKind::DropConnection(point))
                .once()
                .when_query_contains("accrete_segments (id"),
        );
        let first = within(30, s.put(bytes.clone())).await;
        if let Err(e) = &first {
            assert!(e.is_retryable(), "{point:?}: {e}");
        }
        // A put is idempotent: repeating it until the driver has
        // reconnected is always right.
        let id = within(30, async {
            loop {
                match s.put(bytes.clone()).await {
                    Ok(id) => return id,
                    Err(e) if e.is_retryable() => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await
                    }
                    Err(e) => panic!("{point:?}: {e}"),
                }
            }
        })
        .await;
        assert_eq!(within(30, s.get_segment(id)).await.unwrap(), Some(bytes));
        assert!(!faults.log().is_empty(), "{point:?}: the fault fired");
        faults.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_retryable_errors() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("slow").await.unwrap()).await;
    let faults = cluster.simulator().unwrap().faults();
    let name = RootName::new("db/slow/log").unwrap();
    let one = RootValue::new("one").unwrap();
    let origin = Revision::origin(one.nonce());
    s.cas_root(&name, None, &one).await.unwrap();

    // A SERIAL read is safe to repeat: one timeout is retried within the
    // request's budget, and only a timeout that lasts past it surfaces.
    faults.inject(Fault::new(FaultKind::ReadTimeout).once());
    let read = s.read_root(&name).await.unwrap().unwrap();
    assert_eq!(read.value.data().as_ref(), b"one");
    faults.inject(Fault::new(FaultKind::ReadTimeout));
    match s.read_root(&name).await {
        Err(e @ Error::Timeout { .. }) => {
            assert!(
                e.is_retryable() && e.to_string().contains("read_root"),
                "{e}"
            )
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    faults.clear();
    faults.inject(Fault::new(FaultKind::WriteTimeout).once());
    let bytes = Bytes::from_static(b"written to one replica only");
    match s.put(bytes.clone()).await {
        Err(e @ Error::Timeout { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let id = s.put(bytes.clone()).await.unwrap();
    assert_eq!(s.get_segment(id).await.unwrap(), Some(bytes));

    // A read timeout in the LWT's own read comes before any proposal: a
    // definite, retryable failure, not an ambiguous one.
    let lost_reads = faults.inject(
        Fault::new(FaultKind::DropMessage(Phase::PaxosRead))
            .on_replicas(&[1, 2])
            .when_query_contains("IF rev"),
    );
    let v2 = RootValue::new("two").unwrap();
    match s.cas_root(&name, Some(origin), &v2).await {
        Err(e @ Error::Timeout { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Timeout, got {other:?}"),
    }
    faults.remove(lost_reads);
    assert_eq!(
        s.cas_root(&name, Some(origin), &v2).await.unwrap(),
        CasOutcome::Applied(origin.next().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_fails_open_within_its_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let uri = format!("cassandra://127.0.0.1:{port}/ks?db=x&connect_timeout=1");
    let started = std::time::Instant::now();
    let err = within(
        30,
        storage_cassandra::CassandraStorage::open(settings(&uri)),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(err.is_retryable(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
}
