//! The one error type of the transactor and its client: a kind that says
//! what to do, a message that says what happened.

use std::fmt;

/// What a failure means for the caller. Every kind says whether a
/// transaction could have committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused (tx data that breaks a rule, bad EDN, a bad
    /// request or argument): fix it. Nothing was committed.
    Invalid,
    /// The database does not exist (or was deleted).
    NotFound,
    /// Another transactor holds the database now; this one was deposed and
    /// did not commit the transaction. Re-read the lease and retry there.
    Fenced,
    /// Novelty is over its hard cap while an indexing job catches up: retry
    /// later. Nothing was committed.
    Overloaded,
    /// Storage or the transactor could not be reached; nothing was
    /// committed, the same request may be repeated.
    Unavailable,
    /// The transaction may or may not have committed (the connection or the
    /// storage failed after it was sent): ask `tx_status` for its id, or
    /// resubmit it under the same id (which commits at most once).
    OutcomeUnknown,
    /// The transactor is stopping; nothing was committed.
    ShuttingDown,
    /// This endpoint does not serve that database (any more): re-read the
    /// lease root for the current transactor.
    NotServing,
    /// The peer on the other end broke the protocol or speaks another
    /// version.
    Protocol,
    /// Stored data could not be decoded or is missing: report it.
    Corruption,
    /// Another live transactor holds the database's lease and the caller
    /// would not wait for it to lapse.
    LeaseHeld,
    /// The client did not prove who it is (no credentials, a wrong,
    /// revoked or expired token or certificate, or too many failed
    /// attempts): present valid credentials. Nothing was committed.
    Unauthenticated,
    /// The client is known but lacks the role this needs on the database:
    /// ask for a grant. Nothing was committed.
    Forbidden,
}

impl ErrorKind {
    /// Every kind, in wire-code order.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Fenced,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::OutcomeUnknown,
        ErrorKind::ShuttingDown,
        ErrorKind::NotServing,
        ErrorKind::Protocol,
        ErrorKind::Corruption,
        ErrorKind::LeaseHeld,
        ErrorKind::Unauthenticated,
        ErrorKind::Forbidden,
    ];

    /// The byte that stands for this kind in the protocol (PROTOCOL.md).
    pub fn code(self) -> u8 {
        match self {
            ErrorKind::Invalid => 1,
            ErrorKind::NotFound => 2,
            ErrorKind::Fenced => 3,
            ErrorKind::Overloaded => 4,
            ErrorKind::Unavailable => 5,
            ErrorKind::OutcomeUnknown => 6,
            ErrorKind::ShuttingDown => 7,
            ErrorKind::NotServing => 8,
            ErrorKind::Protocol => 10,
            ErrorKind::Corruption => 11,
            ErrorKind::LeaseHeld => 12,
            ErrorKind::Unauthenticated => 13,
            ErrorKind::Forbidden => 14,
        }
    }

    /// The kind a protocol byte stands for.
    pub fn from_code(code: u8) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// True when the transaction definitely did not commit.
    pub fn not_committed(self) -> bool {
        self != ErrorKind::OutcomeUnknown
    }

    fn label(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not found",
            ErrorKind::Fenced => "fenced: not committed",
            ErrorKind::Overloaded => "overloaded: not committed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::ShuttingDown => "shutting down: not committed",
            ErrorKind::NotServing => "not serving",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Corruption => "corruption",
            ErrorKind::LeaseHeld => "lease held",
            ErrorKind::Unauthenticated => "unauthenticated: not committed",
            ErrorKind::Forbidden => "forbidden: not committed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A failure of the transactor, its storage, or the protocol.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The `:db.error/...` keyword of a refused transaction.
    tx_code: Option<String>,
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

    /// The same error with a refused transaction's rule keyword.
    pub fn with_tx_code(mut self, code: impl Into<String>) -> Self {
        self.tx_code = Some(code.into());
        self
    }

    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The same error with `context` (what was being done) in front,
    /// unless the message already says it.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        let context = context.to_string();
        // "database `x`: database `x` does not exist" says it twice.
        if !self.message.contains(&context) {
            self.message = format!("{context}: {}", self.message);
        }
        self
    }

    /// An [`ErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    /// An [`ErrorKind::Protocol`] error.
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// An [`ErrorKind::Fenced`] error.
    pub fn fenced(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Fenced, message)
    }

    /// An [`ErrorKind::Unavailable`] error for a failed network operation.
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        Error::new(ErrorKind::Unavailable, format!("{what}: {e}")).with_source(e)
    }

    /// True when the transaction definitely did not commit.
    pub fn not_committed(&self) -> bool {
        self.kind.not_committed()
    }
}

