//! The committer: the one task that owns a database's log root while this
//! transactor holds the lease.
//!
//! It takes every transaction waiting in the queue (up to a batch of
//! [`Config::max_batch`] transactions and [`Config::batch_bytes`] bytes),
//! applies them in order, appends their log entries with one log
//! write and makes them durable with one log-root compare-and-swap.
//!
//! The batch grows with the load. Under a steady load the callers a commit
//! answers come straight back with their next transaction, a moment after
//! the answer; taking only what is queued at that moment would split them
//! into two cohorts that alternate, each committing half of them. So a
//! commit expects as many transactions as were waiting when it answered
//! plus those it answered, and the next batch lingers for them, never
//! longer than [`Config::max_linger`], and no longer than half the recent
//! commit latency or the time callers were recently seen to take to come
//! back, whichever is longer. That time is measured: from answering a
//! commit's callers until as many transactions have been sent since (a
//! moving average; a measure still open after eight times the longest
//! linger counts as zero: they were not coming back). Across a network it
//! is longer than in the process, and half the commit latency alone
//! splits network clients into cohorts again (the test
//! `sixty_four_network_clients_commit_in_one_round` shows both).
//! A lone caller is expected alone and served at once (no timer). Only
//! then does any caller hear "committed" and any subscriber see the
//! transactions. A conflict on the log root means a newer epoch fenced this
//! transactor: it fails what it holds ("fenced: not committed") and stops.
//!
//! A log-root write whose outcome storage could not settle is never
//! answered "not committed" on that account: every retry of one commit sends
//! the same root value, so a late landing is recognised as ours; what
//! storage leaves unknown is settled from the log (our entries there, or
//! the revision after ours taken without them); and what even the log
//! cannot settle is answered "outcome unknown" and stops the committer, so
//! that nothing is built on a head it is not sure of. The next holder's
//! fencing then decides it for good, and the transaction's id tells the
//! client which way.

mod apply;
mod indexing;
mod metrics;

pub use apply::Author;
pub(crate) use apply::{Reply, Request};
pub use metrics::Metrics;

use std::sync::Arc;
use std::time::Duration;

use index::{LogRoot, Segments, log_root_name};
use model::edn::Edn;
use model::{Db, TxLog, TxReport};
use storage_core::{CasOutcome, DbName, Root, RootName, RootValue};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cas::{reread, settled_cas_within};
use crate::config::{BackPressure, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::fence::Head;
use crate::lease::Epoch;
use apply::{Applied, apply_batch};
use indexing::Indexing;
pub(crate) use metrics::MetricsCell;

/// What the committer is asked to do. (Shutting down is the `stop` token
/// of [`Wiring`], not a command: the queue may be full or, under
/// back-pressure, unread.)
#[derive(Debug)]
pub(crate) enum Command {
    /// Commit a transaction.
    Transact(Request),
    /// Index now, and answer once an indexing job that covers every
    /// transaction committed so far is committed (with its basis t).
    Index(oneshot::Sender<Result<u64>>),
}

/// The latest committed state, for readers of the transactor.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    /// The latest committed database value.
    pub(crate) db: Db,
    /// Why the committer stopped, once it has.
    pub(crate) stopped: Option<(ErrorKind, String)>,
}

/// The channels a committer talks through.
pub(crate) struct Wiring {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) published: watch::Sender<Published>,
    pub(crate) reports: broadcast::Sender<TxReport>,
    pub(crate) deposed: watch::Receiver<Option<String>>,
    /// Cancelled to shut down: commit what is queued (unless back-pressure
    /// holds it), then stop.
    pub(crate) stop: CancellationToken,
    pub(crate) metrics: Arc<MetricsCell>,
}

/// The task that commits for one database.
pub(crate) struct Committer {
    seg: Segments,
    db_name: DbName,
    root_name: RootName,
    epoch: Epoch,
    head: Head,
    db: Db,
    config: Config,
    wiring: Wiring,
    indexing: Indexing,
    stopping: bool,
    /// Transactions the next batch expects (see the module docs).
    expected: usize,
    /// The recent time of a commit's log write and root CAS (a moving
    /// average): a batch lingers at most half of it.
    latency: Duration,
    /// How long the callers of a commit recently took to come back (a
    /// moving average): a batch lingers up to this when it is longer than
    /// half the commit latency.
    returns: Duration,
    /// The callers of a commit being timed on their way back.
    measuring: Option<Return>,
    /// Callers of [`Command::Index`], with the basis t they wait for.
    index_waiters: Vec<(u64, oneshot::Sender<Result<u64>>)>,
}

