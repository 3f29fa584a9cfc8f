//! Backups of accrete databases into any storage, restores into any backend
//! (also at an earlier t, or as a clone), and verification of databases and
//! backups.
//!
//! What it is:
//! - A [`BackupLocation`] is itself a storage (a directory means `file:`)
//!   holding the database's segments, content-addressed, plus a
//!   [`Manifest`] per point in time and a list of the points
//!   ([`manifest`] describes the format). One location holds the points of
//!   one database.
//! - [`backup_db`] takes one consistent point (the basis t of one read of
//!   the log root, while the transactor keeps writing), copying only the
//!   segments the location lacks, and lists the point last.
//! - [`restore_db`] copies a point's segments into any storage and makes
//!   it a database there: the same database, a clone under a new name, or
//!   the database as of an earlier t (its log cut at t, its index reused
//!   only when it covers nothing later). Roots are written last, by
//!   compare-and-swap, so an interrupted restore leaves nothing visible,
//!   and running it again copies only what is still missing.
//! - [`verify_db`] and [`verify_backup`] read every reachable segment,
//!   check it against its id and decode it, and report everything missing
//!   or corrupt.
//! - Copies run with a bounded number of segments in flight and report to
//!   a [`Progress`] ([`progress::for_stderr`]: a bar on a terminal, plain
//!   log lines otherwise).
//!
//! - [`gc`] collects the garbage of a storage (live databases, deleted
//!   databases, excised values, backup sets alike) after a grace period,
//!   and [`gc::prune_backups`] removes old points of a backup location.
//!
//! What it is not: a scheduler of backups or a way to read a database
//! (that is the `index` crate).
//!
//! ```
//! use std::sync::Arc;
//! use backup::{BackupLocation, CopyOptions, RestoreOptions, backup_db, restore_db, verify_db};
//! use index::{SegmentCache, Segments, create_db};
//! use storage_core::{DbName, MemStorage, Storage};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let live: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let orders = DbName::new("orders")?;
//! create_db(&live, &orders).await?;
//! let seg = Segments::new(live.clone(), SegmentCache::new(64 << 20)?);
//!
//! let location = BackupLocation::new(Arc::new(MemStorage::new()), "mem backup", &orders)?;
//! let taken = backup_db(&seg, &orders, &location, &CopyOptions::default()).await?;
//! assert_eq!(location.points().await?, vec![taken.point]);
//!
//! // Restore it elsewhere, and check every segment.
//! let elsewhere: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let target = Segments::new(elsewhere.clone(), SegmentCache::new(64 << 20)?);
//! let restored = restore_db(&location, &target, &orders, &RestoreOptions::default()).await?;
//! assert_eq!(restored.basis_t, taken.manifest.basis_t);
//! assert!(verify_db(&elsewhere, &orders, &CopyOptions::default()).await?.is_ok());
//! # Ok(()) }
//! ```

mod backup;
mod copy;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gc;
mod head;
mod location;
pub mod manifest;
pub mod progress;
mod restore;
mod retry;
mod verify;

pub use backup::{BackupReport, backup_db};
pub use copy::{CopyOptions, CopyStats};
pub use error::{Error, ErrorKind, Result};
pub use location::{Access, BackupLocation, DEFAULT_SET};
pub use manifest::{Manifest, Point};
pub use progress::Progress;
pub use restore::{RestoreOptions, RestoreReport, Restored, restore_db};
pub use verify::{Problem, VerifyReport, verify_backup, verify_db};
