//! The state a connection shares between its follower (the one writer) and
//! its readers: the latest database value, the reports of recent
//! transactions, and the report queues to push to.
//!
//! Publishing a report, registering a queue and reading the latest value
//! happen under one lock, so a queue that registers at basis t receives
//! exactly the reports after t.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use model::{Db, TxReport};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, ErrorKind, Result};

/// What readers see without taking the lock.
#[derive(Clone, Debug)]
pub(crate) struct Latest {
    pub(crate) db: Db,
    /// Why the connection stopped following, once it has.
    pub(crate) ended: Option<(ErrorKind, String)>,
}

#[derive(Debug)]
struct State {
    db: Db,
    /// Reports of the transactions after the oldest pin, in t order.
    recent: VecDeque<TxReport>,
    /// Bases at which unanswered transacts started (with how many): their
    /// reports, all after these, stay in `recent` until they are answered.
    pinned: BTreeMap<u64, usize>,
    queues: Vec<mpsc::Sender<TxReport>>,
    ended: Option<(ErrorKind, String)>,
}

/// One connection's shared state.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<State>,
    latest: watch::Sender<Latest>,
}

impl Hub {
    /// A hub whose latest value is `db`.
    pub(crate) fn new(db: Db) -> Hub {
        let (latest, _) = watch::channel(Latest {
            db: db.clone(),
            ended: None,
        });
        Hub {
            state: Mutex::new(State {
                db,
                recent: VecDeque::new(),
                pinned: BTreeMap::new(),
                queues: Vec::new(),
                ended: None,
            }),
            latest,
        }
    }

    /// The latest value the peer knows.
    pub(crate) fn db(&self) -> Db {
        self.latest.borrow().db.clone()
    }

    /// A watch of the latest value and the end.
    pub(crate) fn latest(&self) -> watch::Receiver<Latest> {
        self.latest.subscribe()
    }

    /// Why the connection stopped following, if it has.
    pub(crate) fn ended(&self) -> Option<Error> {
        self.latest.borrow().ended.as_ref().map(ended_error)
    }

    /// Publishes the reports of the next transactions, in t order: each
    /// goes to every queue (a full queue is dropped, and reads the log from
    /// then on), then the latest value moves to the last one's db after.
    pub(crate) fn publish(&self, reports: Vec<TxReport>) -> Result<()> {
        let mut state = self.state.lock();
        for report in reports {
            let (before, after) = (report.db_before.basis_t(), report.db_after.basis_t());
            if before != state.db.basis_t() || after <= before {
                return Err(Error::corruption(format!(
                    "a report from t {before} to t {after} does not follow the latest value at t {}",
                    state.db.basis_t()
                )));
            }
            state
                .queues
                .retain(|queue| queue.try_send(report.clone()).is_ok());
            state.db = report.db_after.clone();
            state.recent.push_back(report);
        }
        state.trim_recent();
        self.latest
            .send_modify(|latest| latest.db = state.db.clone());
        Ok(())
    }

    /// Replaces the latest value by the same value over a newer persistent
    /// layer (its basis must be the same).
    pub(crate) fn rebase(&self, db: Db) -> Result<()> {
        let mut state = self.state.lock();
        if db.basis_t() != state.db.basis_t() {
            return Err(Error::corruption(format!(
                "a value rebased at t {} replaces the latest value at t {}",
                db.basis_t(),
                state.db.basis_t()
            )));
        }
        state.db = db.clone();
        self.latest.send_modify(|latest| latest.db = db);
        Ok(())
    }

    /// Stops the connection: every queue ends (after its buffered reports)
    /// with `why`, and so do waiting syncs and later calls.
    pub(crate) fn end(&self, why: &Error) {
        let mut state = self.state.lock();
        if state.ended.is_some() {
            return;
        }
        let ended = (why.kind(), why.message().to_string());
        state.ended = Some(ended.clone());
        state.queues.clear();
        self.latest.send_modify(|latest| latest.ended = Some(ended));
    }

    /// A new queue of the reports after the latest value, which is
    /// returned with it.
    pub(crate) fn subscribe(&self, capacity: usize) -> Result<(mpsc::Receiver<TxReport>, Db)> {
        let mut state = self.state.lock();
        let db = state.db.clone();
        let receiver = state.register(capacity)?;
        Ok((receiver, db))
    }

    /// A queue of the reports after basis `t`, when the latest value is
    /// still at `t`; `None` when it has moved on (the caller reads the log
    /// up to it first).
    pub(crate) fn rejoin(
        &self,
        t: u64,
        capacity: usize,
    ) -> Result<Option<mpsc::Receiver<TxReport>>> {
        let mut state = self.state.lock();
        if let Some(ended) = &state.ended {
            return Err(ended_error(ended));
        }
        match state.db.basis_t() == t {
            true => state.register(capacity).map(Some),
            false => Ok(None),
        }
    }

