//! The transactor of accrete: the one writer of a database. It holds the
//! database's lease, fences any previous holder, queues transactions and
//! makes each batch of them durable with one log write and one log-root
//! compare-and-swap (group commit), schedules indexing jobs in the
//! background, and serves all of this to other processes over a small
//! documented TCP protocol (`PROTOCOL.md`; the client side is [`client`]).
//!
//! - **Embedded**: [`Transactor::start`] runs it inside the application for
//!   single-process deployments on durable storage.
//! - **Standalone**: [`serve_databases`] with a [`Server`] is the `accrete
//!   transactor` process; a second one on the same databases stands by and
//!   takes over when the lease lapses. Its [`Security`] (TLS, and an
//!   [`access::Gate`] that authenticates every client before the handshake
//!   names a database and authorizes every request) keeps anything but
//!   loopback from answering without authentication; each transaction
//!   records its committer as `:tx/principal`.
//!
//! What it is not: the information model (`model`: transactions are a pure
//! function of a database value), the durable layout (`index`: log root,
//! segments, the indexing job itself, opening databases), or storage.
//!
//! Guarantees: a caller hears "committed" only after the log-root
//! compare-and-swap applied, and subscribers see a transaction only after
//! that; a transactor deposed by a newer lease epoch can never commit again
//! (its next compare-and-swap conflicts on the fenced log root, and it fails
//! what it holds with [`ErrorKind::Fenced`]: not committed).
//!
//! ```
//! use std::sync::Arc;
//! use index::{SegmentCache, Segments, create_db};
//! use storage_core::{DbName, MemStorage, Storage};
//! use transactor::{Config, Transactor};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let name = DbName::new("orders")?;
//! create_db(&storage, &name).await?;
//!
//! let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20)?);
//! let transactor = Transactor::start(seg, &name, Config::default()).await?;
//! transactor.transact_edn(r#"[{:db/ident :order/id :db/valueType :db.type/long
//!                              :db/cardinality :db.cardinality/one}]"#).await?;
//! let report = transactor.transact_edn(r#"[{:db/id "o" :order/id 1}]"#).await?;
//! assert_eq!(transactor.db().basis_t(), report.t());
//! transactor.shutdown().await?; // releases the lease for the next transactor
//! # Ok(()) }
//! ```

mod cas;
pub mod client;
mod clock;
mod commit;
mod config;
mod error;
mod feed;
mod fence;
mod handle;
pub mod lease;
mod observe;
pub mod protocol;
mod scope;
mod server;
mod standalone;
mod txid;
mod warm;

pub use clock::system_clock;
pub use commit::{Author, Metrics};
pub use config::{BackPressure, Clock, Config};
pub use error::{Error, ErrorKind, Result};
pub use feed::Feed;
pub use handle::{Queued, Transactor, parse_tx};
pub use scope::TxScope;
pub use server::{Security, Server};
pub use standalone::serve_databases;
pub use txid::TxStatus;
