//! How a transactor behaves: lease timing, batching, indexing and
//! back-pressure thresholds, the clock, transaction functions.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use access::Principal;
use model::TxFunctions;
use model::edn::Instant;

use crate::lease::Patience;

/// The wall clock that stamps `:db/txInstant` (tests inject their own).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// What callers get while novelty is over its hard cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackPressure {
    /// An immediate [`crate::ErrorKind::Overloaded`] error: nothing committed.
    Reject,
    /// Transactions wait in the queue until the indexing job has caught up.
    Wait,
}

/// Settings of one transactor.
#[derive(Clone)]
pub struct Config {
    /// How long standbys wait without seeing a lease renewal before they
    /// take over; the holder renews every third of it, and steps down when
    /// it has not renewed for this long. Default
    /// [`crate::lease::DEFAULT_TTL`] (1 s): failover within about 1.5 s;
    /// the `lease` module docs say what a shorter or longer one costs.
    pub lease_ttl: Duration,
    /// How long [`crate::Transactor::start`] waits for a lease that a live
    /// transactor keeps renewing.
    pub patience: Patience,
    /// The endpoint advertised in the lease (`host:port`), if this
    /// transactor serves the protocol.
    pub endpoint: Option<String>,
    /// Novelty (datoms since the last indexing job) that starts a job.
    pub index_threshold: usize,
    /// How the threshold grows with the database: a job starts once
    /// novelty reaches the larger of [`Config::index_threshold`] and this
    /// many times the datoms already indexed, but never more than half the
    /// novelty cap. 0 (the default) keeps the threshold fixed.
    ///
    /// A job rewrites every index leaf its novelty touches, and new values
    /// of most attributes (names, amounts, references to older entities)
    /// land all over AVET and VAET: with a fixed threshold, each job
    /// rewrites about the whole index, so loading n datoms costs indexing
    /// work of order n² / threshold. A threshold in proportion to the
    /// index bounds the work per datom (at most about 1 + 1/growth leaf
    /// datoms written per novelty datom) until the cap stops the growth;
    /// the price is novelty (memory) in proportion to the index, up to
    /// half the cap. `accrete import` uses 3.
    pub index_growth: f64,
    /// Novelty beyond which callers feel back-pressure.
    pub novelty_cap: usize,
    /// What back-pressure means.
    pub back_pressure: BackPressure,
    /// Most transactions in one group commit.
    pub max_batch: usize,
    /// Most bytes of tx data (about) in one group commit: a batch stops
    /// growing once it holds this much (one transaction alone may be
    /// larger, up to [`model::limits::MAX_TX_BYTES`]).
    pub batch_bytes: usize,
    /// The longest a batch waits for the callers it expects (those the
    /// previous commit answered, who come straight back under a steady
    /// load) before it commits what it has; the wait is also at most half
    /// the recent commit latency, or how long the callers were recently
    /// seen to take to come back when that is longer (clients across a
    /// network). Zero commits what is queued at once.
    pub max_linger: Duration,
    /// Transactions that may wait in the queue before `transact` itself waits.
    pub queue_capacity: usize,
    /// How long a commit keeps retrying while storage is unavailable
    /// before its transactions fail: "not committed" when nothing reached
    /// the log root, "outcome unknown" when a write may still land (then
    /// the committer stops; see the `commit` module).
    pub commit_patience: Duration,
    /// Stamps `:db/txInstant` (never earlier than the previous one's + 1 ms).
    pub clock: Clock,
    /// Transaction functions callable from tx data: those registered in
    /// Rust here, and those installed as data (`:db/fn`), which the
    /// transactor always runs (through `txfn`'s shared runtime unless
    /// these functions carry a runtime of their own).
    pub functions: TxFunctions,
    /// Who commits the transactions of in-process callers
    /// ([`crate::Transactor::transact`]), recorded as `:tx/principal`: by
    /// default the OS user this process runs as (`local:USER`). Clients
    /// of the endpoint are recorded as the principal they authenticated as.
    pub local_principal: Principal,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lease_ttl: crate::lease::DEFAULT_TTL,
            patience: Patience::Forever,
            endpoint: None,
            index_threshold: 64 * 1024,
            index_growth: 0.0,
            novelty_cap: 1024 * 1024,
            back_pressure: BackPressure::Wait,
            max_batch: 1024,
            batch_bytes: 8 * 1024 * 1024,
            max_linger: Duration::from_millis(2),
            queue_capacity: 8192,
            commit_patience: Duration::from_secs(10),
            clock: Arc::new(crate::clock::system_clock),
            functions: txfn::tx_functions(),
            local_principal: Principal::local_user(),
        }
    }
}

