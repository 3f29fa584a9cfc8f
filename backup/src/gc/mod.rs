//! Garbage collection of a storage: every segment that no live root
//! reaches goes once the grace period has passed, and with it everything
//! of deleted databases and every copy of excised values.
//!
//! # What is live
//!
//! A run reads every root of the storage ([`Storage::list_roots`]) and
//! marks what they reach: the log and index trees of every database the
//! catalog does not list as deleted (clones and restored databases are
//! databases too; a log root the catalog does not list yet counts as
//! live), every point of every backup set held in the storage, and gc's
//! own records. A root of a kind it does not know stops the run before
//! anything is deleted. A restore or backup in progress holds the storage
//! ([`while_held`]): no sweep runs while it lasts.
//!
//! # The guarantee
//!
//! Let G be the grace period. A segment is deleted only if
//! 1. a mark taken at some time M, at least G ago, did not reach it;
//! 2. it was last put before M − G (each backend records the time of the
//!    last put: the file's mtime, Postgres `written_at`, Cassandra
//!    `writetime()`, the insertion time in mem; a put of an existing
//!    segment refreshes it);
//! 3. the mark of this run does not reach it either.
//!
//! From this follow the two promises, provided every writer (a commit, an
//! indexing job) compare-and-swaps its root within G of putting the
//! segments that root reaches:
//! - **A commit in flight never loses a segment.** A segment it put and
//!   will make reachable was put after M − G … or it would have been put
//!   more than G before a CAS that comes after M.
//! - **A peer holding a database value from within the grace never meets
//!   a missing segment.** That value's root was current at some time T
//!   with T ≥ now − G ≥ M. Had it reached the segment, the segment was
//!   either reachable at M (contradicting 1) or made reachable after M by a
//!   writer that put it after M − G (contradicting 2).
//!
//! A run therefore acts on the unreachable set of the *previous* run (kept
//! in `gc/state`, see the `record` module) once that run is G old, and records its
//! own for the next; with G = 0 the current mark is old enough and one run
//! removes everything unreachable. G = 0 is for when no writer runs.
//! Clocks of the writers, the storage and the collector must agree to well
//! within G.
//!
//! # Excision and deleted databases
//!
//! An indexing job carries out an excision by rewriting the index and log
//! segments and the log root's inline tail; the old segments become
//! unreachable when the log root moves on. A run records when it first saw
//! each excision in an index root, and marks it complete once a sweep has
//! removed every segment unreachable at a mark at least that late, and put
//! before it ([`ExcisionRecord`]). A deleted database's segments are not
//! marked, and the inline tail of its log root is emptied.
//!
//! # Memory
//!
//! The mark set holds 8 bytes per reachable segment (80 MB for 10
//! million); while one database or backup point is walked, its reachable
//! list is held too (33 bytes a segment, `index::reachable_segments`).
//! Unreachable ids are held in full (32 bytes each, plus 8 for the size of
//! those that go) and written to `gc/state` as sorted lists of 32K ids.

mod excision;
mod hold;
mod mark;
mod prune;
pub(crate) mod record;
mod sweep;

use std::sync::Arc;
use std::time::{Duration, Instant};

use index::{LogRoot, log_root_name};
use storage_core::{SegmentId, Storage};

use crate::error::Result;
use crate::location::now_ms;
use crate::progress::{Progress, Silent};

pub use excision::{ExcisionState, ExcisionStatus, excise_status, points_predating_excisions};
pub use hold::{HOLD_TTL, while_held};
pub use prune::{PrunePolicy, PruneReport, prune_backups};
pub use record::{ExcisionRecord, Hold, kind};

use mark::{Snapshot, mark};
use record::{GcState, HexId};
use sweep::{Listed, Ripe, Rule};

/// How a garbage collection runs.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// Segments unreachable for less than this stay (see the guarantee).
    pub grace: Duration,
    /// Only report what would go.
    pub dry_run: bool,
    /// Deletions in flight at once.
    pub parallel: usize,
    /// Where progress goes.
    pub progress: Arc<dyn Progress>,
}

