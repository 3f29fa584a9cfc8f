//! The indexing job: a database value's novelty merged copy-on-write into
//! the persistent trees, excision carried out, a new index root written.

use std::collections::BTreeMap;
use std::sync::Arc;

use model::{Db, ExciseRequest, Index, IndexStore, Layer, TxLog};
use storage_core::SegmentId;
use uuid::Uuid;

use crate::blocking::blocking;
use crate::error::{Error, Result};
use crate::excision::{self, LogRewrite};
use crate::log;
use crate::log_root::LogRoot;
use crate::novelty::index_edits;
use crate::open::reapply_entry;
use crate::segment::{IndexRoot, Node, TreeRef};
use crate::segments::{BlockingWriter, Segments, WriteStats};
use crate::store::DurableStore;
use crate::tree::{Edit, TreeUpdate};

/// What an indexing job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Novelty datoms merged, summed over the four indexes.
    pub datoms_merged: u64,
    /// Excision requests carried out.
    pub excisions: u64,
    /// Datoms removed by them (each counted once, not per index).
    pub datoms_excised: u64,
    /// Segments and bytes written (index and log).
    pub written: WriteStats,
}

/// The result of an indexing job: a durable index root and what the next
/// log-root compare-and-swap must carry.
#[derive(Clone, Debug)]
pub struct IndexJob {
    /// The new index root segment (durable).
    pub index_root: SegmentId,
    /// The last t it covers.
    pub basis_t: u64,
    /// What the job did.
    pub stats: JobStats,
    db_uuid: Uuid,
    store: Arc<DurableStore>,
    log_rewrite: Option<Arc<LogRewrite>>,
}

impl IndexJob {
    /// The persistent layer for the new index: `Db::rebase`-ready (prefer
    /// [`IndexJob::rebase`], which also handles excised retractions).
    pub fn store(&self) -> Arc<DurableStore> {
        self.store.clone()
    }

    /// True when the job removed datoms from log entries, so the log of the
    /// next root differs from the current one's.
    pub fn rewrites_log(&self) -> bool {
        self.log_rewrite.is_some()
    }

    /// The log root value to compare-and-swap next: `current` (the latest
    /// root, which may have moved past the job's basis meanwhile) with the
    /// new index root and, when excision changed log entries, its log
    /// rewritten the same way (only changed leaves are new, all durable
    /// when this returns).
    pub async fn next_root(&self, seg: &Segments, current: &LogRoot) -> Result<LogRoot> {
        if current.db_uuid != self.db_uuid {
            return Err(Error::invalid(format!(
                "the index was built for database {} but the log root is of {}",
                self.db_uuid, current.db_uuid
            )));
        }
        if current.basis_t < self.basis_t {
            return Err(Error::invalid(format!(
                "the index covers t {} but the log root ends at t {}",
                self.basis_t, current.basis_t
            )));
        }
        let Some(rewrite) = self.log_rewrite.clone() else {
            return Ok(LogRoot {
                index: Some(self.index_root),
                ..current.clone()
            });
        };
        let (seg, current, index) = (seg.clone(), current.clone(), self.index_root);
        blocking(move || {
            let mut writer = BlockingWriter::new(&seg);
            let next = log::rewrite(&mut writer, &current, rewrite.span(), &|e| {
                rewrite.change(e)
            })?;
            writer.finish()?;
            Ok(LogRoot {
                index: Some(index),
                ..next
            })
        })
        .await
    }

    /// `db` (the latest value, at or after the job's basis) over the new
    /// index: novelty up to the basis dropped, later transactions replayed
    /// with [`crate::apply_entry`]. Blocking reads: call it from
    /// `spawn_blocking` or a plain thread.
    pub fn rebase(&self, db: &Db) -> Result<Db> {
        let later: Vec<TxLog> = db
            .tx_range(Some(self.basis_t + 1), None)?
            .collect::<model::Result<_>>()?;
        let store: Arc<dyn IndexStore> = self.store.clone();
        let mut rebased = Db::from_store(store, Vec::new())?;
        for entry in &later {
            rebased = reapply_entry(&rebased, entry)?;
        }
        Ok(rebased)
    }
}

/// Runs an indexing job: merges the novelty of `db` (whose log root is
/// `root`, and whose persistent layer is `root`'s index) into new trees
/// covering everything up to `db.basis_t()`, carries out the excision
/// requests recorded up to then, and writes the index root. Every segment is
/// durable when this returns; nothing is visible to readers until the
/// caller puts [`IndexJob::next_root`] into the log root.
///
/// Writers may keep committing while it runs: pass the `db` and `root` of
/// one moment, then build the next root from the latest one.
pub async fn index_db(seg: &Segments, db: &Db, root: &LogRoot) -> Result<IndexJob> {
    let (seg, db, root) = (seg.clone(), db.clone(), root.clone());
    blocking(move || run(&seg, &db, &root)).await
}

