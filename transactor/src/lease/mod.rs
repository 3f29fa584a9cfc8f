//! The lease root `db/<name>/lease`: which transactor may write a database.
//!
//! - **Acquire** is a compare-and-swap to the next [`Epoch`]. A lease that
//!   is absent or released is taken at once; a held one only after this
//!   process has seen no change of its revision for the lease's ttl by its
//!   *own* monotonic clock (wall clocks of different machines are never
//!   compared). That waiting claimant is a standby.
//! - The holder **renews** by compare-and-swap every ttl/3; a renewal that
//!   finds another revision means it was deposed ([`ErrorKind::Fenced`]).
//! - **Release** writes the record without a holder, so the next claimant
//!   need not wait.
//!
//! The lease alone does not keep a paused, deposed holder from committing:
//! the new holder also fences it through the log root before it writes
//! (see the `fence` module).
//!
//! # How fast a standby takes over, and what a short ttl costs
//!
//! After the holder dies, a standby takes over once it has seen the lease
//! unchanged for the holder's ttl by its own clock. Counting from the kill:
//! the last renewal was up to ttl/3 earlier, the standby first read it up
//! to one poll (ttl/[`POLLS_PER_TTL`]) after it was written, and sees the
//! lapse at its next poll: the lease is claimed between 2/3 ttl and
//! ttl + 2 polls after the kill. Then the new holder fences the log root
//! (a read and a compare-and-swap), reads the catalog, brings the copy of
//! the database it kept while standing by up to the fenced root (see the
//! `warm` module: it replays only the last moments of the log, not all
//! novelty since the last indexing job) and serves; clients look the lease
//! up again within their retry pause (at most 100 ms). With the default
//! ttl of [`DEFAULT_TTL`] (1 s) that is about 0.7–1.3 s from `kill -9` to
//! the first commit through the standby (measured per backend by `cargo
//! bench -p cli --bench failover`).
//!
//! What the short ttl costs:
//!
//! - **Storage load.** The holder renews 3 times per ttl, each renewal a
//!   linearizable read and a compare-and-swap (on Cassandra two Paxos
//!   rounds); each standby reads the lease [`POLLS_PER_TTL`] times per
//!   ttl (and the log root twice a second for its warm copy, whatever the
//!   ttl). At 1 s: 3 writes and 3 + 12 × standbys reads per second per
//!   database — nothing for PostgreSQL or a local disk, a few Paxos rounds
//!   a second for Cassandra.
//! - **Sensitivity.** A holder that cannot get a renewal applied within one
//!   ttl steps down (see `keeper`), healthy or not: a storage latency spike,
//!   a Paxos contention timeout, a disk whose fsync stalls, or a stop of
//!   the whole process (a VM pause, swapping, SIGSTOP) longer than about
//!   2/3 of the ttl deposes it, and its callers see their transactions
//!   fail (not committed, or outcome unknown, to resubmit under their id)
//!   until a transactor takes over. Where storage latency spikes of a
//!   second are normal (a loaded Cassandra cluster whose LWT timeouts are
//!   1–2 s), run `accrete transactor --lease-ttl 5` or more: failover then
//!   takes about that long.
//!
//! Why it stays safe whatever the ttl: no timing keeps two transactors from
//! committing. A takeover writes the lease with a new epoch and then fences
//! the log root with it, and every commit is a compare-and-swap on the log
//! root, so once the fence is written an older holder's commits conflict
//! and fail as not committed, however long it was paused and whatever its
//! clock says. The ttl only decides when a standby may *try*: too short a
//! ttl makes failovers that were not needed (availability), never two
//! writers (safety). The holder's step-down after one ttl without renewal
//! (on its own monotonic clock, counted from when it *sent* its last
//! renewal, which is before any standby can have read it) makes the
//! deposed holder stop on its own as well, so it does not keep accepting
//! transactions that can only fail. Clocks are never compared across
//! machines; only the rates of the two monotonic clocks must agree over one
//! ttl (they do, to parts per million).
//!
//! # Bound to the database's identity
//!
//! Storage compares only revisions in a compare-and-swap, and a name does
//! not say which database is meant. So:
//!
//! - The record (format 2) carries the database's catalog id. A holder
//!   adopts, renews and releases only a record with its own database id,
//!   epoch and holder id (holder ids are unique per run): every renewal and
//!   release first reads the root linearizably and is deposed
//!   ([`ErrorKind::Fenced`]) when it holds anything else — absent after a
//!   storage reset, or the lease of a database re-created under the name.
//!   That costs one read per ttl/3, never one per commit.
//! - Within one storage's life a root's revision only grows (roots are
//!   never removed; a re-create and a takeover both write *over* the
//!   current revision), so a stale holder's expected revision can never
//!   come back: its write conflicts. Only a reset (a wiped keyspace, a
//!   restarted in-memory simulator) restarts revisions; the read above
//!   catches that before the write.
//! - A holder that goes one ttl without a successful renewal, by its own
//!   monotonic clock from when it sent the last write that applied, steps
//!   down (see `keeper`): after a reset it stops within one ttl at most.
//! - Clients name the database by id and lease epoch (protocol version 2),
//!   so none is routed to a holder of another incarnation.
//!
//! What this does not close: the log-root compare-and-swap of a commit is
//! not preceded by a read (that would be a Paxos round per commit on
//! Cassandra). A holder frozen *between* its last successful check and a
//! commit's write, across a storage reset after which the new incarnation's
//! log root reaches exactly the revision it expects, could still match.
//! Making that impossible needs identity in the compare-and-swap itself:
//! root names keyed by catalog id (`db/<name>/<id>/log`, a catalog format
//! change all readers follow) or a storage CAS on revision and nonce.

