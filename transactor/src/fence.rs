//! Fencing through the log root: a new lease holder rewrites the log root
//! with its epoch before it accepts writes, so the next commit of any older
//! holder conflicts and finds itself deposed.
//!
//! The fence is bound to the database's identity: it reads the log root
//! first and writes nothing unless the root's database id is the catalog id
//! the lease was taken for (a database deleted and created anew under the
//! name, or a storage reset, is refused as not found). A fenced holder's
//! own commits compare only the revision it last wrote; within one
//! storage's life that revision never recurs, since every later write —
//! this fence, a re-create, a `delete-db` fence — goes over it. The one
//! case that restarts revisions, a storage reset, is covered by the lease
//! (see the `lease` module docs, which also say what remains open).

use index::{LogRoot, log_root_name};
use storage_core::{CasOutcome, DbName, Revision, Storage};
use uuid::Uuid;

use crate::cas::settled_cas;
use crate::error::{Error, ErrorKind, Result};
use crate::lease::Epoch;

/// The log root of `db` as this holder last wrote it.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// The value.
    pub(crate) root: LogRoot,
    /// Its revision: the next commit expects it.
    pub(crate) revision: Revision,
}

/// Reads the log root of `db` (linearizably).
pub(crate) async fn read_head(storage: &dyn Storage, db: &DbName) -> Result<Head> {
    let name = log_root_name(db);
    let stored = storage.read_root(&name).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("database `{db}` has no log root: create it first"),
        )
    })?;
    let root = LogRoot::decode(&name, stored.value.data())?;
    Ok(Head {
        root,
        revision: stored.revision,
    })
}

/// Writes the current log root of `db` back unchanged but for `epoch`, so
/// that every holder of an older epoch is fenced. Fails with
/// [`ErrorKind::Fenced`] when a newer epoch has written it already, and
/// with [`ErrorKind::NotFound`] — before writing anything — when the root
/// belongs to another database of the same name than `db_id`.
pub(crate) async fn fence(
    storage: &dyn Storage,
    db: &DbName,
    db_id: Uuid,
    epoch: Epoch,
) -> Result<Head> {
    let name = log_root_name(db);
    loop {
        let head = read_head(storage, db).await?;
        if head.root.db_uuid != db_id {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "database `{db}` (id {db_id}) was deleted and created anew (id {}) while this transactor started",
                    head.root.db_uuid
                ),
            ));
        }
        if head.root.epoch > epoch.0 {
            return Err(Error::fenced(format!(
                "the log root of `{db}` was written by epoch {}, newer than this transactor's {epoch}",
                head.root.epoch
            )));
        }
        let fenced = head.root.with_epoch(epoch.0);
        let value = fenced.to_root_value()?;
        match settled_cas(storage, &name, Some(head.revision), &value).await? {
            CasOutcome::Applied(revision) => {
                tracing::info!(db = %db, %epoch, basis_t = fenced.basis_t, "log root fenced");
                return Ok(Head {
                    root: fenced,
                    revision,
                });
            }
            // An older holder committed meanwhile: fence what it wrote.
            CasOutcome::Conflict(_) => continue,
        }
    }
}