fn run(seg: &Segments, db: &Db, root: &LogRoot) -> Result<IndexJob> {
    let basis_t = db.basis_t();
    if root.basis_t != basis_t {
        return Err(Error::invalid(format!(
            "the database value is at t {basis_t} but its log root at t {}",
            root.basis_t
        )));
    }
    let old = root
        .index
        .map(|id| DurableStore::load_blocking(seg, id, root))
        .transpose()?;
    let old_basis = old.as_ref().map(|s| s.index_root().basis_t);
    if db.store().basis_t() != old_basis {
        return Err(Error::invalid(format!(
            "the database value's persistent layer is at t {:?} but the log root's index at t {old_basis:?}",
            db.store().basis_t()
        )));
    }
    let mut stats = JobStats::default();
    let mut trees = old.as_ref().map_or([None; 8], |s| s.index_root().trees);
    // Attribute statistics: kept from the old root's, counted afresh when
    // the old root has trees but no statistics (written before them).
    let mut attr_stats = match &old {
        None => Some(Vec::new()),
        Some(s) => s.index_root().stats.clone(),
    };
    let merge = Merge {
        seg,
        db,
        old: old.as_deref(),
        basis_t,
        trees,
        attr_stats: attr_stats.as_deref(),
    };
    for merged in merge.all()? {
        stats.datoms_merged += merged.datoms;
        stats.written.add(merged.written);
        trees[IndexRoot::slot(merged.index, Layer::Current)] = merged.current;
        trees[IndexRoot::slot(merged.index, Layer::History)] = merged.history;
        if let Some(kept) = merged.attr_stats {
            attr_stats = Some(kept);
        }
    }
    let mut writer = BlockingWriter::new(seg);
    let done = old.as_ref().map_or(&[][..], |s| s.excisions());
    let requests: Vec<ExciseRequest> = db
        .excise_requests()?
        .into_iter()
        .filter(|r| r.t <= basis_t && !done.contains(&r.id))
        .collect();
    let mut excisions = done.to_vec();
    excisions.extend(requests.iter().map(|r| r.id));
    excisions.sort_unstable();
    excisions.dedup();
    let mut rewrite = None;
    if !requests.is_empty() || !done.is_empty() {
        let excised = excise(db, &mut writer, &mut trees, &requests)?;
        stats.excisions = requests.len() as u64;
        stats.datoms_excised = excised.len() as u64;
        rewrite = Some(log_rewrite(db, old_basis, basis_t, requests, excised)?);
    }
    let log = match &rewrite {
        Some(rw) => log::rewrite(&mut writer, root, rw.span(), &|e| rw.change(e))?,
        None => root.clone(),
    };
    let attr_stats = match attr_stats {
        Some(s) if stats.excisions == 0 => s,
        // Excision removed datoms the edits did not show: count afresh
        // (as for a root without statistics). The trees must be stored.
        _ => {
            writer.flush()?;
            crate::stats::count(seg, trees[IndexRoot::slot(Index::Avet, Layer::Current)])?
        }
    };
    let index_root = IndexRoot {
        basis_t,
        next_t: db.next_t_at(basis_t)?,
        trees,
        excisions,
        stats: Some(attr_stats),
    };
    let id = writer.write(Node::IndexRoot(Box::new(index_root)))?;
    stats.written.add(writer.finish()?);
    tracing::info!(
        basis_t,
        merged = stats.datoms_merged,
        excised = stats.datoms_excised,
        segments = stats.written.segments,
        bytes = stats.written.bytes,
        "indexing job done"
    );
    let store = DurableStore::load_blocking(seg, id, &log)?;
    Ok(IndexJob {
        index_root: id,
        basis_t,
        stats,
        db_uuid: root.db_uuid,
        store,
        log_rewrite: rewrite.map(Arc::new),
    })
}

/// One index's trees after its novelty was merged in.
struct Merged {
    index: Index,
    current: Option<TreeRef>,
    history: Option<TreeRef>,
    /// Novelty datoms merged.
    datoms: u64,
    /// The attribute statistics after the merge (AVET only, when kept).
    attr_stats: Option<Vec<model::AttrStats>>,
    /// What its writer stored (all durable).
    written: WriteStats,
}

/// What merging novelty into each index's trees reads: the same for every
/// index.
struct Merge<'a> {
    seg: &'a Segments,
    db: &'a Db,
    /// The old trees' store (`None`: no trees yet).
    old: Option<&'a DurableStore>,
    basis_t: u64,
    /// The old trees.
    trees: [Option<TreeRef>; 8],
    /// The old attribute statistics, when kept.
    attr_stats: Option<&'a [model::AttrStats]>,
}

