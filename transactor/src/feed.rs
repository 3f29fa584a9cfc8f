//! A gap-free stream of committed transactions from a given t: the ones
//! committed already, read from the database value, then the live ones as
//! they commit; a subscriber that falls behind the live broadcast simply
//! catches up from the database again.

use std::collections::VecDeque;

use model::{Db, TxLog, TxReport};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::commit::Published;
use crate::error::{Error, ErrorKind, Result};

/// How many log entries one catch-up read takes.
const CATCH_UP_CHUNK: usize = 256;

/// Committed transactions in t order, from a t on.
#[derive(Debug)]
pub struct Feed {
    published: watch::Receiver<Published>,
    live: broadcast::Receiver<TxReport>,
    /// The t of the next entry to hand out.
    next_t: u64,
    backlog: VecDeque<TxLog>,
}

impl Feed {
    /// `live` must have been subscribed before `published` is first read,
    /// so that nothing falls between the two.
    pub(crate) fn new(
        published: watch::Receiver<Published>,
        live: broadcast::Receiver<TxReport>,
        from_t: u64,
    ) -> Feed {
        Feed {
            published,
            live,
            next_t: from_t,
            backlog: VecDeque::new(),
        }
    }

    /// The next committed transaction. Fails once the transactor has
    /// stopped and every transaction it committed was handed out, or when
    /// reading the log from storage fails.
    pub async fn next(&mut self) -> Result<TxLog> {
        loop {
            if let Some(entry) = self.backlog.pop_front() {
                self.next_t = entry.t + 1;
                return Ok(entry);
            }
            let (db, stopped) = {
                let p = self.published.borrow_and_update();
                (p.db.clone(), p.stopped.clone())
            };
            if db.basis_t() >= self.next_t {
                let basis_t = db.basis_t();
                self.backlog = catch_up(db, self.next_t).await?;
                if self.backlog.is_empty() {
                    self.next_t = basis_t + 1;
                }
                continue;
            }
            if let Some((kind, message)) = stopped {
                return Err(Error::new(
                    kind,
                    format!("the transactor stopped: {message}"),
                ));
            }
            if let Some(entry) = self.wait_live().await {
                return Ok(entry);
            }
        }
    }

    /// The next live entry when it is the one due; `None` when the feed
    /// must look at the published value again (a gap, a lag, a stop).
    async fn wait_live(&mut self) -> Option<TxLog> {
        tokio::select! {
            received = self.live.recv() => match received {
                Ok(report) if report.t() < self.next_t => None,
                // Its predecessor was handed out already: no gap.
                Ok(report) if report.db_before.basis_t() < self.next_t => {
                    self.next_t = report.t() + 1;
                    Some(report.log_entry())
                }
                // A gap the published value fills, or a lag.
                Ok(_) | Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => {
                    // Only the stop notice can wake us now.
                    let _ = self.published.changed().await;
                    None
                }
            },
            _ = self.published.changed() => None,
        }
    }
}

/// Up to a chunk of `db`'s log entries from `from_t` on, read on a blocking
/// thread (the log may live in storage).
async fn catch_up(db: Db, from_t: u64) -> Result<VecDeque<TxLog>> {
    tokio::task::spawn_blocking(move || -> Result<VecDeque<TxLog>> {
        let entries = db.tx_range(Some(from_t), Some(db.basis_t() + 1))?;
        Ok(entries
            .take(CATCH_UP_CHUNK)
            .collect::<model::Result<VecDeque<_>>>()?)
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("reading the log panicked: {e}"),
        )
    })?
}
