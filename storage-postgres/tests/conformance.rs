//! The storage-core conformance suite against a real PostgreSQL server,
//! each case in its own schema.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use async_trait::async_trait;
use storage_core::testkit::conformance::{self, Fixture, FreshStorage};
use storage_core::{Storage, StorageUri};
use storage_postgres::testkit::PgServer;
use storage_postgres::{PostgresStorage, Settings};

struct PgFixture {
    server: &'static PgServer,
}

#[async_trait]
impl Fixture for PgFixture {
    async fn fresh(&self) -> FreshStorage {
        let uri = StorageUri::parse(&self.server.scratch_uri("conformance")).unwrap();
        let settings = Settings::from_uri(&uri).unwrap();
        let table = format!("\"{}\".segments", settings.schema());
        let storage = PostgresStorage::open(settings.clone()).await.unwrap();
        let admin = Arc::new(self.server.admin().await.unwrap());
        FreshStorage {
            storage: Arc::new(storage),
            corrupt: Arc::new(move |id, bytes| {
                let (admin, table) = (admin.clone(), table.clone());
                Box::pin(async move {
                    let sql = format!("UPDATE {table} SET bytes = $2 WHERE id = $1");
                    let n = admin
                        .execute(&sql, &[&id.as_bytes().as_slice(), &bytes.as_ref()])
                        .await
                        .unwrap();
                    assert_eq!(n, 1, "the segment to corrupt is not in {table}");
                })
            }),
            reopen: Arc::new(move || {
                let settings = settings.clone();
                Box::pin(async move {
                    let again: Arc<dyn Storage> =
                        Arc::new(PostgresStorage::open(settings).await.unwrap());
                    again
                })
            }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_whole_suite() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let report = conformance::run_all(&PgFixture { server }).await;
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
}
