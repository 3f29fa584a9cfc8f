//! Lightweight transactions: Cassandra's Paxos v1 across the replicas —
//! prepare/promise, repair of an in-progress proposal, read, propose/accept,
//! commit — and SERIAL reads, which run the prepare and repair steps first so
//! they complete any accepted but uncommitted proposal.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Cluster;
use crate::error::{CqlError, WriteType};
use crate::faults::{Accepted, FaultKind, FaultScope, Phase};
use crate::protocol::Consistency;
use crate::schema::TableId;
use crate::store::{Ballot, Partition, PartitionKey, PrepareReply, Proposal};

/// The partition an LWT or SERIAL read works on, and its levels.
pub(crate) struct CasRequest {
    pub(crate) table: TableId,
    pub(crate) key: PartitionKey,
    /// SERIAL or LOCAL_SERIAL: prepare, read and propose need its quorum.
    pub(crate) serial: Consistency,
    /// The level of the commit (the statement's ordinary consistency).
    pub(crate) commit: Consistency,
    pub(crate) scope: FaultScope,
}

/// How an LWT ended.
#[derive(Debug)]
pub(crate) enum CasOutcome {
    Applied,
    /// The condition did not hold; the partition as read.
    NotApplied(Partition),
}

/// Longest pause between retries under contention (Cassandra: 100 ms).
const MAX_BACKOFF_MS: u64 = 100;

impl Cluster {
    /// Runs one LWT: `decide` sees the current partition and the write
    /// timestamp, and returns the update to apply, or `None` when the
    /// condition does not hold.
    pub(crate) async fn cas(
        self: &Arc<Self>,
        request: &CasRequest,
        decide: impl Fn(&Partition, i64) -> Option<Partition>,
    ) -> Result<CasOutcome, CqlError> {
        self.check_cas_liveness(request)?;
        let deadline = Instant::now() + self.timeouts.cas_contention;
        loop {
            let ballot = self.begin_and_repair(request, deadline).await?;
            let current = self
                .read_partition(
                    request.table,
                    &request.key,
                    quorum_of(request.serial),
                    Phase::PaxosRead,
                    &request.scope,
                )
                .await?;
            let Some(update) = decide(&current, ballot.micros) else {
                return Ok(CasOutcome::NotApplied(current));
            };
            let proposal = Proposal { ballot, update };
            if let Some(FaultKind::CasWriteTimeout(accepted)) =
                self.faults.fire(&request.scope, None, |k| {
                    matches!(k, FaultKind::CasWriteTimeout(_))
                })
            {
                return Err(self.abandon_proposal(request, &proposal, accepted));
            }
            match self.propose(request, &proposal).await? {
                ProposeResult::Accepted => {
                    self.commit(request, &proposal).await?;
                    return Ok(CasOutcome::Applied);
                }
                ProposeResult::RejectedByAll => self.back_off(request, deadline).await?,
            }
        }
    }

    /// A SERIAL read of one partition: a Paxos prepare that completes any
    /// in-progress proposal, then a read at the serial level's quorum.
    pub(crate) async fn serial_read(
        self: &Arc<Self>,
        request: &CasRequest,
    ) -> Result<Partition, CqlError> {
        self.check_cas_liveness(request)?;
        let deadline = Instant::now() + self.timeouts.cas_contention;
        self.begin_and_repair(request, deadline).await?;
        let broken = self
            .faults
            .fire(&request.scope, None, |k| *k == FaultKind::SerialReadFromOne);
        let level = match broken {
            Some(_) => Consistency::One,
            None => quorum_of(request.serial),
        };
        self.read_partition(
            request.table,
            &request.key,
            level,
            Phase::Read,
            &request.scope,
        )
        .await
    }

    fn check_cas_liveness(&self, request: &CasRequest) -> Result<(), CqlError> {
        let alive = self.faults.live_replicas().len();
        for consistency in [request.serial, request.commit] {
            let required = consistency.required(self.size());
            if alive < required {
                return Err(CqlError::Unavailable {
                    consistency,
                    required,
                    alive,
                });
            }
        }
        Ok(())
    }