    /// Keeps the reports after the latest value until the guard drops, so
    /// that a transaction sent now finds its report ([`Hub::report_at`]).
    pub(crate) fn pin(&self) -> Pin<'_> {
        let mut state = self.state.lock();
        let basis = state.db.basis_t();
        *state.pinned.entry(basis).or_default() += 1;
        Pin { hub: self, basis }
    }

    /// The report of transaction `t`, if a pin taken before it committed
    /// is still held.
    pub(crate) fn report_at(&self, t: u64) -> Option<TxReport> {
        let state = self.state.lock();
        let at = state.recent.binary_search_by_key(&t, TxReport::t).ok()?;
        state.recent.get(at).cloned()
    }

    /// Waits up to `timeout` until the latest value includes `t`; fails once
    /// the connection has ended.
    pub(crate) async fn wait_for(&self, t: u64, timeout: Duration) -> Result<Db> {
        let mut latest = self.latest.subscribe();
        let waited = tokio::time::timeout(
            timeout,
            latest.wait_for(|l| l.db.basis_t() >= t || l.ended.is_some()),
        )
        .await;
        let reached = match waited {
            // The sender lives in this hub, which outlives the wait.
            Ok(Ok(latest)) => latest.clone(),
            Ok(Err(_)) => return Err(Error::new(ErrorKind::Closed, "the connection is gone")),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "t {t} did not arrive within {timeout:?}; the latest t this peer knows is {}",
                        self.db().basis_t()
                    ),
                ));
            }
        };
        match (&reached.ended, reached.db.basis_t() >= t) {
            (Some(ended), _) => Err(ended_error(ended)),
            (None, true) => Ok(reached.db),
            (None, false) => Err(Error::corruption("the wait for a t ended early")),
        }
    }
}

impl State {
    fn register(&mut self, capacity: usize) -> Result<mpsc::Receiver<TxReport>> {
        if let Some(ended) = &self.ended {
            return Err(ended_error(ended));
        }
        let (sender, receiver) = mpsc::channel(capacity);
        self.queues.push(sender);
        Ok(receiver)
    }

    /// Drops the reports no pinned transact needs (they hold old values,
    /// and with them novelty an indexing job may have made redundant).
    fn trim_recent(&mut self) {
        let oldest_pin = self.pinned.keys().next().copied();
        while let Some(front) = self.recent.front() {
            if oldest_pin.is_some_and(|pin| front.t() > pin) {
                return;
            }
            self.recent.pop_front();
        }
    }
}

/// Keeps recent reports for a transact in flight (see [`Hub::pin`]).
#[derive(Debug)]
pub(crate) struct Pin<'a> {
    hub: &'a Hub,
    basis: u64,
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        let mut state = self.hub.state.lock();
        if let Some(count) = state.pinned.get_mut(&self.basis) {
            *count -= 1;
            if *count == 0 {
                state.pinned.remove(&self.basis);
            }
        }
        state.trim_recent();
    }
}

fn ended_error((kind, message): &(ErrorKind, String)) -> Error {
    Error::new(*kind, message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_chain::chain;
    use std::sync::Arc;

    #[test]
    fn a_full_queue_is_dropped_after_what_it_buffered() {
        let (start, made) = chain(3);
        let hub = Hub::new(start);
        let (mut full, _) = hub.subscribe(1).unwrap();
        let (mut roomy, at) = hub.subscribe(8).unwrap();
        assert_eq!(at.basis_t(), hub.db().basis_t());
        hub.publish(made.clone()).unwrap();
        assert_eq!(full.try_recv().unwrap().t(), made[0].t());
        assert!(matches!(
            full.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        for report in &made {
            assert_eq!(roomy.try_recv().unwrap().t(), report.t());
        }
        assert_eq!(hub.db().basis_t(), made[2].t());
        assert!(hub.rejoin(made[0].t(), 4).unwrap().is_none());
        assert!(hub.rejoin(made[2].t(), 4).unwrap().is_some());
    }

    #[test]
    fn reports_that_do_not_follow_are_refused() {
        let (start, made) = chain(2);
        let hub = Hub::new(start);
        let e = hub.publish(vec![made[1].clone()]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corruption, "{e}");
        let e = hub.rebase(made[1].db_after.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corruption, "{e}");
    }

    #[test]
    fn pinned_reports_stay_until_the_pin_drops() {
        let (start, made) = chain(3);
        let hub = Hub::new(start);
        hub.publish(vec![made[0].clone()]).unwrap();
        assert!(hub.report_at(made[0].t()).is_none(), "nothing pinned it");
        let pin = hub.pin();
        hub.publish(made[1..].to_vec()).unwrap();
        assert_eq!(hub.report_at(made[2].t()).unwrap().t(), made[2].t());
        assert_eq!(hub.report_at(made[1].t()).unwrap().t(), made[1].t());
        drop(pin);
        assert!(hub.report_at(made[1].t()).is_none());
    }

    #[tokio::test]
    async fn the_end_reaches_waiters_and_new_queues() {
        let (start, made) = chain(1);
        let hub = Arc::new(Hub::new(start));
        let waiting = {
            let hub = hub.clone();
            let t = made[0].t();
            tokio::spawn(async move { hub.wait_for(t, Duration::from_secs(20)).await })
        };
        tokio::task::yield_now().await;
        hub.end(&Error::new(ErrorKind::Closed, "released"));
        let e = waiting.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed);
        assert_eq!(hub.subscribe(4).unwrap_err().kind(), ErrorKind::Closed);
        assert_eq!(hub.ended().map(|e| e.kind()), Some(ErrorKind::Closed));
    }
}
