//! A backup location: a storage (a directory means `file:`) holding the
//! segments of one database and the points in time backed up into it.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use storage_core::{
    CasOutcome, DbName, KNOWN_SCHEMES, Registry, Revision, RootName, RootValue, Storage,
    StorageExt, StorageUri,
};
use uuid::Uuid;

use crate::copy::missing;
use crate::error::{Error, Result};
use crate::manifest::{self, LocationRecord, Manifest, Point, PointsList, kind};
use crate::retry::retrying_storage;

/// The backup set a location URI without `?db=` names.
pub const DEFAULT_SET: &str = "default";

/// How many compare-and-swaps of the location root are tried when other
/// backups keep winning.
const CAS_ATTEMPTS: usize = 16;

/// Whether opening a location may create it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A backup writes into it: a missing directory is created.
    Create,
    /// Reading (list, restore, verify): a missing directory is an error,
    /// never created.
    Existing,
}

/// Where backups of one database go: a storage, and a set name within it
/// (the URI's `?db=`, default [`DEFAULT_SET`]) so one storage can hold
/// the backups of several databases.
///
/// The set's root `backups/<set>` names the database and the current list
/// of points; each point's manifest and every segment are segments of the
/// storage. The format is described in [`crate::manifest`].
#[derive(Clone, Debug)]
pub struct BackupLocation {
    storage: Arc<dyn Storage>,
    name: String,
    root: RootName,
}

impl BackupLocation {
    /// The location `target` names: a storage URI (`file:`, `postgres:`,
    /// `cassandra:`, `mem:`; `?db=` picks the set) or a directory path.
    pub async fn open(registry: &Registry, target: &str, access: Access) -> Result<Self> {
        let uri = location_uri(target)?;
        if uri.scheme() == "file" && access == Access::Existing {
            require_directory(uri.path())?;
        }
        let storage = registry.open_parsed(&uri).await?;
        let set = uri.db().map_or(DEFAULT_SET, DbName::as_str);
        BackupLocation::new(storage, uri.to_string(), &DbName::new(set)?)
    }

    /// The set `set` in `storage`; `name` says where it is in messages.
    pub fn new(storage: Arc<dyn Storage>, name: impl Into<String>, set: &DbName) -> Result<Self> {
        Ok(BackupLocation {
            storage: retrying_storage(&storage),
            name: name.into(),
            root: RootName::new(format!("backups/{set}"))?,
        })
    }

    /// The storage holding the backup.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The location as the user named it (secrets redacted).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The points in time held here, oldest basis first; empty when
    /// nothing was backed up here yet.
    pub async fn points(&self) -> Result<Vec<Point>> {
        Ok(self.read().await?.map(|r| r.points).unwrap_or_default())
    }

    /// The database this location holds backups of, if any: its uuid and
    /// its name at the first backup.
    pub async fn database(&self) -> Result<Option<(Uuid, String)>> {
        Ok(self
            .read()
            .await?
            .map(|r| (r.record.db_uuid, r.record.db_name)))
    }

    /// The manifest of `point`.
    pub async fn manifest(&self, point: &Point) -> Result<Manifest> {
        let what = format!("{} (point t={})", self.name, point.basis_t);
        let segment = index::ReachableSegment {
            id: point.manifest,
            kind: kind::MANIFEST,
        };
        let bytes = self.record_segment(segment, &what).await?;
        manifest::decode(&bytes, &what, "the manifest")
    }

