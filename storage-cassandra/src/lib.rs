//! The Cassandra/ScyllaDB storage backend: segments written at quorum and
//! roots changed by Paxos lightweight transactions.
//!
//! A URI `cassandra://HOST[:PORT][,HOST[:PORT]…]/KEYSPACE?db=NAME[&table_prefix=…&consistency=quorum|local_quorum&dc=…]`
//! names a keyspace of a cluster; [`config`] lists every setting. The
//! keyspace must exist: creating it takes a replication decision, so it is
//! an explicit step ([`create_keyspace`]); opening a store creates only its
//! three tables ([`schema`]) and says how to create a missing keyspace.
//!
//! - **Segments** are written at QUORUM (or LOCAL_QUORUM), marked
//!   idempotent; above [`CHUNK_BYTES`] they are split into chunk rows
//!   written before the row that lists them. Reads go to ONE first — bytes
//!   that hash to their id are proof enough — and again at QUORUM when ONE
//!   finds nothing or bytes that do not match. Listing walks the ring by
//!   token; deletion removes the row, then its chunks.
//! - **Roots** change only through lightweight transactions (`INSERT … IF
//!   NOT EXISTS`, `UPDATE … IF rev = ?`) at serial consistency SERIAL (or
//!   LOCAL_SERIAL) and are read at SERIAL; a root is never written plainly
//!   or deleted. LWTs are never retried by the driver and never
//!   speculatively executed; a CAS write timeout, a client timeout or a
//!   connection broken after sending is settled by a SERIAL re-read and the
//!   writer nonce ([`storage_core::cas_resolving_ambiguity`]), and only if
//!   that fails does the caller see [`storage_core::Error::OutcomeUnknown`].
//!   A root change costs one LWT, and a conflict reports the current root
//!   from that same LWT. Each root row also remembers who wrote its last 16
//!   revisions, so an ambiguous write is settled even when the root moved
//!   on before the re-read; within one handle, Paxos rounds on one root take
//!   turns instead of pre-empting each other.
//!
//! Credentials come from the environment or a file, TLS from rustls
//! (cargo feature `tls`), and frames are lz4-compressed. With the `testkit`
//! feature, [`testkit`] gives other crates' tests a simulated cluster (and a
//! real one where the environment names it).
//!
//! This crate is not a general Cassandra client: it knows only these three
//! tables, and it does not interpret segments or roots.
//!
//! ```
//! use storage_core::{CasOutcome, Registry, RootName, RootValue, StorageExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cluster = storage_cassandra::testkit::TestCluster::sim().await?;
//! # let uri = cluster.scratch_uri("orders").await?;
//! // uri is like "cassandra://10.0.0.1,10.0.0.2/accrete?db=orders"
//! let mut registry = Registry::default();
//! storage_cassandra::register(&mut registry);
//! let (storage, uri) = registry.open(&uri).await?;
//! assert_eq!(uri.db().map(|d| d.as_str()), Some("orders"));
//!
//! let id = storage.put_frame(1, b"some datoms").await?;
//! assert_eq!(storage.get_frame(id).await?.unwrap().payload.as_ref(), b"some datoms");
//!
//! let log = RootName::new("db/orders/log")?;
//! let first = storage.cas_root(&log, None, &RootValue::new(id.to_string())?).await?;
//! assert!(matches!(first, CasOutcome::Applied(_)));
//! # Ok(()) }
//! ```

pub mod config;
mod error;
mod keyspace;
mod roots;
pub mod schema;
mod segments;
mod session;
mod statements;
mod store;
mod tls;

#[cfg(feature = "testkit")]
pub mod testkit;

use std::sync::Arc;

use async_trait::async_trait;
use storage_core::{BackendFactory, Registry, Result, Storage, StorageUri};

pub use config::{Level, Settings, TlsMode};
pub use keyspace::{KeyspaceStatus, Replication, create_keyspace};
pub use schema::CHUNK_BYTES;
pub use store::CassandraStorage;

/// The URI scheme of this backend.
pub const SCHEME: &str = "cassandra";

/// Opens `cassandra://` URIs.
#[derive(Debug, Default, Clone, Copy)]
pub struct CassandraFactory;

#[async_trait]
impl BackendFactory for CassandraFactory {
    fn scheme(&self) -> &'static str {
        SCHEME
    }

    async fn open(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>> {
        let settings = Settings::from_uri(uri)?;
        Ok(Arc::new(CassandraStorage::open(settings).await?))
    }
}

/// Adds the Cassandra backend to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(CassandraFactory));
}
