//! Storages of every backend, a source database written like a transactor
//! writes, and comparisons of database values.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backup::BackupLocation;
use index::{LogRoot, SegmentCache, Segments, TreeConfig, append, index_db, log_root_name};
use model::edn::Instant;
use model::{Datom, Db, Index, TxFunctions, TxLog, TxReport};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_core::{DbName, Revision, Storage, StorageExt};

#[allow(unused_imports)] // each test binary uses some of them
pub use test_storages::{ALL, Backend, registry};

/// A storage of its own, alive as long as this value.
pub type TestStorage = test_storages::FreshStorage;

/// A fresh storage; its URI names database `db`.
pub async fn storage(backend: Backend, db: &str) -> TestStorage {
    TestStorage::new(backend, db).await
}

/// A fresh backup location on `backend`.
pub async fn location(backend: Backend) -> (BackupLocation, TestStorage) {
    let store = storage(backend, "set").await;
    let location = BackupLocation::open(&registry(), &store.uri, backup::Access::Create)
        .await
        .expect("open location");
    (location, store)
}

/// Segments with tiny trees, so small databases have deep trees and many
/// segments.
pub fn segments(storage: &Arc<dyn Storage>) -> Segments {
    Segments::new(storage.clone(), SegmentCache::new(64 << 20).expect("cache"))
        .with_config(TreeConfig::tiny())
        .expect("tree config")
}

pub fn name(text: &str) -> DbName {
    DbName::new(text).expect("db name")
}

/// `f`, or a panic after 120 s: no test hangs.
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("timed out after 120 s")
}

/// Runs reads of durable values off the async workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

pub const SCHEMA: &str = r#"[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/bio :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

/// A database written like a transactor writes it: transact, append to
/// the log, CAS the log root, index now and then.
pub struct Source {
    pub seg: Segments,
    pub name: DbName,
    pub db: Db,
    pub root: LogRoot,
    pub revision: Revision,
    /// Every committed t, in order.
    pub ts: Vec<u64>,
    clock: i64,
    rng: StdRng,
    people: Vec<u64>,
    next_person: u64,
}

impl Source {
    /// Creates database `name` in `storage` with [`SCHEMA`].
    pub async fn create(storage: &Arc<dyn Storage>, name: &str) -> Source {
        let seg = segments(storage);
        let name = self::name(name);
        index::create_db(storage, &name).await.expect("create db");
        let open = index::open_db(&seg, &name).await.expect("open db");
        let mut source = Source {
            seg,
            name,
            db: open.db,
            root: open.root,
            revision: open.revision,
            ts: vec![0],
            clock: 1_600_000_000_000,
            rng: StdRng::seed_from_u64(7),
            people: Vec::new(),
            next_person: 0,
        };
        source.tx(SCHEMA).await;
        source
    }

    /// Transacts EDN tx data and commits it.
    pub async fn tx(&mut self, text: &str) -> TxReport {
        self.clock += 1000;
        let (db, text, clock) = (self.db.clone(), text.to_string(), self.clock);
        let report = blocking(move || {
            db.with_edn(&text, Instant(clock), &TxFunctions::new())
                .unwrap_or_else(|e| panic!("{e}\nin {text}"))
        })
        .await;
        self.commit(&[report.log_entry()]).await;
        self.db = report.db_after.clone();
        report
    }

    async fn commit(&mut self, entries: &[TxLog]) {
        let next = append(&self.seg, &self.root, entries)
            .await
            .expect("append");
        self.cas(next).await;
        self.ts.extend(entries.iter().map(|e| e.t));
    }

    async fn cas(&mut self, next: LogRoot) {
        let value = next.to_root_value().unwrap();
        self.revision = self
            .seg
            .storage
            .cas_root_or_conflict(&log_root_name(&self.name), Some(self.revision), &value)
            .await
            .expect("log root CAS");
        self.root = next;
    }

    /// Runs an indexing job and makes it the database's index.
    pub async fn index(&mut self) {
        let job = index_db(&self.seg, &self.db, &self.root)
            .await
            .expect("index job");
        let next = job
            .next_root(&self.seg, &self.root)
            .await
            .expect("next root");
        self.cas(next).await;
        let db = self.db.clone();
        self.db = blocking(move || job.rebase(&db).expect("rebase")).await;
    }