impl Config {
    /// Checks the settings against each other.
    pub fn check(&self) -> crate::Result<()> {
        let problem = if self.lease_ttl < Duration::from_millis(30) {
            Some(format!("lease ttl {:?} is under 30 ms", self.lease_ttl))
        } else if self.index_threshold == 0 || self.novelty_cap <= self.index_threshold {
            Some(format!(
                "the novelty cap ({}) must be above the indexing threshold ({}), which must be positive",
                self.novelty_cap, self.index_threshold
            ))
        } else if !(self.index_growth.is_finite() && self.index_growth >= 0.0) {
            Some(format!(
                "index growth {} must be a number at or above 0",
                self.index_growth
            ))
        } else if self.max_batch == 0 || self.queue_capacity == 0 || self.batch_bytes == 0 {
            Some("batch size and queue capacity must be positive".to_string())
        } else {
            None
        };
        match problem {
            Some(p) => Err(crate::Error::invalid(format!("transactor config: {p}"))),
            None => Ok(()),
        }
    }
}

impl Config {
    /// The novelty that starts an indexing job on `db`: see
    /// [`Config::index_growth`].
    pub fn index_threshold_for(&self, db: &model::Db) -> usize {
        let grown =
            (db.indexed_len() as f64 * self.index_growth).min((self.novelty_cap / 2) as f64);
        self.index_threshold.max(grown as usize)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("lease_ttl", &self.lease_ttl)
            .field("patience", &self.patience)
            .field("endpoint", &self.endpoint)
            .field("index_threshold", &self.index_threshold)
            .field("index_growth", &self.index_growth)
            .field("novelty_cap", &self.novelty_cap)
            .field("back_pressure", &self.back_pressure)
            .field("max_batch", &self.max_batch)
            .field("batch_bytes", &self.batch_bytes)
            .field("max_linger", &self.max_linger)
            .field("queue_capacity", &self.queue_capacity)
            .field("commit_patience", &self.commit_patience)
            .field("functions", &self.functions)
            .field("local_principal", &self.local_principal)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Db, MemoryStore};

    /// A database of `n` entities with a name each, indexed whole.
    fn indexed(n: usize) -> Db {
        let schema = "[{:db/ident :n/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";
        let mut names = String::from("[");
        for i in 0..n {
            names.push_str(&format!(" {{:n/name \"n{i}\"}}"));
        }
        names.push(']');
        let functions = model::TxFunctions::new();
        let mut db = Db::new();
        for (i, text) in [schema, names.as_str()].into_iter().enumerate() {
            db = db
                .with_edn(text, model::edn::Instant(1 + i as i64), &functions)
                .expect("tx")
                .db_after;
        }
        let store = MemoryStore::index(&db, db.basis_t()).expect("indexed");
        Db::from_store(Arc::new(store), Vec::new()).expect("a db")
    }

    #[test]
    fn the_threshold_grows_with_the_index_up_to_half_the_cap() {
        let db = indexed(300);
        let indexed = db.indexed_len() as usize;
        assert!(indexed > 300, "the names and the bootstrap: {indexed}");
        assert_eq!(db.novelty_len(), 0);
        let config = |growth: f64, cap: usize| Config {
            index_threshold: 100,
            index_growth: growth,
            novelty_cap: cap,
            ..Config::default()
        };
        assert_eq!(config(0.0, 10_000).index_threshold_for(&db), 100);
        assert_eq!(config(1.0, 10_000).index_threshold_for(&db), indexed);
        assert_eq!(config(2.0, 10_000).index_threshold_for(&db), 2 * indexed);
        assert_eq!(config(0.1, 10_000).index_threshold_for(&db), 100);
        assert_eq!(
            config(10.0, 1_000).index_threshold_for(&db),
            500,
            "half the cap"
        );
        assert_eq!(
            config(10.0, 150).index_threshold_for(&db),
            100,
            "never under the threshold"
        );
        assert_eq!(
            config(5.0, 10_000).index_threshold_for(&Db::new()),
            100,
            "nothing indexed"
        );
    }

    #[test]
    fn a_growth_that_is_not_a_number_at_or_above_zero_is_refused() {
        for growth in [-1.0, f64::NAN, f64::INFINITY] {
            let config = Config {
                index_growth: growth,
                ..Config::default()
            };
            let e = config.check().expect_err("refused");
            assert!(e.message().contains("index growth"), "{e}");
        }
        let ok = Config {
            index_growth: 1.5,
            ..Config::default()
        };
        ok.check().expect("accepted");
    }
}
