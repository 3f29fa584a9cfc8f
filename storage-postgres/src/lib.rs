//! The PostgreSQL storage backend: segments as rows and roots changed by
//! conditional UPDATE/INSERT.
//!
//! A URI `postgres://USER@HOST[:PORT][,HOST[:PORT]…]/PGDB?db=NAME[&schema=…]`
//! (also `postgresql://`) names a schema of a PostgreSQL database; the
//! backend creates two tables there on first use (idempotent DDL):
//!
//! - `segments (id, bytes, written_at)`: a put is `INSERT … ON CONFLICT DO
//!   NOTHING` and returns once committed; every read is checked against the
//!   id.
//! - `roots (name, rev, value)`: a compare-and-swap is one conditional
//!   `UPDATE … WHERE name = $1 AND rev = $2` or one `INSERT … ON CONFLICT DO
//!   NOTHING`. When the connection dies after the statement was sent, the
//!   outcome is settled by re-reading the root
//!   ([`storage_core::cas_resolving_ambiguity`]).
//!
//! Every statement is prepared; connections come from a pool
//! (`pool_size=`), are dropped when they die, and are made anew after a
//! server restart. Every call has a deadline (`connect_timeout=`,
//! `statement_timeout=`): it fails with a retryable error, never hangs.
//! Passwords come from `PGPASSWORD`, a password file or the URI and are
//! never printed; `sslmode` works as in libpq, over rustls. [`config`]
//! lists every setting.
//!
//! This crate is not a general PostgreSQL client: it knows only these two
//! tables, and it does not interpret segments or roots.
//!
//! ```
//! use storage_core::{CasOutcome, Registry, RootName, RootValue, StorageExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = storage_postgres::testkit::PgServer::shared().await?;
//! # let uri = server.scratch_uri("orders");
//! // uri is like "postgres://app@db1:5432/accrete?db=orders&schema=accrete"
//! let mut registry = Registry::default();
//! storage_postgres::register(&mut registry);
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
mod passfile;
mod schema;
mod store;
mod tls;

#[cfg(feature = "testkit")]
pub mod testkit;

use std::sync::Arc;

use async_trait::async_trait;
use storage_core::{BackendFactory, Registry, Result, Storage, StorageUri};

pub use config::{PasswordSource, SchemaName, Settings};
pub use store::PostgresStorage;
pub use tls::{RootCerts, SslMode};

/// The URI scheme of this backend (`postgresql` is accepted as well).
pub const SCHEME: &str = "postgres";

/// Opens `postgres://` URIs.
#[derive(Debug, Default, Clone, Copy)]
pub struct PostgresFactory;

#[async_trait]
impl BackendFactory for PostgresFactory {
    fn scheme(&self) -> &'static str {
        SCHEME
    }

    async fn open(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>> {
        let settings = Settings::from_uri(uri)?;
        Ok(Arc::new(PostgresStorage::open(settings).await?))
    }
}

/// Adds the PostgreSQL backend to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(PostgresFactory));
}
