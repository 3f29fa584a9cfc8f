//! The one error type of the peer: a kind that says what to do, a message
//! that says what happened.

use std::fmt;

/// What a failure means for the caller. Every kind says whether a
/// transaction could have committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused: a bad URI, tx data that breaks a rule (see
    /// [`Error::tx_code`]), bad EDN, a setting out of range. Fix it;
    /// nothing was committed.
    Invalid,
    /// The database does not exist, or was deleted or replaced while the
    /// peer followed it.
    NotFound,
    /// No transactor (or storage) could be reached in time; nothing was
    /// committed. The same call may be repeated.
    Unavailable,
    /// The transactor refuses transactions while indexing catches up;
    /// nothing was committed. Retry later.
    Overloaded,
    /// The transaction may or may not have committed (the connection to the
    /// transactor broke after it was sent): read the database (e.g. after
    /// [`crate::Connection::sync`]) before retrying.
    OutcomeUnknown,
    /// A wait ran out: [`crate::Connection::sync_t`] for a t that did not
    /// arrive, or [`crate::Connection::transact`] for an answer (the
    /// transaction may have committed then: see [`Error::committed_t`]).
    Timeout,
    /// Stored data or a committed log entry could not be read or applied:
    /// report it. The connection stops following the database.
    Corruption,
    /// The transactor speaks another protocol version than this peer.
    Protocol,
    /// The connection was released (or every handle to it dropped);
    /// nothing more comes through it.
    Closed,
    /// The transactor refused the peer's credentials (none, wrong,
    /// revoked) or its principal lacks the role the request needs: fix
    /// [`crate::Config::connector`] or ask for a grant. Nothing was
    /// committed.
    Refused,
}

impl ErrorKind {
    /// True when a transaction that failed with this kind definitely did
    /// not commit.
    pub fn not_committed(self) -> bool {
        !matches!(self, ErrorKind::OutcomeUnknown | ErrorKind::Timeout)
    }

    fn label(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Overloaded => "overloaded: not committed",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Corruption => "corruption",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Closed => "connection closed",
            ErrorKind::Refused => "refused: not committed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

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
        use transactor::ErrorKind as T;
        let kind = match e.kind() {
            T::Invalid => ErrorKind::Invalid,
            T::NotFound => ErrorKind::NotFound,
            T::Overloaded => ErrorKind::Overloaded,
            T::OutcomeUnknown => ErrorKind::OutcomeUnknown,
            T::Protocol => ErrorKind::Protocol,
            T::Corruption => ErrorKind::Corruption,
            T::Unauthenticated | T::Forbidden => ErrorKind::Refused,
            // Fenced, shutting down, not serving, lease held, unavailable:
            // not committed, and another transactor may serve the retry.
            _ => ErrorKind::Unavailable,
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
            index::Error::DbNotFound(_) => ErrorKind::NotFound,
            index::Error::Invalid(_) => ErrorKind::Invalid,
            _ if e.is_corruption() => ErrorKind::Corruption,
            _ if e.is_retryable() => ErrorKind::Unavailable,
            index::Error::Storage(storage_core::Error::InvalidInput(_)) => ErrorKind::Invalid,
            index::Error::Storage(_) => ErrorKind::Unavailable,
            // A committed log entry that does not replay, or a read of a
            // database value that failed for good.
            _ => ErrorKind::Corruption,
        };
        Error::new(kind, e.to_string()).with_source(e)
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
        ];
        for (theirs, ours) in cases {
            let e = Error::from(transactor::Error::new(theirs, "x"));
            assert_eq!(e.kind(), ours, "{theirs:?}");
            assert_eq!(e.not_committed(), theirs.not_committed(), "{theirs:?}");
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
    }
}
