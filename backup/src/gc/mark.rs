//! The mark phase: a snapshot of every root of a storage and the compact
//! set of the segments they reach.

use std::sync::Arc;

use index::{
    Catalog, DbState, DurableStore, LogRoot, SegmentCache, Segments, reachable_segments,
    read_catalog,
};
use storage_core::{DbName, Revision, RootName, SegmentId, Storage};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::gc::record::{self, GcRoot};
use crate::location::{BackupLocation, now_ms};

/// The segments a mark reached, as the first 8 bytes of their ids, sorted.
///
/// 8 bytes per segment: a storage of 10 million reachable segments marks
/// in 80 MB. Two ids sharing a prefix only make a garbage segment look
/// reachable, so a collision keeps a segment; it never deletes one.
#[derive(Debug, Default)]
pub(crate) struct Marks(Vec<u64>);

impl Marks {
    fn add(&mut self, id: &SegmentId) {
        self.0.push(prefix(id));
    }

    fn finish(&mut self) {
        self.0.sort_unstable();
        self.0.dedup();
        self.0.shrink_to_fit();
    }

    /// Whether the mark reached `id` (or a segment sharing its prefix).
    pub(crate) fn contains(&self, id: &SegmentId) -> bool {
        self.0.binary_search(&prefix(id)).is_ok()
    }

    /// How many distinct prefixes were marked.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

fn prefix(id: &SegmentId) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&id.as_bytes()[..8]);
    u64::from_be_bytes(head)
}

/// A live database as the snapshot found it.
#[derive(Clone, Debug)]
pub(crate) struct LiveDb {
    pub(crate) name: String,
    pub(crate) uuid: Uuid,
    /// The excision requests its index root has carried out.
    pub(crate) excisions: Vec<u64>,
}

/// A deleted database whose log root still holds data.
#[derive(Clone, Debug)]
pub(crate) struct DeletedDb {
    pub(crate) name: DbName,
    pub(crate) revision: Revision,
    pub(crate) root: LogRoot,
}

/// The roots of a storage as read at one moment, and what they reach.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// When the roots were read (taken before the first read).
    pub(crate) at_ms: u64,
    pub(crate) marks: Marks,
    pub(crate) roots: usize,
    pub(crate) live: Vec<LiveDb>,
    pub(crate) deleted: Vec<DeletedDb>,
    pub(crate) backup_sets: usize,
    pub(crate) gc: GcRoot,
}

/// Reads every root of `storage` and marks every segment they reach: the
/// log and index trees of every database the catalog does not list as
/// deleted (clones and restored databases are databases like any other,
/// and a log root the catalog does not list yet, as in a restore or
/// create under way, counts as live), every point of every backup set
/// held in the storage, and garbage collection's own records.
///
/// A root of a kind this build does not know refuses the whole run: its
/// segments could not be marked.
pub(crate) async fn mark(storage: &Arc<dyn Storage>) -> Result<Snapshot> {
    let at_ms = now_ms();
    let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20)?);
    let (gc, _) = record::read_root(storage).await?;
    let (catalog, _) = read_catalog(storage).await?;
    let names = storage.list_roots().await?;
    let mut snapshot = Snapshot {
        at_ms,
        marks: Marks::default(),
        roots: names.len(),
        live: Vec::new(),
        deleted: Vec::new(),
        backup_sets: 0,
        gc,
    };
    mark_gc_records(storage, &mut snapshot).await?;
    for name in &names {
        match RootKind::of(name)? {
            RootKind::Unreferencing => {}
            RootKind::Log(db) => mark_db(&seg, &catalog, &db, &mut snapshot).await?,
            RootKind::BackupSet(set) => {
                mark_backup_set(storage, &seg, &set, &mut snapshot).await?;
            }
        }
    }
    snapshot.marks.finish();
    Ok(snapshot)
}

/// What a root is, by its name.
enum RootKind {
    /// Reaches no segments (the catalog, a lease, the access records,
    /// gc's own root: the latter is marked separately).
    Unreferencing,
    /// `db/<name>/log`.
    Log(DbName),
    /// `backups/<set>`.
    BackupSet(DbName),
}

