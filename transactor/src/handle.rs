//! A running transactor for one database: take the lease, fence, open,
//! commit until shut down or deposed.

use std::sync::Arc;
use std::time::Duration;

use access::Principal;
use index::{Segments, read_catalog};
use model::edn::{self, Edn};
use model::{Db, TxReport};
use parking_lot::Mutex;
use storage_core::{DbName, Storage};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::commit::{
    Author, Command, Committer, Metrics, MetricsCell, Published, Reply, Request, Wiring,
};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::feed::Feed;
use crate::fence::{fence, read_head};
use crate::lease::{Epoch, Holder, Lease, LeaseKeeper};
use crate::protocol::PROTOCOL_VERSION;
use crate::scope::TxScope;
use crate::txid::{SharedLedger, TxStatus};
use crate::warm::WarmDb;

/// How many committed reports a slow [`Transactor::reports`] receiver may
/// fall behind before it skips ([`broadcast::error::RecvError::Lagged`]).
const REPORT_BUFFER: usize = 4096;

/// The transactor of one database, running in this process: the embedded
/// mode, and the unit the standalone server runs per database.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Transactor {
    db_name: DbName,
    db_id: Uuid,
    epoch: Epoch,
    commands: mpsc::Sender<Command>,
    /// Cancelled by [`Transactor::shutdown`]: the committer reads it in
    /// every state, also while back-pressure keeps the queue unread.
    stop: CancellationToken,
    /// How long [`Transactor::shutdown`] waits for the committer.
    shutdown_grace: Duration,
    published: watch::Receiver<Published>,
    reports: broadcast::Sender<TxReport>,
    metrics: Arc<MetricsCell>,
    task: Mutex<Option<JoinHandle<Result<()>>>>,
    ledger: SharedLedger,
    storage: Arc<dyn Storage>,
    local_principal: Principal,
}

impl Transactor {
    /// Becomes the transactor of database `db` in `seg`'s storage: takes
    /// its lease (waiting as a standby as `config.patience` allows), fences
    /// any previous holder through the log root, opens the database at its
    /// latest committed basis and starts committing.
    pub async fn start(seg: Segments, db: &DbName, config: Config) -> Result<Transactor> {
        let claim = Claim::acquire(&seg, db, &config).await?;
        Self::take_over(seg, db, config, claim, None).await
    }

