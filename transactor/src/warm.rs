//! A standby's copy of the database, kept close to the log while it waits
//! for the lease, so that a takeover replays only the last moments of the
//! log instead of everything since the last indexing job (up to the
//! indexing threshold of datoms: hundreds of milliseconds that would add
//! to every failover).
//!
//! The copy is only a head start: at takeover, after fencing, the value is
//! brought up to the fenced log root exactly as [`index::db_from_root`]
//! would build it — the same persistent index, then every log entry after
//! it — or, when the index changed meanwhile (an indexing job, an
//! excision) or the database is another one, opened from scratch.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use index::{LogRoot, Segments, apply_entry, db_from_root, read_log};
use model::Db;
use parking_lot::Mutex;
use storage_core::{DbName, SegmentId};
use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};
use crate::fence::read_head;

/// How often a standby brings its copy up to the log.
const REFRESH: Duration = Duration::from_millis(500);

/// How long after the claim begins a standby first opens its copy.
const FIRST_REFRESH: Duration = Duration::from_millis(100);

/// A database value and the log root facts it was built on.
#[derive(Clone)]
pub(crate) struct WarmDb {
    db_uuid: Uuid,
    index: Option<SegmentId>,
    db: Db,
}

/// The latest copy a standby keeps, shared with its claim.
pub(crate) type WarmSlot = Arc<Mutex<Option<WarmDb>>>;

impl WarmDb {
    /// The value of `root`: `warm` brought up to it when it was built on the
    /// same database and persistent index and is not ahead of it, else
    /// opened from scratch.
    pub(crate) async fn open(
        seg: &Segments,
        root: &LogRoot,
        warm: Option<WarmDb>,
    ) -> Result<WarmDb> {
        let usable = warm.filter(|w| {
            w.db_uuid == root.db_uuid && w.index == root.index && w.db.basis_t() <= root.basis_t
        });
        let db = match usable {
            Some(w) => catch_up(seg, root, w.db).await?,
            None => db_from_root(seg, root).await?,
        };
        Ok(WarmDb {
            db_uuid: root.db_uuid,
            index: root.index,
            db,
        })
    }

    /// The database value.
    pub(crate) fn into_db(self) -> Db {
        self.db
    }
}

/// `db` with every entry of `root`'s log after its basis applied.
async fn catch_up(seg: &Segments, root: &LogRoot, db: Db) -> Result<Db> {
    if db.basis_t() == root.basis_t {
        return Ok(db);
    }
    let entries = read_log(seg, root, db.basis_t() + 1, None).await?;
    let basis_t = root.basis_t;
    let applied = tokio::task::spawn_blocking(move || {
        entries
            .iter()
            .try_fold(db, |db, entry| apply_entry(&db, entry))
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("replaying the log panicked: {e}"),
        )
    })??;
    if applied.basis_t() != basis_t {
        return Err(Error::new(
            ErrorKind::Corruption,
            format!(
                "the log replays to t {} but the root says t {basis_t}",
                applied.basis_t()
            ),
        ));
    }
    Ok(applied)
}

/// Keeps `slot` close to the log of `db` until dropped; a failed refresh
/// is tried again at the next one (the claim deals with storage failures).
/// It starts a moment after the claim, which then takes a free lease
/// without competing with a first open of the database.
pub(crate) async fn keep_warm(seg: Segments, db: DbName, slot: WarmSlot) -> Infallible {
    tokio::time::sleep(FIRST_REFRESH).await;
    loop {
        if let Err(e) = refresh(&seg, &db, &slot).await {
            tracing::debug!(db = %db, error = %e, "refreshing the standby's copy failed");
        }
        tokio::time::sleep(REFRESH).await;
    }
}

async fn refresh(seg: &Segments, db: &DbName, slot: &WarmSlot) -> Result<()> {
    let head = read_head(seg.storage.as_ref(), db).await?;
    let previous = slot.lock().clone();
    let warm = WarmDb::open(seg, &head.root, previous).await?;
    *slot.lock() = Some(warm);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use index::{SegmentCache, create_db};
    use model::{Datom, Index};
    use storage_core::{MemStorage, Storage};

    use super::*;
    use crate::{Config, Transactor};

    fn all(db: &Db) -> Vec<Datom> {
        db.datoms(Index::Eavt, &[])
            .unwrap()
            .map(|d| d.unwrap())
            .collect()
    }

    async fn commit(t: &Transactor, from: u64, to: u64) {
        for n in from..to {
            t.transact_edn(&format!("[[:db/add \"e\" :db/doc \"doc {n}\"]]"))
                .await
                .unwrap();
        }
    }

    /// A copy brought up to a later log root holds exactly what opening
    /// that root from scratch holds; a copy ahead of the root is not used.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_warm_copy_caught_up_equals_a_fresh_open() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let db = DbName::new("warm").unwrap();
        create_db(&storage, &db).await.unwrap();
        let seg = Segments::new(storage.clone(), SegmentCache::new(16 << 20).unwrap());
        let t = Transactor::start(seg.clone(), &db, Config::default())
            .await
            .unwrap();
        commit(&t, 0, 5).await;
        let early = read_head(storage.as_ref(), &db).await.unwrap().root;
        let warm = WarmDb::open(&seg, &early, None).await.unwrap();
        commit(&t, 5, 12).await;
        let late = read_head(storage.as_ref(), &db).await.unwrap().root;
        t.shutdown().await.unwrap();

        let caught_up = WarmDb::open(&seg, &late, Some(warm.clone())).await.unwrap();
        let fresh = db_from_root(&seg, &late).await.unwrap();
        assert_eq!(caught_up.db.basis_t(), late.basis_t);
        assert_eq!(all(&caught_up.db), all(&fresh));

        let behind = WarmDb::open(&seg, &early, Some(caught_up.clone()))
            .await
            .unwrap();
        assert_eq!(
            behind.db.basis_t(),
            early.basis_t,
            "a copy ahead is not used"
        );
        assert_eq!(all(&behind.db), all(&warm.db));
    }
}
