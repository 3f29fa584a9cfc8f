//! Helpers shared by the integration tests: storages, a writer that commits
//! like a transactor, a seeded generator of busy transactions, and
//! comparisons of database values.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use index::{LogRoot, SegmentCache, Segments, TreeConfig, append, index_db, log_root_name};
use model::edn::Instant;
use model::{Datom, Db, Index, TxFunctions, TxLog, TxReport, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_core::{DbName, MemStorage, Revision, Storage, StorageExt};
use tokio::runtime::Runtime;

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Mem,
    File,
}

pub const BACKENDS: [Backend; 2] = [Backend::Mem, Backend::File];

/// A storage of `backend` (the temp dir lives as long as the returned guard).
pub fn storage(rt: &Runtime, backend: Backend) -> (Arc<dyn Storage>, Option<tempfile::TempDir>) {
    match backend {
        Backend::Mem => (Arc::new(MemStorage::new()), None),
        Backend::File => {
            let dir = tempfile::tempdir().unwrap();
            let s = rt
                .block_on(storage_file::FileStorage::open(dir.path()))
                .unwrap();
            (Arc::new(s), Some(dir))
        }
    }
}

pub fn segments(
    rt: &Runtime,
    storage: &Arc<dyn Storage>,
    cache_bytes: u64,
    config: TreeConfig,
) -> Segments {
    let cache = SegmentCache::with_handle(cache_bytes, rt.handle().clone());
    Segments::new(storage.clone(), cache)
        .with_config(config)
        .unwrap()
}

/// A writer that commits like a transactor: transact, append, CAS the log
/// root, index now and then. It keeps an all-novelty reference value of the
/// same transactions.
pub struct Writer {
    pub seg: Segments,
    pub name: DbName,
    pub db: Db,
    pub root: LogRoot,
    pub revision: Revision,
    pub reference: Db,
    pub ts: Vec<u64>,
    clock: i64,
}

impl Writer {
    pub fn create(rt: &Runtime, seg: &Segments, name: &str) -> Writer {
        let name = DbName::new(name).unwrap();
        rt.block_on(index::create_db(&seg.storage, &name)).unwrap();
        let open = rt.block_on(index::open_db(seg, &name)).unwrap();
        Writer {
            seg: seg.clone(),
            name,
            reference: open.db.clone(),
            db: open.db,
            root: open.root,
            revision: open.revision,
            ts: vec![0],
            clock: 1_300_000_000_000,
        }
    }

    /// Transacts EDN tx data and commits it.
    pub fn tx(&mut self, rt: &Runtime, text: &str) -> TxReport {
        self.clock += 1000;
        let report = self
            .db
            .with_edn(text, Instant(self.clock), &TxFunctions::new())
            .unwrap_or_else(|e| panic!("{e}\nin {text}"));
        self.commit(rt, &[report.log_entry()]);
        self.db = report.db_after.clone();
        report
    }

    /// Appends entries and CASes the log root.
    pub fn commit(&mut self, rt: &Runtime, entries: &[TxLog]) {
        let next = rt.block_on(append(&self.seg, &self.root, entries)).unwrap();
        self.cas(rt, next);
        for e in entries {
            self.reference = self.reference.apply_tx(e).unwrap();
            self.ts.push(e.t);
        }
    }

    pub fn cas(&mut self, rt: &Runtime, next: LogRoot) {
        let value = next.to_root_value().unwrap();
        self.revision = rt
            .block_on(self.seg.storage.cas_root_or_conflict(
                &log_root_name(&self.name),
                Some(self.revision),
                &value,
            ))
            .unwrap();
        self.root = next;
    }

    /// Runs an indexing job and makes it the database's index.
    pub fn index(&mut self, rt: &Runtime) -> index::IndexJob {
        let job = rt
            .block_on(index_db(&self.seg, &self.db, &self.root))
            .unwrap();
        let next = rt.block_on(job.next_root(&self.seg, &self.root)).unwrap();
        self.cas(rt, next);
        self.db = job.rebase(&self.db).unwrap();
        job
    }

    /// The database as a fresh reader opens it (through `seg`'s cache).
    pub fn reopen(&self, rt: &Runtime, seg: &Segments) -> Db {
        rt.block_on(index::open_db(seg, &self.name)).unwrap().db
    }

    pub fn clock(&self) -> i64 {
        self.clock
    }
}