impl Merge<'_> {
    /// Merges the novelty into the trees of every index, the indexes side
    /// by side on up to as many threads as the machine has cores (at most
    /// four, one per index): each index's edits and trees are its own, and
    /// each thread's writer has made its segments durable when it ends.
    fn all(&self) -> Result<Vec<Merged>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, Index::ALL.len());
        let per_thread = Index::ALL.len().div_ceil(threads);
        let work = |indexes: &[Index]| -> Result<Vec<Merged>> {
            indexes.iter().map(|&index| self.index(index)).collect()
        };
        if threads == 1 {
            return work(&Index::ALL);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = Index::ALL
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || work(chunk)))
                .collect();
            let mut all = Vec::with_capacity(Index::ALL.len());
            for handle in handles {
                let merged = handle
                    .join()
                    .map_err(|_| Error::Internal("an index merge thread panicked".into()))??;
                all.extend(merged);
            }
            Ok(all)
        })
    }

    /// Merges the novelty up to the basis into both trees of `index`.
    fn index(&self, index: Index) -> Result<Merged> {
        let edits = index_edits(self.db, self.old, index, self.basis_t)?;
        let mut trees = self.trees;
        let attr_stats = match (index, self.attr_stats) {
            (Index::Avet, Some(kept)) => {
                let tree = trees[IndexRoot::slot(Index::Avet, Layer::Current)];
                Some(crate::stats::apply_edits(
                    self.seg,
                    tree,
                    kept,
                    &edits.current,
                )?)
            }
            _ => None,
        };
        let mut writer = BlockingWriter::new(self.seg);
        update(
            &mut writer,
            &mut trees,
            index,
            Layer::Current,
            &edits.current,
        )?;
        update(
            &mut writer,
            &mut trees,
            index,
            Layer::History,
            &edits.history,
        )?;
        Ok(Merged {
            index,
            current: trees[IndexRoot::slot(index, Layer::Current)],
            history: trees[IndexRoot::slot(index, Layer::History)],
            datoms: edits.merged,
            attr_stats,
            written: writer.finish()?,
        })
    }
}

fn update(
    writer: &mut BlockingWriter,
    trees: &mut [Option<TreeRef>; 8],
    index: Index,
    layer: Layer,
    edits: &[Edit],
) -> Result<()> {
    let slot = IndexRoot::slot(index, layer);
    trees[slot] = TreeUpdate {
        writer,
        index,
        layer,
    }
    .apply(trees[slot], edits)?;
    Ok(())
}

/// Removes what `requests` cover from every tree; returns the datoms removed.
fn excise(
    db: &Db,
    writer: &mut BlockingWriter,
    trees: &mut [Option<TreeRef>; 8],
    requests: &[ExciseRequest],
) -> Result<Vec<model::Datom>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    // The plan reads the trees just written: they must be in storage.
    writer.flush()?;
    let plan = excision::plan(writer.segments(), trees, requests)?;
    for index in Index::ALL {
        for layer in [Layer::Current, Layer::History] {
            let mut edits: Vec<Edit> = plan
                .datoms
                .iter()
                .filter(|(d, l)| {
                    *l == layer
                        && (index != Index::Vaet || db.attribute(d.a()).is_some_and(|a| a.is_ref()))
                })
                .map(|(d, _)| Edit::Delete(d.clone()))
                .collect();
            edits.sort_by(|x, y| index.compare(x.datom(), y.datom()));
            update(writer, trees, index, layer, &edits)?;
        }
    }
    Ok(plan.datoms.into_iter().map(|(d, _)| d).collect())
}

/// The log rewrite of a job: excised datoms out of every entry up to the
/// basis, and entries after the previous basis as the database value has
/// them (only needed once excision has happened).
fn log_rewrite(
    db: &Db,
    old_basis: Option<u64>,
    basis_t: u64,
    requests: Vec<ExciseRequest>,
    excised: Vec<model::Datom>,
) -> Result<LogRewrite> {
    let after_old = old_basis.map_or(0, |b| b + 1);
    let replace: BTreeMap<u64, TxLog> = db
        .tx_range(Some(after_old), Some(basis_t + 1))?
        .map(|e| e.map(|e| (e.t, e)))
        .collect::<model::Result<_>>()?;
    Ok(LogRewrite {
        from_t: if requests.is_empty() { after_old } else { 0 },
        upto_t: basis_t,
        requests,
        excised: excised.into_iter().collect(),
        replace,
    })
}