    /// Adds a point whose manifest (and every segment it reaches) is
    /// durable here, unless a point with the same manifest is already
    /// listed. Refuses a point of another database.
    pub(crate) async fn add_point(&self, point: Point, manifest: &Manifest) -> Result<()> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.read().await?;
            let (mut points, revision) = match &current {
                Some(r) => {
                    self.check_database(&r.record, manifest.db_uuid, &manifest.db_name)?;
                    (r.points.clone(), Some(r.revision))
                }
                None => (Vec::new(), None),
            };
            if points.iter().any(|p| p.manifest == point.manifest) {
                return Ok(());
            }
            points.push(point.clone());
            points.sort_by_key(|p| (p.basis_t, p.created_at_ms));
            let list = manifest::encode(&PointsList { points })?;
            let list_id = self.storage.put_frame(kind::POINTS, &list).await?;
            let record = LocationRecord {
                db_uuid: manifest.db_uuid,
                db_name: manifest.db_name.clone(),
                points: list_id,
            };
            let value = RootValue::new(manifest::encode(&record)?)?;
            if let CasOutcome::Applied(_) =
                self.storage.cas_root(&self.root, revision, &value).await?
            {
                return Ok(());
            }
        }
        Err(Error::Raced(format!(
            "{}: other backups kept changing the list of points ({CAS_ATTEMPTS} attempts); run the backup again",
            self.name
        )))
    }

    /// The points list segment and the points, if the location was ever
    /// written (what garbage collection marks).
    pub(crate) async fn listing(&self) -> Result<Option<(storage_core::SegmentId, Vec<Point>)>> {
        Ok(self.read().await?.map(|r| (r.record.points, r.points)))
    }

    /// Removes the points `drop` chooses from the list (by compare-and-
    /// swap, so a backup finishing meanwhile is kept) and returns them.
    /// Their segments stay until garbage collection of the storage.
    pub(crate) async fn remove_points(
        &self,
        drop: impl Fn(&[Point]) -> Vec<Point>,
    ) -> Result<Vec<Point>> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(current) = self.read().await? else {
                return Ok(Vec::new());
            };
            let dropped = drop(&current.points);
            if dropped.is_empty() {
                return Ok(dropped);
            }
            let points: Vec<Point> = current
                .points
                .iter()
                .filter(|p| !dropped.contains(p))
                .cloned()
                .collect();
            let list = manifest::encode(&PointsList { points })?;
            let list_id = self.storage.put_frame(kind::POINTS, &list).await?;
            let record = LocationRecord {
                points: list_id,
                ..current.record.clone()
            };
            let value = RootValue::new(manifest::encode(&record)?)?;
            if let CasOutcome::Applied(_) = self
                .storage
                .cas_root(&self.root, Some(current.revision), &value)
                .await?
            {
                return Ok(dropped);
            }
        }
        Err(Error::Raced(format!(
            "{}: other backups kept changing the list of points ({CAS_ATTEMPTS} attempts); run the prune again",
            self.name
        )))
    }

    /// Refuses a location that holds backups of another database.
    pub(crate) async fn check_belongs(&self, db_uuid: Uuid, db_name: &str) -> Result<()> {
        match self.read().await? {
            Some(r) => self.check_database(&r.record, db_uuid, db_name),
            None => Ok(()),
        }
    }

    fn check_database(&self, record: &LocationRecord, db_uuid: Uuid, db_name: &str) -> Result<()> {
        if record.db_uuid == db_uuid {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "{} holds backups of database `{}` ({}), not of `{db_name}` ({db_uuid}); back up each database to its own location (a directory, or `?db=SET` in a storage URI)",
            self.name, record.db_name, record.db_uuid
        )))
    }

    /// The location root and its points list, if the location was ever
    /// written.
    async fn read(&self) -> Result<Option<Listing>> {
        let Some(root) = self.storage.read_root(&self.root).await? else {
            return Ok(None);
        };
        let what = format!("{} (root `{}`)", self.name, self.root);
        let record: LocationRecord =
            manifest::decode(root.value.data(), &what, "the location root")?;
        let segment = index::ReachableSegment {
            id: record.points,
            kind: kind::POINTS,
        };
        let bytes = self.record_segment(segment, &what).await?;
        let list: PointsList = manifest::decode(&bytes, &what, "the points list")?;
        Ok(Some(Listing {
            record,
            points: list.points,
            revision: root.revision,
        }))
    }

    /// A record segment's payload: missing means a truncated backup.
    async fn record_segment(
        &self,
        segment: index::ReachableSegment,
        what: &str,
    ) -> Result<Vec<u8>> {
        let frame = self
            .storage
            .get_frame(segment.id)
            .await?
            .ok_or_else(|| missing(what, segment))?;
        if frame.kind != segment.kind {
            return Err(Error::damaged(
                what,
                format!(
                    "segment {} is of kind {}, not a {}",
                    segment.id,
                    frame.kind,
                    crate::copy::describe(segment.kind)
                ),
            ));
        }
        Ok(frame.payload.to_vec())
    }
}

/// The location root as read.
struct Listing {
    record: LocationRecord,
    points: Vec<Point>,
    revision: Revision,
}

/// Characters escaped when a directory path becomes a `file://` URI.
const PATH_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'?').add(b'#');

/// The storage URI of a location: URIs as they are, paths as `file:`.
fn location_uri(target: &str) -> Result<StorageUri> {
    let scheme = target.split_once(':').map(|(s, _)| s);
    let is_uri = scheme.is_some_and(|s| s == "postgresql" || KNOWN_SCHEMES.contains(&s));
    if is_uri {
        return Ok(StorageUri::parse(target)?);
    }
    if target.is_empty() {
        return Err(Error::Invalid(
            "the backup location is empty: give a directory or a storage URI".into(),
        ));
    }
    let path = std::path::absolute(target)
        .map_err(|e| Error::Invalid(format!("backup directory `{target}`: {e}")))?;
    let text = path.to_str().ok_or_else(|| {
        Error::Invalid(format!(
            "backup directory `{}` is not valid UTF-8",
            path.display()
        ))
    })?;
    Ok(StorageUri::parse(&format!(
        "file://{}",
        utf8_percent_encode(text, PATH_ESCAPES)
    ))?)
}

fn require_directory(path: &str) -> Result<()> {
    match Path::new(path).is_dir() {
        true => Ok(()),
        false => Err(Error::NotFound(format!(
            "no backup at {path}: the directory does not exist"
        ))),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
