//! Persistent covering indexes and the log of accrete databases as immutable
//! segment trees in storage, read lazily through a shared segment cache.
//!
//! What it is: the durable layout every transactor and peer agrees on.
//! - The **log root** ([`LogRoot`], the value of `db/<name>/log`) is a
//!   database's commit point: db uuid, lease epoch, basis t, counter state,
//!   index root and log tree, and the most recent log entries inline.
//!   [`append`] adds committed entries (moving the tail into log segments
//!   when it grows too large) and returns the next value to CAS.
//! - The **indexing job** ([`index_db`]) merges a database value's novelty
//!   copy-on-write into the covering index trees (EAVT, AEVT, AVET, VAET ×
//!   current and history), carries out excision in the trees and the log,
//!   and writes an index root; [`IndexJob::next_root`] and
//!   [`IndexJob::rebase`] hand the result to the writer.
//! - **Reading**: [`DurableStore`] is the persistent layer of a
//!   [`model::Db`] ([`model::IndexStore`]), walking the trees through the
//!   [`SegmentCache`] that every value in a process shares. [`open_db`] and
//!   [`db_from_root`] open database values; [`read_log`] reads the log.
//! - The **catalog** of databases ([`create_db`], [`delete_db`],
//!   [`list_dbs`]) and root names ([`log_root_name`], [`lease_root_name`]).
//! - [`reachable_segments`]: what a database reaches, for backup and GC.
//!
//! Segment formats are in [`segment`], the log root's in [`LogRoot`]; golden
//! files in `tests/golden/` pin them.
//!
//! What it is not: the transactor (leases, fencing, group commit, when to
//! index), the network protocol, or garbage collection. It never changes a
//! root except the catalog and a new database's genesis log root: the
//! caller CASes the log root values this crate computes.
//!
//! Reads of a database value are synchronous and may block on storage:
//! run them on `tokio::task::spawn_blocking` or a plain thread, never
//! directly on an async task (see [`SegmentCache`]).
//!
//! ```
//! use std::sync::Arc;
//! use index::{Segments, SegmentCache, append, create_db, index_db, log_root_name, open_db};
//! use model::{Index, TxFunctions, edn::Instant};
//! use storage_core::{DbName, MemStorage, Storage, StorageExt};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20)?);
//! let name = DbName::new("orders")?;
//! create_db(&storage, &name).await?;
//!
//! // A writer: transact, append to the log, CAS the log root.
//! let open = open_db(&seg, &name).await?;
//! let report = open.db.with_edn(
//!     r#"[{:db/ident :order/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#,
//!     Instant(1), &TxFunctions::new())?;
//! let root = append(&seg, &open.root, &[report.log_entry()]).await?;
//! let rev = storage.cas_root_or_conflict(&log_root_name(&name), Some(open.revision), &root.to_root_value()?).await?;
//!
//! // The indexing job, then the next log root with the new index.
//! let job = index_db(&seg, &report.db_after, &root).await?;
//! let root = job.next_root(&seg, &root).await?;
//! storage.cas_root_or_conflict(&log_root_name(&name), Some(rev), &root.to_root_value()?).await?;
//!
//! // A reader: lazy trees through the cache; reads block, so spawn_blocking.
//! let db = open_db(&seg, &name).await?.db;
//! let idents = tokio::task::spawn_blocking(move || {
//!     db.datoms(Index::Aevt, &[model::Value::keyword(":db/ident")]).map(|it| it.count())
//! }).await??;
//! assert!(idents > 30);
//! # Ok(()) }
//! ```

mod bin;
mod blocking;
mod cache;
mod catalog;
mod error;
mod excision;
mod job;
mod log;
mod log_root;
mod novelty;
mod open;
mod reach;
pub mod segment;
mod segments;
mod stats;
mod store;
mod tree;

pub use cache::{CacheStats, DEFAULT_FETCH_TIMEOUT, SegmentCache};
pub use catalog::{
    Catalog, CatalogEntry, DbState, catalog_root_name, create_db, delete_db, lease_root_name,
    list_dbs, log_root_name, read_catalog, update_catalog,
};
pub use error::{Error, Result, model_kind};
pub use job::{IndexJob, JobStats, index_db};
pub use log::{append, read_log};
pub use log_root::{LogRoot, LogTree, TAIL_LIMIT};
pub use open::{OpenDb, apply_entry, db_from_root, open_db, reapply_entry};
pub use reach::{ReachableSegment, reachable_segments};
pub use segments::{Segments, TreeConfig, WriteStats};
pub use store::DurableStore;