/// What woke the committer.
enum Wake {
    /// Transactions to commit (maybe none, when an index is ready).
    Batch(Vec<Request>),
    /// Stop, failing what is queued with this error.
    Stop(Error),
}

impl Committer {
    /// A committer for `db_name` whose fenced log root is `head` and whose
    /// value is `db`.
    pub(crate) fn new(
        seg: Segments,
        db_name: DbName,
        epoch: Epoch,
        head: Head,
        db: Db,
        config: Config,
        wiring: Wiring,
    ) -> Self {
        Committer {
            root_name: log_root_name(&db_name),
            seg,
            db_name,
            epoch,
            head,
            db,
            config,
            wiring,
            indexing: Indexing::default(),
            stopping: false,
            expected: 1,
            latency: Duration::ZERO,
            returns: Duration::ZERO,
            measuring: None,
            index_waiters: Vec::new(),
        }
    }

    /// Commits until shut down or deposed; returns why it stopped.
    pub(crate) async fn run(mut self) -> Error {
        if let Err(why) = self.upgrade().await {
            return self.finish(why).await;
        }
        loop {
            let batch = match self.wake().await {
                Wake::Batch(batch) => batch,
                Wake::Stop(why) => return self.finish(why).await,
            };
            if let Err(why) = self.commit(batch).await {
                return self.finish(why).await;
            }
            if self.stopping && (self.over_cap() || self.wiring.commands.is_empty()) {
                let why = match self.commit_running_index().await {
                    Ok(()) => Error::new(ErrorKind::ShuttingDown, "the transactor was shut down"),
                    Err(e) => e,
                };
                return self.finish(why).await;
            }
        }
    }

