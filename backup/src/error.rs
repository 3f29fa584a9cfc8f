//! The one error type of the crate: few kinds, each saying what to do.

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong backing up, restoring or verifying.
///
/// [`Error::kind`] sorts every error into what the caller should do about
/// it; the message names the location, the point, the database or the
/// segment concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage failed (a source, a target or a backup location).
    #[error(transparent)]
    Storage(#[from] storage_core::Error),

    /// Reading or writing a database's roots and segments failed.
    #[error(transparent)]
    Index(#[from] index::Error),

    /// A database value refused data while a restore replayed its log.
    #[error(transparent)]
    Model(#[from] model::Error),

    /// Reading the lease of a database restored over failed.
    #[error("reading the lease of `{db}`: {source}")]
    Lease {
        /// The database.
        db: String,
        /// What the transactor crate reported.
        #[source]
        source: transactor::Error,
    },

    /// A backup written in a format this build does not read.
    #[error("{location}: {detail}")]
    UnsupportedFormat {
        /// The backup location (and the record in it).
        location: String,
        /// Which version was found and which this build reads.
        detail: String,
    },

    /// A backup that is incomplete or damaged: a missing manifest or
    /// segment, a manifest that does not match what its root reaches.
    #[error("{location}: {detail}")]
    Damaged {
        /// The backup location (and the point).
        location: String,
        /// What is missing or wrong.
        detail: String,
    },

    /// Nothing is there: no backup at the location, no point that covers
    /// the requested t, no such database.
    #[error("{0}")]
    NotFound(String),

    /// The caller's input does not fit: a backup location that holds
    /// another database, a URI without a database name, a bad option.
    #[error("{0}")]
    Invalid(String),

    /// A restore that would replace another database or discard
    /// transactions, and was not forced.
    #[error("{0}")]
    Refused(String),

    /// A root changed under a restore or a backup between planning and
    /// committing; nothing was made visible, and running it again is safe.
    #[error("{0}")]
    Raced(String),
}

/// What the caller should do about an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is wrong (a name, a URI, an option): fix it.
    Invalid,
    /// What was asked for does not exist.
    NotFound,
    /// A storage is unreachable or overloaded; nothing was changed, try
    /// again.
    Unavailable,
    /// Refused without `force`, or a concurrent change: look, then decide.
    Conflict,
    /// A root write may or may not have happened: read before retrying.
    OutcomeUnknown,
    /// Stored data is damaged, missing, or in a format this build does
    /// not read.
    Corruption,
}

impl Error {
    /// What the caller should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) => storage_kind(e),
            Error::Index(e) => index_kind(e),
            Error::Model(e) if e.is_storage() => ErrorKind::Unavailable,
            Error::Model(_) => ErrorKind::Corruption,
            Error::Lease { source, .. } => lease_kind(source),
            Error::UnsupportedFormat { .. } | Error::Damaged { .. } => ErrorKind::Corruption,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Refused(_) | Error::Raced(_) => ErrorKind::Conflict,
        }
    }

    pub(crate) fn damaged(location: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Damaged {
            location: location.into(),
            detail: detail.into(),
        }
    }
}

fn storage_kind(e: &storage_core::Error) -> ErrorKind {
    use storage_core::Error as S;
    match e {
        _ if e.is_retryable() => ErrorKind::Unavailable,
        _ if e.is_corruption() => ErrorKind::Corruption,
        S::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
        S::Conflict { .. } => ErrorKind::Conflict,
        S::InvalidInput(_) => ErrorKind::Invalid,
        _ => ErrorKind::Unavailable,
    }
}

fn index_kind(e: &index::Error) -> ErrorKind {
    use index::Error as I;
    match e {
        I::Storage(inner) => storage_kind(inner),
        I::DbNotFound(_) => ErrorKind::NotFound,
        I::DbExists(_) => ErrorKind::Conflict,
        I::Invalid(_) => ErrorKind::Invalid,
        _ if e.is_retryable() => ErrorKind::Unavailable,
        _ => ErrorKind::Corruption,
    }
}

fn lease_kind(e: &transactor::Error) -> ErrorKind {
    use transactor::ErrorKind as T;
    match e.kind() {
        T::Unavailable | T::Overloaded => ErrorKind::Unavailable,
        T::OutcomeUnknown => ErrorKind::OutcomeUnknown,
        T::Invalid | T::NotFound => ErrorKind::Invalid,
        _ => ErrorKind::Corruption,
    }
}
