//! Opening storages by URI with the backends this binary was built with.

use std::sync::Arc;

use index::{SegmentCache, Segments};
use storage_core::{DbName, Registry, Storage, StorageUri};

use crate::exit::{Failure, Outcome};

/// The segment cache of one-shot commands.
const COMMAND_CACHE_BYTES: u64 = 256 << 20;

/// Every backend built into this binary (cargo features, forwarded to
/// the `backends` crate).
pub(crate) fn registry() -> Registry {
    backends::registry()
}

/// The existing storage a URI names: a `file:` path where there is no
/// storage is an error, never a new storage (a mistyped path must not
/// look like an empty storage).
pub(crate) async fn open(uri: &str) -> Outcome<(Arc<dyn Storage>, StorageUri)> {
    open_as(uri, false).await
}

/// The storage a URI names, created if it is a `file:` path where there is
/// none yet: for the commands that create databases.
pub(crate) async fn open_creating(uri: &str) -> Outcome<(Arc<dyn Storage>, StorageUri)> {
    open_as(uri, true).await
}

async fn open_as(uri: &str, create: bool) -> Outcome<(Arc<dyn Storage>, StorageUri)> {
    let parsed = StorageUri::parse(uri)?;
    let existing_file = parsed.scheme() == "file" && !create;
    let opened = match existing_file {
        #[cfg(feature = "file")]
        true => storage_file::open_existing(&parsed).await,
        // Without the file backend the registry says it is not built in.
        _ => registry().open_parsed(&parsed).await,
    };
    match opened {
        // Recorded through the metrics facade: a no-op until a command
        // installs a recorder (`transactor --metrics-listen`).
        Ok(storage) => Ok((storage_core::metered(storage), parsed)),
        Err(e) => Err(with_keyspace_hint(e.into(), &parsed)),
    }
}

/// [`with_keyspace_hint`] for a failure of a command on `uri` after it
/// opened the storage: a keyspace dropped while in use is told as one
/// missing at open.
pub(crate) fn keyspace_hint(failure: Failure, uri: &str) -> Failure {
    match StorageUri::parse(uri) {
        Ok(parsed) => with_keyspace_hint(failure, &parsed),
        Err(_) => failure,
    }
}

/// A Cassandra keyspace that does not exist: the command of this tool
/// that creates it, first, then the backend's message (once).
fn with_keyspace_hint(mut failure: Failure, uri: &StorageUri) -> Failure {
    let missing = format!("keyspace `{}` does not exist", uri.path());
    if uri.scheme() != "cassandra" || failure.message.contains("accrete create-keyspace") {
        return failure;
    }
    if let Some(at) = failure.message.find(&missing) {
        let hint = format!(
            "; create it with: accrete create-keyspace '{uri}' --dc DC_NAME=3 (or --simple N in a single data centre)"
        );
        failure.message.insert_str(at + missing.len(), &hint);
    }
    failure
}

/// The existing storage and the database a URI names (it must have
/// `?db=`).
pub(crate) async fn open_db(uri: &str) -> Outcome<(Arc<dyn Storage>, DbName)> {
    StorageUri::parse(uri)?.require_db()?;
    let (storage, parsed) = open(uri).await?;
    let db = parsed.require_db()?.clone();
    Ok((storage, db))
}

/// [`open_db`], creating a `file:` storage that is not there yet.
pub(crate) async fn open_db_creating(uri: &str) -> Outcome<(Arc<dyn Storage>, DbName)> {
    StorageUri::parse(uri)?.require_db()?;
    let (storage, parsed) = open_creating(uri).await?;
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
