//! Pruning a backup location: old points leave its list, then garbage
//! collection of the location's storage removes the segments only they
//! reached.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::gc::{GcOptions, GcReport, gc_storage};
use crate::location::{BackupLocation, now_ms};
use crate::manifest::Point;

/// Which points a prune removes. The newest point always stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrunePolicy {
    /// Keep the newest N points (N ≥ 1).
    Keep(usize),
    /// Remove the points taken longer ago than this.
    OlderThan(Duration),
}

/// What a prune did.
#[derive(Clone, Debug)]
pub struct PruneReport {
    /// The points removed from the list.
    pub dropped: Vec<Point>,
    /// The points left.
    pub kept: usize,
    /// The garbage collection of the location's storage that followed.
    pub gc: GcReport,
}

/// Removes the points `policy` picks from `location`, then collects the
/// garbage of its storage with `options` (a dry run removes nothing and
/// reports what the collection would delete now).
pub async fn prune_backups(
    location: &BackupLocation,
    policy: PrunePolicy,
    options: &GcOptions,
) -> Result<PruneReport> {
    if policy == PrunePolicy::Keep(0) {
        return Err(Error::Invalid(
            "--keep 0 would remove every point of the backup; keep at least 1".into(),
        ));
    }
    let points = location.points().await?;
    let dropped = match options.dry_run {
        true => chosen(&points, policy),
        false => location.remove_points(|p| chosen(p, policy)).await?,
    };
    let gc = gc_storage(location.storage(), options).await?;
    Ok(PruneReport {
        kept: points.len() - dropped.len().min(points.len()),
        dropped,
        gc,
    })
}

/// The points `policy` removes from `points` (sorted by basis, oldest
/// first), never the newest.
fn chosen(points: &[Point], policy: PrunePolicy) -> Vec<Point> {
    let Some((_newest, older)) = points.split_last() else {
        return Vec::new();
    };
    match policy {
        PrunePolicy::Keep(n) => {
            let remove = points.len().saturating_sub(n.max(1));
            older[..remove.min(older.len())].to_vec()
        }
        PrunePolicy::OlderThan(age) => {
            let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
            let cutoff = now_ms().saturating_sub(age_ms);
            older
                .iter()
                .filter(|p| p.created_at_ms < cutoff)
                .cloned()
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use storage_core::SegmentId;

    fn point(t: u64, created_at_ms: u64) -> Point {
        Point {
            basis_t: t,
            manifest: SegmentId::of(&t.to_be_bytes()),
            created_at_ms,
            segments: 1,
            copied_segments: 1,
            copied_bytes: 1,
        }
    }

    #[test]
    fn the_newest_point_always_stays() {
        let now = now_ms();
        let points = vec![point(1, 0), point(2, 1), point(3, now)];
        let keep_one = chosen(&points, PrunePolicy::Keep(1));
        assert_eq!(keep_one, points[..2].to_vec());
        assert_eq!(chosen(&points, PrunePolicy::Keep(5)), Vec::new());
        let old = chosen(&points, PrunePolicy::OlderThan(Duration::from_secs(60)));
        assert_eq!(old, points[..2].to_vec());
        let all_old = vec![point(1, 0), point(2, 1)];
        let old = chosen(&all_old, PrunePolicy::OlderThan(Duration::ZERO));
        assert_eq!(old, all_old[..1].to_vec());
    }
}
