//! The catalog of the databases in a storage, and the names of their roots.
//!
//! # Catalog format, version 1
//!
//! `ACT`, version, entry count, per entry: name (length-prefixed UTF-8),
//! db uuid (16 bytes), created-at (milliseconds since the Unix epoch),
//! state (0 live, 1 deleted). Entries are sorted by name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use storage_core::{CasOutcome, DbName, Revision, RootName, RootValue, Storage};
use uuid::Uuid;

use crate::bin::{Bad, Reader, Writer};
use crate::error::{Error, Result};
use crate::log_root::LogRoot;

const MAGIC: &[u8; 3] = b"ACT";
const VERSION: u8 = 1;
/// How often a catalog change is retried when other writers keep winning.
const CAS_ATTEMPTS: usize = 32;

/// The name of the catalog root.
pub fn catalog_root_name() -> RootName {
    // A fixed, valid name: letters only.
    RootName::new("catalog").unwrap_or_else(|_| unreachable!("`catalog` is a valid root name"))
}

/// The name of a database's log root, `db/<name>/log`: its commit point.
pub fn log_root_name(db: &DbName) -> RootName {
    db_root(db, "log")
}

/// The name of a database's lease root, `db/<name>/lease`.
pub fn lease_root_name(db: &DbName) -> RootName {
    db_root(db, "lease")
}

fn db_root(db: &DbName, leaf: &str) -> RootName {
    // A DbName is 1-64 ASCII letters, digits, `_` or `-`, so the root name is
    // always valid and under the length limit.
    RootName::new(format!("db/{db}/{leaf}"))
        .unwrap_or_else(|e| unreachable!("root name of database `{db}`: {e}"))
}

/// Whether a database is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbState {
    /// Open for reads and writes.
    Live,
    /// Deleted: its segments wait for garbage collection.
    Deleted,
}

/// One database in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The database's identity, also recorded in its log root.
    pub uuid: Uuid,
    /// When it was created, in milliseconds since the Unix epoch (informational).
    pub created_at_ms: u64,
    /// Live or deleted.
    pub state: DbState,
}

/// The databases of a storage, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Every database ever created and not re-created since, by name.
    pub dbs: BTreeMap<String, CatalogEntry>,
}

impl Catalog {
    /// The live database of this name.
    pub fn live(&self, name: &str) -> Option<&CatalogEntry> {
        self.dbs.get(name).filter(|e| e.state == DbState::Live)
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.raw(MAGIC).u8(VERSION).len(self.dbs.len());
        for (name, e) in &self.dbs {
            w.bytes(name.as_bytes()).raw(e.uuid.as_bytes());
            w.varint(e.created_at_ms).u8(match e.state {
                DbState::Live => 0,
                DbState::Deleted => 1,
            });
        }
        w.finish()
    }

    /// Decodes the catalog root's data.
    pub fn decode(bytes: &[u8]) -> Result<Catalog> {
        decode(bytes).map_err(|detail| Error::CorruptRoot {
            name: catalog_root_name().to_string(),
            detail,
        })
    }
}

fn decode(bytes: &[u8]) -> std::result::Result<Catalog, Bad> {
    let mut r = Reader::new(bytes);
    if r.take(3)? != MAGIC {
        return Err("not a catalog: bad magic".into());
    }
    r.version(VERSION)?;
    let n = r.count(19)?;
    let mut dbs = BTreeMap::new();
    for _ in 0..n {
        let name = std::str::from_utf8(r.bytes()?)
            .map_err(|_| r.fail("database name is not UTF-8"))?
            .to_string();
        DbName::new(name.as_str()).map_err(|e| r.fail(e))?;
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(r.take(16)?);
        let created_at_ms = r.varint()?;
        let state = match r.u8()? {
            0 => DbState::Live,
            1 => DbState::Deleted,
            b => return Err(r.fail(format!("database state byte {b}"))),
        };
        let entry = CatalogEntry {
            uuid: Uuid::from_bytes(uuid),
            created_at_ms,
            state,
        };
        if dbs.insert(name.clone(), entry).is_some() {
            return Err(r.fail(format!("database `{name}` is listed twice")));
        }
    }
    r.finish()?;
    Ok(Catalog { dbs })
}

/// The catalog as of now and its revision (`None`: never written).
pub async fn read_catalog(storage: &Arc<dyn Storage>) -> Result<(Catalog, Option<Revision>)> {
    match storage.read_root(&catalog_root_name()).await? {
        None => Ok((Catalog::default(), None)),
        Some(root) => Ok((Catalog::decode(root.value.data())?, Some(root.revision))),
    }
}

/// Changes the catalog by compare-and-swap: `change` gets the catalog as of
/// now and returns its result, or an error that leaves it unchanged; on a
/// conflict it runs again on the newer catalog.
pub async fn update_catalog<T>(
    storage: &Arc<dyn Storage>,
    mut change: impl FnMut(&mut Catalog) -> Result<T>,
) -> Result<T> {
    let name = catalog_root_name();
    for _ in 0..CAS_ATTEMPTS {
        let (mut catalog, revision) = read_catalog(storage).await?;
        let result = change(&mut catalog)?;
        let value = RootValue::new(catalog.encode())?;
        if let CasOutcome::Applied(_) = storage.cas_root(&name, revision, &value).await? {
            return Ok(result);
        }
    }
    Err(Error::Storage(storage_core::Error::Unavailable {
        backend: storage.backend(),
        op: format!("update of root `{name}`"),
        detail: format!("lost {CAS_ATTEMPTS} compare-and-swaps in a row to other writers"),
        source: None,
    }))
}

