//! The simulated cluster: N replicas behind one coordinator. The coordinator
//! sends every replica message through [`Cluster::broadcast`], where message
//! faults (drop, delay) apply, and waits for as many answers as the
//! consistency level needs.

mod clock;
mod paxos;
mod read;
mod write;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) use clock::unix_seconds;
pub(crate) use paxos::{CasOutcome, CasRequest};
pub(crate) use read::{KeyRange, RangePage};
pub(crate) use write::Mutation;

use crate::faults::{FaultKind, FaultScope, Faults, Phase};
use crate::schema::Schema;
use crate::store::Replica;

/// Time limits of the coordinator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    /// How long the coordinator waits for replicas in one phase.
    pub(crate) request: Duration,
    /// How long an LWT retries under contention before a CAS write timeout.
    pub(crate) cas_contention: Duration,
}

/// The replicas, the schema and the fault rules of one simulated cluster.
pub(crate) struct Cluster {
    replicas: Vec<Mutex<Replica>>,
    pub(crate) schema: RwLock<Schema>,
    pub(crate) faults: Faults,
    clock: clock::Clock,
    timeouts: Timeouts,
}

impl Cluster {
    pub(crate) fn new(replicas: usize, faults: Faults, timeouts: Timeouts) -> Cluster {
        Cluster {
            replicas: (0..replicas)
                .map(|_| Mutex::new(Replica::default()))
                .collect(),
            schema: RwLock::new(Schema::default()),
            faults,
            clock: clock::Clock::default(),
            timeouts,
        }
    }

    /// The number of replicas.
    pub(crate) fn size(&self) -> usize {
        self.replicas.len()
    }

    /// A fresh write timestamp (microseconds, strictly increasing).
    pub(crate) fn next_timestamp(&self) -> i64 {
        self.clock.next_micros(None)
    }

    /// Runs `f` on every replica, ignoring liveness (schema operations).
    pub(crate) fn on_every_replica(&self, f: impl Fn(&mut Replica)) {
        for replica in &self.replicas {
            f(&mut replica.lock());
        }
    }

    /// Runs `f` on one replica (test inspection).
    pub(crate) fn on_replica<R>(&self, replica: usize, f: impl FnOnce(&Replica) -> R) -> Option<R> {
        self.replicas.get(replica).map(|r| f(&r.lock()))
    }

    /// `count` distinct live replicas picked by the seeded generator.
    fn pick(&self, live: &[usize], count: usize) -> Vec<usize> {
        let mut pool = live.to_vec();
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count && !pool.is_empty() {
            let index = self.faults.random_below(pool.len() as u64) as usize;
            picked.push(pool.swap_remove(index));
        }
        picked
    }

    /// Sends a message (`op`) to each target replica in this phase and
    /// collects the answers until `done` says enough arrived, every message
    /// was answered or lost, or the request timeout passed. Lost messages
    /// are never answered; delayed ones are processed when they arrive, even
    /// after the coordinator stopped waiting.
    async fn broadcast<R, F>(
        self: &Arc<Self>,
        targets: &[usize],
        phase: Phase,
        scope: &FaultScope,
        op: F,
        done: impl Fn(&[R]) -> bool,
    ) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(usize, &mut Replica) -> R + Clone + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut answers = Vec::with_capacity(targets.len());
        let mut pending = 0;
        for &target in targets {
            let fault = self.faults.fire(scope, Some(target), |kind| {
                matches!(kind, FaultKind::DropMessage(p) | FaultKind::DelayMessage(p, _) if *p == phase)
            });
            match fault {
                Some(FaultKind::DropMessage(_)) => {}
                Some(FaultKind::DelayMessage(_, delay)) => {
                    pending += 1;
                    let (cluster, op, tx) = (Arc::clone(self), op.clone(), tx.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let answer = cluster
                            .faults
                            .is_up(target)
                            .then(|| op(target, &mut cluster.replicas[target].lock()));
                        let _ = tx.send(answer);
                    });
                }
                _ if self.faults.is_up(target) => {
                    // Each message is a scheduling point, so concurrent
                    // requests interleave between deliveries as on a network.
                    tokio::task::yield_now().await;
                    answers.push(op(target, &mut self.replicas[target].lock()));
                }
                _ => {}
            }
        }
        let deadline = Instant::now() + self.timeouts.request;
        while pending > 0 && !done(&answers) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(answer)) => {
                    pending -= 1;
                    answers.extend(answer);
                }
                _ => break,
            }
        }
        answers
    }
}
