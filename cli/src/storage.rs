//! Opening storages by URI with the backends this binary was built with.

use std::sync::Arc;

use index::{SegmentCache, Segments};
use storage_core::{DbName, Registry, Storage, StorageUri};

use crate::exit::Outcome;

/// The segment cache of one-shot commands.
const COMMAND_CACHE_BYTES: u64 = 256 << 20;

/// Every backend built into this binary (cargo features).
pub(crate) fn registry() -> Registry {
    #[allow(unused_mut)] // without any backend feature only `mem` is left
    let mut registry = Registry::default();
    #[cfg(feature = "file")]
    storage_file::register(&mut registry);
    #[cfg(feature = "postgres")]
    storage_postgres::register(&mut registry);
    #[cfg(feature = "cassandra")]
    storage_cassandra::register(&mut registry);
    registry
}

/// The storage a URI names.
pub(crate) async fn open(uri: &str) -> Outcome<(Arc<dyn Storage>, StorageUri)> {
    Ok(registry().open(uri).await?)
}

/// The storage and the database a URI names (it must have `?db=`).
pub(crate) async fn open_db(uri: &str) -> Outcome<(Arc<dyn Storage>, DbName)> {
    let (storage, parsed) = open(uri).await?;
    let db = parsed.require_db()?.clone();
    Ok((storage, db))
}

/// Segments of `storage` with a cache for one command.
pub(crate) fn segments(storage: Arc<dyn Storage>) -> Outcome<Segments> {
    Ok(Segments::new(
        storage,
        SegmentCache::new(COMMAND_CACHE_BYTES)?,
    ))
}
