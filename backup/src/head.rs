//! The head of a database: its catalog entry and its log root as of now.

use std::sync::Arc;

use index::{CatalogEntry, LogRoot, log_root_name, read_catalog};
use storage_core::{DbName, Revision, Storage};

use crate::error::{Error, Result};

/// A live database's catalog entry and log root (read linearizably).
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub(crate) entry: CatalogEntry,
    pub(crate) root: LogRoot,
}

/// The head of the live database `name` in `storage`.
pub(crate) async fn read_head(storage: &Arc<dyn Storage>, name: &DbName) -> Result<Head> {
    let (catalog, _) = read_catalog(storage).await?;
    let entry = catalog.live(name.as_str()).cloned().ok_or_else(|| {
        Error::NotFound(format!(
            "database `{name}` does not exist in this {} storage",
            storage.backend()
        ))
    })?;
    let (root, _) =
        read_log_root(storage, name)
            .await?
            .ok_or_else(|| index::Error::CorruptRoot {
                name: log_root_name(name).to_string(),
                detail: "the catalog lists the database but its log root is missing".into(),
            })?;
    if root.db_uuid != entry.uuid {
        return Err(index::Error::CorruptRoot {
            name: log_root_name(name).to_string(),
            detail: format!(
                "belongs to database {} but the catalog lists {}",
                root.db_uuid, entry.uuid
            ),
        }
        .into());
    }
    Ok(Head { entry, root })
}

/// The log root of `name` and its revision, if there is one (a deleted
/// database's root stays).
pub(crate) async fn read_log_root(
    storage: &Arc<dyn Storage>,
    name: &DbName,
) -> Result<Option<(LogRoot, Revision)>> {
    let root_name = log_root_name(name);
    match storage.read_root(&root_name).await? {
        None => Ok(None),
        Some(root) => Ok(Some((
            LogRoot::decode(&root_name, root.value.data())?,
            root.revision,
        ))),
    }
}
