//! The one error type of the transactor and its client: a kind that says
//! what to do, a message that says what happened.

use std::fmt;

/// What a failure means for the caller: the shared kinds of
/// [`storage_core::ErrorKind`], each of which says whether a transaction
/// could have committed ([`ErrorKind::not_committed`]).
pub use storage_core::ErrorKind;

/// The byte that stands for `kind` in the protocol (PROTOCOL.md, "Error
/// kinds"): the codes of version 3, unchanged. The shared kinds version 3
/// has no code for are sent as the nearest kind that claims no more about
/// the transaction: an internal failure (a panicked task; the message says
/// so) and a wait that ran out as "outcome unknown", a lost compare-and-swap
/// as "fenced", a closed connection as "unavailable".
pub(crate) fn protocol_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Invalid => 1,
        ErrorKind::NotFound => 2,
        ErrorKind::Fenced | ErrorKind::Conflict => 3,
        ErrorKind::Overloaded => 4,
        ErrorKind::Unavailable | ErrorKind::Closed => 5,
        ErrorKind::OutcomeUnknown | ErrorKind::Internal | ErrorKind::Timeout => 6,
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
pub(crate) fn kind_of_protocol_code(code: u8) -> Option<ErrorKind> {
    Some(match code {
        1 => ErrorKind::Invalid,
        2 => ErrorKind::NotFound,
        3 => ErrorKind::Fenced,
        4 => ErrorKind::Overloaded,
        5 => ErrorKind::Unavailable,
        6 => ErrorKind::OutcomeUnknown,
        7 => ErrorKind::ShuttingDown,
        8 => ErrorKind::NotServing,
        10 => ErrorKind::Protocol,
        11 => ErrorKind::Corruption,
        12 => ErrorKind::LeaseHeld,
        13 => ErrorKind::Unauthenticated,
        14 => ErrorKind::Forbidden,
        _ => return None,
    })
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
        let kind = match e.kind() {
            ErrorKind::Invalid => ErrorKind::Invalid,
            ErrorKind::Unavailable | ErrorKind::Timeout => ErrorKind::Unavailable,
            ErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
            ErrorKind::Corruption => ErrorKind::Corruption,
            // A root moved under this transactor's CAS: another one took
            // the database.
            ErrorKind::Conflict => ErrorKind::Fenced,
            // A backend error the backend could not classify: peers retry
            // it (possibly on another transactor); the command line tells
            // a permanent cause apart by the source (`cli/src/exit.rs`).
            ErrorKind::Internal => ErrorKind::Unavailable,
            // Kinds storage does not report; kept as they are.
            kind @ (ErrorKind::NotFound
            | ErrorKind::Fenced
            | ErrorKind::LeaseHeld
            | ErrorKind::Overloaded
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
            | ErrorKind::Closed
            | ErrorKind::Protocol
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden) => kind,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

/// Access errors keep their kind (the kinds are shared): unauthenticated,
/// forbidden, invalid, and what the access records' storage reported.
impl From<access::Error> for Error {
    fn from(e: access::Error) -> Self {
        Error::new(e.kind(), e.message().to_string())
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
        let kind = index::model_kind(&e);
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
        let kind = match e {
            I::Storage(e) => return e.into(),
            I::Model(e) => return e.into(),
            ref other => other.kind(),
        };
        let kind = match kind {
            // A database that already exists: the caller's input.
            ErrorKind::Conflict => ErrorKind::Invalid,
            kind @ (ErrorKind::Invalid
            | ErrorKind::NotFound
            | ErrorKind::Corruption
            | ErrorKind::Internal
            | ErrorKind::Fenced
            | ErrorKind::LeaseHeld
            | ErrorKind::Overloaded
            | ErrorKind::Unavailable
            | ErrorKind::Timeout
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
            | ErrorKind::Closed
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Protocol
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden) => kind,
        };
        Error::new(kind, e.to_string())
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
            let heard = kind_of_protocol_code(protocol_code(kind)).unwrap();
            // A kind version 3 has no code for is heard as one that claims
            // no more: never "not committed" where that is not proven.
            assert!(!heard.not_committed() || kind.not_committed(), "{kind:?}");
        }
        for code in 0..=u8::MAX {
            if let Some(kind) = kind_of_protocol_code(code) {
                assert_eq!(protocol_code(kind), code, "{kind:?}");
            }
        }
        assert_eq!(kind_of_protocol_code(0), None);
        assert_eq!(kind_of_protocol_code(9), None, "reserved");
        assert_eq!(kind_of_protocol_code(15), None, "not in version 3");
        assert_eq!(
            kind_of_protocol_code(protocol_code(ErrorKind::Internal)),
            Some(ErrorKind::OutcomeUnknown)
        );
    }

    /// The codes (and the words) of the kinds the protocol had before the
    /// kinds were shared.
    #[test]
    fn protocol_codes_are_those_of_protocol_md() {
        let table = [
            (ErrorKind::Invalid, 1, "invalid"),
            (ErrorKind::NotFound, 2, "not found"),
            (ErrorKind::Fenced, 3, "fenced: not committed"),
            (ErrorKind::Overloaded, 4, "overloaded: not committed"),
            (ErrorKind::Unavailable, 5, "unavailable"),
            (ErrorKind::OutcomeUnknown, 6, "outcome unknown"),
            (ErrorKind::ShuttingDown, 7, "shutting down: not committed"),
            (ErrorKind::NotServing, 8, "not serving"),
            (ErrorKind::Protocol, 10, "protocol error"),
            (ErrorKind::Corruption, 11, "corruption"),
            (ErrorKind::LeaseHeld, 12, "lease held"),
            (
                ErrorKind::Unauthenticated,
                13,
                "unauthenticated: not committed",
            ),
            (ErrorKind::Forbidden, 14, "forbidden: not committed"),
        ];
        for (kind, code, label) in table {
            assert_eq!(protocol_code(kind), code, "{kind:?}");
            assert_eq!(kind.to_string(), label, "{kind:?}");
        }
    }

    #[test]
    fn index_task_panics_are_internal_not_invalid() {
        let e = Error::from(index::Error::Internal("a task panicked".into()));
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(!e.not_committed(), "a panic proves nothing: {e}");
        let exists = Error::from(index::Error::DbExists("x".into()));
        assert_eq!(exists.kind(), ErrorKind::Invalid);
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
