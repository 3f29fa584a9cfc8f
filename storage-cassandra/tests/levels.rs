//! What the backend sends, as the simulator's journal records it: roots
//! only by LWT and SERIAL reads, segments written at QUORUM and read at ONE
//! with a QUORUM fallback, chunks before their row, one LWT per root change.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use bytes::Bytes;
use common::*;
use cql_sim::{Consistency as Level, ReceivedStatement, SimCluster};
use storage_cassandra::CHUNK_BYTES;
use storage_cassandra::testkit::TestCluster;
use storage_core::{CasOutcome, Revision, RootName, RootValue, Storage, StorageExt};

fn on(sim: &SimCluster, table: &str) -> Vec<ReceivedStatement> {
    sim.received()
        .into_iter()
        .filter(|r| r.query.contains(&format!(".accrete_{table} ")))
        .collect()
}

/// Puts, reads, deletes and root changes through a store opened with
/// `params`; checks every statement's level against the expected ones.
async fn check_levels(params: &str, write: Level, serial: Level, one: Level) {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri_with(params).await.unwrap();
    let s = open(&uri).await;
    let sim = cluster.simulator().unwrap();
    sim.clear_received();

    let id = s.put(Bytes::from_static(b"a segment")).await.unwrap();
    let big = Bytes::from(vec![3u8; CHUNK_BYTES + 1]);
    let big_id = s.put(big.clone()).await.unwrap();
    assert!(s.get_segment(id).await.unwrap().is_some());
    assert_eq!(s.get_segment(big_id).await.unwrap(), Some(big));
    s.list_segments(None, 10).await.unwrap();
    s.delete_segment(id).await.unwrap();
    let name = RootName::new("db/levels/log").unwrap();
    s.cas_root(&name, None, &RootValue::new("1").unwrap())
        .await
        .unwrap();
    let root = s.read_root(&name).await.unwrap().unwrap();
    s.cas_root(&name, Some(root.revision), &RootValue::new("2").unwrap())
        .await
        .unwrap();

    let roots = on(sim, "roots");
    assert_eq!(roots.len(), 3, "{roots:#?}");
    for r in &roots {
        if r.is_conditional() {
            assert_eq!((r.consistency, r.serial_consistency), (write, Some(serial)));
        } else {
            assert!(
                r.query.starts_with("SELECT"),
                "a plain write on a root: {r:?}"
            );
            assert_eq!(r.consistency, serial, "{r:?}");
        }
    }
    for r in on(sim, "segments").iter().chain(&on(sim, "segment_chunks")) {
        let expected = if r.query.starts_with("SELECT") && !r.query.contains("token(") {
            one
        } else {
            write
        };
        assert_eq!(r.consistency, expected, "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_writes_serial_roots_and_reads_at_one() {
    check_levels("db=lv", Level::Quorum, Level::Serial, Level::One).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_quorum_writes_local_serial_roots() {
    check_levels(
        "db=lv&consistency=local_quorum&dc=datacenter1",
        Level::LocalQuorum,
        Level::LocalSerial,
        Level::LocalOne,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lwt_per_root_change_and_per_conflict() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("count").await.unwrap()).await;
    let sim = cluster.simulator().unwrap();
    let name = RootName::new("db/count/log").unwrap();
    sim.clear_received();
    let mut rev = None;
    for i in 0..50 {
        let out = s
            .cas_root(&name, rev, &RootValue::new(format!("{i}")).unwrap())
            .await
            .unwrap();
        let CasOutcome::Applied(r) = out else {
            panic!("{out:?}")
        };
        rev = Some(r);
    }
    let origin = Revision::new(rev.unwrap().get() - 49).unwrap();
    assert_eq!(root_lwts(sim), 50, "exactly one LWT per change");
    assert_eq!(sim.received_count(), 50, "and nothing else");

    sim.clear_received();
    let stale = s
        .cas_root(&name, Some(origin), &RootValue::new("x").unwrap())
        .await
        .unwrap();
    let CasOutcome::Conflict(Some(current)) = stale else {
        panic!("{stale:?}")
    };
    assert_eq!(current.revision.get(), origin.get() + 49);
    assert_eq!(current.value.data().as_ref(), b"49");
    assert_eq!(
        sim.received_count(),
        1,
        "a conflict reports the root from its own LWT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_are_written_before_the_row_that_lists_them() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("order").await.unwrap()).await;
    let sim = cluster.simulator().unwrap();
    sim.clear_received();
    let bytes = Bytes::from(
        (0..CHUNK_BYTES * 3 + 17)
            .map(|i| i as u8)
            .collect::<Vec<_>>(),
    );
    let id = s.put(bytes.clone()).await.unwrap();
    let writes: Vec<String> = sim.received().iter().map(|r| r.query.to_string()).collect();
    assert_eq!(writes.len(), 5, "{writes:#?}");
    assert!(writes[..4].iter().all(|q| q.contains("segment_chunks")));
    assert!(writes[4].contains(".accrete_segments "));
    assert_eq!(s.get_segment(id).await.unwrap(), Some(bytes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_at_one_that_misses_is_repeated_at_quorum() {
    let cluster = TestCluster::sim().await.unwrap();
    let s = open(&cluster.scratch_uri("miss").await.unwrap()).await;
    let sim = cluster.simulator().unwrap();
    // Replica 2 misses the write; with replica 0 down, a read at ONE goes to
    // replica 1 (has it) or 2 (does not).
    sim.replica_down(2);
    let bytes = Bytes::from_static(b"on two replicas of three");
    let id = s.put(bytes.clone()).await.unwrap();
    sim.replica_up(2);
    sim.replica_down(0);
    sim.clear_received();
    let mut fell_back = false;
    for _ in 0..40 {
        assert_eq!(s.get_segment(id).await.unwrap(), Some(bytes.clone()));
        let reads: Vec<Level> = sim.received().iter().map(|r| r.consistency).collect();
        sim.clear_received();
        match reads.as_slice() {
            [Level::One] => {}
            [Level::One, Level::Quorum] => fell_back = true,
            other => panic!("unexpected reads {other:?}"),
        }
    }
    assert!(
        fell_back,
        "no read at ONE went to the replica that missed it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotten_bytes_on_one_replica_are_read_past_at_quorum() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri("rot").await.unwrap();
    let s = open(&uri).await;
    let sim = cluster.simulator().unwrap();
    // Replicas 1 and 2 get the bytes; replica 0 alone gets other bytes,
    // older than the good ones.
    sim.replica_down(0);
    let bytes = Bytes::from_static(b"good bytes");
    let id = s.put(bytes.clone()).await.unwrap();
    sim.replica_up(0);
    sim.replica_down(1);
    sim.replica_down(2);
    let raw = raw_session(&cluster).await;
    let mut rot = scylla::statement::unprepared::Statement::new(format!(
        "INSERT INTO {}.accrete_segments (id, size, chunks, bytes) VALUES (?, 10, 0, ?) USING TIMESTAMP 1",
        keyspace(&uri)
    ));
    rot.set_consistency(scylla::statement::Consistency::One);
    raw.query_unpaged(rot, (id.as_bytes().to_vec(), b"rotten!!!!".to_vec()))
        .await
        .unwrap();
    sim.replica_up(1);
    sim.replica_up(2);
    sim.clear_received();
    let mut fell_back = false;
    for _ in 0..40 {
        assert_eq!(s.get_segment(id).await.unwrap(), Some(bytes.clone()));
        fell_back |= sim.received().len() == 2;
        sim.clear_received();
    }
    assert!(fell_back, "no read at ONE went to the rotten replica");
}
