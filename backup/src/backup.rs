//! Backing up a database: one consistent point in time, incrementally.

use index::{DurableStore, LogRoot, Segments, reachable_segments};
use storage_core::{DbName, StorageExt};

use crate::copy::{CopyOptions, CopyStats, Source, copy_segments};
use crate::error::Result;
use crate::head::read_head;
use crate::location::{BackupLocation, now_ms};
use crate::manifest::{self, Manifest, Point, digest, kind};
use crate::retry::retrying_segments;

/// What a backup did.
#[derive(Clone, Debug)]
pub struct BackupReport {
    /// The point the backup holds (an existing one when nothing changed).
    pub point: Point,
    /// Its manifest.
    pub manifest: Manifest,
    /// What was copied.
    pub copy: CopyStats,
    /// True when the location already held this very state of the
    /// database, so no point was added.
    pub unchanged: bool,
}

/// Backs up the live database `db` of `source` into `location`.
///
/// Consistent: the log root is read once (linearizably) and the backup
/// holds exactly the database at its basis t, while the transactor keeps
/// committing (segments never change). Incremental: only segments the
/// location lacks are copied, so a second backup of an unchanged database
/// copies none, and an interrupted backup run again copies only the rest.
/// The manifest is written after every segment it reaches is durable, and
/// the point is listed last, so an interrupted backup is never listed.
pub async fn backup_db(
    source: &Segments,
    db: &DbName,
    location: &BackupLocation,
    options: &CopyOptions,
) -> Result<BackupReport> {
    // Pruning of the location pauses while the backup relies on segments
    // no point lists yet.
    let what = format!("backup of `{db}`");
    crate::gc::while_held(location.storage(), &what, async {
        backup_held(source, db, location, options).await
    })
    .await
}

async fn backup_held(
    source: &Segments,
    db: &DbName,
    location: &BackupLocation,
    options: &CopyOptions,
) -> Result<BackupReport> {
    let source = &retrying_segments(source)?;
    let head = read_head(&source.storage, db).await?;
    location.check_belongs(head.entry.uuid, db.as_str()).await?;
    let reachable = reachable_segments(source, &head.root).await?;
    let from = format!("database `{db}` in {} storage", source.storage.backend());
    let from = Source {
        storage: &source.storage,
        name: &from,
    };
    let copy = copy_segments(&from, location.storage(), &reachable, "backup", options).await?;
    if let Some((point, manifest)) = same_state(location, &head.root).await? {
        tracing::info!(
            basis_t = point.basis_t,
            "the location already holds this state"
        );
        return Ok(BackupReport {
            point,
            manifest,
            copy,
            unchanged: true,
        });
    }
    let ids: Vec<_> = reachable.iter().map(|r| r.id).collect();
    let manifest = Manifest {
        db_name: db.to_string(),
        db_uuid: head.entry.uuid,
        db_created_at_ms: head.entry.created_at_ms,
        basis_t: head.root.basis_t,
        index_basis_t: index_basis(source, &head.root).await?,
        created_at_ms: now_ms(),
        segments: reachable.len() as u64,
        digest: digest(&ids),
        log_root: hex::encode(head.root.encode()?),
        writer: concat!("accrete backup ", env!("CARGO_PKG_VERSION")).to_string(),
    };
    let encoded = manifest::encode(&manifest)?;
    let storage = location.storage();
    let id = storage.put_frame(kind::MANIFEST, &encoded).await?;
    let point = Point {
        basis_t: manifest.basis_t,
        manifest: id,
        created_at_ms: manifest.created_at_ms,
        segments: manifest.segments,
        copied_segments: copy.copied,
        copied_bytes: copy.bytes,
    };
    location.add_point(point.clone(), &manifest).await?;
    Ok(BackupReport {
        point,
        manifest,
        copy,
        unchanged: false,
    })
}

/// The basis of the index root `root` names.
async fn index_basis(seg: &Segments, root: &LogRoot) -> Result<Option<u64>> {
    let Some(id) = root.index else {
        return Ok(None);
    };
    let store = DurableStore::load(seg, id, root).await?;
    Ok(Some(store.index_root().basis_t))
}

/// A listed point holding exactly `root` (but for the lease epoch).
async fn same_state(
    location: &BackupLocation,
    root: &LogRoot,
) -> Result<Option<(Point, Manifest)>> {
    let wanted = root.with_epoch(0);
    for point in location.points().await?.into_iter().rev() {
        if point.basis_t != root.basis_t {
            continue;
        }
        let manifest = location.manifest(&point).await?;
        if manifest.log_root()?.with_epoch(0) == wanted {
            return Ok(Some((point, manifest)));
        }
    }
    Ok(None)
}
