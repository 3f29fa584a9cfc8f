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

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("lease_ttl", &self.lease_ttl)
            .field("patience", &self.patience)
            .field("endpoint", &self.endpoint)
            .field("index_threshold", &self.index_threshold)
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
