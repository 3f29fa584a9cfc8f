//! The storage contract of accrete: the Storage trait, segment ids and codec,
//! root records with CAS, URIs, the in-memory backend and the conformance suite.
//!
//! A storage holds two kinds of records and only these two:
//!
//! - **Segments**: immutable blobs named by the BLAKE3 hash of their bytes
//!   ([`SegmentId`]), framed by [`codec`] and at most [`MAX_SEGMENT_BYTES`].
//!   They hold the bulk of every database.
//! - **Roots**: a handful of small records ([`Root`]) that change only by
//!   compare-and-swap on their [`Revision`]; every value carries the writer's
//!   [`Nonce`] so an ambiguous write is resolved the same way on every
//!   backend ([`cas_resolving_ambiguity`]); callers write roots through
//!   [`write_root`] and repeat calls through [`retry_retryable`], the one
//!   owner of ambiguity and retries (the design is in those items' module
//!   docs). A root is created at a random revision (its origin, uniform in
//!   `[1, 2^62)`), so a revision also names the incarnation of the root:
//!   after a storage is reset and the same names created again, a CAS that
//!   expects a revision of the old incarnation conflicts, except with
//!   probability about (writes to both) / 2^62 ([`Revision`]).
//!
//! The [`Storage`] trait is the contract every backend implements (its docs
//! say exactly what each method promises); [`StorageExt`] holds the
//! conveniences. A [`StorageUri`] names a backend, its address and a
//! database; a [`Registry`] opens it. This crate has the in-memory backend
//! ([`MemStorage`], `mem://NAME`); the others live in `storage-file`,
//! `storage-postgres` and `storage-cassandra`. With the `testkit` feature it
//! also has the conformance suite every backend passes and a
//! fault-injecting wrapper.
//!
//! This crate does not know what is *in* a segment or a root: datoms, logs
//! and indexes belong to the layers above.
//!
//! ```
//! use storage_core::{CasOutcome, Registry, RootName, RootValue, StorageExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> storage_core::Result<()> {
//! let (storage, uri) = Registry::default().open("mem://example").await?;
//! assert_eq!(uri.db().map(|d| d.as_str()), Some("example"));
//!
//! let id = storage.put_frame(1, b"some datoms").await?;
//! assert_eq!(storage.get_frame(id).await?.unwrap().payload.as_ref(), b"some datoms");
//!
//! let log = RootName::new("db/example/log")?;
//! let first = storage.cas_root(&log, None, &RootValue::new(id.to_string())?).await?;
//! assert!(matches!(first, CasOutcome::Applied(_)));
//! let again = storage.cas_root(&log, None, &RootValue::new("other")?).await?;
//! assert!(matches!(again, CasOutcome::Conflict(Some(_))));
//! # Ok(()) }
//! ```

mod ambiguity;
pub mod codec;
mod error;
pub mod kind;
mod mem;
mod metered;
mod registry;
mod root;
mod segment;
mod storage;
#[cfg(feature = "tls")]
pub mod tls;
mod uri;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use ambiguity::{
    CasAttempt, Resolution, RetryBudget, cas_resolving_ambiguity, resolve, retry_retryable,
    write_root,
};
pub use error::{BoxError, Error, Result, RevisionText};
pub use kind::ErrorKind;
pub use mem::MemStorage;
pub use metered::{Metered, error_kind, metered};
pub use registry::{BackendFactory, Registry};
pub use root::{
    CasOutcome, MAX_ROOT_NAME_BYTES, MAX_ROOT_VALUE_BYTES, Nonce, Revision, Root, RootName,
    RootValue, truncate_for_message,
};
pub use segment::{MAX_SEGMENT_BYTES, SegmentId};
pub use storage::{
    MAX_LIST_LIMIT, PageToken, SegmentInfo, SegmentInfoPage, SegmentPage, Storage, StorageExt,
    check_list_limit,
};
pub use uri::{DbName, HostPort, KNOWN_SCHEMES, Secret, StorageUri, parse_param_number};
