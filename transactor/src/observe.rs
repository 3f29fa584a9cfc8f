//! What the transactor tells operators, built in one place: its series in
//! the `metrics` facade (no-ops until a recorder is installed, e.g. by
//! `accrete transactor --metrics-listen`) and the span its tasks run in.
//!
//! | series | kind | labels |
//! | --- | --- | --- |
//! | `accrete_commits_total` | counter: log-root writes that made transactions durable | db |
//! | `accrete_transactions_total` | counter: transactions committed | db |
//! | `accrete_datoms_total` | counter: datoms committed | db |
//! | `accrete_commit_batch_transactions` | histogram: transactions per commit (group commit) | db |
//! | `accrete_commit_duration_seconds` | histogram: log write and root compare-and-swap of one commit | db |
//! | `accrete_indexing_backlog_datoms` | gauge: novelty datoms not yet in the persistent indexes | db |
//! | `accrete_indexing_jobs_total` | counter: indexing jobs committed | db |
//! | `accrete_indexed_datoms_total` | counter: novelty datoms merged by them | db |
//! | `accrete_indexing_duration_seconds` | histogram: how long each committed job ran | db |
//! | `accrete_lease_state` | gauge: 1 active (holds the lease), 0 standing by | db |
//! | `accrete_lease_epoch` | gauge: the epoch this process last held the lease at | db |
//! | `accrete_standby_age_seconds` | gauge: how long a standby has seen the holder's lease unchanged (a takeover comes at the holder's ttl); 0 when active | db |
//! | `accrete_takeovers_total` | counter: leases this process acquired | db |
//! | `accrete_connected_clients` | gauge: client connections of the endpoint | |
//! | `accrete_subscribers` | gauge: report subscriptions being streamed | |
//!
//! Root compare-and-swaps, segment reads and writes and storage errors are
//! recorded by the storage wrapper (`storage_core::metered`).

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};
use storage_core::DbName;

use crate::lease::Epoch;

/// The span of everything one transactor does for a database under one
/// epoch: every event inside carries both.
pub(crate) fn transactor_span(db: &DbName, epoch: Epoch) -> tracing::Span {
    tracing::info_span!("transactor", db = %db, epoch = %epoch)
}

/// The span of a standby waiting for a database's lease.
pub(crate) fn standby_span(db: &DbName) -> tracing::Span {
    tracing::info_span!("standby", db = %db)
}

/// This process now holds the lease of `db` at `epoch`.
pub(crate) fn lease_active(db: &DbName, epoch: Epoch) {
    let db = db.to_string();
    metrics::gauge!("accrete_lease_state", "db" => db.clone()).set(1.0);
    metrics::gauge!("accrete_lease_epoch", "db" => db.clone()).set(epoch.0 as f64);
    metrics::gauge!("accrete_standby_age_seconds", "db" => db.clone()).set(0.0);
    metrics::counter!("accrete_takeovers_total", "db" => db).increment(1);
}

/// This process stands by for `db` (or serves it no longer).
pub(crate) fn lease_standby(db: &DbName) {
    let db = db.to_string();
    metrics::gauge!("accrete_lease_state", "db" => db.clone()).set(0.0);
    // Registered at once, so a scrape between "standing by" and the first
    // look at the holder's lease sees the series (at 0) rather than none.
    metrics::gauge!("accrete_standby_age_seconds", "db" => db).set(0.0);
}

/// A standby of `db` has seen the holder's lease unchanged for `age`.
pub(crate) fn standby_age(db: &str, age: Duration) {
    metrics::gauge!("accrete_standby_age_seconds", "db" => db.to_string()).set(age.as_secs_f64());
}

/// The committer's series of one database, registered once.
#[derive(Debug)]
pub(crate) struct CommitSeries {
    commits: Counter,
    transactions: Counter,
    datoms: Counter,
    batch: Histogram,
    duration: Histogram,
    backlog: Gauge,
    index_jobs: Counter,
    indexed_datoms: Counter,
    index_duration: Histogram,
}

impl CommitSeries {
    pub(crate) fn new(db: &DbName) -> CommitSeries {
        let db = db.to_string();
        CommitSeries {
            commits: metrics::counter!("accrete_commits_total", "db" => db.clone()),
            transactions: metrics::counter!("accrete_transactions_total", "db" => db.clone()),
            datoms: metrics::counter!("accrete_datoms_total", "db" => db.clone()),
            batch: metrics::histogram!("accrete_commit_batch_transactions", "db" => db.clone()),
            duration: metrics::histogram!("accrete_commit_duration_seconds", "db" => db.clone()),
            backlog: metrics::gauge!("accrete_indexing_backlog_datoms", "db" => db.clone()),
            index_jobs: metrics::counter!("accrete_indexing_jobs_total", "db" => db.clone()),
            indexed_datoms: metrics::counter!("accrete_indexed_datoms_total", "db" => db.clone()),
            index_duration: metrics::histogram!("accrete_indexing_duration_seconds", "db" => db),
        }
    }

    pub(crate) fn commit(&self, transactions: usize, datoms: usize, took: Duration) {
        if transactions > 0 {
            self.commits.increment(1);
            self.batch.record(transactions as f64);
            self.duration.record(took.as_secs_f64());
        }
        self.transactions.increment(transactions as u64);
        self.datoms.increment(datoms as u64);
    }

    pub(crate) fn backlog(&self, novelty: usize) {
        self.backlog.set(novelty as f64);
    }

    pub(crate) fn indexed(&self, datoms: u64, ran: Duration) {
        self.index_jobs.increment(1);
        self.indexed_datoms.increment(datoms);
        self.index_duration.record(ran.as_secs_f64());
    }
}

/// Holds one unit of a gauge while alive (a connection, a subscription).
#[derive(Debug)]
pub(crate) struct Held(Gauge);

impl Held {
    pub(crate) fn client() -> Held {
        Held::of(metrics::gauge!("accrete_connected_clients"))
    }

    pub(crate) fn subscriber() -> Held {
        Held::of(metrics::gauge!("accrete_subscribers"))
    }

    fn of(gauge: Gauge) -> Held {
        gauge.increment(1.0);
        Held(gauge)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
