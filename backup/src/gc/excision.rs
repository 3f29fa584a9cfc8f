//! Which excisions are physically complete: carried out by an indexing job,
//! and every segment that could hold what they removed swept.

use std::sync::Arc;

use index::{DurableStore, SegmentCache, Segments, open_db};
use storage_core::{DbName, Storage};

use crate::error::{Error, Result};
use crate::gc::mark::Snapshot;
use crate::gc::record::{self, ExcisionRecord};
use crate::location::now_ms;

/// Where one excision request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcisionState {
    /// Committed, but no indexing job has carried it out yet: its values
    /// are still in the index, the log and the segments.
    NotIndexed,
    /// Carried out in the database, but old segments may still hold the
    /// values until garbage collection sweeps them after the grace period.
    /// `seen_ms`: when gc first saw it carried out (`None`: not yet).
    WaitingForGc {
        /// When a gc run first saw it in the index root.
        seen_ms: Option<u64>,
    },
    /// No segment of the storage holds what it removed.
    Complete {
        /// When the sweep that completed it ran.
        at_ms: u64,
    },
}

/// One excision request of a database and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcisionStatus {
    /// The request entity.
    pub request: u64,
    /// The t of the transaction that asked for it.
    pub t: u64,
    /// Where it stands.
    pub state: ExcisionState,
}

/// The excision requests of the live database `db` in `storage`, oldest
/// first, each with its state.
pub async fn excise_status(storage: &Arc<dyn Storage>, db: &DbName) -> Result<Vec<ExcisionStatus>> {
    let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20)?);
    let open = open_db(&seg, db).await?;
    let value = open.db.clone();
    let mut requests = tokio::task::spawn_blocking(move || value.excise_requests())
        .await
        .map_err(|e| Error::Internal(format!("reading the excision requests failed: {e}")))??;
    requests.sort_by_key(|r| (r.t, r.id));
    let carried_out = match open.root.index {
        Some(id) => DurableStore::load(&seg, id, &open.root)
            .await?
            .excisions()
            .to_vec(),
        None => Vec::new(),
    };
    let records = match record::read_root(storage).await?.0.state {
        Some(id) => record::read_state(storage, id).await?.excisions,
        None => Vec::new(),
    };
    let uuid = open.entry.uuid;
    Ok(requests
        .into_iter()
        .map(|r| {
            let seen = records
                .iter()
                .find(|x| x.db_uuid == uuid && x.request == r.id);
            let state = match (carried_out.contains(&r.id), seen) {
                (false, _) => ExcisionState::NotIndexed,
                (
                    true,
                    Some(ExcisionRecord {
                        complete_ms: Some(at_ms),
                        ..
                    }),
                ) => ExcisionState::Complete { at_ms: *at_ms },
                (true, seen) => ExcisionState::WaitingForGc {
                    seen_ms: seen.map(|s| s.first_seen_ms),
                },
            };
            ExcisionStatus {
                request: r.id,
                t: r.t,
                state,
            }
        })
        .collect())
}

/// Brings the excision records up to date after a sweep that removed every
/// unreachable segment put before `cutoff_ms` (from a mark at least as
/// late): records of databases no longer live are dropped, excisions seen
/// for the first time are recorded at the snapshot's time, and those seen
/// at or before the cut-off are complete. Returns how many completed.
pub(crate) fn update_records(
    records: &mut Vec<ExcisionRecord>,
    snapshot: &Snapshot,
    cutoff_ms: Option<u64>,
) -> usize {
    records.retain(|r| snapshot.live.iter().any(|db| db.uuid == r.db_uuid));
    for db in &snapshot.live {
        for &request in &db.excisions {
            let known = records
                .iter()
                .any(|r| r.db_uuid == db.uuid && r.request == request);
            if !known {
                records.push(ExcisionRecord {
                    db_uuid: db.uuid,
                    db_name: db.name.clone(),
                    request,
                    first_seen_ms: snapshot.at_ms,
                    complete_ms: None,
                });
            }
        }
    }
    let Some(cutoff) = cutoff_ms else { return 0 };
    let now = now_ms();
    let mut completed = 0;
    for r in records
        .iter_mut()
        .filter(|r| r.complete_ms.is_none() && r.first_seen_ms <= cutoff)
    {
        r.complete_ms = Some(now);
        completed += 1;
    }
    completed
}

/// For each point of `location`, oldest first, the excision requests the
/// newest point has carried out and this point predates: the point still
/// holds what they removed, until it is pruned
/// ([`crate::gc::prune_backups`]).
pub async fn points_predating_excisions(
    location: &crate::BackupLocation,
) -> Result<Vec<(crate::Point, Vec<u64>)>> {
    let seg = Segments::new(location.storage().clone(), SegmentCache::new(64 << 20)?);
    let mut carried = Vec::new();
    for point in location.points().await? {
        let root = location.manifest(&point).await?.log_root()?;
        let done = match root.index {
            Some(id) => DurableStore::load(&seg, id, &root)
                .await?
                .excisions()
                .to_vec(),
            None => Vec::new(),
        };
        carried.push((point, done));
    }
    let newest = carried.last().map(|(_, d)| d.clone()).unwrap_or_default();
    Ok(carried
        .into_iter()
        .map(|(point, done)| {
            let missing = newest
                .iter()
                .filter(|r| !done.contains(r))
                .copied()
                .collect();
            (point, missing)
        })
        .collect())
}
