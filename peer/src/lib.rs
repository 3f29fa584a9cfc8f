//! The peer library: connect to a database by URI, read through a shared
//! segment cache, receive every transaction report, and sync.
//!
//! What it is: the application side of accrete.
//! - [`Peer::connect`] opens the database a storage URI names
//!   (`file:…?db=NAME`, `postgres://…?db=NAME`, `cassandra://…?db=NAME`,
//!   `mem://…?db=NAME`; backends are cargo features, all on by default), reads
//!   its latest committed value from storage and finds the active
//!   transactor through the database's lease root.
//! - [`Connection::db`] is the latest value the peer knows, with no network
//!   round trip; its index segments are read from storage directly through
//!   the [`Peer`]'s segment cache (quick_cache: S3-FIFO eviction, bounded
//!   by bytes), which every value of every connection shares. The peer
//!   moves its value onto each newer index root the transactor's indexing
//!   writes, so memory stays within the cache plus the novelty since the
//!   last indexing job.
//! - [`Connection::transact`] sends tx data to the transactor and returns
//!   the report once the transaction is durable.
//! - [`Connection::tx_report_queue`]: every transaction, whichever process
//!   submitted it, each once, in t order, with tx data, db before and db
//!   after; a consumer that falls behind its bounded buffer reads the log
//!   instead and never slows anyone else ([`TxReportQueue`]).
//! - [`Connection::sync_t`] returns a value that includes a given t;
//!   [`Connection::sync`] one that includes everything committed before
//!   the call.
//! - When the transactor restarts or a standby takes over, the connection
//!   finds the new one by itself; meanwhile it follows the log in storage,
//!   so nothing is missed and nothing repeated.
//!
//! What it is not: the transactor (`transactor`), the durable layout
//! (`index`), or query (`query::q` and `query::pull` take the values this
//! crate hands out).
//!
//! Reads of a database value may block on storage (cache misses): make them
//! on a plain thread or in `tokio::task::spawn_blocking`, not directly on
//! an async task.
//!
//! Peers as processes of their own are tested with `peer-node` (a test
//! program of the `integration-tests` crate: `peer-node peer URI`, then
//! `transact …`, `watch :attr`, `sync`, `q …`), which also runs
//! `cargo bench -p integration-tests --bench peer`: commit-to-report
//! latency, and reads through a cache smaller than the database.
//!
//! ```
//! use std::sync::Arc;
//! use index::{SegmentCache, Segments, create_db};
//! use peer::{Config, Peer};
//! use storage_core::{DbName, Registry};
//! use transactor::{Server, Transactor};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A transactor serving database `shop` (usually `accrete transactor URI`).
//! let (storage, _) = Registry::default().open("mem://peer-doc").await?;
//! let shop = DbName::new("shop")?;
//! create_db(&storage, &shop).await?;
//! let server = Server::bind("127.0.0.1:0").await?;
//! let endpoint = Some(server.local_addr().to_string());
//! let seg = Segments::new(storage, SegmentCache::new(16 << 20)?);
//! let config = transactor::Config { endpoint, ..Default::default() };
//! server.serve(Arc::new(Transactor::start(seg, &shop, config).await?));
//!
//! // The application.
//! let peer = Peer::new(Config::default())?;
//! let conn = peer.connect("mem://peer-doc?db=shop").await?;
//! let mut reports = conn.tx_report_queue()?;
//! conn.transact(r#"[{:db/ident :item/name :db/valueType :db.type/string
//!                    :db/cardinality :db.cardinality/one}]"#).await?;
//! let widget = conn.transact(r#"[{:db/id "w" :item/name "widget"}]"#).await?;
//!
//! let schema = reports.next().await?;
//! let report = reports.next().await?;
//! assert_eq!(report.t(), widget.t());
//! assert_eq!(report.db_before.basis_t(), schema.t());
//!
//! let db = conn.sync().await?; // includes everything committed so far
//! let names = tokio::task::spawn_blocking(move || {
//!     query::q("[:find [?name ...] :where [_ :item/name ?name]]", &[db.into()])
//! }).await??;
//! assert_eq!(names.len(), 1);
//! # Ok(()) }
//! ```

mod config;
mod connection;
mod error;
mod follower;
mod hub;
mod peer;
mod queue;
mod replay;
#[cfg(test)]
mod test_chain;

pub use config::Config;
pub use connection::{Connection, TransactorInfo};
pub use error::{Error, ErrorKind, Result};
pub use peer::{Peer, builtin_registry};
pub use queue::TxReportQueue;

pub use index::CacheStats;
pub use model::{Db, TxReport};
