//! What a restore does to the database it restores into: decided from the
//! target's catalog, log root and lease before anything is written, and
//! made visible last, by compare-and-swap.

use std::sync::Arc;

use index::{
    CatalogEntry, DbState, LogRoot, Segments, log_root_name, read_catalog, read_log, update_catalog,
};
use model::TxLog;
use storage_core::{CasOutcome, DbName, Revision, Storage};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::head::read_log_root;
use crate::location::now_ms;

/// What a restore did to the target database.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restored {
    /// A new database (the backup's identity) where none was.
    Created,
    /// A new database with an identity of its own, because the backed-up
    /// database is live in the target under another name: a clone sharing
    /// its segments, diverging independently from now on.
    Cloned {
        /// The name the original has in the target.
        original: String,
    },
    /// The same database, moved forward to the backup's later basis.
    Advanced {
        /// Its basis before.
        from_t: u64,
    },
    /// The same database at the same basis: nothing was written.
    UpToDate,
    /// The same database set back to an earlier basis (forced): its
    /// transactions after the restored basis up to `discarded_to_t` are
    /// gone from it.
    Rewound {
        /// Its basis before.
        discarded_to_t: u64,
    },
    /// Another database, or the same one with a history that parted from
    /// the backup's, replaced (forced).
    Replaced {
        /// The identity of what was replaced.
        old_uuid: Uuid,
        /// Its basis.
        old_basis_t: u64,
    },
}

/// What is being restored: the backup's identity and the restored basis.
pub(crate) struct Incoming<'a> {
    pub(crate) uuid: Uuid,
    pub(crate) created_at_ms: u64,
    pub(crate) basis_t: u64,
    /// The backup's segments and the point's log root, for comparing
    /// histories.
    pub(crate) backup: &'a Segments,
    pub(crate) root: &'a LogRoot,
}

/// The decision, and what committing it must expect to find.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) outcome: Restored,
    /// The identity the restored database gets.
    pub(crate) uuid: Uuid,
    created_at_ms: u64,
    /// The lease epoch the restored log root carries: above every epoch
    /// the target has seen, so a running transactor is fenced and the next
    /// one takes over cleanly.
    pub(crate) epoch: u64,
    expected_root: Option<Revision>,
    /// A live database of another identity to mark deleted first.
    retire: Option<Uuid>,
    /// Whether the catalog gets an entry for the restored database.
    list: bool,
}

/// The target's state as found.
struct Found {
    live: Option<CatalogEntry>,
    root: Option<(LogRoot, Revision)>,
    /// Another live name holding the incoming identity.
    original: Option<String>,
    epoch: u64,
}

/// Decides what restoring `incoming` as `name` into `target` does, or
/// refuses it.
pub(crate) async fn plan(
    target: &Segments,
    name: &DbName,
    incoming: &Incoming<'_>,
    force: bool,
) -> Result<Plan> {
    let found = inspect(&target.storage, name, incoming.uuid).await?;
    let outcome = decide(target, name, incoming, &found, force).await?;
    let fresh_identity = matches!(outcome, Restored::Cloned { .. })
        || (matches!(outcome, Restored::Replaced { .. }) && found.original.is_some());
    let uuid = match fresh_identity {
        true => Uuid::new_v4(),
        false => incoming.uuid,
    };
    let retire = found
        .live
        .as_ref()
        .filter(|e| e.uuid != incoming.uuid)
        .map(|e| e.uuid);
    let list = matches!(outcome, Restored::Created | Restored::Cloned { .. }) || retire.is_some();
    Ok(Plan {
        created_at_ms: match fresh_identity {
            true => now_ms(),
            false => incoming.created_at_ms,
        },
        uuid,
        epoch: found.epoch,
        expected_root: found.root.as_ref().map(|(_, rev)| *rev),
        retire,
        list,
        outcome,
    })
}

async fn inspect(storage: &Arc<dyn Storage>, name: &DbName, uuid: Uuid) -> Result<Found> {
    let (catalog, _) = read_catalog(storage).await?;
    let live = catalog.live(name.as_str()).cloned();
    let original = catalog
        .dbs
        .iter()
        .find(|(n, e)| e.state == DbState::Live && e.uuid == uuid && n.as_str() != name.as_str())
        .map(|(n, _)| n.clone());
    let root = read_log_root(storage, name).await?;
    let lease = transactor::lease::read_lease(storage.as_ref(), name)
        .await
        .map_err(|source| Error::Lease {
            db: name.to_string(),
            source,
        })?;
    let seen = root.as_ref().map_or(0, |(r, _)| r.epoch);
    let leased = lease.map_or(0, |l| l.epoch.0);
    Ok(Found {
        live,
        root,
        original,
        epoch: seen.max(leased) + 1,
    })
}

