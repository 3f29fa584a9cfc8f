//! Shared test helpers: stores on a test cluster, a raw driver session
//! underneath them, and a conformance fixture.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses a part

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;
use storage_cassandra::testkit::TestCluster;
use storage_cassandra::{CassandraStorage, Settings};
use storage_core::testkit::conformance::{Fixture, FreshStorage};
use storage_core::{Storage, StorageUri};

/// Fails the test instead of hanging when `f` takes longer than `secs`.
pub(crate) async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

pub(crate) fn settings(uri: &str) -> Settings {
    Settings::from_uri(&StorageUri::parse(uri).unwrap()).unwrap()
}

pub(crate) async fn open(uri: &str) -> CassandraStorage {
    within(60, CassandraStorage::open(settings(uri)))
        .await
        .unwrap()
}

/// A plain driver session on the cluster, for looking underneath a store
/// (logged in as the environment's `ACCRETE_CASSANDRA_*` user, if any).
pub(crate) async fn raw_session(cluster: &TestCluster) -> Session {
    let mut builder = SessionBuilder::new()
        .known_node(cluster.contact_point())
        .fetch_schema_metadata(false);
    if let (Ok(user), Ok(password)) = (
        std::env::var(storage_cassandra::config::USER_VAR),
        std::env::var(storage_cassandra::config::PASSWORD_VAR),
    ) {
        builder = builder.user(user, password);
    }
    within(60, builder.build()).await.unwrap()
}

/// Runs `cql` with `values` at QUORUM underneath any store (the simulator
/// sends a write to every live replica, so all of them see it).
pub(crate) async fn run_underneath(
    session: &Session,
    cql: &str,
    values: impl scylla::serialize::row::SerializeRow,
) {
    let mut st = Statement::new(cql);
    st.set_consistency(Consistency::Quorum);
    session
        .query_unpaged(st, values)
        .await
        .unwrap_or_else(|e| panic!("{cql}: {e}"));
}

/// The keyspace of a `cassandra://` URI.
pub(crate) fn keyspace(uri: &str) -> String {
    StorageUri::parse(uri).unwrap().path().to_string()
}

/// Fresh stores in scratch keyspaces of one cluster, corrupted underneath
/// through a separate session.
pub(crate) struct CassandraFixture {
    pub(crate) cluster: Arc<TestCluster>,
}

#[async_trait]
impl Fixture for CassandraFixture {
    async fn fresh(&self) -> FreshStorage {
        let uri = self.cluster.scratch_uri("conformance").await.unwrap();
        let settings = settings(&uri);
        let storage = CassandraStorage::open(settings.clone()).await.unwrap();
        let session = Arc::new(raw_session(&self.cluster).await);
        let table = format!("{}.accrete_segments", keyspace(&uri));
        FreshStorage {
            storage: Arc::new(storage),
            corrupt: Arc::new(move |id, bytes| {
                let (session, table) = (session.clone(), table.clone());
                Box::pin(async move {
                    let cql = format!(
                        "INSERT INTO {table} (id, size, chunks, bytes) VALUES (?, ?, 0, ?)"
                    );
                    let row = (id.as_bytes().to_vec(), bytes.len() as i32, bytes.to_vec());
                    run_underneath(&session, &cql, row).await;
                })
            }),
            reopen: Arc::new(move || {
                let settings = settings.clone();
                Box::pin(async move {
                    let again: Arc<dyn Storage> =
                        Arc::new(CassandraStorage::open(settings).await.unwrap());
                    again
                })
            }),
        }
    }
}

/// Another writer's root LWT from revision `from` to `from + 1`, sent
/// through a plain session with the revision written into the text (so
/// fault rules can tell it from the store's own `IF rev = ?`). Returns
/// whether it applied.
pub(crate) async fn competitor_write(
    session: &Session,
    keyspace: &str,
    name: &str,
    from: u64,
    value: &storage_core::RootValue,
) -> bool {
    let to = from + 1;
    let mut slot = to.to_be_bytes().to_vec();
    slot.extend_from_slice(value.nonce().as_bytes());
    let cql = format!(
        "UPDATE {keyspace}.accrete_roots SET rev = {to}, value = ?, w{} = ? WHERE name = ? IF rev = {from}",
        to % 16
    );
    let mut st = Statement::new(cql);
    st.set_consistency(Consistency::Quorum);
    st.set_serial_consistency(Some(scylla::statement::SerialConsistency::Serial));
    st.set_retry_policy(Some(Arc::new(
        scylla::policies::retry::FallthroughRetryPolicy::new(),
    )));
    let result = within(
        30,
        session.query_unpaged(st, (value.encode().to_vec(), slot, name)),
    )
    .await
    .unwrap();
    let row = result
        .into_rows_result()
        .unwrap()
        .first_row::<scylla::value::Row>()
        .unwrap();
    matches!(
        row.columns.first(),
        Some(Some(scylla::value::CqlValue::Boolean(true)))
    )
}

/// The root LWTs (conditional statements on the roots table) the
/// simulator received.
pub(crate) fn root_lwts(sim: &cql_sim::SimCluster) -> usize {
    sim.received()
        .iter()
        .filter(|r| r.query.contains("accrete_roots") && r.is_conditional())
        .count()
}