pub const SCHEMA: &str = r#"[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/bio :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :p/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one :db/noHistory true}]"#;

/// Seeded busy transactions over [`SCHEMA`]: new people, updates of
/// cardinality-one values, tags and friends added and removed,
/// retractEntity.
pub struct Generator {
    rng: StdRng,
    people: Vec<u64>,
    next_person: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            people: Vec::new(),
            next_person: 0,
        }
    }

    /// One transaction's EDN text against `db`.
    pub fn tx_text(&mut self, db: &Db, new_people: usize, changes: usize) -> String {
        let mut forms = Vec::new();
        for _ in 0..new_people {
            let n = self.next_person;
            self.next_person += 1;
            let tag = self.rng.random_range(0..5);
            forms.push(format!(
                r#"{{:db/id "p{n}" :p/email "p{n}@x.org" :p/age {} :p/bio "bio of {n}" :p/tags [:t/{tag}] :p/score {}.5}}"#,
                self.rng.random_range(0..90),
                self.rng.random_range(0..100)
            ));
        }
        let mut touched = std::collections::HashSet::new();
        for _ in 0..changes {
            if self.people.is_empty() {
                break;
            }
            let i = self.rng.random_range(0..self.people.len());
            let e = self.people[i];
            if !touched.insert(e) {
                continue;
            }
            match self.rng.random_range(0..10) {
                0..=2 => forms.push(format!(
                    "[:db/add {e} :p/age {}]",
                    self.rng.random_range(0..90)
                )),
                3 => forms.push(format!(
                    "[:db/add {e} :p/score {}.25]",
                    self.rng.random_range(0..100)
                )),
                4 => forms.push(format!(
                    "[:db/add {e} :p/tags :t/{}]",
                    self.rng.random_range(0..8)
                )),
                5 => {
                    let f = self.people[self.rng.random_range(0..self.people.len())];
                    forms.push(format!("[:db/add {e} :p/friend {f}]"));
                }
                6 | 7 => {
                    let current =
                        values(db, e, ":p/tags")
                            .into_iter()
                            .chain(values(db, e, ":p/friend"));
                    if let Some(d) = current.into_iter().next() {
                        forms.push(format!("[:db/retract {e} {} {}]", d.a(), edn_value(d.v())));
                    }
                }
                8 => forms.push(format!(
                    r#"[:db/add {e} :p/bio "bio {} of {e}"]"#,
                    self.rng.random_range(0..1000)
                )),
                _ => {
                    forms.push(format!("[:db/retractEntity {e}]"));
                    self.people.swap_remove(i);
                }
            }
        }
        if forms.is_empty() {
            forms.push(r#"{:db/id "p-none" :p/age 1}"#.to_string());
        }
        format!("[{}]", forms.join("\n"))
    }

    /// Records the people a transaction created.
    pub fn created(&mut self, report: &TxReport) {
        let mut ids: Vec<u64> = report
            .tempids
            .iter()
            .filter(|(k, _)| k.starts_with('p'))
            .map(|(_, v)| *v)
            .collect();
        ids.sort_unstable();
        self.people.extend(ids);
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

fn values(db: &Db, e: u64, attr: &str) -> Vec<Datom> {
    all(db, Index::Eavt, &[Value::Ref(e), Value::keyword(attr)])
}

fn edn_value(v: &Value) -> String {
    match v {
        Value::Ref(e) => e.to_string(),
        other => other.to_string(),
    }
}

pub fn all(db: &Db, index: Index, components: &[Value]) -> Vec<Datom> {
    db.datoms(index, components)
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

pub fn everything(db: &Db) -> Vec<Vec<Datom>> {
    Index::ALL.iter().map(|i| all(db, *i, &[])).collect()
}

pub fn log(db: &Db) -> Vec<TxLog> {
    db.tx_range(None, None)
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
}

#[allow(unused_imports)] // each test binary that includes this module uses its own part
pub use model::testkit::assert_same_reads;

/// True when the environment asks for the long runs.
pub fn long() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

/// How many segments the storage holds.
pub fn segment_count(rt: &Runtime, storage: &Arc<dyn Storage>) -> usize {
    let mut n = 0;
    let mut from = None;
    loop {
        let page = rt.block_on(storage.list_segments(from, 1000)).unwrap();
        n += page.ids.len();
        match page.next {
            None => return n,
            Some(token) => from = Some(token),
        }
    }
}
