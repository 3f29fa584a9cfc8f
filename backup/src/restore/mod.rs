//! Restoring a point of a backup into any storage, at its basis or at an
//! earlier t, as the same database or as a clone.

mod cut;
mod target;

use index::segment::kind;
use index::{LogRoot, ReachableSegment, SegmentCache, Segments, db_from_root, reachable_segments};
use storage_core::DbName;
use uuid::Uuid;

use crate::copy::{CopyOptions, CopyStats, Source, copy_segments};
use crate::error::{Error, Result};
use crate::location::BackupLocation;
use crate::manifest::{Manifest, Point, digest};
use crate::retry::retrying_segments;
use cut::{Cut, materialize, plan_cut, write_cut_log};
use target::Incoming;

pub use target::Restored;

/// The cache restores read the backup's branches through.
const BACKUP_CACHE_BYTES: u64 = 64 << 20;

/// How a restore runs.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Restore the database as of this t (`None`: the latest point).
    pub t: Option<u64>,
    /// Replace another database of the target name, or set the same one
    /// back to an earlier t, discarding what it has after.
    pub force: bool,
    /// Parallelism and progress of the copy.
    pub copy: CopyOptions,
}

/// What a restore did.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    /// The point restored from.
    pub point: Point,
    /// The basis t of the restored database.
    pub basis_t: u64,
    /// The identity of the restored database.
    pub db_uuid: Uuid,
    /// What happened to the target database.
    pub outcome: Restored,
    /// The segments copied.
    pub copy: CopyStats,
    /// True when the log was cut at an earlier t than the point's.
    pub cut: bool,
    /// True when the point's index covered transactions after the
    /// restored basis, so a new index was built by replaying the log.
    pub reindexed: bool,
}

/// Restores a point of `location` as database `name` of `target`.
///
/// The point is the latest, or with [`RestoreOptions::t`] the earliest
/// one at or after `t`, cut back to `t`. Segments are copied first (only
/// those the target lacks, so an interrupted restore run again copies the
/// rest), then the restored value is opened and checked, and only then is
/// it made visible: the log root by compare-and-swap, then the catalog.
///
/// Refused without [`RestoreOptions::force`]: replacing another database
/// of that name, setting the same database back to an earlier t, or
/// replacing a history that parted from the backup's. Restoring a
/// database under a new name into a storage that holds it already makes a
/// clone with an identity of its own that shares the segments.
pub async fn restore_db(
    location: &BackupLocation,
    target: &Segments,
    name: &DbName,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    // Garbage collection of the target (and of the location) pauses while
    // the restore relies on segments no root reaches yet.
    let what = format!("restore of `{name}`");
    crate::gc::while_held(&target.storage, &what, async {
        crate::gc::while_held(location.storage(), &what, async {
            restore_held(location, target, name, options).await
        })
        .await
    })
    .await
}

async fn restore_held(
    location: &BackupLocation,
    target: &Segments,
    name: &DbName,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    let target = &retrying_segments(target)?;
    let point = choose(location, &location.points().await?, options.t)?;
    let manifest = location.manifest(&point).await?;
    let root = manifest.log_root()?;
    let backup = Segments::new(
        location.storage().clone(),
        SegmentCache::new(BACKUP_CACHE_BYTES)?,
    );
    let cut = match options.t {
        Some(t) if t < root.basis_t => Some(plan_cut(&backup, &root, t).await?),
        _ => None,
    };
    let basis_t = cut.as_ref().map_or(root.basis_t, |c| c.basis_t);
    let incoming = Incoming {
        uuid: root.db_uuid,
        created_at_ms: manifest.db_created_at_ms,
        basis_t,
        backup: &backup,
        root: &root,
    };
    let plan = target::plan(target, name, &incoming, options.force).await?;
    let mut report = RestoreReport {
        point: point.clone(),
        basis_t,
        db_uuid: plan.uuid,
        outcome: plan.outcome.clone(),
        copy: CopyStats::default(),
        cut: cut.is_some(),
        reindexed: cut.as_ref().is_some_and(|c| needs_index(c, &root)),
    };
    if plan.outcome == Restored::UpToDate {
        return Ok(report);
    }
    let wanted = match &cut {
        None => whole_point(&backup, &root, &manifest).await?,
        Some(cut) => cut_point(&backup, &root, cut).await?,
    };
    let from = format!("{} (point t={})", location.name(), point.basis_t);
    let from = Source {
        storage: location.storage(),
        name: &from,
    };
    report.copy = copy_segments(&from, &target.storage, &wanted, "restore", &options.copy).await?;
    let template = LogRoot {
        db_uuid: plan.uuid,
        epoch: plan.epoch,
        ..root.clone()
    };
    let restored = match cut {
        None => {
            // Opening it checks that everything it needs is there.
            db_from_root(target, &template).await?;
            template
        }
        Some(cut) => {
            let log = write_cut_log(target, &cut, &template).await?;
            let log = LogRoot {
                index: cut.index,
                ..log
            };
            materialize(target, log, needs_index(&cut, &root)).await?.0
        }
    };
    target::commit(target, name, &plan, &restored).await?;
    tracing::info!(db = %name, basis_t, outcome = ?report.outcome, "restored");
    Ok(report)
}

/// Whether a cut drops the point's index, so the restored database gets
/// a new one built by replaying its log.
fn needs_index(cut: &Cut, root: &LogRoot) -> bool {
    cut.index.is_none() && root.index.is_some()
}

/// The point to restore: the latest, or the earliest at or after `t`.
fn choose(location: &BackupLocation, points: &[Point], t: Option<u64>) -> Result<Point> {
    let Some(latest) = points.iter().max_by_key(|p| (p.basis_t, p.created_at_ms)) else {
        return Err(Error::NotFound(format!(
            "no backup at {}: nothing was backed up there",
            location.name()
        )));
    };
    let Some(t) = t else {
        return Ok(latest.clone());
    };
    points
        .iter()
        .filter(|p| p.basis_t >= t)
        .min_by_key(|p| (p.basis_t, std::cmp::Reverse(p.created_at_ms)))
        .cloned()
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no point of the backup at {} reaches t={t}: the latest is t={}",
                location.name(),
                latest.basis_t
            ))
        })
}

/// Every segment the point reaches, checked against its manifest.
async fn whole_point(
    backup: &Segments,
    root: &LogRoot,
    manifest: &Manifest,
) -> Result<Vec<ReachableSegment>> {
    let wanted = reachable_segments(backup, root).await?;
    let ids: Vec<_> = wanted.iter().map(|r| r.id).collect();
    if wanted.len() as u64 != manifest.segments || digest(&ids) != manifest.digest {
        return Err(Error::damaged(
            format!("point t={}", manifest.basis_t),
            format!(
                "its log root reaches {} segments but the manifest records {} (or other ones): the backup is damaged",
                wanted.len(),
                manifest.segments
            ),
        ));
    }
    Ok(wanted)
}

/// The segments a cut shares with the point: its whole log leaves, and
/// the index when it is kept.
async fn cut_point(backup: &Segments, root: &LogRoot, cut: &Cut) -> Result<Vec<ReachableSegment>> {
    let mut wanted: Vec<ReachableSegment> = cut
        .leaves
        .iter()
        .map(|l| ReachableSegment {
            id: l.id,
            kind: kind::LOG_LEAF,
        })
        .collect();
    if cut.index.is_some() {
        let index_only = LogRoot {
            index: cut.index,
            log: None,
            tail: Vec::new(),
            ..root.clone()
        };
        wanted.extend(reachable_segments(backup, &index_only).await?);
    }
    Ok(wanted)
}
