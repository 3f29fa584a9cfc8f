//! The journal of received statements: every user statement with the levels
//! the client asked for, never the driver's system queries.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cql_sim::{Consistency as Level, SimConfig};
use scylla::statement::batch::Batch;
use scylla::statement::{Consistency, SerialConsistency};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_lists_user_statements_with_their_levels() {
    let sim = start(SimConfig::default()).await;
    let s = session(&sim).await;
    roots_table(&s, "jr").await;
    sim.clear_received();
    assert!(sim.received().is_empty() && sim.received_count() == 0);

    let mut lwt = s
        .prepare("INSERT INTO jr.accrete_roots (name, rev, value) VALUES (?, ?, ?) IF NOT EXISTS")
        .await
        .unwrap();
    lwt.set_consistency(Consistency::LocalQuorum);
    lwt.set_serial_consistency(Some(SerialConsistency::LocalSerial));
    within(30, s.execute_unpaged(&lwt, ("a", 1_i64, vec![1u8])))
        .await
        .unwrap();
    let read = statement(
        "SELECT rev FROM jr.accrete_roots WHERE name = 'a'",
        Consistency::Serial,
    );
    within(30, s.query_unpaged(read, ())).await.unwrap();
    let mut batch = Batch::default();
    batch.append_statement("INSERT INTO jr.accrete_roots (name, rev) VALUES ('b', 1)");
    batch.append_statement("INSERT INTO jr.accrete_roots (name, rev) VALUES ('c', 1)");
    batch.set_consistency(Consistency::One);
    within(30, s.batch(&batch, ((), ()))).await.unwrap();

    let got = sim.received();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!(sim.received_count(), 3);
    assert!(got[0].query.contains("IF NOT EXISTS") && got[0].is_conditional());
    assert_eq!(
        (got[0].consistency, got[0].serial_consistency),
        (Level::LocalQuorum, Some(Level::LocalSerial))
    );
    assert_eq!(got[1].consistency, Level::Serial);
    assert!(!got[1].is_conditional());
    assert!(got[2].query.contains("'b'") && got[2].query.contains("'c'"));
    assert_eq!(got[2].consistency, Level::One);
    assert!(
        got.iter().all(|r| !r.query.contains("system")),
        "system queries are not journaled"
    );
    sim.clear_received();
    assert!(sim.received().is_empty());
    sim.shutdown().await;
}