impl From<storage_core::Error> for Error {
    fn from(e: storage_core::Error) -> Self {
        use storage_core::Error as S;
        if let S::InvalidInput(message) = &e {
            return Error::invalid(message.clone());
        }
        let kind = match &e {
            S::Unavailable { .. } | S::Timeout { .. } => ErrorKind::Unavailable,
            S::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            S::Corruption { .. } => ErrorKind::Corruption,
            S::Conflict { .. } => ErrorKind::Fenced,
            _ => ErrorKind::Unavailable,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

impl From<access::Error> for Error {
    fn from(e: access::Error) -> Self {
        use access::ErrorKind as A;
        let kind = match e.kind() {
            A::Unauthenticated => ErrorKind::Unauthenticated,
            A::Forbidden => ErrorKind::Forbidden,
            A::Invalid => ErrorKind::Invalid,
            A::Corruption => ErrorKind::Corruption,
            _ => ErrorKind::Unavailable,
        };
        Error::new(kind, e.message().to_string())
    }
}

/// Network failures of the protocol's byte stream.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io("network", e)
    }
}

impl From<model::Error> for Error {
    fn from(e: model::Error) -> Self {
        let kind = match &e {
            _ if e.is_invalid_input() => ErrorKind::Invalid,
            _ if e.is_storage() => ErrorKind::Unavailable,
            _ => ErrorKind::Corruption,
        };
        let code = e.tx_kind().map(|k| k.code());
        let error = Error::new(kind, e.to_string());
        match code {
            Some(code) => error.with_tx_code(code),
            None => error,
        }
    }
}

impl From<index::Error> for Error {
    fn from(e: index::Error) -> Self {
        use index::Error as I;
        match e {
            I::Storage(e) => e.into(),
            I::Model(e) => e.into(),
            I::DbNotFound(_) => Error::new(ErrorKind::NotFound, e.to_string()),
            I::DbExists(_) | I::Invalid(_) => Error::invalid(e.to_string()),
            e if e.is_corruption() => Error::new(ErrorKind::Corruption, e.to_string()),
            e if e.is_retryable() => Error::new(ErrorKind::Unavailable, e.to_string()),
            e => Error::new(ErrorKind::Corruption, e.to_string()),
        }
    }
}

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_not_repeated() {
        let missing = Error::new(ErrorKind::NotFound, "database `x` does not exist");
        assert_eq!(
            missing.context("database `x`").message(),
            "database `x` does not exist"
        );
        let other = Error::new(ErrorKind::Unavailable, "storage down");
        assert_eq!(
            other.context("database `x`").message(),
            "database `x`: storage down"
        );
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(200), None);
    }

    #[test]
    fn refused_transactions_keep_their_rule() {
        let db = model::Db::new();
        let refused = db
            .with_edn(
                "[[:db/add 1 :no/such 1]]",
                model::edn::Instant(1),
                &Default::default(),
            )
            .unwrap_err();
        let e = Error::from(refused);
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.tx_code(), Some(":db.error/not-an-attribute"));
        assert!(e.not_committed());
        assert!(e.to_string().starts_with("invalid: "), "{e}");
    }

    #[test]
    fn storage_failures_keep_their_meaning() {
        let name = storage_core::RootName::new("db/x/log").unwrap();
        let unknown = Error::from(storage_core::Error::OutcomeUnknown {
            name,
            detail: "lost".into(),
        });
        assert_eq!(unknown.kind(), ErrorKind::OutcomeUnknown);
        assert!(!unknown.not_committed());
        let bad = Error::from(storage_core::Error::invalid("bad uri"));
        assert_eq!(bad.kind(), ErrorKind::Invalid);
    }
}
