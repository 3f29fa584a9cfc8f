//! Restoring at an earlier t: the database as of `t` is a real database
//! value with basis `t`, so its log is cut after `t`, and its index is
//! the point's own only when that index covers no later transaction.
//!
//! The cut shares every log leaf that ends at or before `t` with the
//! backup; the entries of the leaf that straddles `t` (and of the log
//! root's tail) are appended anew, and new branches are written over the
//! shared leaves. When the point's index is newer than `t`, the log is
//! replayed into a new index, indexing every [`REINDEX_DATOMS`] datoms of
//! novelty so memory stays bounded whatever the size of the database.
//!
//! The log cut belongs in the `index` crate (`log::truncate`), which owns
//! the log tree's shape; it is here until that crate offers it.

use std::sync::Arc;

use index::segment::{IndexRoot, LogBranch, LogChild, Node, kind};
use index::{DurableStore, LogRoot, LogTree, Segments, append, apply_entry, index_db, read_log};
use model::{Db, IndexStore, TxLog};
use storage_core::{SegmentId, StorageExt, codec};

use crate::error::{Error, Result};

/// Novelty (datoms) at which a replaying restore runs an indexing job.
pub(crate) const REINDEX_DATOMS: usize = 256 * 1024;

/// The log of a point cut after `t`, before anything is written.
#[derive(Clone, Debug)]
pub(crate) struct Cut {
    /// Log leaves that end at or before `t`, in order: shared as they are.
    pub(crate) leaves: Vec<LogChild>,
    /// The entries after them up to `t`, appended anew.
    pub(crate) entries: Vec<TxLog>,
    /// The last t of the cut log: the restored basis.
    pub(crate) basis_t: u64,
    /// The point's index root, when it covers nothing after the basis.
    pub(crate) index: Option<SegmentId>,
}

/// Plans the cut of `root`'s log after `t` (reading the backup's log
/// branches and the one leaf that straddles `t`).
pub(crate) async fn plan_cut(backup: &Segments, root: &LogRoot, t: u64) -> Result<Cut> {
    let mut leaves = Vec::new();
    let mut straddling = None;
    if let Some(tree) = root.log {
        let top = LogChild {
            first_t: tree.first_t,
            last_t: tree.last_t,
            id: tree.id,
        };
        let mut level = vec![top];
        for _ in 0..tree.height {
            let mut next = Vec::new();
            for child in level.iter().filter(|c| c.first_t <= t) {
                next.extend(branch_children(backup, child.id).await?);
            }
            level = next;
        }
        for child in level.into_iter().filter(|c| c.first_t <= t) {
            match child.last_t <= t {
                true => leaves.push(child),
                false => straddling = Some(child),
            }
        }
    }
    let mut entries = match straddling {
        Some(leaf) => leaf_entries(backup, leaf.id).await?,
        None => root.tail.clone(),
    };
    entries.retain(|e| e.t <= t);
    let basis_t = entries
        .last()
        .map(|e| e.t)
        .or(leaves.last().map(|l| l.last_t))
        .ok_or_else(|| Error::Invalid(format!("the backed-up log holds nothing up to t={t}")))?;
    let index = match root.index {
        Some(id) if index_root(backup, id).await?.basis_t <= basis_t => Some(id),
        _ => None,
    };
    Ok(Cut {
        leaves,
        entries,
        basis_t,
        index,
    })
}

async fn node(seg: &Segments, id: SegmentId, kind: u8) -> Result<Arc<Node>> {
    Ok(seg.cache.get_async(&seg.storage, id, kind).await?)
}

async fn branch_children(seg: &Segments, id: SegmentId) -> Result<Vec<LogChild>> {
    match node(seg, id, kind::LOG_BRANCH).await?.as_ref() {
        Node::LogBranch(b) => Ok(b.children.clone()),
        _ => Err(index::Error::CorruptSegment {
            id,
            what: "log branch",
            detail: "not a log branch".into(),
        }
        .into()),
    }
}

async fn leaf_entries(seg: &Segments, id: SegmentId) -> Result<Vec<TxLog>> {
    match node(seg, id, kind::LOG_LEAF).await?.as_ref() {
        Node::LogLeaf(l) => Ok(l.entries.clone()),
        _ => Err(index::Error::CorruptSegment {
            id,
            what: "log leaf",
            detail: "not a log leaf".into(),
        }
        .into()),
    }
}

/// The index root segment `id`.
pub(crate) async fn index_root(seg: &Segments, id: SegmentId) -> Result<IndexRoot> {
    match node(seg, id, kind::INDEX_ROOT).await?.as_ref() {
        Node::IndexRoot(r) => Ok((**r).clone()),
        _ => Err(index::Error::CorruptSegment {
            id,
            what: "index root",
            detail: "not an index root".into(),
        }
        .into()),
    }
}

/// Writes the cut log into `target` (whose storage already holds the
/// shared leaves): branches over the leaves, then the remaining entries
/// appended. The root has no index yet and a provisional `next_t`
/// ([`materialize`] settles both).
pub(crate) async fn write_cut_log(
    target: &Segments,
    cut: &Cut,
    template: &LogRoot,
) -> Result<LogRoot> {
    let mut entries = cut.entries.as_slice();
    let start = match cut.leaves.is_empty() {
        false => {
            let tree = write_branches(target, &cut.leaves).await?;
            LogRoot {
                basis_t: tree.last_t,
                index: None,
                log: Some(tree),
                tail: Vec::new(),
                ..template.clone()
            }
        }
        true => {
            let (first, rest) = entries
                .split_first()
                .ok_or_else(|| Error::Invalid("a cut log of no entries".into()))?;
            entries = rest;
            LogRoot {
                basis_t: first.t,
                index: None,
                log: None,
                tail: vec![first.clone()],
                ..template.clone()
            }
        }
    };
    Ok(append(target, &start, entries).await?)
}

