//! The rest of the CQL subset through the real driver: batches, USE,
//! authentication, re-preparation, IN, clustering slices, TTL, bad input.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cql_sim::SimConfig;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError};
use scylla::statement::batch::{Batch, BatchType};
use scylla::value::{CqlValue, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_and_unlogged_batches_of_prepared_and_simple_statements() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "b").await;
    run(
        &s,
        "CREATE TABLE b.kv (k text, c int, v text, PRIMARY KEY (k, c))",
    )
    .await;
    let insert = s
        .prepare("INSERT INTO b.kv (k, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    for kind in [BatchType::Logged, BatchType::Unlogged] {
        let mut batch = Batch::new(kind);
        batch.append_statement(insert.clone());
        batch.append_statement("INSERT INTO b.kv (k, c, v) VALUES (?, ?, 'simple')");
        batch.append_statement("DELETE FROM b.kv WHERE k = ? AND c = ?");
        s.batch(&batch, (("a", 1, "prepared"), ("b", 2), ("a", 1)))
            .await
            .unwrap();
    }
    let rows = s
        .query_unpaged("SELECT k, c, v FROM b.kv", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let rows: Vec<(String, i32, String)> = rows.rows().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        rows,
        vec![("b".into(), 2, "simple".into())],
        "the delete in the same batch won"
    );
    run(&s, "BEGIN UNLOGGED BATCH INSERT INTO b.kv (k, c, v) VALUES ('t', 1, 'x'); INSERT INTO b.kv (k, c, v) VALUES ('t', 2, 'y') APPLY BATCH").await;
    let t = s
        .query_unpaged("SELECT count(*) FROM b.kv WHERE k = 't'", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(t.first_row::<(i64,)>().unwrap().0, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_batches_apply_all_or_nothing_in_one_partition() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "cb").await;
    run(
        &s,
        "CREATE TABLE cb.t (k text, c int, v int, PRIMARY KEY (k, c))",
    )
    .await;
    let mut batch = Batch::new(BatchType::Logged);
    batch.append_statement("INSERT INTO cb.t (k, c, v) VALUES ('p', 1, 1) IF NOT EXISTS");
    batch.append_statement("INSERT INTO cb.t (k, c, v) VALUES ('p', 2, 2) IF NOT EXISTS");
    let applied = s
        .batch(&batch, ((), ()))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        applied.first_row::<Row>().unwrap().columns,
        vec![Some(CqlValue::Boolean(true))]
    );
    let mut again = Batch::new(BatchType::Logged);
    again.append_statement("UPDATE cb.t SET v = 10 WHERE k = 'p' AND c = 1 IF v = 1");
    again.append_statement("UPDATE cb.t SET v = 20 WHERE k = 'p' AND c = 2 IF v = 99");
    let rejected = s
        .batch(&again, ((), ()))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let rows: Vec<Row> = rejected
        .rows::<Row>()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows.len(),
        2,
        "one row per conditional row, with key and condition columns"
    );
    assert_eq!(
        rows[1].columns,
        vec![
            Some(CqlValue::Boolean(false)),
            Some(CqlValue::Text("p".into())),
            Some(CqlValue::Int(2)),
            Some(CqlValue::Int(2))
        ]
    );
    let v = s
        .query_unpaged("SELECT v FROM cb.t WHERE k = 'p' AND c = 1", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        v.first_row::<(i32,)>().unwrap().0,
        1,
        "nothing of the rejected batch applied"
    );
    let mut spanning = Batch::new(BatchType::Logged);
    spanning.append_statement("INSERT INTO cb.t (k, c, v) VALUES ('x', 1, 1) IF NOT EXISTS");
    spanning.append_statement("INSERT INTO cb.t (k, c, v) VALUES ('y', 1, 1) IF NOT EXISTS");
    let err = s.batch(&spanning, ((), ())).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot span multiple partitions"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_keyspace_unqualified_names_and_reprepare_after_forgetting() {
    let sim = start(SimConfig::default()).await;
    let admin = session(&sim).await;
    create_keyspace(&admin, "app").await;
    run(&admin, "CREATE TABLE app.kv (k int PRIMARY KEY, v text)").await;
    let s = connect(
        &sim,
        SessionBuilder::new()
            .fetch_schema_metadata(false)
            .use_keyspace("app", false),
    )
    .await;
    let insert = s
        .prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    s.execute_unpaged(&insert, (1, "one")).await.unwrap();
    sim.forget_prepared();
    s.execute_unpaged(&insert, (2, "two")).await.unwrap();
    let n = s
        .query_unpaged("SELECT count(*) FROM kv", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        n.first_row::<(i64,)>().unwrap().0,
        2,
        "the driver re-prepared after Unprepared"
    );
    run(&admin, "DROP TABLE app.kv").await;
    run(&admin, "CREATE TABLE app.kv (k int PRIMARY KEY, v text)").await;
    s.execute_unpaged(&insert, (3, "three")).await.unwrap();
    let n = s
        .query_unpaged("SELECT count(*) FROM kv", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(
        n.first_row::<(i64,)>().unwrap().0,
        1,
        "the re-created table is empty and the statement re-prepared"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_authentication() {
    let credentials = Some(("accrete".to_string(), "s3cret".to_string()));
    let sim = start(SimConfig {
        credentials,
        ..SimConfig::default()
    })
    .await;
    let s = connect(
        &sim,
        SessionBuilder::new()
            .fetch_schema_metadata(false)
            .user("accrete", "s3cret"),
    )
    .await;
    s.query_unpaged("SELECT key FROM system.local", ())
        .await
        .unwrap();
    let wrong = within(
        30,
        SessionBuilder::new()
            .known_node_addr(sim.contact_point())
            .user("accrete", "nope")
            .build(),
    )
    .await;
    let Err(err) = wrong else {
        panic!("a wrong password is refused")
    };
    let err = err.to_string();
    assert!(
        err.contains("incorrect") || err.contains("uthentication"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_lists_clustering_slices_named_markers_and_ttl() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "q").await;
    run(
        &s,
        "CREATE TABLE q.t (k int, c int, v text, PRIMARY KEY (k, c))",
    )
    .await;
    let insert = s
        .prepare("INSERT INTO q.t (k, c, v) VALUES (:k, :c, :v)")
        .await
        .unwrap();
    for k in 0..3 {
        for c in 0..5 {
            s.execute_unpaged(&insert, (k, c, format!("{k}-{c}")))
                .await
                .unwrap();
        }
    }
    let slice = s
        .prepare("SELECT c FROM q.t WHERE k IN (?, ?) AND c > ? AND c <= ?")
        .await
        .unwrap();
    let rows = s
        .execute_unpaged(&slice, (2, 0, 1, 3))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let cs: Vec<i32> = rows
        .rows::<(i32,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(cs, vec![2, 3, 2, 3]);
    run(
        &s,
        "INSERT INTO q.t (k, c, v) VALUES (9, 9, 'short') USING TTL 1000",
    )
    .await;
    let ttl = s
        .query_unpaged("SELECT ttl(v) FROM q.t WHERE k = 9 AND c = 9", ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let left = ttl.first_row::<(i32,)>().unwrap().0;
    assert!((990..=1000).contains(&left), "{left}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_reason() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    create_keyspace(&s, "bad").await;
    run(
        &s,
        "CREATE TABLE bad.t (k int, c int, v text, PRIMARY KEY (k, c))",
    )
    .await;
    let cases = [
        (
            "INSERT INTO bad.t (k, v) VALUES (1, 'x')",
            "clustering keys are missing",
        ),
        (
            "INSERT INTO bad.t (k, c, v) VALUES ('one', 1, 'x')",
            "Invalid STRING constant (one) for \"k\" of type int",
        ),
        ("SELECT * FROM bad.t WHERE v = 'x'", "ALLOW FILTERING"),
        ("SELECT nope FROM bad.t", "Undefined column name nope"),
        (
            "UPDATE bad.t SET k = 1 WHERE k = 1 AND c = 1",
            "PRIMARY KEY part k found in SET part",
        ),
        (
            "SELECT * FROM bad.t LIMIT 0",
            "LIMIT must be strictly positive",
        ),
        ("DROP KEYSPACE system", "not user-modifiable"),
    ];
    for (cql, expected) in cases {
        let err = s.query_unpaged(cql, ()).await.unwrap_err();
        assert!(
            matches!(db_error(&err), Some(DbError::Invalid)),
            "{cql}: {err:?}"
        );
        assert!(err.to_string().contains(expected), "{cql}: {err}");
    }
    let bad_value = s
        .query_unpaged(
            "INSERT INTO bad.t (k, c, v) VALUES (?, ?, ?)",
            (1_i64, 1, "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad_value,
            ExecutionError::BadQuery(_) | ExecutionError::LastAttemptError(_)
        ),
        "{bad_value:?}"
    );
    sim.shutdown().await;
}
