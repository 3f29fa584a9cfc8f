//! The transaction report queue of a connection.

use std::collections::VecDeque;
use std::sync::Arc;

use model::{Db, TxReport};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::follower::blocking;
use crate::hub::Hub;
use crate::replay;

/// Most reports read from the log at once by a queue that fell behind.
const LOG_CHUNK: usize = 256;

/// Every transaction of the database from the moment the queue was made,
/// each once, in t order, whichever process submitted it: its tx data, the
/// database before and the database after (full values: query them).
/// Reports carry no tempids (only the submitter's
/// [`crate::Connection::transact`] knows them).
///
/// # A consumer that falls behind
///
/// The connection pushes each report into the queue's buffer of
/// [`crate::Config::report_buffer`] reports and never waits for the
/// consumer. When the buffer is full, the connection stops pushing to this
/// queue; the consumer still gets every buffered report, and then the
/// queue reads the transactions after the last one it handed out from the
/// log (the peer's latest value, and storage for what is indexed), building
/// the same reports, until it has caught up and rejoins the pushed stream.
/// Nothing is skipped or repeated; only that consumer pays, with log
/// reads. (A queue far behind keeps values over the index root it started
/// from until it passes the peer's current index basis; garbage collection
/// of storage must leave such roots their grace period.)
///
/// # Ending
///
/// [`next`](Self::next) fails once the connection was released (kind
/// [`crate::ErrorKind::Closed`]) or stopped following for good (the
/// database was deleted, or its data is corrupt), after every report
/// buffered before that. It is cancel-safe: a cancelled `next` loses
/// nothing.
#[derive(Debug)]
pub struct TxReportQueue {
    hub: Arc<Hub>,
    capacity: usize,
    /// The value after the last report handed out (or the one the queue
    /// started at).
    position: Db,
    live: Option<mpsc::Receiver<TxReport>>,
    backlog: VecDeque<TxReport>,
    overflows: u64,
}

/// What the queue does next.
enum Step {
    Ready(TxReport),
    /// Wait for the pushed stream.
    Live,
    /// Read the log between the position and this later value.
    ReadLog(Db),
}

impl TxReportQueue {
    pub(crate) fn new(hub: Arc<Hub>, capacity: usize) -> Result<TxReportQueue> {
        let (live, position) = hub.subscribe(capacity)?;
        Ok(TxReportQueue {
            hub,
            capacity,
            position,
            live: Some(live),
            backlog: VecDeque::new(),
            overflows: 0,
        })
    }

    /// The next report, waiting for the next transaction if need be.
    pub async fn next(&mut self) -> Result<TxReport> {
        loop {
            match self.step()? {
                Step::Ready(report) => return Ok(report),
                Step::Live => {
                    let received = match self.live.as_mut() {
                        Some(live) => live.recv().await,
                        None => None,
                    };
                    if let Some(report) = self.received(received)? {
                        return Ok(report);
                    }
                }
                Step::ReadLog(latest) => {
                    let position = self.position.clone();
                    let read =
                        blocking(move || replay::reports_after(&position, &latest, LOG_CHUNK));
                    self.backlog = read.await?.into();
                }
            }
        }
    }

    /// [`next`](Self::next) for a plain thread: blocks it. Panics when
    /// called on an async task (use `next` there).
    pub fn blocking_next(&mut self) -> Result<TxReport> {
        loop {
            match self.step()? {
                Step::Ready(report) => return Ok(report),
                Step::Live => {
                    let received = self.live.as_mut().and_then(|live| live.blocking_recv());
                    if let Some(report) = self.received(received)? {
                        return Ok(report);
                    }
                }
                Step::ReadLog(latest) => {
                    self.backlog =
                        replay::reports_after(&self.position, &latest, LOG_CHUNK)?.into();
                }
            }
        }
    }

    /// The t of the last report handed out (or of the value the queue
    /// started at).
    pub fn basis_t(&self) -> u64 {
        self.position.basis_t()
    }

    /// How many times the consumer fell behind the buffer, so that the
    /// queue read reports from the log.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    fn step(&mut self) -> Result<Step> {
        if let Some(report) = self.backlog.pop_front() {
            return Ok(Step::Ready(self.hand_out(report)));
        }
        if self.live.is_some() {
            return Ok(Step::Live);
        }
        let basis = self.position.basis_t();
        match self.hub.rejoin(basis, self.capacity)? {
            Some(live) => {
                tracing::debug!(
                    basis_t = basis,
                    "report queue caught up; pushed reports again"
                );
                self.live = Some(live);
                Ok(Step::Live)
            }
            None => Ok(Step::ReadLog(self.hub.db())),
        }
    }

    /// Takes what the pushed stream gave: a report, or its end (the buffer
    /// overflowed, or the connection ended).
    fn received(&mut self, received: Option<TxReport>) -> Result<Option<TxReport>> {
        if let Some(report) = received {
            return Ok(Some(self.hand_out(report)));
        }
        self.live = None;
        if let Some(ended) = self.hub.ended() {
            return Err(ended);
        }
        self.overflows += 1;
        tracing::debug!(
            basis_t = self.position.basis_t(),
            "report queue buffer overflowed; reading the log"
        );
        Ok(None)
    }

    fn hand_out(&mut self, report: TxReport) -> TxReport {
        self.position = report.db_after.clone();
        report
    }
}
