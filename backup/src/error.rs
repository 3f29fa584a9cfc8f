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

    /// A task of the crate panicked (a bug): nothing is known about the
    /// work it was doing.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What the caller should do about an [`Error`]: the shared kinds of
/// [`storage_core::ErrorKind`]. Backup errors are [`ErrorKind::Invalid`]
/// (a name, a URI, an option: fix it), [`ErrorKind::NotFound`],
/// [`ErrorKind::Unavailable`] (a storage is unreachable or overloaded;
/// nothing was changed, try again), [`ErrorKind::Conflict`] (refused
/// without `force`, or a concurrent change: look, then decide),
/// [`ErrorKind::OutcomeUnknown`] (a root write may or may not have
/// happened: read before retrying), [`ErrorKind::Corruption`] (stored data
/// is damaged, missing, or in a format this build does not read) and
/// [`ErrorKind::Internal`] (a task panicked, or a storage error that is not
/// transient: trying again will not help).
pub use storage_core::ErrorKind;

impl Error {
    /// What the caller should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) => storage_kind(e),
            Error::Index(e) => index_kind(e),
            // What backup hands the model was read from storage or a
            // backup: input that breaks the model's rules is damaged data.
            Error::Model(e) => match e.cause() {
                model::Cause::Storage => ErrorKind::Unavailable,
                model::Cause::Input | model::Cause::Data => ErrorKind::Corruption,
            },
            Error::Lease { source, .. } => lease_kind(source),
            Error::UnsupportedFormat { .. } | Error::Damaged { .. } => ErrorKind::Corruption,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Refused(_) | Error::Raced(_) => ErrorKind::Conflict,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn damaged(location: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Damaged {
            location: location.into(),
            detail: detail.into(),
        }
    }
}

/// A storage failure's kind, with timeouts counted as unavailable. A
/// backend error that is not transient stays [`ErrorKind::Internal`]: it
/// was [`ErrorKind::Unavailable`] ("try again") before the kinds were
/// shared, which a retry never cured.
fn storage_kind(e: &storage_core::Error) -> ErrorKind {
    lower_kind(e.kind())
}

fn index_kind(e: &index::Error) -> ErrorKind {
    match e {
        // A log entry that does not replay, a value that does not decode.
        index::Error::Model(m) if !m.is_storage() => ErrorKind::Corruption,
        other => lower_kind(other.kind()),
    }
}

/// What a kind of the storage or index layer is to backup's caller.
fn lower_kind(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Unavailable | ErrorKind::Timeout => ErrorKind::Unavailable,
        ErrorKind::Invalid => ErrorKind::Invalid,
        ErrorKind::NotFound => ErrorKind::NotFound,
        ErrorKind::Conflict => ErrorKind::Conflict,
        ErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
        ErrorKind::Corruption => ErrorKind::Corruption,
        ErrorKind::Internal => ErrorKind::Internal,
        // Kinds storage and the index do not report; kept as they are.
        ErrorKind::Fenced => ErrorKind::Fenced,
        ErrorKind::LeaseHeld => ErrorKind::LeaseHeld,
        ErrorKind::Overloaded => ErrorKind::Overloaded,
        ErrorKind::ShuttingDown => ErrorKind::ShuttingDown,
        ErrorKind::NotServing => ErrorKind::NotServing,
        ErrorKind::Closed => ErrorKind::Closed,
        ErrorKind::Protocol => ErrorKind::Protocol,
        ErrorKind::Unauthenticated => ErrorKind::Unauthenticated,
        ErrorKind::Forbidden => ErrorKind::Forbidden,
    }
}

/// Reading a lease record: what storage said, or a record that does not
/// decode.
fn lease_kind(e: &transactor::Error) -> ErrorKind {
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Overloaded => ErrorKind::Unavailable,
        ErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
        ErrorKind::Invalid | ErrorKind::NotFound => ErrorKind::Invalid,
        ErrorKind::Protocol | ErrorKind::Corruption => ErrorKind::Corruption,
        // Not what reading a lease reports; said as what they are (they
        // were corruption before the kinds were shared).
        ErrorKind::Fenced => ErrorKind::Fenced,
        ErrorKind::LeaseHeld => ErrorKind::LeaseHeld,
        ErrorKind::ShuttingDown => ErrorKind::ShuttingDown,
        ErrorKind::NotServing => ErrorKind::NotServing,
        ErrorKind::Unauthenticated => ErrorKind::Unauthenticated,
        ErrorKind::Forbidden => ErrorKind::Forbidden,
        ErrorKind::Conflict => ErrorKind::Conflict,
        ErrorKind::Timeout => ErrorKind::Timeout,
        ErrorKind::Closed => ErrorKind::Closed,
        ErrorKind::Internal => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage error that is not transient is not "try again" (it was
    /// `Unavailable` before issue 23), and a panicked task is not
    /// corruption or invalid input.
    #[test]
    fn permanent_failures_are_not_retryable() {
        let backend = Error::from(storage_core::Error::backend(
            "postgres",
            "open",
            "password authentication failed (28P01)",
        ));
        assert_eq!(backend.kind(), ErrorKind::Internal, "{backend}");
        assert!(!backend.kind().is_retryable());
        let through_index = Error::from(index::Error::Storage(storage_core::Error::backend(
            "file", "open", "odd",
        )));
        assert_eq!(through_index.kind(), ErrorKind::Internal);
        let panicked = Error::Internal("checking segment x: task panicked".into());
        assert_eq!(panicked.kind(), ErrorKind::Internal);
        let index_panicked = Error::from(index::Error::Internal("log read task".into()));
        assert_eq!(index_panicked.kind(), ErrorKind::Internal);
    }

    #[test]
    fn transient_and_input_failures_keep_their_kind() {
        let down = Error::from(storage_core::Error::Timeout {
            backend: "cassandra",
            op: "read_root".into(),
        });
        assert_eq!(down.kind(), ErrorKind::Unavailable);
        let bad = Error::from(storage_core::Error::invalid("bad uri"));
        assert_eq!(bad.kind(), ErrorKind::Invalid);
        let exists = Error::from(index::Error::DbExists("x".into()));
        assert_eq!(exists.kind(), ErrorKind::Conflict);
    }
}