impl Default for GcOptions {
    /// A grace of one hour, deleting, 16 at once, silent.
    fn default() -> Self {
        GcOptions {
            grace: Duration::from_secs(3600),
            dry_run: false,
            parallel: 16,
            progress: Arc::new(Silent),
        }
    }
}

/// What a run found and did.
#[derive(Clone, Debug, Default)]
pub struct GcReport {
    /// Whether it only reported.
    pub dry_run: bool,
    /// When the roots were read, ms since the Unix epoch.
    pub marked_at_ms: u64,
    /// Roots read.
    pub roots: usize,
    /// Live databases marked.
    pub databases: usize,
    /// Backup sets marked.
    pub backup_sets: usize,
    /// Deleted databases whose log root still held data (emptied unless
    /// dry-run).
    pub deleted_databases: Vec<String>,
    /// Distinct segments the mark reached.
    pub marked: u64,
    /// Segments stored, and their bytes.
    pub listed: u64,
    /// Bytes of all stored segments.
    pub listed_bytes: u64,
    /// Stored segments the mark reached.
    pub live: u64,
    /// The segments deleted (or that would be, on a dry run).
    pub deleted: Vec<SegmentId>,
    /// Their bytes.
    pub deleted_bytes: u64,
    /// Segments found unreachable that a writer put again before they
    /// could be deleted (kept: a new root may reach them).
    pub refreshed: u64,
    /// Unreachable segments still within the grace period.
    pub waiting: u64,
    /// The holds that kept the run from deleting anything.
    pub held_by: Vec<String>,
    /// Superseded root values erased (revision files of the file
    /// backend; other backends overwrite in place).
    pub root_values_erased: u64,
    /// Excisions this run completed.
    pub excisions_completed: usize,
    /// How long reading the roots and marking took.
    pub mark_elapsed: Duration,
    /// How long the whole run took.
    pub elapsed: Duration,
}