/// The live databases, by name.
pub async fn list_dbs(storage: &Arc<dyn Storage>) -> Result<Vec<(String, CatalogEntry)>> {
    let (catalog, _) = read_catalog(storage).await?;
    Ok(catalog
        .dbs
        .into_iter()
        .filter(|(_, e)| e.state == DbState::Live)
        .collect())
}

/// Creates database `name`: a new uuid, a genesis log root, a live catalog
/// entry. Fails with [`Error::DbExists`] when a live one has the name.
///
/// The log root is written first: a crash before the catalog entry leaves
/// an unlisted root, which the next create of the name replaces.
pub async fn create_db(storage: &Arc<dyn Storage>, name: &DbName) -> Result<CatalogEntry> {
    let (catalog, _) = read_catalog(storage).await?;
    if catalog.live(name.as_str()).is_some() {
        return Err(Error::DbExists(name.to_string()));
    }
    let entry = CatalogEntry {
        uuid: Uuid::new_v4(),
        created_at_ms: now_ms(),
        state: DbState::Live,
    };
    write_genesis(storage, name, entry.uuid).await?;
    update_catalog(storage, |catalog| {
        if catalog.live(name.as_str()).is_some() {
            return Err(Error::DbExists(name.to_string()));
        }
        catalog.dbs.insert(name.to_string(), entry.clone());
        Ok(())
    })
    .await?;
    Ok(entry)
}

/// Marks database `name` deleted, then fences its log root (the same value
/// at a higher epoch), so a transactor still running on it can never commit
/// again: its next compare-and-swap of the log root conflicts. Its segments
/// stay until garbage collection. Fails with [`Error::DbNotFound`] when no
/// live one has the name; when the name is marked deleted, it fences the
/// log root all the same, so that a delete that died between its two steps
/// is finished by running it again.
///
/// The order matters: a transactor fences the log root first and reads the
/// catalog after, so either our fence deposes it or it sees the deletion.
pub async fn delete_db(storage: &Arc<dyn Storage>, name: &DbName) -> Result<CatalogEntry> {
    let entry = match mark_deleted(storage, name).await {
        Err(Error::DbNotFound(missing)) => {
            let (catalog, _) = read_catalog(storage).await?;
            let deleted = catalog.dbs.get(name.as_str());
            if deleted.is_some_and(|e| e.state == DbState::Deleted) {
                fence_log_root(storage, name).await?;
            }
            return Err(Error::DbNotFound(missing));
        }
        marked => marked?,
    };
    fence_log_root(storage, name).await?;
    Ok(entry)
}

/// The first step of [`delete_db`]: the catalog marks `name` deleted.
async fn mark_deleted(storage: &Arc<dyn Storage>, name: &DbName) -> Result<CatalogEntry> {
    update_catalog(storage, |catalog| {
        let entry = catalog
            .dbs
            .get_mut(name.as_str())
            .filter(|e| e.state == DbState::Live)
            .ok_or_else(|| Error::DbNotFound(name.to_string()))?;
        entry.state = DbState::Deleted;
        Ok(entry.clone())
    })
    .await
}

/// Raises the epoch of `name`'s log root by one, keeping its content.
async fn fence_log_root(storage: &Arc<dyn Storage>, name: &DbName) -> Result<()> {
    let root_name = log_root_name(name);
    for _ in 0..CAS_ATTEMPTS {
        let Some(current) = storage.read_root(&root_name).await? else {
            return Ok(());
        };
        let root = LogRoot::decode(&root_name, current.value.data())?;
        let fenced = root.with_epoch(root.epoch + 1).to_root_value()?;
        let outcome = storage
            .cas_root(&root_name, Some(current.revision), &fenced)
            .await?;
        if outcome.is_applied() {
            return Ok(());
        }
    }
    Err(Error::Storage(storage_core::Error::Unavailable {
        backend: storage.backend(),
        op: format!("fence of root `{root_name}`"),
        detail: format!(
            "lost {CAS_ATTEMPTS} compare-and-swaps in a row to a transactor still committing"
        ),
        source: None,
    }))
}

/// Sets the log root of `name` to a genesis value for `uuid`. A log root
/// left by a deleted database (roots are never removed) is replaced with a
/// higher epoch, so its old transactor is fenced.
async fn write_genesis(storage: &Arc<dyn Storage>, name: &DbName, uuid: Uuid) -> Result<()> {
    let root_name = log_root_name(name);
    let current = storage.read_root(&root_name).await?;
    let (expected, epoch) = match &current {
        None => (None, 0),
        Some(root) => {
            let old = LogRoot::decode(&root_name, root.value.data())?;
            (Some(root.revision), old.epoch + 1)
        }
    };
    let genesis = LogRoot::genesis(uuid).with_epoch(epoch);
    match storage
        .cas_root(&root_name, expected, &genesis.to_root_value()?)
        .await?
    {
        CasOutcome::Applied(_) => Ok(()),
        CasOutcome::Conflict(_) => Err(Error::DbExists(format!(
            "{name} (its log root changed while it was being created)"
        ))),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