    /// The rest of [`Transactor::start`] once the lease is held: fence,
    /// open (from `warm`, a standby's copy, when it fits the fenced root),
    /// run. Not to be cancelled: it holds the lease (a cancelled claim
    /// would leave it to lapse).
    pub(crate) async fn take_over(
        seg: Segments,
        db: &DbName,
        config: Config,
        claim: Claim,
        warm: Option<WarmDb>,
    ) -> Result<Transactor> {
        // Functions and specs installed as data run in every transactor,
        // embedded or standalone, whatever Rust functions the caller set.
        let mut config = config;
        config.functions = txfn::ensure_installed(std::mem::take(&mut config.functions));
        let Claim { lease, uuid } = claim;
        let storage = seg.storage.clone();
        let epoch = lease.epoch();
        let keeper = LeaseKeeper::start(lease);
        let opened = async {
            let head = fence(storage.as_ref(), db, uuid, epoch).await?;
            // Read the catalog only after fencing: a delete-db marks the
            // catalog, then fences, so either it deposes us or we see it.
            let (catalog, _) = read_catalog(&storage).await?;
            if catalog.live(db.as_str()).is_none_or(|e| e.uuid != uuid) || head.root.db_uuid != uuid
            {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "database `{db}` was deleted and created anew while this transactor started"
                    ),
                ));
            }
            let value = WarmDb::open(&seg, &head.root, warm).await?.into_db();
            Ok((head, value))
        };
        let (head, value) = match opened.await {
            Ok(opened) => opened,
            Err(e) => {
                keeper.stop(e.kind() != ErrorKind::Fenced).await?;
                return Err(e);
            }
        };
        tracing::info!(db = %db, db_id = %uuid, %epoch, basis_t = value.basis_t(), "transactor started");
        Ok(Self::run(seg, db, epoch, head, value, config, keeper))
    }

    fn run(
        seg: Segments,
        db: &DbName,
        epoch: Epoch,
        head: crate::fence::Head,
        value: Db,
        config: Config,
        keeper: LeaseKeeper,
    ) -> Transactor {
        let db_id = head.root.db_uuid;
        let stop = CancellationToken::new();
        // Long enough for a commit's retries, a running indexing job's end
        // (each bounded by the commit patience) and a last lease write.
        let shutdown_grace = config.commit_patience * 3 + config.lease_ttl;
        let storage = seg.storage.clone();
        let local_principal = config.local_principal.clone();
        let (commands, commands_rx) = mpsc::channel(config.queue_capacity);
        let (published_tx, published) = watch::channel(Published {
            db: value.clone(),
            stopped: None,
        });
        let (reports, _) = broadcast::channel(REPORT_BUFFER);
        let metrics = Arc::new(MetricsCell::new(db));
        let wiring = Wiring {
            commands: commands_rx,
            published: published_tx,
            reports: reports.clone(),
            deposed: keeper.deposed(),
            stop: stop.clone(),
            metrics: metrics.clone(),
        };
        let committer = Committer::new(seg, db.clone(), epoch, head, value, config, wiring);
        let span = crate::observe::transactor_span(db, epoch);
        let task = tokio::spawn(
            async move {
                let why = committer.run().await;
                keeper.stop(why.kind() == ErrorKind::ShuttingDown).await
            }
            .instrument(span),
        );
        Transactor {
            db_name: db.clone(),
            db_id,
            epoch,
            commands,
            stop,
            shutdown_grace,
            published,
            reports,
            metrics,
            task: Mutex::new(Some(task)),
            ledger: SharedLedger::default(),
            storage,
            local_principal,
        }
    }

    /// The database this transactor writes.
    pub fn db_name(&self) -> &DbName {
        &self.db_name
    }

    /// The catalog id of the database it writes: which database of that
    /// name this is.
    pub fn db_id(&self) -> Uuid {
        self.db_id
    }

    /// The lease epoch it writes under.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// What a client names to reach this transactor: its database, the
    /// database's id and this transactor's epoch.
    pub fn target(&self) -> crate::client::Target {
        crate::client::Target {
            db: self.db_name.clone(),
            db_id: self.db_id,
            epoch: self.epoch.0,
        }
    }

    /// The latest committed database value.
    pub fn db(&self) -> Db {
        self.published.borrow().db.clone()
    }

    /// What it has done so far.
    pub fn metrics(&self) -> Metrics {
        self.metrics.snapshot()
    }

    /// Commits `forms` (tx data) and returns the report once the
    /// transaction is durable. Errors say whether it committed
    /// ([`Error::not_committed`]).
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Invalid`]: the tx data broke a rule (nothing
    ///   committed); [`ErrorKind::Forbidden`] only through
    ///   [`Transactor::transact_as`].
    /// - [`ErrorKind::Overloaded`], [`ErrorKind::Unavailable`],
    ///   [`ErrorKind::ShuttingDown`], [`ErrorKind::NotServing`],
    ///   [`ErrorKind::Fenced`]: proven not committed; send it again (to
    ///   the current transactor).
    /// - [`ErrorKind::OutcomeUnknown`]: it may have committed. Use
    ///   [`Transactor::transact_with_id`] when that matters: its id's fate
    ///   is in [`Transactor::tx_status`], and resubmitting under the same
    ///   id never commits twice.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe. Dropping the future before the transaction is
    /// queued commits nothing; dropping it after, it still commits (or is
    /// refused) exactly as if awaited, and the report is lost. A caller
    /// that may give up waiting gives an id ([`Transactor::transact_with_id`])
    /// and asks [`Transactor::tx_status`] afterwards.
    pub async fn transact(&self, forms: Vec<Edn>) -> Result<TxReport> {
        self.transact_with_id(forms, None).await
    }

    /// [`Transactor::transact`] under a transaction id, recorded as
    /// `:tx/id`: when `tx_id` committed before (here or under any earlier
    /// transactor of the database), nothing is committed and the report is
    /// the first commit's (its t, datoms and tempids). See
    /// [`Transactor::tx_status`].
    ///
    /// The transaction is recorded as committed by this process
    /// ([`Config::local_principal`], `:tx/principal`), which may do
    /// anything: it holds the storage's own credentials.
    pub async fn transact_with_id(&self, forms: Vec<Edn>, tx_id: Option<Uuid>) -> Result<TxReport> {
        let author = Author {
            principal: self.local_principal.clone(),
            admin: true,
        };
        self.transact_as(forms, tx_id, author).await
    }

    /// [`Transactor::transact_with_id`] on behalf of `author`, recorded as
    /// `:tx/principal`: refused with [`ErrorKind::Forbidden`] when the
    /// transaction needs the admin role (an excision, a schema alteration)
    /// and the author lacks it. The endpoint calls it for its clients.
    pub async fn transact_as(
        &self,
        forms: Vec<Edn>,
        tx_id: Option<Uuid>,
        author: Author,
    ) -> Result<TxReport> {
        self.submit(forms, tx_id, author, None).await
    }

    /// Queues one transaction of a series that shares `scope`
    /// ([`TxScope`]) under `tx_id`, and returns once it is queued: the
    /// scope rewrites its tx data just before it applies, after every
    /// transaction queued before it, and learns its report. Callers keep
    /// several queued and await each [`Queued::outcome`]: they apply in
    /// the order queued. The bulk importer uses it.
    pub async fn queue_scoped(
        &self,
        forms: Vec<Edn>,
        tx_id: Option<Uuid>,
        scope: Arc<dyn TxScope>,
    ) -> Result<Queued> {
        let author = Author {
            principal: self.local_principal.clone(),
            admin: true,
        };
        self.queue(forms, tx_id, author, Some(scope)).await
    }

    /// Asks for an indexing job now, whatever the novelty's size, and
    /// waits until one that covers every transaction committed before the
    /// call is committed; returns the basis t it indexed up to. Returns at
    /// once when there is no novelty.
    pub async fn index(&self) -> Result<u64> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Index(reply)).await.is_err() {
            return Err(self.stopped_error());
        }
        answer.await.map_err(|_| self.stopped_error())?
    }

    async fn submit(
        &self,
        forms: Vec<Edn>,
        tx_id: Option<Uuid>,
        author: Author,
        scope: Option<Arc<dyn TxScope>>,
    ) -> Result<TxReport> {
        self.queue(forms, tx_id, author, scope)
            .await?
            .outcome()
            .await
    }

    async fn queue(
        &self,
        forms: Vec<Edn>,
        tx_id: Option<Uuid>,
        author: Author,
        scope: Option<Arc<dyn TxScope>>,
    ) -> Result<Queued> {
        let (reply, answer) = oneshot::channel();
        let reply = Reply::new(reply, tx_id.map(|id| (id, self.ledger.clone())));
        let request = Request {
            bytes: crate::commit::weight(&forms),
            forms,
            tx_id,
            author,
            reply,
            scope,
            sent_at: tokio::time::Instant::now(),
        };
        if self
            .commands
            .send(Command::Transact(request))
            .await
            .is_err()
        {
            return Err(self.stopped_error());
        }
        Ok(Queued(answer))
    }

    /// What became of transaction `tx_id`, as this transactor can tell
    /// (the rules are in the `txid` module docs): committed at t, not
    /// committed (proven), or unknown. Reads may touch storage.
    pub async fn tx_status(&self, tx_id: Uuid) -> Result<TxStatus> {
        // The ledger first, then the published value: an id that leaves
        // the ledger was published (or remembered unknown) before it left.
        if let Some(why) = self.ledger.lock().unknown(tx_id) {
            return Ok(TxStatus::Unknown(why.to_string()));
        }
        let published = self.published.borrow().clone();
        let db = published.db.clone();
        let found = tokio::task::spawn_blocking(move || db.committed_tx(tx_id))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("looking up a tx id failed: {e}"),
                )
            })??;
        if let Some(first) = found {
            return Ok(TxStatus::Committed { t: first.t });
        }
        if let Some((_, why)) = published.stopped {
            return Ok(TxStatus::Unknown(format!(
                "this transactor stopped ({why}); ask the current holder of `{}`",
                self.db_name
            )));
        }
        // Not committed is proven only while this epoch is still the log's
        // writer: every earlier epoch is fenced, and nothing of ours is in
        // flight or unsettled.
        let head = read_head(self.storage.as_ref(), &self.db_name).await?;
        if head.root.epoch != self.epoch.0 {
            return Ok(TxStatus::Unknown(format!(
                "this transactor (epoch {}) was deposed by epoch {}; ask the current holder",
                self.epoch, head.root.epoch
            )));
        }
        Ok(TxStatus::NotCommitted)
    }

    /// [`Transactor::transact`] of EDN text: a vector of forms.
    pub async fn transact_edn(&self, text: &str) -> Result<TxReport> {
        self.transact(parse_tx(text)?).await
    }

    /// Every committed transaction from `from_t` on, in t order: the ones
    /// already committed, then each new one.
    pub fn subscribe(&self, from_t: u64) -> Feed {
        Feed::new(self.published.clone(), self.reports.subscribe(), from_t)
    }

    /// The reports of transactions committed from now on (db before and
    /// after, tx data, tempids). A receiver that falls more than 4096
    /// reports behind skips ahead with `RecvError::Lagged`; use
    /// [`Transactor::subscribe`] for a gap-free stream.
    pub fn reports(&self) -> broadcast::Receiver<TxReport> {
        self.reports.subscribe()
    }

    /// Why it stopped, once it has (deposed, shut down, or a failure it
    /// could not get past).
    pub fn stopped(&self) -> Option<Error> {
        self.published
            .borrow()
            .stopped
            .as_ref()
            .map(|(kind, message)| Error::new(*kind, message.clone()))
    }

    /// Waits until it stops and says why.
    pub async fn wait_stopped(&self) -> Error {
        let mut published = self.published.clone();
        // The sender lives as long as the committer, which publishes its
        // stop before it ends; a closed channel also means it ended.
        let _ = published.wait_for(|p| p.stopped.is_some()).await;
        self.stopped_error()
    }

    /// Commits what is queued (unless back-pressure holds the queue),
    /// stops, and releases the lease so that the next transactor need not
    /// wait for it to lapse.
    ///
    /// Bounded in every state: a committer still busy after the grace
    /// (three times the commit patience plus the lease ttl, e.g. on a
    /// storage call that hangs) is abandoned; what it held gets "outcome unknown", and its
    /// lease is left to lapse (its renewals stop with it).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutcomeUnknown`] when the committer did not stop within
    /// the grace (transactions it held may or may not have committed);
    /// otherwise the error the committer stopped with, if it failed (a
    /// deposed transactor says [`ErrorKind::Fenced`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: the stop is requested at the first poll and
    /// cannot be taken back, so a dropped future still stops the
    /// transactor (without waiting for it); a later call waits for nothing
    /// and returns `Ok`.
    pub async fn shutdown(&self) -> Result<()> {
        self.stop.cancel();
        let task = self.task.lock().take();
        let Some(mut task) = task else {
            return Ok(());
        };
        match tokio::time::timeout(self.shutdown_grace, &mut task).await {
            Ok(finished) => finished.map_err(|e| {
                Error::new(
                    ErrorKind::Corruption,
                    format!("the transactor task failed: {e}"),
                )
            })?,
            Err(_) => {
                task.abort();
                tracing::warn!(db = %self.db_name, epoch = %self.epoch, grace = ?self.shutdown_grace, "the committer did not stop in time; abandoned it, its lease lapses");
                Err(Error::new(
                    ErrorKind::OutcomeUnknown,
                    format!(
                        "transactor of `{}` did not stop within {:?} (storage hangs?); its lease was left to lapse",
                        self.db_name, self.shutdown_grace
                    ),
                ))
            }
        }
    }

    /// The error for a request the stopped committer never took.
    fn stopped_error(&self) -> Error {
        let (kind, message) = self.published.borrow().stopped.clone().unwrap_or((
            ErrorKind::ShuttingDown,
            "the transactor stopped".to_string(),
        ));
        let kind = match kind {
            // The request never reached the committer: it did not commit.
            ErrorKind::OutcomeUnknown | ErrorKind::Corruption => ErrorKind::NotServing,
            other => other,
        };
        Error::new(
            kind,
            format!("transactor of `{}` stopped: {message}", self.db_name),
        )
    }
}

