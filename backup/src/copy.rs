//! Copying segments between storages: only what the target lacks, many at
//! once with a bound. (Callers pass storages wrapped in
//! [`crate::retry::Retrying`], which repeats what a busy backend refuses.)
//!
//! Segments are named by their content, so a copy is idempotent: a copy
//! that was interrupted is finished by running it again, and a second
//! backup of an unchanged database copies nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use index::ReachableSegment;
use index::segment::Node;
use storage_core::{SegmentId, Storage};

use crate::error::{Error, Result};
use crate::progress::{Progress, Silent};

/// How a copy or a check runs.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Segments in flight at once (at least 1).
    pub parallel: usize,
    /// Where progress goes.
    pub progress: Arc<dyn Progress>,
}

impl Default for CopyOptions {
    /// 16 in flight, no progress output.
    fn default() -> Self {
        CopyOptions {
            parallel: 16,
            progress: Arc::new(Silent),
        }
    }
}

/// What a copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// The segments wanted at the target.
    pub wanted: u64,
    /// Those the target had already.
    pub present: u64,
    /// Those copied now.
    pub copied: u64,
    /// The bytes copied now.
    pub bytes: u64,
    /// How long the copy took, listing the target included.
    pub elapsed: Duration,
}

/// A storage to copy from, and how to name it in errors.
pub(crate) struct Source<'a> {
    pub(crate) storage: &'a Arc<dyn Storage>,
    pub(crate) name: &'a str,
}

/// The ids a listing page asks for.
const LIST_PAGE: usize = 10_000;

/// Copies the `wanted` segments that `target` lacks from `source`.
///
/// The target is listed once (page by page) to learn what it has; every missing segment
/// is read (verified against its id by the source backend) and written
/// durably. A segment the source lacks is [`Error::Damaged`] naming it.
pub(crate) async fn copy_segments(
    source: &Source<'_>,
    target: &Arc<dyn Storage>,
    wanted: &[ReachableSegment],
    task: &str,
    options: &CopyOptions,
) -> Result<CopyStats> {
    let started = Instant::now();
    let missing = absent(target, wanted).await?;
    let mut stats = CopyStats {
        wanted: wanted.len() as u64,
        present: (wanted.len() - missing.len()) as u64,
        ..CopyStats::default()
    };
    tracing::info!(
        task,
        wanted = stats.wanted,
        present = stats.present,
        "copying the missing segments"
    );
    options.progress.start(task, missing.len() as u64);
    let copied = stream::iter(missing)
        .map(|segment| copy_one(source, target, segment))
        .buffer_unordered(options.parallel.max(1))
        .try_for_each(|bytes| {
            options.progress.segment_done(bytes);
            stats.copied += 1;
            stats.bytes += bytes;
            futures::future::ready(Ok(()))
        })
        .await;
    options.progress.finish();
    copied?;
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// The `wanted` segments `target` does not list, in id order.
async fn absent(
    target: &Arc<dyn Storage>,
    wanted: &[ReachableSegment],
) -> Result<Vec<ReachableSegment>> {
    let mut todo: HashMap<SegmentId, u8> = wanted.iter().map(|r| (r.id, r.kind)).collect();
    let mut from = None;
    while !todo.is_empty() {
        let page = target.list_segments(from.clone(), LIST_PAGE).await?;
        for id in &page.ids {
            todo.remove(id);
        }
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    let mut missing: Vec<ReachableSegment> = todo
        .into_iter()
        .map(|(id, kind)| ReachableSegment { id, kind })
        .collect();
    missing.sort();
    Ok(missing)
}

/// Copies one segment; returns its size.
async fn copy_one(
    source: &Source<'_>,
    target: &Arc<dyn Storage>,
    segment: ReachableSegment,
) -> Result<u64> {
    let id = segment.id;
    let bytes = source
        .storage
        .get_segment(id)
        .await?
        .ok_or_else(|| missing(source.name, segment))?;
    let len = bytes.len() as u64;
    target.put_segment(id, bytes).await?;
    Ok(len)
}

/// The error for a segment that something reaches but `location` lacks.
pub(crate) fn missing(location: &str, segment: ReachableSegment) -> Error {
    Error::damaged(
        location,
        format!(
            "segment {} ({}) is missing",
            segment.id,
            describe(segment.kind)
        ),
    )
}

/// A segment kind in words.
pub(crate) fn describe(kind: u8) -> &'static str {
    match kind {
        crate::manifest::kind::MANIFEST => "backup manifest",
        crate::manifest::kind::POINTS => "backup points list",
        other => Node::describe(other),
    }
}
