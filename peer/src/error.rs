//! The one error type of the peer: a kind that says what to do, a message
//! that says what happened.

use std::fmt;

/// What a failure means for the caller: the shared kinds of
/// [`storage_core::ErrorKind`]. The peer reports [`ErrorKind::Invalid`]
/// (fix the input; see [`Error::tx_code`]), [`ErrorKind::NotFound`] (the
/// database does not exist, or was deleted or replaced while the peer
/// followed it), [`ErrorKind::Unavailable`] (no transactor or storage
/// could be reached in time, or the transactor was fenced, shutting down or
/// not serving: nothing was committed, the call may be repeated),
/// [`ErrorKind::Overloaded`], [`ErrorKind::OutcomeUnknown`] (read the
/// database, e.g. after [`crate::Connection::sync`], before retrying),
/// [`ErrorKind::Timeout`] ([`crate::Connection::sync_t`] for a t that did
/// not arrive, or [`crate::Connection::transact`] for an answer: the
/// transaction may have committed then, see [`Error::committed_t`]),
/// [`ErrorKind::Corruption`] (the connection stops following),
/// [`ErrorKind::Protocol`], [`ErrorKind::Closed`] (the connection was
/// released), [`ErrorKind::Unauthenticated`] and [`ErrorKind::Forbidden`]
/// (fix [`crate::Config::connector`] or ask for a grant), and
/// [`ErrorKind::Internal`] (a task panicked).
pub use storage_core::ErrorKind;

/// A failure of the peer, the transactor it talks to, or storage.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The `:db.error/...` keyword of a refused transaction.
    tx_code: Option<String>,
    /// The t of a transaction that committed although the call failed.
    committed_t: Option<u64>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            tx_code: None,
            committed_t: None,
            source: None,
        }
    }

    /// What the failure means for the caller.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What happened, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For a refused transaction, the rule it broke (e.g.
    /// `:db.error/unique-conflict`).
    pub fn tx_code(&self) -> Option<&str> {
        self.tx_code.as_deref()
    }

    /// For a transact that failed after its transaction committed (its
    /// report did not reach this peer in time, or the connection was
    /// released meanwhile), the transaction's t.
    pub fn committed_t(&self) -> Option<u64> {
        self.committed_t
    }

    /// True when the transaction definitely did not commit.
    pub fn not_committed(&self) -> bool {
        self.committed_t.is_none() && self.kind.not_committed()
    }

    /// The same error, about a transaction that committed at `t`.
    pub(crate) fn after_commit(mut self, t: u64) -> Self {
        self.message = format!(
            "the transaction committed at t {t}, but its report is not here: {}",
            self.message
        );
        self.committed_t = Some(t);
        self
    }

    /// The same error with `context` (what was being done) in front.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn corruption(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corruption, message)
    }

    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// Failures the transactor or its client reported.
impl From<transactor::Error> for Error {
    fn from(e: transactor::Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::Invalid => ErrorKind::Invalid,
            ErrorKind::NotFound => ErrorKind::NotFound,
            ErrorKind::Overloaded => ErrorKind::Overloaded,
            ErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
            ErrorKind::Protocol => ErrorKind::Protocol,
            ErrorKind::Corruption => ErrorKind::Corruption,
            ErrorKind::Unauthenticated => ErrorKind::Unauthenticated,
            ErrorKind::Forbidden => ErrorKind::Forbidden,
            ErrorKind::Internal => ErrorKind::Internal,
            // Not committed, and another transactor may serve the retry.
            ErrorKind::Fenced
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
            | ErrorKind::LeaseHeld
            | ErrorKind::Unavailable => ErrorKind::Unavailable,
            // Not sent by the transactor; kept as they are.
            ErrorKind::Conflict => ErrorKind::Conflict,
            ErrorKind::Timeout => ErrorKind::Timeout,
            ErrorKind::Closed => ErrorKind::Closed,
        };
        let tx_code = e.tx_code().map(str::to_string);
        let error = Error::new(kind, e.to_string());
        Error {
            tx_code,
            ..error.with_source(e)
        }
    }
}