impl RootKind {
    fn of(name: &RootName) -> Result<RootKind> {
        let parts: Vec<&str> = name.as_str().split('/').collect();
        let db = |s: &str| DbName::new(s).map_err(Error::from);
        match parts.as_slice() {
            // `access` holds token verifiers and grants (the `access` crate).
            ["catalog"] | ["gc", "state"] | ["access"] => Ok(RootKind::Unreferencing),
            ["db", _, "lease"] => Ok(RootKind::Unreferencing),
            ["db", n, "log"] => Ok(RootKind::Log(db(n)?)),
            ["backups", set] => Ok(RootKind::BackupSet(db(set)?)),
            _ => Err(Error::Refused(format!(
                "garbage collection does not know what root `{name}` reaches, so it cannot \
                 mark from it; nothing was deleted (upgrade accrete, or teach `backup::gc` this root)"
            ))),
        }
    }
}

async fn mark_gc_records(storage: &Arc<dyn Storage>, snapshot: &mut Snapshot) -> Result<()> {
    let Some(state_id) = snapshot.gc.state else {
        return Ok(());
    };
    snapshot.marks.add(&state_id);
    let state = record::read_state(storage, state_id).await?;
    for list in &state.condemned {
        snapshot.marks.add(&list.0);
    }
    Ok(())
}

async fn mark_db(
    seg: &Segments,
    catalog: &Catalog,
    name: &DbName,
    snapshot: &mut Snapshot,
) -> Result<()> {
    let root_name = index::log_root_name(name);
    let Some(stored) = seg.storage.read_root(&root_name).await? else {
        return Ok(());
    };
    let root = LogRoot::decode(&root_name, stored.value.data())?;
    let entry = catalog.dbs.get(name.as_str());
    let deleted = entry.is_some_and(|e| e.state == DbState::Deleted && e.uuid == root.db_uuid);
    if deleted {
        if holds_data(&root) {
            snapshot.deleted.push(DeletedDb {
                name: name.clone(),
                revision: stored.revision,
                root,
            });
        }
        return Ok(());
    }
    for reached in reachable_segments(seg, &root).await? {
        snapshot.marks.add(&reached.id);
    }
    let excisions = match root.index {
        Some(id) => DurableStore::load(seg, id, &root)
            .await?
            .excisions()
            .to_vec(),
        None => Vec::new(),
    };
    snapshot.live.push(LiveDb {
        name: name.to_string(),
        uuid: root.db_uuid,
        excisions,
    });
    Ok(())
}

/// Whether a log root still holds anything of its database.
pub(crate) fn holds_data(root: &LogRoot) -> bool {
    root.index.is_some() || root.log.is_some() || !root.tail.is_empty()
}

async fn mark_backup_set(
    storage: &Arc<dyn Storage>,
    seg: &Segments,
    set: &DbName,
    snapshot: &mut Snapshot,
) -> Result<()> {
    let location = BackupLocation::new(storage.clone(), format!("backup set `{set}`"), set)?;
    let Some((list, points)) = location.listing().await? else {
        return Ok(());
    };
    snapshot.backup_sets += 1;
    snapshot.marks.add(&list);
    for point in &points {
        snapshot.marks.add(&point.manifest);
        let root = location.manifest(point).await?.log_root()?;
        for reached in reachable_segments(seg, &root).await? {
            snapshot.marks.add(&reached.id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_roots_are_classified_and_unknown_ones_refuse_the_run() {
        let kind = |name: &str| RootKind::of(&RootName::new(name).unwrap());
        for unreferencing in ["catalog", "gc/state", "access", "db/shop/lease"] {
            assert!(
                matches!(kind(unreferencing), Ok(RootKind::Unreferencing)),
                "{unreferencing}"
            );
        }
        assert!(matches!(kind("db/shop/log"), Ok(RootKind::Log(_))));
        assert!(matches!(kind("backups/shop"), Ok(RootKind::BackupSet(_))));
        assert!(kind("accesses").is_err());
        assert!(kind("something/else").is_err());
    }
}
