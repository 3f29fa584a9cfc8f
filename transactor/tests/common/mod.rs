//! Storages, databases and transactors for the tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod gate;
pub mod swap;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use index::{SegmentCache, Segments, create_db};
use model::edn::Instant;
use storage_core::testkit::faults::{FaultPlan, FaultyStorage};
use storage_core::{DbName, MemStorage, Storage};
use transactor::lease::Patience;
use transactor::{Config, Transactor};

#[allow(unused_imports)] // each test binary uses some of them
pub use test_storages::{ALL, Backend, registry};

/// A storage of its own, alive as long as this value.
pub type TestStorage = test_storages::FreshStorage;

/// A fresh storage of `backend` (its URI names database `x`).
pub async fn storage(backend: Backend) -> TestStorage {
    TestStorage::new(backend, "x").await
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

/// [`config`] with a lease ttl of 10 s, for tests that never take a lease
/// over: a loaded machine (CI, parallel builds) can stall a renewal past
/// 600 ms, and a transactor rightly steps down then.
pub fn steady_config() -> Config {
    Config {
        lease_ttl: Duration::from_secs(10),
        ..config()
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