/// Failures reading the database's segments and roots.
impl From<index::Error> for Error {
    fn from(e: index::Error) -> Self {
        let kind = match &e {
            // A committed log entry that does not replay, or a read of a
            // database value that failed for good.
            index::Error::Model(m) if !m.is_storage() => ErrorKind::Corruption,
            // A backend error the backend did not classify: following
            // retries it (as before the kinds were shared).
            index::Error::Storage(s) if s.kind() == ErrorKind::Internal => ErrorKind::Unavailable,
            // Not a question a peer asks; said as what it is.
            index::Error::DbExists(_) => ErrorKind::Conflict,
            other => storage_kind(other.kind()),
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

/// What a storage or index failure is to the peer: a failed read may be
/// repeated (reconnecting or re-reading cures it) unless the data is bad,
/// the input is, the database is gone, or a task panicked.
fn storage_kind(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Invalid => ErrorKind::Invalid,
        ErrorKind::NotFound => ErrorKind::NotFound,
        ErrorKind::Corruption => ErrorKind::Corruption,
        ErrorKind::Internal => ErrorKind::Internal,
        // A read that timed out, a root that moved, an unknown outcome:
        // the peer's reads change nothing, and following retries them.
        ErrorKind::Unavailable
        | ErrorKind::Timeout
        | ErrorKind::Conflict
        | ErrorKind::OutcomeUnknown => ErrorKind::Unavailable,
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

/// Failures of storage itself (opening a URI, reading a root).
impl From<storage_core::Error> for Error {
    fn from(e: storage_core::Error) -> Self {
        index::Error::Storage(e).into()
    }
}

/// Failures of a database value's reads.
impl From<model::Error> for Error {
    fn from(e: model::Error) -> Self {
        index::Error::Model(e).into()
    }
}

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactor_kinds_map_to_what_the_caller_does() {
        use transactor::ErrorKind as T;
        let cases = [
            (T::Invalid, ErrorKind::Invalid),
            (T::Fenced, ErrorKind::Unavailable),
            (T::ShuttingDown, ErrorKind::Unavailable),
            (T::NotServing, ErrorKind::Unavailable),
            (T::Overloaded, ErrorKind::Overloaded),
            (T::OutcomeUnknown, ErrorKind::OutcomeUnknown),
            (T::Protocol, ErrorKind::Protocol),
            (T::Corruption, ErrorKind::Corruption),
            (T::LeaseHeld, ErrorKind::Unavailable),
            (T::Unavailable, ErrorKind::Unavailable),
            (T::NotFound, ErrorKind::NotFound),
            (T::Unauthenticated, ErrorKind::Unauthenticated),
            (T::Forbidden, ErrorKind::Forbidden),
            (T::Internal, ErrorKind::Internal),
        ];
        for (theirs, ours) in cases {
            let e = Error::from(transactor::Error::new(theirs, "x"));
            assert_eq!(e.kind(), ours, "{theirs:?}");
            assert_eq!(e.not_committed(), ours.not_committed(), "{theirs:?}");
            // What the transactor proved not committed stays proven.
            assert!(!theirs.not_committed() || e.not_committed(), "{theirs:?}");
        }
        let refused = transactor::Error::invalid("bad").with_tx_code(":db.error/unique-conflict");
        let e = Error::from(refused);
        assert_eq!(e.tx_code(), Some(":db.error/unique-conflict"));
        assert!(e.to_string().starts_with("invalid: "), "{e}");
    }

    #[test]
    fn storage_and_index_failures_keep_their_meaning() {
        let e = Error::from(storage_core::Error::invalid("bad uri"));
        assert_eq!(e.kind(), ErrorKind::Invalid);
        let e = Error::from(index::Error::DbNotFound("shop".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("`shop`"), "{e}");
        let name = storage_core::RootName::new("db/x/log").unwrap();
        let e = Error::from(storage_core::Error::OutcomeUnknown {
            name,
            detail: "lost".into(),
        });
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        let e = Error::from(storage_core::Error::backend("file", "open", "odd"));
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        let e = Error::from(index::Error::Internal("a task panicked".into()));
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        assert!(!e.not_committed());
    }
}
