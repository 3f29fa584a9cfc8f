//! Counters of one transactor, for monitoring and benchmarks.

use std::time::Duration;

use index::IndexJob;
use parking_lot::Mutex;
use storage_core::DbName;

use crate::observe::CommitSeries;

/// What a transactor has done since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Log-root compare-and-swaps that made transactions durable.
    pub commits: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// Datoms committed (`:db/txInstant` included).
    pub datoms: u64,
    /// The most transactions one log-root compare-and-swap committed.
    pub largest_batch: u64,
    /// Time spent writing the log and the root, summed over commits.
    pub commit_time: Duration,
    /// Indexing jobs committed.
    pub index_jobs: u64,
    /// Novelty datoms they merged (summed over the four indexes).
    pub indexed_datoms: u64,
    /// Datoms excision removed.
    pub excised_datoms: u64,
    /// Time the committed jobs ran, summed.
    pub index_time: Duration,
    /// Segments the committed jobs wrote.
    pub index_segments: u64,
}

impl Metrics {
    /// Transactions per log-root compare-and-swap: what group commit buys.
    pub fn transactions_per_commit(&self) -> f64 {
        match self.commits {
            0 => 0.0,
            n => self.transactions as f64 / n as f64,
        }
    }
}

/// The shared, updatable counters, also exported through the metrics
/// facade (see the `observe` module).
#[derive(Debug)]
pub(crate) struct MetricsCell(Mutex<Metrics>, CommitSeries);

impl MetricsCell {
    /// Counters from zero for `db`.
    pub(crate) fn new(db: &DbName) -> MetricsCell {
        MetricsCell(Mutex::new(Metrics::default()), CommitSeries::new(db))
    }

    /// The counters as of now.
    pub(crate) fn snapshot(&self) -> Metrics {
        *self.0.lock()
    }

    /// The novelty datoms waiting for indexing now.
    pub(super) fn backlog(&self, novelty: usize) {
        self.1.backlog(novelty);
    }

    pub(super) fn commit(&self, transactions: usize, datoms: usize, took: Duration) {
        self.1.commit(transactions, datoms, took);
        let mut m = self.0.lock();
        if transactions > 0 {
            m.commits += 1;
        }
        m.transactions += transactions as u64;
        m.largest_batch = m.largest_batch.max(transactions as u64);
        m.datoms += datoms as u64;
        m.commit_time += took;
    }

    pub(super) fn index_committed(&self, job: &IndexJob, ran: Duration) {
        self.1.indexed(job.stats.datoms_merged, ran);
        let mut m = self.0.lock();
        m.index_jobs += 1;
        m.indexed_datoms += job.stats.datoms_merged;
        m.excised_datoms += job.stats.datoms_excised;
        m.index_segments += job.stats.written.segments;
        m.index_time += ran;
    }
}
