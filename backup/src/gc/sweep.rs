//! The sweep: list every stored segment with its write time, decide which
//! go, and delete them while no restore or backup holds the storage.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use storage_core::{PageToken, SegmentId, SegmentInfo, Storage};
use uuid::Uuid;

use crate::error::Result;
use crate::gc::mark::Marks;
use crate::gc::record::{self, SweepLease};
use crate::location::now_ms;
use crate::progress::Progress;

/// Ids asked for per listing page.
const LIST_PAGE: usize = 5_000;
/// Deletions between two checks for new holds.
const BATCH: usize = 256;
/// How long a sweep's lease lasts without renewal; a holder waits at most
/// this long for a crashed sweep.
pub(crate) const SWEEP_LEASE_MS: u64 = 60_000;

/// When a segment may go: it was unreachable at a mark taken at least the
/// grace period ago, and not put since that mark's cut-off.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    /// The ids the previous mark found unreachable, sorted, when that mark
    /// is at least the grace period old.
    pub(crate) ripe: Option<Ripe>,
    /// With a zero grace, the current mark is old enough: every segment
    /// written before it that it did not reach goes.
    pub(crate) now_cutoff_ms: Option<u64>,
}

/// A previous mark old enough to act on.
#[derive(Clone, Debug)]
pub(crate) struct Ripe {
    pub(crate) condemned: Vec<SegmentId>,
    /// Its time minus the grace: segments put since may be in use.
    pub(crate) cutoff_ms: u64,
}

impl Rule {
    fn doomed(&self, info: &SegmentInfo) -> bool {
        let Some(written) = info.written_at_ms else {
            return false; // the backend cannot tell: treat as just written
        };
        let by_ripe = self
            .ripe
            .as_ref()
            .is_some_and(|r| written < r.cutoff_ms && r.condemned.binary_search(&info.id).is_ok());
        by_ripe || self.now_cutoff_ms.is_some_and(|cut| written < cut)
    }

    /// The latest write time every doomed segment precedes.
    pub(crate) fn cutoff_ms(&self) -> Option<u64> {
        let ripe = self.ripe.as_ref().map(|r| r.cutoff_ms);
        ripe.max(self.now_cutoff_ms)
    }
}

/// A segment to delete, as the listing saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Doomed {
    pub(crate) id: SegmentId,
    pub(crate) bytes: u64,
    /// Its write time in the listing: a put after it keeps the segment.
    pub(crate) written_at_ms: u64,
}

/// What the listing found.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    pub(crate) segments: u64,
    pub(crate) bytes: u64,
    pub(crate) live: u64,
    /// Unreachable and old enough to go.
    pub(crate) doomed: Vec<Doomed>,
    /// Unreachable but still within the grace (or of unknown age): the
    /// next mark's condemned list.
    pub(crate) waiting: Vec<SegmentId>,
}

/// Lists every segment and sorts it into live, doomed and waiting.
pub(crate) async fn list(storage: &Arc<dyn Storage>, marks: &Marks, rule: &Rule) -> Result<Listed> {
    let mut listed = Listed::default();
    let mut from: Option<PageToken> = None;
    loop {
        let page = storage.list_segment_infos(from.take(), LIST_PAGE).await?;
        for info in &page.segments {
            let size = info.bytes.unwrap_or(0);
            listed.segments += 1;
            listed.bytes += size;
            if marks.contains(&info.id) {
                listed.live += 1;
            } else if let Some(written_at_ms) = info.written_at_ms.filter(|_| rule.doomed(info)) {
                listed.doomed.push(Doomed {
                    id: info.id,
                    bytes: size,
                    written_at_ms,
                });
            } else {
                listed.waiting.push(info.id);
            }
        }
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    listed.waiting.sort_unstable();
    Ok(listed)
}

/// How a deletion pass ended.
#[derive(Debug, Default)]
pub(crate) struct Swept {
    /// The segments deleted, in the order their deletions finished.
    pub(crate) deleted: Vec<SegmentId>,
    pub(crate) bytes: u64,
    /// Doomed segments a writer put again after the listing (ids are
    /// content hashes, so a new index can reuse an old segment): kept.
    pub(crate) refreshed: u64,
    /// A hold appeared: the pass stopped, this is its description.
    pub(crate) stopped_by: Option<String>,
}

/// Deletes `doomed` in batches under a sweep lease in `gc/state`: before
/// each batch the lease is renewed by compare-and-swap, which fails when a
/// restore or backup registered a hold meanwhile; the pass then stops.
/// A holder waits for the lease to end or move before it relies on any
/// segment being present ([`super::hold`]).
pub(crate) async fn delete(
    storage: &Arc<dyn Storage>,
    doomed: &[Doomed],
    parallel: usize,
    progress: &Arc<dyn Progress>,
) -> Result<Swept> {
    let lease = Uuid::new_v4();
    let mut swept = Swept::default();
    progress.start("gc: deleting", doomed.len() as u64);
    let outcome = delete_batches(storage, doomed, parallel, progress, lease, &mut swept).await;
    progress.finish();
    end_lease(storage, lease).await?;
    outcome?;
    Ok(swept)
}

async fn delete_batches(
    storage: &Arc<dyn Storage>,
    doomed: &[Doomed],
    parallel: usize,
    progress: &Arc<dyn Progress>,
    lease: Uuid,
    swept: &mut Swept,
) -> Result<()> {
    for batch in doomed.chunks(BATCH) {
        if let Some(hold) = renew_lease(storage, lease).await? {
            swept.stopped_by = Some(hold);
            return Ok(());
        }
        let deletions = stream::iter(batch.iter().copied())
            .map(|doomed| {
                let storage = storage.clone();
                async move {
                    let deleted = storage
                        .delete_segment_unless_put_since(doomed.id, doomed.written_at_ms)
                        .await?;
                    Ok::<_, crate::Error>((doomed, deleted))
                }
            })
            .buffer_unordered(parallel.max(1));
        futures::pin_mut!(deletions);
        while let Some((doomed, deleted)) = deletions.try_next().await? {
            progress.segment_done(doomed.bytes);
            if deleted {
                swept.deleted.push(doomed.id);
                swept.bytes += doomed.bytes;
            } else {
                swept.refreshed += 1;
            }
        }
    }
    Ok(())
}

/// Takes or extends the lease; `Some(description)` of a live hold instead
/// when there is one.
async fn renew_lease(storage: &Arc<dyn Storage>, lease: Uuid) -> Result<Option<String>> {
    let mut held = None;
    record::update_root(storage, |current| {
        let now = now_ms();
        held = current.live_holds(now).first().map(|h| h.what.clone());
        if held.is_some() {
            return Ok(None);
        }
        let mut next = current.clone();
        next.sweep = Some(SweepLease {
            id: lease,
            until_ms: now + SWEEP_LEASE_MS,
        });
        Ok(Some((next, ())))
    })
    .await?;
    Ok(held)
}

async fn end_lease(storage: &Arc<dyn Storage>, lease: Uuid) -> Result<()> {
    record::update_root(storage, |current| {
        if current.sweep.as_ref().is_none_or(|s| s.id != lease) {
            return Ok(None);
        }
        let mut next = current.clone();
        next.sweep = None;
        Ok(Some((next, ())))
    })
    .await?;
    Ok(())
}