/// Collects the garbage of `storage` (see the module docs for what is
/// kept and why).
pub async fn gc_storage(storage: &Arc<dyn Storage>, options: &GcOptions) -> Result<GcReport> {
    let started = Instant::now();
    let grace_ms = u64::try_from(options.grace.as_millis()).unwrap_or(u64::MAX);
    let snapshot = mark(storage).await?;
    let mark_elapsed = started.elapsed();
    let previous = match snapshot.gc.state {
        Some(id) => Some(record::read_state(storage, id).await?),
        None => None,
    };
    let rule = rule(storage, previous.as_ref(), snapshot.at_ms, grace_ms).await?;
    let listed = sweep::list(storage, &snapshot.marks, &rule).await?;
    let mut report = report_of(&snapshot, &listed, options.dry_run);
    report.mark_elapsed = mark_elapsed;
    report.held_by = snapshot
        .gc
        .live_holds(now_ms())
        .iter()
        .map(|h| h.what.clone())
        .collect();
    tracing::info!(
        marked = report.marked,
        listed = report.listed,
        doomed = listed.doomed.len(),
        waiting = report.waiting,
        dry_run = options.dry_run,
        "gc: marked and listed"
    );
    if options.dry_run || !report.held_by.is_empty() {
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let swept = sweep::delete(storage, &listed.doomed, options.parallel, &options.progress).await?;
    report.deleted = swept.deleted;
    report.deleted.sort_unstable();
    report.deleted_bytes = swept.bytes;
    report.refreshed = swept.refreshed;
    if let Some(hold) = swept.stopped_by {
        report.held_by.push(hold);
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    for db in &snapshot.deleted {
        scrub_deleted(storage, db).await?;
    }
    report.root_values_erased = erase_superseded(storage, options.grace).await?;
    report.excisions_completed =
        save_state(storage, &snapshot, previous, &rule, listed.waiting).await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The deletion rule of a run at `now_ms` with grace `grace_ms`.
async fn rule(
    storage: &Arc<dyn Storage>,
    previous: Option<&GcState>,
    now_ms: u64,
    grace_ms: u64,
) -> Result<Rule> {
    let ripe = match previous {
        Some(p) if p.marked_at_ms.saturating_add(grace_ms) <= now_ms => Some(Ripe {
            condemned: record::read_ids(storage, &p.condemned).await?,
            cutoff_ms: p.marked_at_ms.saturating_sub(grace_ms),
        }),
        _ => None,
    };
    Ok(Rule {
        ripe,
        now_cutoff_ms: (grace_ms == 0).then_some(now_ms),
    })
}

fn report_of(snapshot: &Snapshot, listed: &Listed, dry_run: bool) -> GcReport {
    GcReport {
        dry_run,
        marked_at_ms: snapshot.at_ms,
        roots: snapshot.roots,
        databases: snapshot.live.len(),
        backup_sets: snapshot.backup_sets,
        deleted_databases: snapshot
            .deleted
            .iter()
            .map(|d| d.name.to_string())
            .collect(),
        marked: snapshot.marks.len() as u64,
        listed: listed.segments,
        listed_bytes: listed.bytes,
        live: listed.live,
        deleted: listed.doomed.iter().map(|d| d.id).collect(),
        deleted_bytes: listed.doomed.iter().map(|d| d.bytes).sum(),
        refreshed: 0,
        waiting: listed.waiting.len() as u64,
        held_by: Vec::new(),
        root_values_erased: 0,
        excisions_completed: 0,
        mark_elapsed: Duration::ZERO,
        elapsed: Duration::ZERO,
    }
}

/// Erases every root's values superseded more than `grace` ago: an old
/// log root's inline log holds the same values as the segments this run
/// deleted (a deleted database's, or what an excision rewrote), so it goes
/// on the same schedule.
async fn erase_superseded(storage: &Arc<dyn Storage>, grace: Duration) -> Result<u64> {
    let mut erased = 0;
    for name in storage.list_roots().await? {
        erased += storage.erase_superseded(&name, grace).await?;
    }
    Ok(erased)
}

/// Empties the log root of a deleted database (its segments are gone with
/// this sweep or the next): a higher epoch, no index, no log, no tail.
async fn scrub_deleted(storage: &Arc<dyn Storage>, db: &mark::DeletedDb) -> Result<()> {
    let empty = LogRoot {
        epoch: db.root.epoch + 1,
        basis_t: 0,
        index: None,
        log: None,
        tail: Vec::new(),
        ..db.root.clone()
    };
    // A conflict means the name was re-created or fenced meanwhile: the
    // next run looks again.
    storage
        .cas_root(
            &log_root_name(&db.name),
            Some(db.revision),
            &empty.to_root_value()?,
        )
        .await?;
    Ok(())
}

/// Writes the state for the next run; returns how many excisions this run
/// completed.
async fn save_state(
    storage: &Arc<dyn Storage>,
    snapshot: &Snapshot,
    previous: Option<GcState>,
    rule: &Rule,
    waiting: Vec<SegmentId>,
) -> Result<usize> {
    let keep_previous = previous.is_some() && rule.ripe.is_none();
    let mut state = match (keep_previous, previous) {
        (true, Some(p)) => p,
        (_, p) => GcState {
            marked_at_ms: snapshot.at_ms,
            condemned: write_condemned(storage, &waiting).await?,
            excisions: p.map(|p| p.excisions).unwrap_or_default(),
        },
    };
    let completed = excision::update_records(&mut state.excisions, snapshot, rule.cutoff_ms());
    let id = record::write_state(storage, &state).await?;
    record::update_root(storage, |current| {
        let mut next = current.clone();
        next.state = Some(id);
        Ok(Some((next, ())))
    })
    .await?;
    Ok(completed)
}

async fn write_condemned(storage: &Arc<dyn Storage>, ids: &[SegmentId]) -> Result<Vec<HexId>> {
    record::write_ids(storage, ids).await
}