/// A transaction queued at the committer ([`Transactor::queue_scoped`]).
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<TxReport>>);

impl Queued {
    /// Waits for the transaction's outcome, as [`Transactor::transact`]
    /// answers it.
    pub async fn outcome(self) -> Result<TxReport> {
        self.0.await.map_err(|_| {
            Error::new(
                ErrorKind::OutcomeUnknown,
                "the committer ended without answering",
            )
        })?
    }
}

/// A lease taken for a database that exists: the first half of
/// [`Transactor::start`], and the only one that waits (as a standby).
#[derive(Debug)]
pub(crate) struct Claim {
    lease: Lease,
    /// The database's identity in the catalog when the claim began.
    uuid: Uuid,
}

impl Claim {
    /// Checks that `db` exists and takes its lease.
    pub(crate) async fn acquire(seg: &Segments, db: &DbName, config: &Config) -> Result<Claim> {
        config.check()?;
        let storage = seg.storage.clone();
        let (catalog, _) = read_catalog(&storage).await?;
        let entry = catalog.live(db.as_str()).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("database `{db}` does not exist"),
            )
        })?;
        let floor = Epoch(read_head(storage.as_ref(), db).await?.root.epoch).next();
        let holder = Holder::new(Uuid::new_v4(), config.endpoint.clone(), PROTOCOL_VERSION)?;
        let lease = Lease::acquire(
            storage,
            db,
            entry.uuid,
            holder,
            config.lease_ttl,
            config.patience,
            floor,
        )
        .await?;
        Ok(Claim {
            lease,
            uuid: entry.uuid,
        })
    }
}

/// Reads tx data written as EDN text: a vector (or list) of forms. Text
/// over [`model::limits::MAX_TX_BYTES`] is refused before it is parsed.
pub fn parse_tx(text: &str) -> Result<Vec<Edn>> {
    model::limits::check_tx_bytes(text.len())?;
    match edn::parse(text)? {
        Edn::Vector(forms) | Edn::List(forms) => Ok(forms),
        other => Err(Error::invalid(format!(
            "tx data must be a vector of forms, not `{}`",
            storage_core::truncate_for_message(&other.to_string())
        ))),
    }
}