    /// Commits the system transaction that installs the built-in
    /// attributes a database created by an older accrete lacks
    /// ([`Db::upgrade`]), before any client's transaction; nothing when
    /// the database is current. Storage that is unavailable leaves the
    /// database as it was (proven: the log root did not move) and the next
    /// take-over tries again; the built-in schema itself is known to every
    /// value whatever its log holds, so clients are served meanwhile.
    async fn upgrade(&mut self) -> Result<()> {
        let instant = apply::next_instant(&self.db, &self.config);
        let (db, principal) = (self.db.clone(), self.config.local_principal.clone());
        let report = tokio::task::spawn_blocking(move || db.upgrade(instant, principal.as_str()))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("building the upgrade transaction panicked: {e}"),
                )
            })??;
        let Some(report) = report else {
            return Ok(());
        };
        let (t, datoms) = (report.t(), report.tx_data.len());
        let entries = [report.log_entry()];
        let started = Instant::now();
        match self.write(&entries).await {
            Ok(head) => {
                tracing::info!(
                    db = %self.db_name, t, datoms,
                    "upgraded the database to this version's built-in schema"
                );
                let (reply, _) = oneshot::channel();
                let applied = Applied {
                    reports: vec![(report, Reply::new(reply, None))],
                    ..Applied::default()
                };
                self.committed(head, applied, started.elapsed()).await
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                tracing::warn!(
                    db = %self.db_name, error = %e,
                    "upgrading the database to this version's built-in schema failed; the next take-over retries"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Waits for work: queued transactions, a finished indexing job, or a
    /// reason to stop. The stop token and a deposition are read in every
    /// state, also while back-pressure leaves the queue unread.
    async fn wake(&mut self) -> Wake {
        loop {
            if !self.stopping {
                let forced = !self.index_waiters.is_empty();
                self.indexing.maybe_start(
                    &self.seg,
                    &self.db,
                    &self.head.root,
                    &self.config,
                    forced,
                );
            }
            if self.indexing.has_ready() {
                return Wake::Batch(self.drain(Vec::new()));
            }
            let over_cap = self.over_cap();
            if self.stopping {
                // What was queued before the stop, batch by batch; under
                // back-pressure it is failed instead (never applied).
                return Wake::Batch(match over_cap {
                    true => Vec::new(),
                    false => self.drain(Vec::new()),
                });
            }
            tokio::select! {
                biased;
                changed = self.wiring.deposed.changed() => {
                    if let Some(why) = self.wiring.deposed.borrow().clone() {
                        return Wake::Stop(Error::fenced(why));
                    }
                    if changed.is_err() {
                        return Wake::Stop(Error::fenced("the lease keeper stopped"));
                    }
                }
                () = self.wiring.stop.cancelled() => self.begin_stopping(),
                () = self.indexing.finished() => {}
                command = self.wiring.commands.recv(), if !over_cap => match command {
                    Some(command) => {
                        let mut batch = Vec::new();
                        self.take(command, &mut batch);
                        if batch.is_empty() {
                            continue;
                        }
                        return Wake::Batch(self.gather(batch).await);
                    }
                    None => self.begin_stopping(),
                },
            }
        }
    }

    /// Takes no new transactions from now on; those queued stay readable.
    fn begin_stopping(&mut self) {
        self.stopping = true;
        self.wiring.commands.close();
    }

    /// True while novelty is over its cap and back-pressure makes callers
    /// wait: the queue is not read until indexing catches up.
    fn over_cap(&self) -> bool {
        self.config.back_pressure == BackPressure::Wait
            && self.db.novelty_len() >= self.config.novelty_cap
    }

    /// On shutdown: lets a running indexing job finish (within the commit
    /// patience) and commits it, so its work is not lost (a short-lived
    /// embedded transactor would otherwise never index).
    async fn commit_running_index(&mut self) -> Result<()> {
        if self.indexing.is_running() {
            let deadline = Instant::now() + self.config.commit_patience;
            let _ = tokio::time::timeout_at(deadline, self.indexing.finished()).await;
        }
        match self.indexing.has_ready() {
            true => self.commit(Vec::new()).await,
            false => Ok(()),
        }
    }

    /// Adds every transaction already queued, up to a batch.
    fn drain(&mut self, mut batch: Vec<Request>) -> Vec<Request> {
        while !self.full(&batch) {
            match self.wiring.commands.try_recv() {
                Ok(command) => self.take(command, &mut batch),
                Err(_) => break,
            }
        }
        batch
    }

    /// [`Committer::drain`], then lingers for the transactions the batch
    /// expects (see the module docs) while they keep arriving.
    async fn gather(&mut self, batch: Vec<Request>) -> Vec<Request> {
        let mut batch = self.drain(batch);
        let expected = self.expected.min(self.config.max_batch);
        let bound = (self.latency / 2).max(self.returns);
        let linger = self.config.max_linger.min(bound);
        let deadline = Instant::now() + linger;
        while batch.len() < expected && !self.full(&batch) {
            match tokio::time::timeout_at(deadline, self.wiring.commands.recv()).await {
                Ok(Some(command)) => {
                    self.take(command, &mut batch);
                    batch = self.drain(batch);
                }
                // Closed (shutting down), or the linger is over.
                Ok(None) | Err(_) => break,
            }
        }
        batch
    }

    /// True when `batch` holds as many transactions or bytes as one may.
    fn full(&self, batch: &[Request]) -> bool {
        batch.len() >= self.config.max_batch
            || batch.iter().map(|r| r.bytes).sum::<usize>() >= self.config.batch_bytes
    }

    /// Puts a transaction into `batch`, or notes a caller waiting for an
    /// index (answered at once when there is no novelty).
    fn take(&mut self, command: Command, batch: &mut Vec<Request>) {
        match command {
            Command::Transact(request) => {
                self.returned(request.sent_at);
                batch.push(request);
            }
            Command::Index(reply) if self.db.novelty_len() == 0 => {
                let _ = reply.send(Ok(self.db.basis_t()));
            }
            Command::Index(reply) => self.index_waiters.push((self.db.basis_t(), reply)),
        }
    }

    /// Counts a transaction sent at `sent_at` towards the callers being
    /// timed; once as many as they were are back, learns how long it took.
    fn returned(&mut self, sent_at: Instant) {
        let Some(m) = self.measuring.as_mut() else {
            return;
        };
        if sent_at < m.answered_at {
            return;
        }
        m.seen += 1;
        if m.seen >= m.answered {
            let took = sent_at - m.answered_at;
            self.learn_return(took);
            self.measuring = None;
        }
    }

    fn learn_return(&mut self, took: Duration) {
        self.returns = (self.returns * 3 + took.min(self.config.max_linger)) / 4;
    }

    /// Starts timing the `answered` callers of a commit answered at `now`,
    /// unless callers of an earlier one are still being timed (a commit of
    /// the few that came back early must not restart the clock of the many
    /// still on their way). One that waited too long is given up.
    fn time_return(&mut self, answered: usize, now: Instant) {
        if let Some(m) = &self.measuring {
            let give_up = self.config.max_linger * Return::GIVE_UP;
            if now.duration_since(m.answered_at) <= give_up {
                return;
            }
            self.learn_return(Duration::ZERO);
        }
        self.measuring = (answered > 1).then_some(Return {
            answered_at: now,
            answered,
            seen: 0,
        });
    }

    /// Applies `batch` and makes it durable with one log-root write. An
    /// error means the committer must stop; a batch that failed but left
    /// the log root as it was is answered and `Ok`.
    async fn commit(&mut self, batch: Vec<Request>) -> Result<()> {
        let taken = batch.len();
        let mut applied = self.apply(batch).await?;
        let forms = std::mem::take(&mut applied.forms);
        if forms.iter().map(Vec::len).sum::<usize>() >= FREE_ELSEWHERE {
            // Freeing an import's batch of forms takes a while; the next
            // batch need not wait for it.
            tokio::task::spawn_blocking(move || drop(forms));
        }
        if applied.reports.is_empty() && !self.indexing.has_ready() {
            self.expect(taken);
            // Only resubmissions of what is committed already.
            answer_duplicates(std::mem::take(&mut applied.duplicates), Ok(()));
            return Ok(());
        }
        let entries: Vec<TxLog> = applied.reports.iter().map(|(r, _)| r.log_entry()).collect();
        let started = Instant::now();
        let written = self.write(&entries).await;
        self.expect(taken);
        match written {
            Ok(head) => self.committed(head, applied, started.elapsed()).await,
            Err(e) => {
                for (_, reply) in applied.reports {
                    let _ = reply.send(Err(Error::new(e.kind(), e.message().to_string())));
                }
                answer_duplicates(applied.duplicates, Err(&e));
                match e.kind() {
                    ErrorKind::Unavailable => Ok(()),
                    _ => Err(e),
                }
            }
        }
    }

    /// Sets what the next batch expects, just before the callers of a
    /// batch of `taken` transactions are answered: those waiting now and
    /// those about to hear (see the module docs).
    fn expect(&mut self, taken: usize) {
        self.expected = (self.wiring.commands.len() + taken).max(1);
    }

    /// Applies the batch on a blocking thread (reads may block on storage).
    async fn apply(&self, batch: Vec<Request>) -> Result<Applied> {
        if batch.is_empty() {
            return Ok(Applied::default());
        }
        let (db, config) = (self.db.clone(), self.config.clone());
        tokio::task::spawn_blocking(move || apply_batch(&db, batch, &config))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("applying transactions panicked: {e}"),
                )
            })
    }

    /// Appends `entries` (and a finished index) to the log and CASes the
    /// log root, all within the commit patience.
    ///
    /// The new log root is encoded once: every retry of this commit sends
    /// the same root value (the same writer nonce), so a proposal that
    /// lands late is recognised as ours (see `storage_core::write_root`).
    /// `Ok` means committed; [`ErrorKind::Fenced`] and
    /// [`ErrorKind::Unavailable`] mean proven not committed;
    /// [`ErrorKind::OutcomeUnknown`] means the write could not be settled,
    /// even from the log, and the committer must stop.
    async fn write(&self, entries: &[TxLog]) -> Result<Head> {
        let deadline = Instant::now() + self.config.commit_patience;
        let next = self.next_root(entries, deadline).await?;
        let value = next.to_root_value()?;
        let storage = self.seg.storage.as_ref();
        let expected = Some(self.head.revision);
        let patience = deadline.saturating_duration_since(Instant::now());
        match settled_cas_within(storage, &self.root_name, expected, &value, patience).await {
            Ok(CasOutcome::Applied(revision)) => Ok(Head {
                root: next,
                revision,
            }),
            Ok(CasOutcome::Conflict(current)) => Err(self.deposed(current)),
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                self.settle(next, &value, entries.last(), e).await
            }
            Err(e) => Err(e),
        }
    }

    /// The log root with `entries` appended (and a finished index), with
    /// retryable failures retried until `deadline`. Nothing is written to
    /// the log root here, so every failure is "not committed".
    async fn next_root(&self, entries: &[TxLog], deadline: Instant) -> Result<LogRoot> {
        let mut pause = Duration::from_millis(10);
        loop {
            let error = match self.try_next_root(entries).await {
                Ok(next) => return Ok(next),
                Err(e) => e,
            };
            if error.kind() != ErrorKind::Unavailable || Instant::now() + pause > deadline {
                return Err(error);
            }
            tracing::warn!(db = %self.db_name, error = %error, "writing the log failed; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn try_next_root(&self, entries: &[TxLog]) -> Result<LogRoot> {
        let base = match self.indexing.ready() {
            Some(job) => job.next_root(&self.seg, &self.head.root).await?,
            None => self.head.root.clone(),
        };
        Ok(index::append(&self.seg, &base, entries).await?)
    }

    /// Settles a log-root write whose outcome storage could not settle, from
    /// the log itself: a fresh linearizable read of the log root either
    /// holds our value, or has moved on with our entries in its log
    /// (committed: a successor built on our write), or has moved on without
    /// them (proven not committed: the revision after ours is taken, so our
    /// proposal can never land). A root still at our expected revision, or
    /// a log that cannot be read, leaves the outcome unknown.
    async fn settle(
        &self,
        next: LogRoot,
        value: &RootValue,
        last: Option<&TxLog>,
        unknown: Error,
    ) -> Result<Head> {
        let storage = self.seg.storage.as_ref();
        let current = match reread(storage, &self.root_name).await {
            Ok(Some(current)) => current,
            Ok(None) | Err(_) => return Err(unknown),
        };
        let target = self.head.revision.next()?;
        if current.revision == target && current.value.nonce() == value.nonce() {
            return Ok(Head {
                root: next,
                revision: target,
            });
        }
        if current.revision <= self.head.revision {
            return Err(unknown);
        }
        let found = LogRoot::decode(&self.root_name, current.value.data())?;
        match self.logged(&found, last).await {
            Some(true) => {
                tracing::info!(db = %self.db_name, "an unsettled commit was found in the log");
                Ok(Head {
                    root: next,
                    revision: target,
                })
            }
            Some(false) => Err(self.deposed(Some(current))),
            None => Err(unknown),
        }
    }

    /// Whether the log of `found` holds `ours` (the last entry this commit
    /// wrote): `Some(false)` only when it has no entry at that t at all.
    async fn logged(&self, found: &LogRoot, last: Option<&TxLog>) -> Option<bool> {
        let Some(last) = last else {
            // Only an index was written: nothing to look for, and no
            // caller waits on it.
            return Some(false);
        };
        if found.basis_t < last.t {
            return Some(false);
        }
        let read = index::read_log(&self.seg, found, last.t, Some(last.t + 1)).await;
        match read.ok()?.first() {
            Some(entry) if entry == last => Some(true),
            // Another entry at our t (or an excision rewrote ours): not a
            // proof either way.
            _ => None,
        }
    }

    /// The error of a log-root conflict: a newer epoch fenced us.
    fn deposed(&self, current: Option<Root>) -> Error {
        let found = current.map(|root| {
            LogRoot::decode(&self.root_name, root.value.data()).map(|r| (root.revision, r.epoch))
        });
        let detail = match found {
            Some(Ok((revision, epoch))) => {
                format!("it is at revision {revision}, written by epoch {epoch}")
            }
            Some(Err(e)) => format!("it no longer decodes: {e}"),
            None => "it is gone".to_string(),
        };
        Error::fenced(format!(
            "the log root of `{}` changed under transactor epoch {} (expected revision {}): {detail}",
            self.db_name, self.epoch, self.head.revision
        ))
    }

    /// The batch is durable: answer the callers, tell the subscribers,
    /// adopt the new head and rebase on a committed index.
    async fn committed(&mut self, head: Head, applied: Applied, took: Duration) -> Result<()> {
        let db_after = applied
            .db_after()
            .cloned()
            .unwrap_or_else(|| self.db.clone());
        let datoms = applied.reports.iter().map(|(r, _)| r.tx_data.len()).sum();
        self.wiring
            .metrics
            .commit(applied.reports.len(), datoms, took);
        self.latency = match self.latency.is_zero() {
            true => took,
            false => (self.latency * 3 + took) / 4,
        };
        if applied.excises {
            self.indexing.excision_committed(db_after.basis_t());
        }
        self.head = head;
        // Published before any report goes out, so that a subscriber that
        // catches up from the published value never misses a report.
        self.wiring
            .published
            .send_modify(|p| p.db = db_after.clone());
        let (answered, answered_at) = (applied.reports.len(), Instant::now());
        for (report, reply) in applied.reports {
            // Nobody may be listening; the commit stands either way.
            let _ = self.wiring.reports.send(report.clone());
            let _ = reply.send(Ok(report));
        }
        answer_duplicates(applied.duplicates, Ok(()));
        self.time_return(answered, answered_at);
        let mut indexed = None;
        self.db = match self.indexing.committed() {
            Some((job, ran)) => {
                self.wiring.metrics.index_committed(&job, ran);
                indexed = Some(job.basis_t);
                rebase(job, db_after).await?
            }
            None => db_after,
        };
        self.wiring.metrics.backlog(self.db.novelty_len());
        let mut before = None;
        self.wiring
            .published
            .send_modify(|p| before = Some(std::mem::replace(&mut p.db, self.db.clone())));
        if let Some(indexed) = indexed {
            // The value before the rebase may hold the last reference to
            // all the novelty just indexed (millions of datoms after an
            // import): freeing it takes a while, so not on this task,
            // which every commit waits for.
            if let Some(before) = before {
                tokio::task::spawn_blocking(move || drop(before));
            }
            // After the rebased value is published: a caller reads it.
            let waiters = std::mem::take(&mut self.index_waiters);
            let (waiting, done): (Vec<_>, Vec<_>) =
                waiters.into_iter().partition(|(t, _)| *t > indexed);
            self.index_waiters = waiting;
            for (_, reply) in done {
                let _ = reply.send(Ok(indexed));
            }
        }
        Ok(())
    }

    /// Fails everything still queued with `why`, publishes it, and lets a
    /// running indexing job end.
    async fn finish(mut self, why: Error) -> Error {
        self.wiring.commands.close();
        let failed = || Error::new(why.kind(), why.message().to_string());
        while let Ok(command) = self.wiring.commands.try_recv() {
            match command {
                Command::Transact(request) => drop(request.reply.send(Err(failed()))),
                Command::Index(reply) => drop(reply.send(Err(failed()))),
            }
        }
        for (_, reply) in std::mem::take(&mut self.index_waiters) {
            let _ = reply.send(Err(failed()));
        }
        let stopped = Some((why.kind(), why.message().to_string()));
        self.wiring.published.send_modify(|p| p.stopped = stopped);
        tracing::info!(db = %self.db_name, epoch = %self.epoch, reason = %why, "committer stopped");
        let deadline = Instant::now() + self.config.commit_patience;
        self.indexing.stop(deadline).await;
        why
    }
}

/// Answers the resubmissions of ids first committed in this batch, once
/// it is settled: with the first commit's report, or the batch's error.
fn answer_duplicates(duplicates: Vec<(TxReport, Reply)>, batch: std::result::Result<(), &Error>) {
    for (report, reply) in duplicates {
        let outcome = match batch {
            Ok(()) => Ok(report),
            Err(e) => Err(Error::new(e.kind(), e.message().to_string())),
        };
        let _ = reply.send(outcome);
    }
}

/// About how many bytes `forms` take as text: what a batch's byte budget
/// counts ([`Config::batch_bytes`]).
pub(crate) fn weight(forms: &[Edn]) -> usize {
    fn one(edn: &Edn) -> usize {
        match edn {
            Edn::String(s) => s.len() + 3,
            Edn::Keyword(k) => k.as_str().len() + 1,
            Edn::Symbol(s) => s.as_str().len() + 1,
            Edn::Vector(items) | Edn::List(items) => 2 + items.iter().map(one).sum::<usize>(),
            Edn::Set(items) => 3 + items.iter().map(one).sum::<usize>(),
            Edn::Map(map) => 2 + map.iter().map(|(k, v)| one(k) + one(v)).sum::<usize>(),
            Edn::Tagged(tag, value) => tag.as_str().len() + 2 + one(value),
            _ => 8,
        }
    }
    forms.iter().map(one).sum()
}

/// How long the callers of one commit take to come back: from the moment
/// they are answered until as many transactions as they were have been
/// sent since (by them, or by anyone: the committer cannot tell callers
/// apart, and need not: it is how long a batch must wait to be as full
/// again).
#[derive(Debug)]
struct Return {
    answered_at: Instant,
    answered: usize,
    seen: usize,
}

impl Return {
    /// A measure that has waited this many times the longest linger
    /// without seeing its callers back is given up: they are not coming
    /// back soon (the load fell, or callers send once), and the committer
    /// learns to expect them shorter.
    const GIVE_UP: u32 = 8;
}

/// Tx data of at least this many forms is freed on a blocking thread.
const FREE_ELSEWHERE: usize = 1024;

/// `db` over the index `job` wrote (reads block: on a blocking thread).
async fn rebase(job: index::IndexJob, db: Db) -> Result<Db> {
    tokio::task::spawn_blocking(move || job.rebase(&db))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("rebasing on the new index panicked: {e}"),
            )
        })?
        .map_err(Error::from)
}
