//! The embedded default storage backend: immutable segments and CAS roots in
//! a local directory, safe across processes and crashes.
//!
//! `file:///ABS/PATH?db=NAME` and `file:REL/PATH?db=NAME` open a
//! [`FileStorage`] in that directory, which holds the segments of every
//! database in it and the roots the layers above name. It keeps the
//! promises of [`storage_core::Storage`] on one machine the way a database
//! does:
//!
//! - **Durable writes.** Every file is written to `tmp/`, fsynced, renamed
//!   into place and its directory fsynced before the call returns; a crash
//!   at any instant leaves the old file or the new one, never a torn one.
//! - **Verified reads.** A segment file is checked against its content hash
//!   and a root file against its checksum; damage is
//!   [`storage_core::Error::Corruption`] naming the path.
//! - **Exact compare-and-swap across processes, without locks.** A root
//!   changes by linking its next revision file into place, which fails if
//!   another writer got there first; no lock is ever held, so a writer
//!   that is killed, stopped or hung at any instant holds up nobody. A
//!   root is created at a random revision (its incarnation), linked into a
//!   creation slot that only one creator can take.
//! - **Never on the async workers.** Each operation is one `spawn_blocking`
//!   task.
//!
//! It is not a network service: processes on other machines cannot share a
//! directory safely (network file systems do not keep these promises), and
//! it does not interpret segments or roots. It needs a Unix file system
//! (directories are fsynced, locks are `flock`s); root names are told apart
//! by case, so a case-insensitive file system would make `Log` and `log`
//! share a file (detected as corruption when read, never mixed up).
//!
//! ```
//! use storage_core::{CasOutcome, Registry, RootName, RootValue, Storage, StorageExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> storage_core::Result<()> {
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let mut registry = Registry::default();
//! storage_file::register(&mut registry);
//! let uri = format!("file://{}?db=orders", dir.path().display());
//! let (storage, _uri) = registry.open(&uri).await?;
//!
//! let id = storage.put_frame(1, b"some datoms").await?;
//! assert_eq!(storage.get_frame(id).await?.unwrap().payload.as_ref(), b"some datoms");
//!
//! let log = RootName::new("db/orders/log")?;
//! let created = storage.cas_root(&log, None, &RootValue::new(id.to_string())?).await?;
//! assert!(matches!(created, CasOutcome::Applied(_)));
//!
//! // Another handle on the same directory (or another process) sees it.
//! let again = storage_file::FileStorage::open(dir.path()).await?;
//! assert!(again.read_root(&log).await?.is_some());
//! # Ok(()) }
//! ```
//!
//! The layout of the directory is described in `layout.rs`, the root record
//! in `record.rs`, the write protocol in `durable.rs` and the lock-free
//! compare-and-swap in `roots.rs`.

mod durable;
mod error;
mod layout;
mod marker;
mod record;
mod roots;
mod segments;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use storage_core::{BackendFactory, Registry, Result, Storage, StorageUri};

pub use store::FileStorage;

/// Opens `file:` URIs: the directory is the URI's path.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFactory;

#[async_trait]
impl BackendFactory for FileFactory {
    fn scheme(&self) -> &'static str {
        "file"
    }

    async fn open(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>> {
        uri.check_params(&[])?;
        Ok(Arc::new(FileStorage::open(uri.path()).await?))
    }
}

/// Opens the existing storage a `file:` URI names, creating nothing (see
/// [`FileStorage::open_existing`]); the registry's factory creates a
/// missing one.
pub async fn open_existing(uri: &StorageUri) -> Result<Arc<dyn Storage>> {
    uri.check_params(&[])?;
    Ok(Arc::new(FileStorage::open_existing(uri.path()).await?))
}

/// Adds the `file` backend to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(FileFactory));
}
