//! Replication and consistency levels through the real driver: QUORUM and
//! SERIAL with 2 of 3 replicas, Unavailable with 1 of 3, a write at ONE
//! missing from a replica that was down, read repair.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cql_sim::SimConfig;
use scylla::errors::DbError;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_serve_quorum_and_serial_one_of_three_does_not() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    roots_table(&s, "rq").await;
    sim.replica_down(0);
    let mut insert = s
        .prepare("INSERT INTO rq.accrete_roots (name, rev, value) VALUES (?, ?, ?) IF NOT EXISTS")
        .await
        .unwrap();
    insert.set_consistency(Consistency::Quorum);
    insert.set_serial_consistency(Some(SerialConsistency::Serial));
    let applied = s
        .execute_unpaged(&insert, ("r", 1_i64, vec![1u8]))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        applied.first_row::<Row>().unwrap().columns[0],
        Some(CqlValue::Boolean(true))
    );
    let mut read = s
        .prepare("SELECT rev FROM rq.accrete_roots WHERE name = ?")
        .await
        .unwrap();
    for level in [
        Consistency::Quorum,
        Consistency::Serial,
        Consistency::LocalSerial,
    ] {
        read.set_consistency(level);
        let rows = s
            .execute_unpaged(&read, ("r",))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        assert_eq!(rows.first_row::<(i64,)>().unwrap(), (1,), "{level:?}");
    }

    sim.replica_down(1);
    read.set_retry_policy(Some(no_retry()));
    for level in [Consistency::Quorum, Consistency::Serial] {
        read.set_consistency(level);
        let err = s.execute_unpaged(&read, ("r",)).await.unwrap_err();
        assert!(
            matches!(
                db_error(&err),
                Some(DbError::Unavailable {
                    required: 2,
                    alive: 1,
                    ..
                })
            ),
            "{level:?}: {err:?}"
        );
    }
    insert.set_retry_policy(Some(no_retry()));
    let err = s
        .execute_unpaged(&insert, ("s", 1_i64, vec![1u8]))
        .await
        .unwrap_err();
    assert!(
        matches!(db_error(&err), Some(DbError::Unavailable { .. })),
        "{err:?}"
    );
    read.set_consistency(Consistency::One);
    let one = s
        .execute_unpaged(&read, ("r",))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        one.first_row::<(i64,)>().unwrap(),
        (1,),
        "ONE is served by the last replica"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_at_one_misses_a_down_replica_until_a_quorum_read_repairs_it() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "rr").await;
    run(&s, "CREATE TABLE rr.kv (k int PRIMARY KEY, v text)").await;
    sim.replica_down(2);
    let mut write = s
        .prepare("INSERT INTO rr.kv (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    write.set_consistency(Consistency::One);
    for k in 0..10 {
        s.execute_unpaged(&write, (k, "x")).await.unwrap();
    }
    sim.replica_up(2);
    assert_eq!(
        sim.replica_live_rows(2, "rr", "kv"),
        Some(0),
        "the down replica missed every write"
    );
    assert_eq!(sim.replica_live_rows(0, "rr", "kv"), Some(10));
    let mut read = s.prepare("SELECT v FROM rr.kv WHERE k = ?").await.unwrap();
    read.set_consistency(Consistency::All);
    for k in 0..10 {
        let rows = s
            .execute_unpaged(&read, (k,))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        assert_eq!(rows.first_row::<(String,)>().unwrap().0, "x");
    }
    assert_eq!(
        sim.replica_live_rows(2, "rr", "kv"),
        Some(10),
        "reads at ALL repaired the stale replica"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_write_wins_by_timestamp_and_deletes_shadow_older_writes() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "lww").await;
    run(
        &s,
        "CREATE TABLE lww.kv (k int, c int, v text, PRIMARY KEY (k, c))",
    )
    .await;
    run(
        &s,
        "INSERT INTO lww.kv (k, c, v) VALUES (1, 1, 'new') USING TIMESTAMP 200",
    )
    .await;
    run(
        &s,
        "INSERT INTO lww.kv (k, c, v) VALUES (1, 1, 'old') USING TIMESTAMP 100",
    )
    .await;
    let v = s
        .query_unpaged(
            "SELECT v, writetime(v) FROM lww.kv WHERE k = 1 AND c = 1",
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        v.first_row::<(String, i64)>().unwrap(),
        ("new".to_string(), 200)
    );
    run(&s, "DELETE FROM lww.kv USING TIMESTAMP 150 WHERE k = 1").await;
    let after = s
        .query_unpaged("SELECT v FROM lww.kv WHERE k = 1", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        after.rows_num(),
        1,
        "a partition delete at 150 does not shadow the write at 200"
    );
    run(&s, "DELETE FROM lww.kv WHERE k = 1").await;
    let gone = s
        .query_unpaged("SELECT v FROM lww.kv WHERE k = 1", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(gone.rows_num(), 0);
    sim.shutdown().await;
}
