//! The one error type of the crate: few kinds, each saying what to do.

use storage_core::{ErrorKind, SegmentId};

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading or writing a database's segments and roots.
///
/// - [`Error::Storage`]: the storage failed; [`Error::is_retryable`] says
///   whether the same call may simply be repeated.
/// - [`Error::CorruptSegment`], [`Error::MissingSegment`],
///   [`Error::CorruptRoot`]: stored data is damaged or gone; the error names
///   the segment or root. Nothing is retried or repaired silently.
/// - [`Error::Model`]: the database value refused data (a log entry that
///   does not replay) or a read of it failed.
/// - [`Error::DbNotFound`], [`Error::DbExists`], [`Error::Invalid`]: the
///   caller's input does not fit the storage as it is.
/// - [`Error::Internal`]: a task panicked.
///
/// [`Error::kind`] sorts every error into the shared [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] storage_core::Error),

    /// A segment's bytes do not decode as the node something expects there.
    #[error("corrupt segment {id} ({what}): {detail}")]
    CorruptSegment {
        /// The segment.
        id: SegmentId,
        /// What it was expected to be (e.g. "index leaf").
        what: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// A segment that a root reaches is not in storage.
    #[error("segment {id} ({what}) is missing from {backend} storage")]
    MissingSegment {
        /// The segment.
        id: SegmentId,
        /// What it was expected to be.
        what: &'static str,
        /// The backend it was read from.
        backend: &'static str,
    },

    /// A root's value does not decode.
    #[error("corrupt root `{name}`: {detail}")]
    CorruptRoot {
        /// The root.
        name: String,
        /// What is wrong.
        detail: String,
    },

    /// The database value refused data or a read of it failed.
    #[error(transparent)]
    Model(#[from] model::Error),

    /// No live database of this name is in the catalog.
    #[error("database `{0}` does not exist")]
    DbNotFound(String),

    /// A live database of this name is already in the catalog.
    #[error("database `{0}` already exists")]
    DbExists(String),

    /// The caller asked for something that does not fit (a log entry out of
    /// order, a transaction too large for a segment, a root of another
    /// database).
    #[error("invalid input: {0}")]
    Invalid(String),

    /// A task of the crate panicked (a bug): nothing is known about the
    /// work it was doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// What the failure means for the caller. A database value's failure
    /// is invalid input when the model says so, unavailable storage when a
    /// read failed, and otherwise data that does not decode or replay.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) => e.kind(),
            Error::CorruptSegment { .. }
            | Error::MissingSegment { .. }
            | Error::CorruptRoot { .. } => ErrorKind::Corruption,
            Error::Model(e) => model_kind(e),
            Error::DbNotFound(_) => ErrorKind::NotFound,
            Error::DbExists(_) => ErrorKind::Conflict,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// True when repeating the same call unchanged may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Storage(e) => e.is_retryable(),
            Error::Model(e) => e.is_storage(),
            _ => false,
        }
    }

    /// True when stored data is damaged or missing.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::CorruptSegment { .. }
            | Error::MissingSegment { .. }
            | Error::CorruptRoot { .. } => true,
            Error::Storage(e) => e.is_corruption(),
            _ => false,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    pub(crate) fn corrupt(id: SegmentId, what: &'static str, detail: impl Into<String>) -> Self {
        Error::CorruptSegment {
            id,
            what,
            detail: detail.into(),
        }
    }
}

/// The kind of a database value's failure: invalid input when the model
/// says the input broke a rule, unavailable storage when a read failed,
/// corruption when stored data did not decode or replay.
pub fn model_kind(e: &model::Error) -> ErrorKind {
    match e.cause() {
        model::Cause::Input => ErrorKind::Invalid,
        model::Cause::Storage => ErrorKind::Unavailable,
        model::Cause::Data => ErrorKind::Corruption,
    }
}

/// Reads through [`model::IndexStore`] report storage trouble as
/// [`model::Error::Storage`], keeping this error as the source.
impl From<Error> for model::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Model(inner) => inner,
            other => model::Error::Storage {
                operation: "reading the persistent index".into(),
                source: Box::new(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let id = SegmentId::of(b"x");
        let cases = [
            (
                Error::Storage(storage_core::Error::invalid("uri")),
                ErrorKind::Invalid,
            ),
            (
                Error::corrupt(id, "index leaf", "bad"),
                ErrorKind::Corruption,
            ),
            (
                Error::MissingSegment {
                    id,
                    what: "index leaf",
                    backend: "file",
                },
                ErrorKind::Corruption,
            ),
            (
                Error::CorruptRoot {
                    name: "db/x/log".into(),
                    detail: "torn".into(),
                },
                ErrorKind::Corruption,
            ),
            (Error::DbNotFound("x".into()), ErrorKind::NotFound),
            (Error::DbExists("x".into()), ErrorKind::Conflict),
            (Error::invalid("out of order"), ErrorKind::Invalid),
            (
                Error::Internal("a task panicked".into()),
                ErrorKind::Internal,
            ),
            (
                Error::Model(model::Error::InvalidArgument("x".into())),
                ErrorKind::Invalid,
            ),
            (
                Error::Model(model::Error::Decode {
                    what: "datom run",
                    message: "short".into(),
                }),
                ErrorKind::Corruption,
            ),
            (
                Error::Model(model::Error::Replay {
                    t: 1001,
                    message: "out of order".into(),
                }),
                ErrorKind::Corruption,
            ),
            (
                Error::Model(model::Error::Storage {
                    operation: "reading a leaf".into(),
                    source: "timed out".into(),
                }),
                ErrorKind::Unavailable,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }
}
