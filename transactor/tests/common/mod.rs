//! Storages, databases and transactors for the tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use index::{SegmentCache, Segments, create_db};
use model::edn::Instant;
use storage_core::testkit::faults::{FaultPlan, FaultyStorage};
use storage_core::{DbName, MemStorage, Registry, Storage};
use transactor::lease::Patience;
use transactor::{Config, Transactor};

/// The backends every test of the durable behaviour runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Mem,
    File,
    Postgres,
    /// The project's CQL cluster simulator (3 replicas, Paxos roots).
    Cassandra,
}

pub const ALL: [Backend; 4] = [
    Backend::Mem,
    Backend::File,
    Backend::Postgres,
    Backend::Cassandra,
];

/// A storage that lives as long as this value (temporary directories).
pub struct TestStorage {
    pub storage: Arc<dyn Storage>,
    pub uri: String,
    _dir: Option<tempfile::TempDir>,
    _cluster: Option<storage_cassandra::testkit::TestCluster>,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

pub async fn storage(backend: Backend) -> TestStorage {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut cluster = None;
    let (uri, dir) = match backend {
        Backend::Cassandra => {
            let sim = storage_cassandra::testkit::TestCluster::sim()
                .await
                .expect("a CQL simulator cluster");
            let uri = sim.scratch_uri("x").await.expect("a scratch keyspace");
            cluster = Some(sim);
            (uri, None)
        }
        Backend::Mem => (
            format!("mem://transactor-test-{}-{n}", std::process::id()),
            None,
        ),
        Backend::File => {
            let dir = tempfile::tempdir().expect("temporary directory");
            (format!("file://{}", dir.path().display()), Some(dir))
        }
        Backend::Postgres => {
            let server = storage_postgres::testkit::PgServer::shared()
                .await
                .expect("a PostgreSQL server for the tests");
            (server.scratch_uri("x"), None)
        }
    };
    let (storage, _) = registry().open(&uri).await.expect("open storage");
    TestStorage {
        storage,
        uri,
        _dir: dir,
        _cluster: cluster,
    }
}

pub fn registry() -> Registry {
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    storage_postgres::register(&mut registry);
    storage_cassandra::register(&mut registry);
    registry
}

pub fn mem() -> Arc<dyn Storage> {
    Arc::new(MemStorage::new())
}

/// `storage` with faults injected from a fresh plan.
pub fn faulty(storage: &Arc<dyn Storage>, seed: u64) -> (Arc<dyn Storage>, Arc<FaultPlan>) {
    let plan = FaultPlan::seeded(seed);
    let wrapped: Arc<dyn Storage> = Arc::new(FaultyStorage::new(storage.clone(), plan.clone()));
    (wrapped, plan)
}

pub fn segments(storage: &Arc<dyn Storage>) -> Segments {
    Segments::new(storage.clone(), SegmentCache::new(64 << 20).expect("cache"))
}

pub fn name(text: &str) -> DbName {
    DbName::new(text).expect("db name")
}

/// Creates database `db` in `storage`.
pub async fn create(storage: &Arc<dyn Storage>, db: &str) -> DbName {
    let name = name(db);
    create_db(storage, &name).await.expect("create db");
    name
}

/// A config for tests: short lease, a deterministic clock.
pub fn config() -> Config {
    let tick = Arc::new(AtomicU64::new(1_700_000_000_000));
    Config {
        lease_ttl: Duration::from_millis(600),
        patience: Patience::AtMost(Duration::from_secs(20)),
        clock: Arc::new(move || Instant(tick.fetch_add(1, Ordering::Relaxed) as i64)),
        ..Config::default()
    }
}

pub async fn start(storage: &Arc<dyn Storage>, db: &DbName, config: Config) -> Transactor {
    within(Transactor::start(segments(storage), db, config))
        .await
        .expect("start transactor")
}

/// `f`, or a panic after 60 s: no test hangs.
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("timed out after 60 s")
}

pub const SCHEMA: &str = r#"[
  {:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :test/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :test/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
  {:db/ident :test/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
]"#;

/// A transaction of three datoms (and the tx instant) about test entity `n`.
pub fn marked(n: u64) -> String {
    format!("[{{:db/id \"e\" :test/id {n} :test/a {n} :test/b {n}}}]")
}

/// How many of entity `n`'s three attributes `db` holds (0 or 3 when
/// transactions are atomic).
pub fn parts_of(db: &model::Db, n: u64) -> usize {
    use model::{Index, Value};
    let Some(e) = db
        .datoms(
            Index::Avet,
            &[Value::keyword(":test/id"), Value::Long(n as i64)],
        )
        .expect("read")
        .next()
        .map(|d| d.expect("datom").e())
    else {
        return 0;
    };
    db.datoms(Index::Eavt, &[Value::Ref(e)])
        .expect("read")
        .count()
}

/// Reads on a blocking thread (durable values read storage synchronously).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// The database as storage has it now, opened fresh.
pub async fn reopen(storage: &Arc<dyn Storage>, db: &DbName) -> model::Db {
    index::open_db(&segments(storage), db)
        .await
        .expect("open db")
        .db
}