    /// Prepares a ballot with a quorum, repairing (re-proposing and
    /// committing) any in-progress proposal and lagging commits first.
    async fn begin_and_repair(
        self: &Arc<Self>,
        request: &CasRequest,
        deadline: Instant,
    ) -> Result<Ballot, CqlError> {
        let quorum = request.serial.required(self.size());
        let mut above = None;
        loop {
            let live = self.faults.live_replicas();
            if live.len() < quorum {
                return Err(CqlError::Unavailable {
                    consistency: request.serial,
                    required: quorum,
                    alive: live.len(),
                });
            }
            let ballot = self.clock.next_ballot(above);
            let (table, key) = (request.table, request.key.clone());
            let replies = self
                .broadcast(
                    &live,
                    Phase::Prepare,
                    &request.scope,
                    move |i, r| (i, r.prepare(table, &key, ballot)),
                    |a| a.len() >= quorum,
                )
                .await;
            if replies.len() < quorum {
                return Err(cas_timeout(request.serial, replies.len(), quorum));
            }
            let promises = match Promises::collect(&replies) {
                Ok(promises) => promises,
                Err(promised) => {
                    above = Some(promised);
                    self.back_off(request, deadline).await?;
                    continue;
                }
            };
            if let Some(in_progress) = promises.in_progress() {
                let repair = Proposal {
                    ballot,
                    update: in_progress.update.clone(),
                };
                match self.propose(request, &repair).await? {
                    ProposeResult::Accepted => self.commit(request, &repair).await?,
                    ProposeResult::RejectedByAll => self.back_off(request, deadline).await?,
                }
                continue;
            }
            if let Some(latest) = promises.latest_commit.clone() {
                self.catch_up(request, &promises.lagging(), latest).await;
            }
            return Ok(ballot);
        }
    }

    async fn propose(
        self: &Arc<Self>,
        request: &CasRequest,
        proposal: &Proposal,
    ) -> Result<ProposeResult, CqlError> {
        let quorum = request.serial.required(self.size());
        let live = self.faults.live_replicas();
        let targets = live.len();
        let (table, key, owned) = (request.table, request.key.clone(), proposal.clone());
        let replies = self
            .broadcast(
                &live,
                Phase::Propose,
                &request.scope,
                move |_, r| r.propose(table, &key, &owned),
                |a| a.iter().filter(|ok| **ok).count() >= quorum || a.len() == targets,
            )
            .await;
        let accepted = replies.iter().filter(|ok| **ok).count();
        if accepted >= quorum {
            return Ok(ProposeResult::Accepted);
        }
        if accepted == 0 && replies.len() == targets {
            return Ok(ProposeResult::RejectedByAll);
        }
        // Some replica may hold (or still receive) the proposal: a later
        // round may complete it, so the outcome is unknown.
        Err(cas_timeout(request.serial, accepted, quorum))
    }

    async fn commit(
        self: &Arc<Self>,
        request: &CasRequest,
        proposal: &Proposal,
    ) -> Result<(), CqlError> {
        let blockfor = request.commit.required(self.size());
        let live = self.faults.live_replicas();
        let (table, key, owned) = (request.table, request.key.clone(), proposal.clone());
        let acks = self
            .broadcast(
                &live,
                Phase::Commit,
                &request.scope,
                move |_, r| r.commit(table, &key, &owned),
                |a| a.len() >= blockfor,
            )
            .await;
        if acks.len() < blockfor {
            return Err(CqlError::WriteTimeout {
                consistency: request.commit,
                received: acks.len(),
                blockfor,
                write_type: WriteType::Simple,
            });
        }
        Ok(())
    }

    /// Sends the latest commit to replicas that missed it.
    async fn catch_up(self: &Arc<Self>, request: &CasRequest, lagging: &[usize], latest: Proposal) {
        if lagging.is_empty() {
            return;
        }
        let (table, key) = (request.table, request.key.clone());
        self.broadcast(
            lagging,
            Phase::Commit,
            &request.scope,
            move |_, r| r.commit(table, &key, &latest),
            |_| false,
        )
        .await;
    }

