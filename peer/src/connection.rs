//! A connection to one database: its latest value, transactions, report
//! queues and sync.

use std::sync::{Arc, Weak};
use std::time::Duration;

use index::Segments;
use model::{Db, TxReport};
use storage_core::DbName;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use transactor::client::Committed;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::follower::{Followed, Follower, Link, Wiring, read_log_root};
use crate::hub::{Hub, Pin};
use crate::queue::TxReportQueue;

/// The transactor a connection talks to now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactorInfo {
    /// Its endpoint (`host:port`), from the lease.
    pub endpoint: String,
    /// Its lease epoch.
    pub epoch: u64,
}

/// A connection to one database, made by [`crate::Peer::connect`]. Cheap to
/// clone; clones share everything. When the last clone is dropped (or on
/// [`Connection::release`]) the connection stops following the database.
///
/// In the background it keeps its database value up to date: it follows
/// the stream of committed transactions of the transactor that the
/// database's lease advertises, reconnecting by itself when that
/// transactor restarts or a standby takes over (and following the log in
/// storage meanwhile), and moves onto each newer index root so that its
/// memory stays within the segment cache plus the novelty since the last
/// indexing job.
#[derive(Clone, Debug)]
pub struct Connection {
    shared: Arc<Shared>,
}

/// What the clones of a connection share.
#[derive(Debug)]
pub(crate) struct Shared {
    name: DbName,
    seg: Segments,
    uuid: uuid::Uuid,
    hub: Arc<Hub>,
    link: watch::Receiver<Option<Link>>,
    kick: watch::Sender<Option<u64>>,
    stop: CancellationToken,
    config: Config,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Connection {
    /// Opens database `name` at its latest committed value and starts
    /// following it.
    pub(crate) async fn open(seg: Segments, name: DbName, config: Config) -> Result<Connection> {
        let opened = index::open_db(&seg, &name).await?;
        let hub = Arc::new(Hub::new(opened.db));
        let (link, link_watch) = watch::channel(None);
        let (kick, kick_watch) = watch::channel(None);
        let stop = CancellationToken::new();
        let followed = Followed {
            seg: seg.clone(),
            name: name.clone(),
            uuid: opened.entry.uuid,
            index: opened.root.index,
        };
        let wiring = Wiring {
            link,
            kick: kick_watch,
            stop: stop.clone(),
        };
        tokio::spawn(Follower::new(followed, hub.clone(), wiring, config.clone()).run());
        Ok(Connection {
            shared: Arc::new(Shared {
                name,
                seg,
                uuid: opened.entry.uuid,
                hub,
                link: link_watch,
                kick,
                stop,
                config,
            }),
        })
    }

    /// A handle that does not keep the connection alive.
    pub(crate) fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.shared)
    }

    /// The connection behind `weak`, while some clone keeps it.
    pub(crate) fn upgrade(weak: &Weak<Shared>) -> Option<Connection> {
        weak.upgrade().map(|shared| Connection { shared })
    }

    /// The database this connection follows.
    pub fn db_name(&self) -> &DbName {
        &self.shared.name
    }

    /// The latest database value this peer knows, without any network
    /// round trip. Reads of it may block on storage (cache misses): read
    /// from a plain thread or `spawn_blocking`, not directly on an async
    /// task.
    pub fn db(&self) -> Db {
        self.shared.hub.db()
    }

    /// The t of [`Connection::db`].
    pub fn basis_t(&self) -> u64 {
        self.db().basis_t()
    }

    /// The transactor this connection talks to now (`None` while it looks
    /// for one).
    pub fn transactor(&self) -> Option<TransactorInfo> {
        self.shared
            .link
            .borrow()
            .as_ref()
            .map(|link| TransactorInfo {
                endpoint: link.client.endpoint().to_string(),
                epoch: link.client.welcome().epoch,
            })
    }

    /// Why the connection stopped following its database, once it has.
    pub fn ended(&self) -> Option<Error> {
        self.shared.hub.ended()
    }

    /// Commits `tx` (EDN text: a vector of forms) through the transactor
    /// and returns its report once it is durable and this peer's value
    /// includes it: db before and after are this peer's values at t − 1
    /// and t, the tempids how they resolved.
    ///
    /// Waits for a transactor when none is reachable, and sends again when
    /// one refused the transaction without committing it because it was
    /// stopping or deposed, all within [`Config::transact_timeout`].
    /// Errors say whether the transaction committed
    /// ([`Error::not_committed`], [`Error::committed_t`]).
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Invalid`]: the transactor refused the tx data
    ///   (nothing committed); [`ErrorKind::Unauthenticated`],
    ///   [`ErrorKind::Forbidden`]: the credentials or the role did not
    ///   allow it (nothing committed).
    /// - [`ErrorKind::Unavailable`], [`ErrorKind::Overloaded`]: proven not
    ///   committed (no transactor took it within the timeout, or it was
    ///   over its novelty cap); send it again.
    /// - [`ErrorKind::OutcomeUnknown`]: it may have committed (the
    ///   connection failed after sending). The error names the
    ///   transaction's id: [`Connection::tx_status`] tells its fate, and
    ///   [`Connection::transact_with_id`] with that id is safe to repeat.
    /// - Committed, but this peer's value did not catch up in time:
    ///   [`Error::committed_t`] is `Some(t)`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: once the tx data has been sent, dropping the
    /// future does not stop the transactor from committing it. Give an id
    /// ([`Connection::transact_with_id`]) and ask
    /// [`Connection::tx_status`] when a caller may stop waiting.
    pub async fn transact(&self, tx: &str) -> Result<TxReport> {
        self.transact_with_id(tx, uuid::Uuid::new_v4()).await
    }

    /// [`Connection::transact`] under transaction id `tx_id` (`:tx/id`):
    /// when that id committed before, nothing is committed again and the
    /// report is the first commit's. After an unknown outcome, sending
    /// the same tx data again under the same id is always safe.
    pub async fn transact_with_id(&self, tx: &str, tx_id: uuid::Uuid) -> Result<TxReport> {
        let deadline = Instant::now() + self.shared.config.transact_timeout;
        let (committed, _pin) = self.send(tx, tx_id, deadline).await?;
        let t = committed.t();
        self.report_of(committed)
            .await
            .map_err(|e| e.after_commit(t))
    }

    /// What became of transaction `tx_id`, as the live transactor answers
    /// (waiting for one within [`Config::transact_timeout`]): committed at
    /// t, not committed (proven: see [`transactor::TxStatus`]), or unknown.
    pub async fn tx_status(&self, tx_id: uuid::Uuid) -> Result<transactor::TxStatus> {
        let deadline = Instant::now() + self.shared.config.transact_timeout;
        let link = self.wait_link(None, deadline).await?;
        match tokio::time::timeout_at(deadline, link.client.tx_status(tx_id)).await {
            Ok(status) => Ok(status?),
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the transactor at {} did not answer tx-status within {:?}",
                    link.client.endpoint(),
                    self.shared.config.transact_timeout
                ),
            )),
        }
    }

    /// Every transaction from now on, each once, in t order, whichever
    /// process submitted it (see [`TxReportQueue`]).
    pub fn tx_report_queue(&self) -> Result<TxReportQueue> {
        TxReportQueue::new(self.shared.hub.clone(), self.shared.config.report_buffer)
    }

    /// A value that includes transaction `t`: at once when this peer has
    /// it, else when it arrives (at most [`Config::sync_timeout`]).
    pub async fn sync_t(&self, t: u64) -> Result<Db> {
        self.shared
            .hub
            .wait_for(t, self.shared.config.sync_timeout)
            .await
    }

    /// A value that includes every transaction committed before the call:
    /// asks the transactor for its latest t (or, when none is reachable,
    /// reads the log root in storage, where every acknowledged transaction
    /// is) and waits for it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when the value does not arrive within
    /// [`Config::sync_timeout`]; [`ErrorKind::Unavailable`] when neither the
    /// transactor nor storage can be read; the connection's end reason
    /// ([`ErrorKind::Closed`] after [`Connection::release`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads and waits.
    pub async fn sync(&self) -> Result<Db> {
        if let Some(ended) = self.ended() {
            return Err(ended);
        }
        let t = match self.ask_latest_t().await {
            Some(t) => t,
            None => self.committed_t_in_storage().await?,
        };
        self.sync_t(t).await
    }

    /// Stops following the database: report queues end (after what they
    /// buffered) and later calls fail with [`ErrorKind::Closed`]. Values
    /// already handed out stay readable.
    pub fn release(&self) {
        self.shared.stop.cancel();
        self.shared.hub.end(&Error::new(
            ErrorKind::Closed,
            "the connection was released",
        ));
    }

    /// Sends `tx` to a transactor until one answers for it; the pin keeps
    /// the reports from before the send that answered.
    async fn send(
        &self,
        tx: &str,
        tx_id: uuid::Uuid,
        deadline: Instant,
    ) -> Result<(Committed, Pin<'_>)> {
        let mut refused: Option<u64> = None;
        loop {
            let link = self.wait_link(refused, deadline).await?;
            let pin = self.shared.hub.pin();
            let answer =
                tokio::time::timeout_at(deadline, link.client.transact_with_id(tx, tx_id)).await;
            let e = match answer {
                Ok(Ok(committed)) => return Ok((committed, pin)),
                Ok(Err(e)) => e,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "the transactor at {} did not answer within {:?}; the transaction may have committed",
                            link.client.endpoint(),
                            self.shared.config.transact_timeout
                        ),
                    ));
                }
            };
            if !sent_elsewhere(e.kind()) {
                return Err(e.into());
            }
            tracing::debug!(endpoint = link.client.endpoint(), error = %e, "transaction not committed; sending it to the next transactor");
            self.shared.kick.send_replace(Some(link.id));
            refused = Some(link.id);
        }
    }

    /// The current link, once there is one other than `not`.
    async fn wait_link(&self, not: Option<u64>, deadline: Instant) -> Result<Link> {
        let mut link = self.shared.link.clone();
        let usable = |l: &Option<Link>| l.as_ref().is_some_and(|l| Some(l.id) != not);
        let mut ended = self.shared.hub.latest();
        let waited = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                found = link.wait_for(usable) => found.map(|l| l.clone()).ok().flatten(),
                _ = ended.wait_for(|l| l.ended.is_some()) => None,
            }
        })
        .await;
        if let Some(ended) = self.ended() {
            return Err(ended);
        }
        match waited {
            Ok(Some(link)) => Ok(link),
            Ok(None) => Err(Error::new(ErrorKind::Closed, "the connection is gone")),
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "no transactor of database `{}` could be reached within {:?}; nothing was committed",
                    self.shared.name, self.shared.config.transact_timeout
                ),
            )),
        }
    }

    /// The report of a committed transaction, once this peer has it.
    async fn report_of(&self, committed: Committed) -> Result<TxReport> {
        let t = committed.t();
        let db = self.sync_t(t).await?;
        let mut report = match self.shared.hub.report_at(t) {
            Some(report) => report,
            // A resubmitted transaction id: the transactor answered the
            // first commit, made before this call pinned the reports.
            None => earlier_report(db, &committed).await?,
        };
        if report.tx_data != committed.entry.data {
            return Err(Error::corruption(format!(
                "the transactor answered t {t} with other datoms than it streamed"
            )));
        }
        report.tempids = committed.tempids;
        Ok(report)
    }

    /// The transactor's latest t, if one answers in time.
    async fn ask_latest_t(&self) -> Option<u64> {
        let link = self.shared.link.borrow().clone()?;
        let wait = self.shared.config.sync_timeout.min(STATUS_TIMEOUT);
        match tokio::time::timeout(wait, link.client.status()).await {
            Ok(Ok(status)) => Some(status.basis_t),
            _ => None,
        }
    }

    /// The basis t of the log root: every acknowledged transaction is in it.
    async fn committed_t_in_storage(&self) -> Result<u64> {
        let shared = &self.shared;
        let root = read_log_root(&shared.seg, &shared.name, shared.uuid).await?;
        Ok(root.basis_t)
    }
}

/// The report of transaction `committed`, made before this peer's call
/// (a resubmitted id), from the log of `db` (which includes it): the
/// values as of t − 1 and t. Its datoms must be the log's.
async fn earlier_report(db: Db, committed: &Committed) -> Result<TxReport> {
    let t = committed.t();
    let data = committed.entry.data.clone();
    tokio::task::spawn_blocking(move || {
        let logged = db.tx_range(Some(t), Some(t + 1))?.next().transpose()?;
        if logged.is_none_or(|entry| entry.data != data) {
            return Err(Error::corruption(format!(
                "the transactor answered t {t} with datoms the log does not have at t {t}"
            )));
        }
        Ok(TxReport {
            db_before: db.as_of(t.saturating_sub(1))?,
            db_after: db.as_of(t)?,
            tx_data: data,
            tempids: Default::default(),
        })
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("reading the log at t {t}: {e}"),
        )
    })?
}

/// How long [`Connection::sync`] waits for the transactor's STATUS before
/// it reads storage instead.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Refusals that say the transaction did not commit there and another
/// transactor (or the same one, reconnected) may take it.
fn sent_elsewhere(kind: transactor::ErrorKind) -> bool {
    use transactor::ErrorKind as T;
    matches!(
        kind,
        T::Fenced | T::ShuttingDown | T::NotServing | T::Unavailable | T::LeaseHeld
    )
}
