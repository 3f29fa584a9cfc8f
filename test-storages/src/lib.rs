//! Fresh storages of every backend (mem, file, a private PostgreSQL, the Cassandra simulator) for the tests of the crates above the storage layer.
//!
//! Each [`FreshStorage`] is a storage no other test sees — a mem name, a
//! temporary directory, a scratch PostgreSQL schema (of the server
//! `storage_postgres::testkit` provides, failing loudly when there is none),
//! a scratch keyspace of its own three-replica simulator cluster — alive as
//! long as the value. With `ACCRETE_TEST_CONTAINERS=1` the PostgreSQL and
//! Cassandra storages are scratch schemas and keyspaces of containers
//! instead (`ACCRETE_TEST_CONTAINER_POSTGRES=15|17`,
//! `ACCRETE_TEST_CONTAINER_CASSANDRA=cassandra-4.1|cassandra-5.0|scylla`),
//! one of each per test process; a test that cannot have them fails. It is test support, not a library for applications:
//! it panics, with the reason, when a storage cannot be had.
//!
//! ```
//! # #[tokio::main] async fn main() {
//! use test_storages::{Backend, FreshStorage};
//! let fresh = FreshStorage::new(Backend::File, "orders").await;
//! assert!(fresh.uri.starts_with("file://") && fresh.uri.ends_with("?db=orders"));
//! assert!(fresh.dir.is_some());
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use storage_cassandra::testkit::TestCluster;
use storage_core::{Registry, Storage};

/// How long getting a storage (starting a server or cluster, opening) may
/// take before the test fails.
const LIMIT: Duration = Duration::from_secs(120);

/// A storage backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `mem://`: in this process only.
    Mem,
    /// `file://`: a temporary directory.
    File,
    /// `postgres://`: a scratch schema of the PostgreSQL server the tests
    /// share.
    Postgres,
    /// `cassandra://`: a scratch keyspace of a CQL simulator cluster of 3
    /// replicas (Paxos roots).
    Cassandra,
}

/// Every backend.
pub const ALL: [Backend; 4] = [
    Backend::Mem,
    Backend::File,
    Backend::Postgres,
    Backend::Cassandra,
];

/// The durable backends.
pub const DURABLE: [Backend; 3] = [Backend::File, Backend::Postgres, Backend::Cassandra];

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A registry of every backend (mem, file, postgres, cassandra).
pub fn registry() -> Registry {
    backends::registry()
}

/// A storage of its own, alive as long as this value.
pub struct FreshStorage {
    /// Its backend.
    pub backend: Backend,
    /// The storage, opened once.
    pub storage: Arc<dyn Storage>,
    /// Its URI, naming the database given to [`FreshStorage::new`].
    pub uri: String,
    /// The directory of a file storage.
    pub dir: Option<tempfile::TempDir>,
    /// The simulator cluster of a Cassandra storage.
    pub cluster: Option<TestCluster>,
}

impl fmt::Debug for FreshStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FreshStorage({})", self.uri)
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl FreshStorage {
    /// A fresh storage of `backend` whose URI names database `db` (which
    /// does not exist yet).
    pub async fn new(backend: Backend, db: &str) -> FreshStorage {
        match tokio::time::timeout(LIMIT, FreshStorage::make(backend, db)).await {
            Ok(fresh) => fresh,
            Err(_) => panic!("{backend}: no storage within {LIMIT:?}"),
        }
    }

    async fn make(backend: Backend, db: &str) -> FreshStorage {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (mut dir, mut cluster) = (None, None);
        let uri = match backend {
            Backend::Mem => format!("mem://test-{}-{n}?db={db}", std::process::id()),
            Backend::File => {
                let made =
                    tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
                let uri = format!("file://{}?db={db}", made.path().display());
                dir = Some(made);
                uri
            }
            Backend::Postgres => storage_postgres::testkit::PgServer::shared()
                .await
                .unwrap_or_else(|e| panic!("a PostgreSQL server for the tests: {e}"))
                .scratch_uri(db),
            Backend::Cassandra => {
                // The simulator, or with ACCRETE_TEST_CONTAINERS=1 the
                // container every storage of the process shares.
                let sim = TestCluster::for_suites()
                    .await
                    .unwrap_or_else(|e| panic!("a Cassandra cluster for the tests: {e}"));
                let uri = sim
                    .scratch_uri(db)
                    .await
                    .unwrap_or_else(|e| panic!("a scratch keyspace: {e}"));
                cluster = Some(sim);
                uri
            }
        };
        let (storage, _) = registry()
            .open(&uri)
            .await
            .unwrap_or_else(|e| panic!("{backend}: open {uri}: {e}"));
        FreshStorage {
            backend,
            storage,
            uri,
            dir,
            cluster,
        }
    }
}