    /// The injected CAS write timeout: the proposal reaches `accepted`
    /// replicas, nothing is committed, and the client hears WriteTimeout.
    fn abandon_proposal(
        &self,
        request: &CasRequest,
        proposal: &Proposal,
        accepted: Accepted,
    ) -> CqlError {
        let quorum = request.serial.required(self.size());
        let reach = match accepted {
            Accepted::ByQuorum => quorum,
            Accepted::ByOne => 1,
            Accepted::ByNone => 0,
        };
        let live = self.faults.live_replicas();
        let acks = live
            .iter()
            .take(reach)
            .filter(|r| {
                self.replicas[**r]
                    .lock()
                    .propose(request.table, &request.key, proposal)
            })
            .count();
        cas_timeout(request.serial, acks.min(quorum - 1), quorum)
    }

    /// Waits a random pause before retrying, or fails once the contention
    /// timeout has passed.
    async fn back_off(&self, request: &CasRequest, deadline: Instant) -> Result<(), CqlError> {
        let pause = Duration::from_millis(self.faults.random_below(MAX_BACKOFF_MS));
        if Instant::now() + pause >= deadline {
            return Err(cas_timeout(
                request.serial,
                0,
                request.serial.required(self.size()),
            ));
        }
        tokio::time::sleep(pause).await;
        Ok(())
    }
}

enum ProposeResult {
    Accepted,
    /// Every live replica answered and none accepted: safe to retry.
    RejectedByAll,
}

/// What a quorum of promises reported.
struct Promises {
    latest_commit: Option<Proposal>,
    accepted: Vec<Proposal>,
    committed_by_replica: Vec<(usize, Option<Ballot>)>,
}

impl Promises {
    /// The promises, or the highest ballot that a replica had promised instead.
    fn collect(replies: &[(usize, PrepareReply)]) -> Result<Promises, Ballot> {
        let mut promises = Promises {
            latest_commit: None,
            accepted: Vec::new(),
            committed_by_replica: Vec::new(),
        };
        let mut rejected: Option<Ballot> = None;
        for (replica, reply) in replies {
            match reply {
                PrepareReply::Reject { promised } => rejected = rejected.max(Some(*promised)),
                PrepareReply::Promise {
                    accepted,
                    committed,
                } => {
                    promises.accepted.extend(accepted.clone());
                    promises
                        .committed_by_replica
                        .push((*replica, committed.as_ref().map(|c| c.ballot)));
                    if committed.as_ref().map(|c| c.ballot)
                        > promises.latest_commit.as_ref().map(|c| c.ballot)
                    {
                        promises.latest_commit = committed.clone();
                    }
                }
            }
        }
        match rejected {
            Some(ballot) => Err(ballot),
            None => Ok(promises),
        }
    }

    /// The highest accepted proposal newer than the latest commit.
    fn in_progress(&self) -> Option<&Proposal> {
        let committed = self.latest_commit.as_ref().map(|c| c.ballot);
        self.accepted
            .iter()
            .filter(|p| Some(p.ballot) > committed)
            .max_by_key(|p| p.ballot)
    }

    /// Replicas whose latest commit is older than the latest one seen.
    fn lagging(&self) -> Vec<usize> {
        let latest = self.latest_commit.as_ref().map(|c| c.ballot);
        self.committed_by_replica
            .iter()
            .filter(|(_, c)| *c < latest)
            .map(|(r, _)| *r)
            .collect()
    }
}

fn cas_timeout(serial: Consistency, received: usize, blockfor: usize) -> CqlError {
    CqlError::WriteTimeout {
        consistency: serial,
        received,
        blockfor,
        write_type: WriteType::Cas,
    }
}

/// The read level inside a Paxos round: QUORUM for SERIAL, LOCAL_QUORUM for LOCAL_SERIAL.
fn quorum_of(serial: Consistency) -> Consistency {
    if serial == Consistency::LocalSerial {
        Consistency::LocalQuorum
    } else {
        Consistency::Quorum
    }
}