/// A log tree over `leaves`: full branches of the configured fanout from
/// the left (the log grows on the right), level by level.
async fn write_branches(target: &Segments, leaves: &[LogChild]) -> Result<LogTree> {
    let fanout = target.config().log_branch_children;
    let mut level = leaves.to_vec();
    let mut height = 0u8;
    while level.len() > 1 {
        let mut parents = Vec::with_capacity(level.len().div_ceil(fanout));
        for group in level.chunks(fanout) {
            let node = Node::LogBranch(LogBranch {
                children: group.to_vec(),
            });
            let framed = codec::encode(kind::LOG_BRANCH, &node.encode())?;
            let id = target.storage.put(framed).await?;
            parents.push(LogChild {
                first_t: group[0].first_t,
                last_t: group[group.len() - 1].last_t,
                id,
            });
        }
        level = parents;
        height += 1;
    }
    let top = level
        .pop()
        .ok_or_else(|| Error::Invalid("a log tree of no leaves".into()))?;
    Ok(LogTree {
        id: top.id,
        height,
        first_t: top.first_t,
        last_t: top.last_t,
    })
}

/// Brings `root` (a log, and maybe an index that covers part of it) to a
/// complete database value: replays the log after the index, indexing
/// whenever novelty reaches [`REINDEX_DATOMS`] and, when `index_at_end`,
/// once more at the end. Returns the root with its index and `next_t`
/// settled, and the value it describes.
pub(crate) async fn materialize(
    target: &Segments,
    mut root: LogRoot,
    index_at_end: bool,
) -> Result<(LogRoot, Db)> {
    let mut db = match root.index {
        None => Db::new(),
        Some(id) => {
            let store: Arc<dyn IndexStore> = DurableStore::load(target, id, &root).await?;
            Db::from_store(store, Vec::new())?
        }
    };
    let mut window = 1024u64;
    let mut from_t = db.basis_t() + 1;
    while from_t <= root.basis_t {
        let until_t = from_t.saturating_add(window);
        let entries = read_log(target, &root, from_t, Some(until_t)).await?;
        let datoms: usize = entries.iter().map(|e| e.data.len()).sum();
        db = replay(db, entries).await?;
        if db.novelty_len() >= REINDEX_DATOMS {
            (root, db) = reindex(target, root, db).await?;
        }
        from_t = until_t;
        window = next_window(window, datoms);
    }
    if index_at_end && db.novelty_len() > 0 {
        (root, db) = reindex(target, root, db).await?;
    }
    if db.basis_t() != root.basis_t {
        return Err(index::Error::CorruptRoot {
            name: "restored log".into(),
            detail: format!(
                "the log replays to t {} but ends at t {}",
                db.basis_t(),
                root.basis_t
            ),
        }
        .into());
    }
    root.next_t = db.next_t();
    Ok((root, db))
}

/// Applies `entries` to `db` off the async workers (a durable value's
/// reads block).
async fn replay(db: Db, entries: Vec<TxLog>) -> Result<Db> {
    tokio::task::spawn_blocking(move || {
        entries
            .iter()
            .try_fold(db, |db, entry| apply_entry(&db, entry))
            .map_err(Error::from)
    })
    .await
    .map_err(|e| Error::Internal(format!("replaying the log failed: {e}")))?
}

/// An indexing job over `db`'s novelty, made the index of `root`.
async fn reindex(target: &Segments, root: LogRoot, db: Db) -> Result<(LogRoot, Db)> {
    // The job wants the root of the moment `db` is at: same log, its basis.
    let at_db = LogRoot {
        basis_t: db.basis_t(),
        ..root.clone()
    };
    let job = index_db(target, &db, &at_db).await?;
    let root = job.next_root(target, &root).await?;
    let db = tokio::task::spawn_blocking(move || job.rebase(&db))
        .await
        .map_err(|e| Error::Internal(format!("rebasing the replayed value failed: {e}")))??;
    tracing::info!(basis_t = db.basis_t(), "replayed log indexed");
    Ok((root, db))
}

/// The next window of t to read: wider while windows are light, narrower
/// when one was heavy, so each read holds about 64k datoms.
fn next_window(window: u64, datoms: usize) -> u64 {
    const AIM: usize = 64 * 1024;
    match datoms {
        d if d < AIM / 2 => window.saturating_mul(2).min(1 << 40),
        d if d > AIM * 2 => (window / 2).max(1),
        _ => window,
    }
}

#[cfg(test)]
mod tests {
    use super::next_window;

    #[test]
    fn windows_widen_when_light_and_narrow_when_heavy() {
        assert_eq!(next_window(1024, 0), 2048);
        assert_eq!(next_window(1024, 1_000_000), 512);
        assert_eq!(next_window(1, 1_000_000), 1);
        assert_eq!(next_window(1024, 64 * 1024), 1024);
    }
}