mod keeper;
mod record;

pub use keeper::LeaseKeeper;
pub use record::{Epoch, Holder, LeaseRecord, MAX_ENDPOINT_BYTES};

use std::sync::Arc;
use std::time::Duration;

use storage_core::{CasOutcome, DbName, Revision, Root, RootName, RootValue, Storage};
use tokio::time::Instant;
use uuid::Uuid;

use index::lease_root_name;

use crate::cas::settled_cas;
use crate::error::{Error, ErrorKind, Result};

/// The lease ttl of a transactor unless configured otherwise: how long a
/// standby waits without seeing a renewal before it takes over (see the
/// module docs for what a shorter or longer one costs).
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// How often per ttl a standby (or a client waiting for the lease) reads
/// the lease: each poll adds at most ttl/10 to a takeover.
pub const POLLS_PER_TTL: u32 = 10;

/// The current lease of `db`, if any was ever taken.
pub async fn read_lease(storage: &dyn Storage, db: &DbName) -> Result<Option<LeaseRecord>> {
    let name = lease_root_name(db);
    match storage.read_root(&name).await? {
        None => Ok(None),
        Some(root) => LeaseRecord::decode(name.as_str(), root.value.data()).map(Some),
    }
}

/// How long a claimant waits for a held lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Until it lapses, however long that takes (a standby).
    Forever,
    /// At most this long, then [`ErrorKind::LeaseHeld`].
    AtMost(Duration),
}

/// A lease this process holds.
#[derive(Debug)]
pub struct Lease {
    storage: Arc<dyn Storage>,
    name: RootName,
    revision: Revision,
    record: LeaseRecord,
    /// When the write that last applied was sent, by this process's
    /// monotonic clock: the lease is good for its ttl from then on.
    renewed: Instant,
}

