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
            ErrorKind::Corruption,
            format!("replaying the log failed: {e}"),
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
pub(crate) async fn keep_warm(seg: Segments, db: DbName, slot: WarmSlot) -> Infallible {
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