    /// `n` busy transactions: new people, changed ages and bios, tags and
    /// friends added and retracted, people retracted, indexing every
    /// `index_every` transactions.
    pub async fn busy(&mut self, n: usize, index_every: usize) {
        for i in 1..=n {
            let text = self.busy_text();
            let report = self.tx(&text).await;
            let mut created: Vec<u64> = report
                .tempids
                .iter()
                .filter(|(k, _)| k.starts_with('p'))
                .map(|(_, v)| *v)
                .collect();
            created.sort_unstable();
            self.people.extend(created);
            if i % index_every == 0 {
                self.index().await;
            }
        }
    }

    fn busy_text(&mut self) -> String {
        let mut forms = Vec::new();
        for _ in 0..self.rng.random_range(1..4) {
            let n = self.next_person;
            self.next_person += 1;
            forms.push(format!(
                r#"{{:db/id "p{n}" :p/email "p{n}@x.org" :p/age {} :p/bio "bio of person {n}, a somewhat longer text to fill segments" :p/tags [:t/{}]}}"#,
                self.rng.random_range(0..90),
                self.rng.random_range(0..5)
            ));
        }
        let mut touched = std::collections::HashSet::new();
        for _ in 0..self.rng.random_range(0..4) {
            if self.people.is_empty() {
                break;
            }
            let i = self.rng.random_range(0..self.people.len());
            let e = self.people[i];
            if !touched.insert(e) {
                continue;
            }
            let form = match self.rng.random_range(0..8) {
                0..=2 => format!("[:db/add {e} :p/age {}]", self.rng.random_range(0..90)),
                3 => format!("[:db/add {e} :p/tags :t/{}]", self.rng.random_range(0..8)),
                4 => {
                    let f = self.people[self.rng.random_range(0..self.people.len())];
                    format!("[:db/add {e} :p/friend {f}]")
                }
                5 => format!(
                    r#"[:db/add {e} :p/bio "bio {} of {e}"]"#,
                    self.rng.random_range(0..1000)
                ),
                6 => format!("[:db/retract {e} :p/age]"),
                _ => {
                    self.people.swap_remove(i);
                    format!("[:db/retractEntity {e}]")
                }
            };
            forms.push(form);
        }
        format!("[{}]", forms.join("\n"))
    }

    /// The database as a fresh reader opens it.
    pub async fn reopen(&self) -> Db {
        index::open_db(&segments(&self.seg.storage), &self.name)
            .await
            .expect("open db")
            .db
    }
}

pub fn all(db: &Db, index: Index) -> Vec<Datom> {
    db.datoms(index, &[]).unwrap().map(|r| r.unwrap()).collect()
}

pub fn everything(db: &Db) -> Vec<Vec<Datom>> {
    Index::ALL.iter().map(|i| all(db, *i)).collect()
}

pub fn log(db: &Db, until_t: Option<u64>) -> Vec<TxLog> {
    db.tx_range(None, until_t)
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
}

/// Asserts that two values read the same
/// ([`model::testkit::assert_same_reads`], on a blocking thread).
pub async fn assert_same(actual: &Db, expected: &Db, ts: &[u64], what: &str) {
    let (actual, expected, ts, what) = (
        actual.clone(),
        expected.clone(),
        ts.to_vec(),
        what.to_string(),
    );
    blocking(move || model::testkit::assert_same_reads(&actual, &expected, &ts, &what)).await;
}

/// Asserts that `restored` is `source` as of `t`: a real value whose
/// basis is the last t at or before `t`.
pub async fn assert_as_of(restored: &Db, source: &Db, t: u64, what: &str) {
    let (restored, source, what) = (restored.clone(), source.clone(), what.to_string());
    blocking(move || {
        let then = source.as_of(t).unwrap();
        let basis = log(&source, Some(t + 1)).last().unwrap().t;
        assert_eq!(restored.basis_t(), basis, "{what}: basis t");
        assert_eq!(
            restored.next_t(),
            source.next_t_at(basis).unwrap(),
            "{what}: next t"
        );
        assert_eq!(everything(&restored), everything(&then), "{what}: current");
        assert_eq!(
            everything(&restored.history()),
            everything(&then.history()),
            "{what}: history"
        );
        assert_eq!(
            log(&restored, None),
            log(&source, Some(t + 1)),
            "{what}: log"
        );
    })
    .await;
}

/// How many segments a storage holds.
pub async fn segment_count(storage: &Arc<dyn Storage>) -> usize {
    storage
        .segment_ids(1000)
        .map(|id| id.expect("listing segments"))
        .count()
        .await
}

use futures::StreamExt as _;