impl Lease {
    /// Takes the lease of `db`, the database whose catalog id is `db_id`,
    /// for `holder`, waiting as a standby while another holder keeps
    /// renewing it (see the module docs). `ttl` is how long this holder
    /// promises to renew within; a held lease is taken over once it has not
    /// changed for the ttl its holder promised. The new epoch is at least
    /// `floor` (one past the log root's epoch, so that a log root written by
    /// a re-created database never outranks its new holder).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LeaseHeld`] when another live holder keeps the lease
    /// beyond `patience`; [`ErrorKind::Unavailable`] (or
    /// [`ErrorKind::OutcomeUnknown`], for a claim storage could not settle)
    /// when storage stays unreachable beyond it; [`ErrorKind::Corruption`]
    /// for a lease root that cannot be decoded; any other storage error as
    /// it came.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a future dropped while its claim is in flight may
    /// leave the lease claimed by `holder` with nobody renewing it. Nothing
    /// is corrupted (the claim carries an epoch no earlier holder used),
    /// but other claimants wait for it to lapse, one `ttl`.
    pub async fn acquire(
        storage: Arc<dyn Storage>,
        db: &DbName,
        db_id: Uuid,
        holder: Holder,
        ttl: Duration,
        patience: Patience,
        floor: Epoch,
    ) -> Result<Lease> {
        let name = lease_root_name(db);
        let mut standby = Standby::new(patience, db);
        loop {
            let current = match storage.read_root(&name).await {
                Ok(root) => root,
                Err(e) if e.is_retryable() => {
                    standby.failed_read(&name, &e);
                    standby.nap(ttl, || e.into()).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let claim = match &current {
                None => Some((None, Epoch::FIRST)),
                Some(root) => standby.judge(&name, root)?,
            };
            let Some((expected, epoch)) = claim.map(|(rev, epoch)| (rev, epoch.max(floor))) else {
                standby.nap(ttl, || held(&name, current.as_ref())).await?;
                continue;
            };
            let record = LeaseRecord::held(db_id, epoch, holder.clone(), ttl);
            let value = RootValue::new(record.encode())?;
            let sent = Instant::now();
            match settled_cas(storage.as_ref(), &name, expected, &value).await {
                Ok(CasOutcome::Applied(revision)) => {
                    tracing::info!(lease = %name, %epoch, db_id = %db_id, "lease acquired");
                    return Ok(Lease {
                        storage,
                        name,
                        revision,
                        record,
                        renewed: sent,
                    });
                }
                Ok(CasOutcome::Conflict(_)) => continue,
                // An unsettled claim may have landed: look again (a claim of
                // ours that did is then waited out like any holder's).
                Err(e)
                    if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::OutcomeUnknown) =>
                {
                    standby.nap(ttl, || e).await?
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The epoch this holder writes under.
    pub fn epoch(&self) -> Epoch {
        self.record.epoch
    }

    /// The record as last written.
    pub fn record(&self) -> &LeaseRecord {
        &self.record
    }

    /// How often the holder renews: a third of the ttl.
    pub fn renew_interval(&self) -> Duration {
        self.record.ttl / 3
    }

    /// The ttl this holder promised to renew within.
    pub fn ttl(&self) -> Duration {
        self.record.ttl
    }

    /// When the write that last applied was sent (monotonic clock): the
    /// lease is this holder's for one ttl from then, and no longer.
    pub fn renewed(&self) -> Instant {
        self.renewed
    }

    /// Renews the lease. [`ErrorKind::Fenced`] when another claimant took
    /// it over, or when the root holds a lease of another database (a
    /// storage reset and re-create under this holder); a retryable storage
    /// error leaves it as it was.
    ///
    /// The root is read (linearizably) and checked to be this very lease —
    /// same database id, epoch and holder, at the revision last written —
    /// before the compare-and-swap, so a renewal never lands on a lease
    /// root that another incarnation of the database re-created.
    pub async fn renew(&mut self) -> Result<()> {
        self.check_ours().await?;
        let record = self.record.renewed();
        self.write(record).await
    }

    /// Gives the lease up so that the next claimant takes over at once
    /// (checked like a renewal to be this very lease first).
    pub async fn release(mut self) -> Result<()> {
        self.check_ours().await?;
        let record = self.record.released();
        self.write(record).await?;
        tracing::info!(lease = %self.name, epoch = %self.record.epoch, "lease released");
        Ok(())
    }

    /// Reads the root and fails with [`ErrorKind::Fenced`] unless it holds
    /// this holder's record (adopting its revision, for a write of ours
    /// whose answer was lost).
    async fn check_ours(&mut self) -> Result<()> {
        let current = self.storage.read_root(&self.name).await?;
        match &current {
            Some(root) if self.is_ours(root) => {
                self.revision = root.revision;
                Ok(())
            }
            _ => Err(self.deposed(current)),
        }
    }

    async fn write(&mut self, record: LeaseRecord) -> Result<()> {
        // Twice at most: once more after adopting an earlier write of ours
        // whose answer was lost (nobody else writes our holder id and epoch).
        for _ in 0..2 {
            let value = RootValue::new(record.encode())?;
            let expected = Some(self.revision);
            let sent = Instant::now();
            match settled_cas(self.storage.as_ref(), &self.name, expected, &value).await? {
                CasOutcome::Applied(revision) => {
                    self.revision = revision;
                    self.record = record;
                    self.renewed = sent;
                    return Ok(());
                }
                CasOutcome::Conflict(Some(root)) if self.is_ours(&root) => {
                    self.revision = root.revision
                }
                CasOutcome::Conflict(current) => return Err(self.deposed(current)),
            }
        }
        Err(self.deposed(None))
    }

    /// True when `root` holds a record this holder wrote: the same
    /// database id, epoch and holder id (holder ids are unique per run, so
    /// no other writer produces this triple).
    fn is_ours(&self, root: &Root) -> bool {
        LeaseRecord::decode(self.name.as_str(), root.value.data()).is_ok_and(|r| {
            r.db_id.is_some()
                && r.db_id == self.record.db_id
                && r.epoch == self.record.epoch
                && r.holder.map(|h| h.id()) == self.record.holder.as_ref().map(|h| h.id())
        })
    }

    fn deposed(&self, current: Option<Root>) -> Error {
        let by = current
            .and_then(|root| LeaseRecord::decode(self.name.as_str(), root.value.data()).ok())
            .map_or_else(
                || "the lease root changed or is gone".to_string(),
                |r| match r.db_id {
                    Some(id) if Some(id) != self.record.db_id => format!(
                        "the lease is now of another database of the same name (id {id}), at epoch {}",
                        r.epoch
                    ),
                    _ => format!("the lease is at epoch {}", r.epoch),
                },
            );
        Error::fenced(format!(
            "lease `{}` of epoch {} was taken over: {by}",
            self.name, self.record.epoch
        ))
    }
}

/// A claimant waiting for a held lease to lapse, by its own monotonic clock.
struct Standby {
    /// The database, for the standby's metrics.
    db: String,
    /// The holder epoch last said to be standing by for.
    announced: Option<Epoch>,
    patience: Patience,
    started: Instant,
    /// The revision last seen and when this process first saw it.
    seen: Option<(Revision, Instant)>,
    /// The ttl the holder last seen promised.
    holder_ttl: Option<Duration>,
    /// The last failure to read the lease, said once per change.
    failure: Option<String>,
}

impl Standby {
    fn new(patience: Patience, db: &DbName) -> Self {
        Standby {
            db: db.to_string(),
            announced: None,
            patience,
            started: Instant::now(),
            seen: None,
            holder_ttl: None,
            failure: None,
        }
    }

    /// Says that reading the lease failed, once per different failure (a
    /// waiting client would otherwise say it on every poll).
    fn failed_read(&mut self, name: &RootName, e: &storage_core::Error) {
        let failure = e.to_string();
        if self.failure.as_deref() == Some(failure.as_str()) {
            tracing::debug!(lease = %name, error = %e, "reading the lease failed again; retrying");
            return;
        }
        tracing::warn!(lease = %name, error = %e, "reading the lease failed; retrying");
        self.failure = Some(failure);
    }

    /// The claim to make on `root` (expected revision, new epoch), or `None`
    /// while its holder is live.
    fn judge(&mut self, name: &RootName, root: &Root) -> Result<Option<(Option<Revision>, Epoch)>> {
        let record = LeaseRecord::decode(name.as_str(), root.value.data())?;
        self.holder_ttl = Some(record.ttl);
        let claim = Some((Some(root.revision), record.epoch.next()));
        if record.holder.is_none() {
            return Ok(claim);
        }
        if self.announced != Some(record.epoch) {
            let holder = record
                .holder
                .as_ref()
                .and_then(|h| h.endpoint())
                .unwrap_or("an embedded transactor");
            tracing::info!(lease = %name, epoch = %record.epoch, holder, "standing by: another transactor holds the lease");
            self.announced = Some(record.epoch);
        }
        let now = Instant::now();
        let first_seen = match self.seen {
            Some((revision, at)) if revision == root.revision => at,
            _ => {
                self.seen = Some((root.revision, now));
                now
            }
        };
        crate::observe::standby_age(&self.db, now.duration_since(first_seen));
        // The holder promised to renew within its ttl: that is what lapses.
        if now.duration_since(first_seen) >= record.ttl {
            tracing::info!(lease = %name, epoch = %record.epoch, "lease lapsed; taking over");
            return Ok(claim);
        }
        Ok(None)
    }

    /// Waits a little before looking again, or gives up with `why()` when
    /// patience has run out.
    async fn nap(&self, ttl: Duration, why: impl FnOnce() -> Error) -> Result<()> {
        if let Patience::AtMost(limit) = self.patience
            && self.started.elapsed() >= limit
        {
            return Err(why().context(format!("gave up waiting for the lease after {limit:?}")));
        }
        let ttl = self.holder_ttl.map_or(ttl, |holder| holder.min(ttl));
        tokio::time::sleep(poll_interval(ttl)).await;
        Ok(())
    }
}

/// How long a standby waits between two reads of a lease of `ttl`.
pub fn poll_interval(ttl: Duration) -> Duration {
    (ttl / POLLS_PER_TTL).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// The error of a claimant that gave up on a lease a live holder keeps.
fn held(name: &RootName, root: Option<&Root>) -> Error {
    let record = root.and_then(|r| LeaseRecord::decode(name.as_str(), r.value.data()).ok());
    let Some(record) = record else {
        return Error::new(ErrorKind::LeaseHeld, format!("lease `{name}` is held"));
    };
    let endpoint = record
        .holder
        .as_ref()
        .and_then(|h| h.endpoint().map(|e| format!(" at {e}")))
        .unwrap_or_else(|| " without an endpoint".to_string());
    Error::new(
        ErrorKind::LeaseHeld,
        format!(
            "lease `{name}` is held by a live transactor{endpoint} (epoch {})",
            record.epoch
        ),
    )
}
