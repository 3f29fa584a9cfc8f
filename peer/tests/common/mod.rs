//! Helpers of the in-process tests: storages, transactors on fresh
//! endpoints, peers with short waits.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use index::{SegmentCache, Segments, create_db};
use model::{Index, TxReport, Value};
use peer::{Config, Connection, Peer, builtin_registry};
use storage_core::{DbName, Storage};
use transactor::lease::Patience;
use transactor::{Server, Transactor};

static NEXT: AtomicU64 = AtomicU64::new(0);

pub const SCHEMA: &str = r#"[
  {:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :test/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :test/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
]"#;

/// A database in fresh mem storage: its URI (with `?db=`) and storage.
pub async fn mem_db(db: &str) -> (String, Arc<dyn Storage>) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let uri = format!("mem://peer-test-{}-{n}?db={db}", std::process::id());
    (uri.clone(), create(&uri).await)
}

/// Creates the database `uri` names and returns its storage.
pub async fn create(uri: &str) -> Arc<dyn Storage> {
    let (storage, parsed) = builtin_registry().open(uri).await.unwrap();
    create_db(&storage, parsed.require_db().unwrap())
        .await
        .unwrap();
    storage
}

/// Settings for tests: short lease and waits.
pub fn transactor_config() -> transactor::Config {
    transactor::Config {
        lease_ttl: Duration::from_millis(600),
        patience: Patience::AtMost(Duration::from_secs(20)),
        ..transactor::Config::default()
    }
}

/// A transactor serving `uri`'s database on a fresh endpoint.
pub struct Served {
    pub server: Server,
    pub transactor: Arc<Transactor>,
}

impl Served {
    pub async fn start(uri: &str, config: transactor::Config) -> Served {
        let server = Server::bind("127.0.0.1:0").await.unwrap();
        let config = transactor::Config {
            endpoint: Some(server.local_addr().to_string()),
            ..config
        };
        let transactor = Arc::new(embedded(uri, config).await);
        server.serve(transactor.clone());
        Served { server, transactor }
    }

    pub fn endpoint(&self) -> String {
        self.server.local_addr().to_string()
    }

    pub async fn stop(self) {
        within(self.transactor.shutdown()).await.unwrap();
    }
}

/// A transactor of `uri`'s database in this process (no endpoint unless
/// the config names one).
pub async fn embedded(uri: &str, config: transactor::Config) -> Transactor {
    let (storage, parsed) = builtin_registry().open(uri).await.unwrap();
    let seg = Segments::new(storage, SegmentCache::new(64 << 20).unwrap());
    within(Transactor::start(seg, parsed.require_db().unwrap(), config))
        .await
        .unwrap()
}

/// Peer settings with short waits.
pub fn peer_config() -> Config {
    Config {
        sync_timeout: Duration::from_secs(20),
        transact_timeout: Duration::from_secs(20),
        root_poll: Duration::from_millis(100),
        reconnect_delay: Duration::from_millis(100),
        ..Config::default()
    }
}

/// A connection of a peer of its own (as another process would have).
pub async fn connect(uri: &str, config: Config) -> Connection {
    let peer = Peer::new(config).unwrap();
    within(peer.connect(uri)).await.unwrap()
}

/// `f`, or a panic after 60 s: no test hangs.
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("timed out after 60 s")
}

/// A transaction about test entity `n`.
pub fn marked(n: u64) -> String {
    format!("[{{:db/id \"e\" :test/id {n} :test/a {n}}}]")
}

/// The `:test/id` values a report's tx data asserts.
pub fn ids_in(report: &TxReport) -> Vec<i64> {
    let db = &report.db_after;
    let attr = db.entid(&model::edn::parse(":test/id").unwrap()).unwrap();
    report
        .tx_data
        .iter()
        .filter(|d| attr == Some(d.a()) && d.added())
        .filter_map(|d| match d.v() {
            Value::Long(n) => Some(*n),
            _ => None,
        })
        .collect()
}

/// True when `db` holds test entity `n` (reads on a blocking thread).
pub async fn holds(db: &model::Db, n: u64) -> bool {
    let db = db.clone();
    blocking(move || {
        db.datoms(
            Index::Avet,
            &[Value::keyword(":test/id"), Value::Long(n as i64)],
        )
        .unwrap()
        .next()
        .is_some()
    })
    .await
}

pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The next `n` reports of `queue`.
pub async fn take(queue: &mut peer::TxReportQueue, n: usize) -> Vec<TxReport> {
    let mut reports = Vec::with_capacity(n);
    for _ in 0..n {
        reports.push(within(queue.next()).await.unwrap());
    }
    reports
}

/// Checks that each report starts where the one before ended.
pub fn assert_chained(reports: &[TxReport]) {
    for pair in reports.windows(2) {
        assert_eq!(
            pair[0].t(),
            pair[1].db_before.basis_t(),
            "reports out of order or missing"
        );
        assert!(pair[1].t() > pair[0].t());
    }
}

pub fn db_name(text: &str) -> DbName {
    DbName::new(text).unwrap()
}
