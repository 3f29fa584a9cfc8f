//! Opening database values from storage: the latest of a named database,
//! or the one a log root describes.

use std::sync::Arc;

use model::{Db, Index, IndexStore, TxLog, Value};
use storage_core::{DbName, Revision};

use crate::blocking::blocking;
use crate::catalog::{CatalogEntry, log_root_name, read_catalog};
use crate::error::{Error, Result};
use crate::log;
use crate::log_root::LogRoot;
use crate::segments::Segments;
use crate::store::DurableStore;

/// A database opened at its latest committed basis.
#[derive(Debug)]
pub struct OpenDb {
    /// The database value.
    pub db: Db,
    /// The revision of the log root it was read from (a writer's next
    /// compare-and-swap expects it).
    pub revision: Revision,
    /// The log root it was read from.
    pub root: LogRoot,
    /// Its catalog entry.
    pub entry: CatalogEntry,
}

/// Opens the live database `name`: its catalog entry, a linearizable read
/// of its log root, and the value that root describes ([`db_from_root`]).
pub async fn open_db(seg: &Segments, name: &DbName) -> Result<OpenDb> {
    let (catalog, _) = read_catalog(&seg.storage).await?;
    let entry = catalog
        .live(name.as_str())
        .cloned()
        .ok_or_else(|| Error::DbNotFound(name.to_string()))?;
    let root_name = log_root_name(name);
    let stored = seg
        .storage
        .read_root(&root_name)
        .await?
        .ok_or_else(|| Error::CorruptRoot {
            name: root_name.to_string(),
            detail: "the catalog lists the database but its log root is missing".into(),
        })?;
    let root = LogRoot::decode(&root_name, stored.value.data())?;
    if root.db_uuid != entry.uuid {
        return Err(Error::CorruptRoot {
            name: root_name.to_string(),
            detail: format!(
                "belongs to database {} but the catalog lists {}",
                root.db_uuid, entry.uuid
            ),
        });
    }
    let db = db_from_root(seg, &root).await?;
    Ok(OpenDb {
        db,
        revision: stored.revision,
        root,
        entry,
    })
}

/// The database value a log root describes: lazy persistent trees of its
/// index root plus, as novelty, the log entries after the index's basis.
/// Peers use it too.
pub async fn db_from_root(seg: &Segments, root: &LogRoot) -> Result<Db> {
    let (seg, root) = (seg.clone(), root.clone());
    blocking(move || db_from_root_blocking(&seg, &root)).await
}

/// [`db_from_root`] with blocking reads, for callers already on a blocking
/// thread.
fn db_from_root_blocking(seg: &Segments, root: &LogRoot) -> Result<Db> {
    let (mut db, from_t) = match root.index {
        None => (Db::new(), 1),
        Some(id) => {
            let store: Arc<dyn IndexStore> = DurableStore::load_blocking(seg, id, root)?;
            let from_t = store.basis_t().map_or(0, |b| b + 1);
            (Db::from_store(store, Vec::new())?, from_t)
        }
    };
    for entry in log::entries_in_range(seg, root, from_t, None)? {
        db = apply_entry(&db, &entry?)?;
    }
    if db.basis_t() != root.basis_t {
        return Err(Error::CorruptRoot {
            name: "db log".into(),
            detail: format!(
                "the log replays to t {} but the root says t {}",
                db.basis_t(),
                root.basis_t
            ),
        });
    }
    if db.next_t() != root.next_t {
        tracing::warn!(
            replayed = db.next_t(),
            root = root.next_t,
            "next t of the replayed log differs from the log root's"
        );
    }
    Ok(db)
}

/// Applies a committed log entry to `db` ([`Db::apply_tx`]), leaving out
/// retractions of facts that are not current because excision removed
/// them: a transaction committed while an indexing job excised a fact may
/// retract it, and such a retraction retracts nothing once the excision is
/// indexed. Any other refusal is returned as is. Blocking reads.
pub fn apply_entry(db: &Db, entry: &TxLog) -> Result<Db> {
    apply_with(db, entry, Db::apply_tx)
}

/// [`apply_entry`] for an entry `db`'s database applied before, onto a
/// newer persistent layer (a rebase): its assertions are not checked
/// again ([`Db::reapply_tx`]).
pub fn reapply_entry(db: &Db, entry: &TxLog) -> Result<Db> {
    apply_with(db, entry, Db::reapply_tx)
}

fn apply_with(
    db: &Db,
    entry: &TxLog,
    apply: impl Fn(&Db, &TxLog) -> model::Result<Db>,
) -> Result<Db> {
    let refused = match apply(db, entry) {
        Ok(next) => return Ok(next),
        Err(e) => e,
    };
    if db.store().is_empty() {
        return Err(refused.into());
    }
    let mut kept = Vec::with_capacity(entry.data.len());
    for d in entry.data.iter() {
        if d.added() || is_current(db, d)? {
            kept.push(d.clone());
        }
    }
    if kept.len() == entry.data.len() {
        return Err(refused.into());
    }
    tracing::debug!(
        t = entry.t,
        dropped = entry.data.len() - kept.len(),
        "retractions of excised facts left out"
    );
    Ok(apply(
        db,
        &TxLog {
            t: entry.t,
            data: kept.into(),
        },
    )?)
}

fn is_current(db: &Db, d: &model::Datom) -> Result<bool> {
    let components = [Value::Ref(d.e()), Value::Ref(d.a()), d.v().clone()];
    Ok(db
        .latest()
        .datoms(Index::Eavt, &components)?
        .next()
        .transpose()?
        .is_some())
}
