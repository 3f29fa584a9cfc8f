//! A database written as a transactor writes it, for the benchmarks.
#![allow(dead_code, clippy::unwrap_used, missing_docs, unreachable_pub)]

use index::{JobStats, LogRoot, Segments, append, create_db, index_db, log_root_name, open_db};
use model::edn::Instant;
use model::testkit::{PEOPLE_SCHEMA, People};
use model::{Db, TxFunctions, TxLog};
use storage_core::{DbName, Revision, StorageExt};
use tokio::runtime::Runtime;

/// Novelty (datoms) at which the writer indexes, like a transactor.
pub const INDEX_EVERY: usize = 128 * 1024;

/// A database being written: the value, its log root and revision.
pub struct Writer {
    pub seg: Segments,
    pub name: DbName,
    pub db: Db,
    pub root: LogRoot,
    pub revision: Revision,
    pub people: People,
}

impl Writer {
    /// Creates the database `bench` with the people schema.
    pub fn create(rt: &Runtime, seg: &Segments) -> Writer {
        let name = DbName::new("bench").unwrap();
        rt.block_on(create_db(&seg.storage, &name)).unwrap();
        let open = rt.block_on(open_db(seg, &name)).unwrap();
        let report = open
            .db
            .with_edn(PEOPLE_SCHEMA, Instant(1), &TxFunctions::new())
            .unwrap();
        let people = People::new(&report.db_after).unwrap();
        let mut w = Writer {
            seg: seg.clone(),
            name,
            db: open.db,
            root: open.root,
            revision: open.revision,
            people,
        };
        w.commit(rt, report.log_entry());
        w
    }

    /// Commits one log entry.
    pub fn commit(&mut self, rt: &Runtime, entry: TxLog) {
        self.db = self.db.apply_tx(&entry).unwrap();
        let next = rt
            .block_on(append(&self.seg, &self.root, &[entry]))
            .unwrap();
        self.cas(rt, next);
    }

    fn cas(&mut self, rt: &Runtime, next: LogRoot) {
        let value = next.to_root_value().unwrap();
        let name = log_root_name(&self.name);
        self.revision = rt
            .block_on(
                self.seg
                    .storage
                    .cas_root_or_conflict(&name, Some(self.revision), &value),
            )
            .unwrap();
        self.root = next;
    }

    /// Runs an indexing job and makes it the index; returns what it did.
    pub fn index(&mut self, rt: &Runtime) -> JobStats {
        let job = rt
            .block_on(index_db(&self.seg, &self.db, &self.root))
            .unwrap();
        let next = rt.block_on(job.next_root(&self.seg, &self.root)).unwrap();
        self.cas(rt, next);
        self.db = job.rebase(&self.db).unwrap();
        job.stats
    }

    /// One transaction: `new` people of 4 datoms and `updates` age changes.
    pub fn tx(&mut self, new: usize, updates: usize) -> TxLog {
        self.people.tx(&self.db, new, updates)
    }

    /// Writes about `datoms` datoms in transactions of ~2k, indexing like
    /// a transactor; returns how many were written.
    pub fn write(&mut self, rt: &Runtime, datoms: usize) -> usize {
        let mut written = 0;
        let mut novelty = 0;
        while written < datoms {
            let updates = if self.people.is_empty() { 0 } else { 50 };
            let entry = self.tx(500, updates);
            written += entry.data.len();
            novelty += entry.data.len();
            self.commit(rt, entry);
            if novelty >= INDEX_EVERY {
                self.index(rt);
                novelty = 0;
            }
        }
        written
    }
}