async fn decide(
    target: &Segments,
    name: &DbName,
    incoming: &Incoming<'_>,
    found: &Found,
    force: bool,
) -> Result<Restored> {
    let Some(live) = &found.live else {
        return Ok(match &found.original {
            Some(original) => Restored::Cloned {
                original: original.clone(),
            },
            None => Restored::Created,
        });
    };
    if live.uuid == incoming.uuid && found.root.is_none() {
        // Listed but without a log root: nothing readable to keep.
        return Ok(Restored::Created);
    }
    let Some((current, _)) = found.root.as_ref().filter(|_| live.uuid == incoming.uuid) else {
        let old_basis_t = found.root.as_ref().map_or(0, |(r, _)| r.basis_t);
        return refuse_unless(
            force,
            Restored::Replaced {
                old_uuid: live.uuid,
                old_basis_t,
            },
            || {
                format!(
                    "database `{name}` in the target is another database ({}, at t={old_basis_t}) than the backup's ({}); restoring would replace it: force it (--force), or restore under another name",
                    live.uuid, incoming.uuid
                )
            },
        );
    };
    let (tb, nb) = (current.basis_t, incoming.basis_t);
    let shared_t = tb.min(nb);
    if !same_entry(target, current, incoming, shared_t).await? {
        let replaced = Restored::Replaced {
            old_uuid: live.uuid,
            old_basis_t: tb,
        };
        return refuse_unless(force, replaced, || {
            format!(
                "database `{name}` in the target (at t={tb}) has a history that parts from the backup's (at t={nb}) at or before t={shared_t}; restoring would replace its history: force it (--force)"
            )
        });
    }
    match tb.cmp(&nb) {
        std::cmp::Ordering::Equal => Ok(Restored::UpToDate),
        std::cmp::Ordering::Less => Ok(Restored::Advanced { from_t: tb }),
        std::cmp::Ordering::Greater => {
            refuse_unless(force, Restored::Rewound { discarded_to_t: tb }, || {
                format!(
                    "database `{name}` in the target is at t={tb}; restoring t={nb} over it would discard its transactions after t={nb} up to t={tb}: force it (--force), or restore under another name"
                )
            })
        }
    }
}

fn refuse_unless(force: bool, outcome: Restored, why: impl FnOnce() -> String) -> Result<Restored> {
    match force {
        true => Ok(outcome),
        false => Err(Error::Refused(why())),
    }
}

/// Whether the target's and the backup's logs hold the same entry at `t`
/// (the last one they should share).
async fn same_entry(
    target: &Segments,
    current: &LogRoot,
    incoming: &Incoming<'_>,
    t: u64,
) -> Result<bool> {
    let theirs = entry_at(target, current, t).await?;
    let ours = entry_at(incoming.backup, incoming.root, t).await?;
    Ok(theirs == ours)
}

async fn entry_at(seg: &Segments, root: &LogRoot, t: u64) -> Result<Option<TxLog>> {
    Ok(read_log(seg, root, t, Some(t + 1))
        .await?
        .into_iter()
        .next())
}

/// Makes the restored `root` (already durable with every segment it
/// reaches) the database `name` of `target`, as `plan` decided: a
/// database of another identity is first marked deleted, then the log
/// root is swapped, then the catalog lists it. A conflict on the way
/// means someone else changed the target meanwhile.
pub(crate) async fn commit(
    target: &Segments,
    name: &DbName,
    plan: &Plan,
    root: &LogRoot,
) -> Result<()> {
    if plan.outcome == Restored::UpToDate {
        return Ok(());
    }
    let storage = &target.storage;
    if let Some(old) = plan.retire {
        let retired = update_catalog(storage, |catalog| {
            Ok(match catalog.dbs.get_mut(name.as_str()) {
                Some(e) if e.state == DbState::Live && e.uuid == old => {
                    e.state = DbState::Deleted;
                    true
                }
                _ => false,
            })
        })
        .await?;
        if !retired {
            return Err(raced(name, "its catalog entry changed"));
        }
    }
    let value = root.to_root_value()?;
    match storage
        .cas_root(&log_root_name(name), plan.expected_root, &value)
        .await?
    {
        CasOutcome::Applied(_) => {}
        CasOutcome::Conflict(_) => {
            return Err(raced(
                name,
                "its log root changed (a transactor committed, or another restore ran)",
            ));
        }
    }
    if plan.list {
        list(storage, name, plan).await?;
    }
    Ok(())
}

async fn list(storage: &Arc<dyn Storage>, name: &DbName, plan: &Plan) -> Result<()> {
    let entry = CatalogEntry {
        uuid: plan.uuid,
        created_at_ms: plan.created_at_ms,
        state: DbState::Live,
    };
    let listed = update_catalog(storage, |catalog| {
        if catalog
            .live(name.as_str())
            .is_some_and(|e| e.uuid != plan.uuid)
        {
            return Ok(false);
        }
        catalog.dbs.insert(name.to_string(), entry.clone());
        Ok(true)
    })
    .await?;
    match listed {
        true => Ok(()),
        false => Err(raced(name, "another database of that name was created")),
    }
}

fn raced(name: &DbName, what: &str) -> Error {
    Error::Raced(format!(
        "database `{name}` in the target changed while it was being restored: {what}; look at it, then run the restore again"
    ))
}
