//! The one error type of the crate.
//!
//! Callers tell three situations apart: the input was bad (EDN syntax, a
//! transaction that breaks a rule, a bad argument: fix the input), stored
//! bytes could not be decoded (corruption or a format this build does not
//! know), and the persistent layer failed (storage: retry or report).

use std::fmt;

/// Why a transaction was refused. [`TxErrorKind::code`] gives the keyword
/// Datomic users know from `:db.error/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxErrorKind {
    /// A form is not a list form, a map or a registered function call.
    InvalidForm,
    /// An attribute position names no attribute.
    UnknownAttribute,
    /// An entity position names no entity (unknown ident, bad id).
    UnknownEntity,
    /// A value does not have the attribute's value type.
    WrongType,
    /// A unique attribute value is already held by another entity.
    UniqueConflict,
    /// `:db/cas` found another value than expected.
    CasFailed,
    /// A lookup ref `[:attr value]` matched no entity or is malformed.
    UnresolvedLookupRef,
    /// Two datoms of the transaction contradict each other.
    DatomConflict,
    /// A tempid was used wrongly (only as a value, or resolves to two entities).
    Tempid,
    /// A schema definition or alteration Datomic does not allow.
    Schema,
    /// A nested map that is neither a component nor has a unique attribute.
    InvalidNestedEntity,
    /// A transaction function is unknown or failed.
    TxFunction,
    /// The transaction instant does not move forward.
    TxInstant,
    /// An excision request that is malformed or targets protected data.
    Excision,
    /// The tx data asserts an attribute only the transactor writes
    /// (`:tx/principal`: who committed the transaction).
    Provenance,
    /// An entity lacks an attribute its `:db/ensure` spec requires (or
    /// the spec named is none).
    EntityAttrs,
    /// A predicate of an entity's `:db/ensure` spec does not hold.
    EntityPred,
}

impl TxErrorKind {
    /// The Datomic-style error keyword, e.g. `:db.error/unique-conflict`.
    pub fn code(self) -> &'static str {
        match self {
            TxErrorKind::InvalidForm => ":db.error/invalid-form",
            TxErrorKind::UnknownAttribute => ":db.error/not-an-attribute",
            TxErrorKind::UnknownEntity => ":db.error/not-an-entity",
            TxErrorKind::WrongType => ":db.error/wrong-type-for-attribute",
            TxErrorKind::UniqueConflict => ":db.error/unique-conflict",
            TxErrorKind::CasFailed => ":db.error/cas-failed",
            TxErrorKind::UnresolvedLookupRef => ":db.error/invalid-lookup-ref",
            TxErrorKind::DatomConflict => ":db.error/datoms-conflict",
            TxErrorKind::Tempid => ":db.error/invalid-tempid",
            TxErrorKind::Schema => ":db.error/invalid-schema",
            TxErrorKind::InvalidNestedEntity => ":db.error/invalid-nested-entity",
            TxErrorKind::TxFunction => ":db.error/transaction-function",
            TxErrorKind::TxInstant => ":db.error/past-tx-instant",
            TxErrorKind::Excision => ":db.error/invalid-excision",
            TxErrorKind::Provenance => ":db.error/provenance",
            TxErrorKind::EntityAttrs => ":db.error/entity-attrs",
            TxErrorKind::EntityPred => ":db.error/entity-pred",
        }
    }
}

impl fmt::Display for TxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What a model failure is about ([`Error::cause`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Input that breaks a rule: EDN that does not parse, tx data, a size
    /// over a limit, a bad argument. Where the input is the caller's, fix
    /// it; where it was read from storage or a backup, the data is damaged.
    Input,
    /// Encoded bytes that do not decode, or a log entry that does not fit
    /// the value it is replayed onto: stored data is damaged.
    Data,
    /// The persistent layer failed to deliver data; the operation may be
    /// retried.
    Storage,
}

/// Every failure of the crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// EDN text that does not parse.
    #[error("EDN syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the offending character.
        line: usize,
        /// 1-based column of the offending character.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A transaction broke a rule; nothing was applied.
    #[error("{kind} {message}, in {form}")]
    Tx {
        /// The rule that was broken.
        kind: TxErrorKind,
        /// What was wrong, in words.
        message: String,
        /// The offending form, printed as EDN as the user wrote it.
        form: String,
    },
    /// Tx data, a value or a transaction's datoms over a documented size
    /// limit ([`crate::limits`]); nothing was applied. The message says
    /// the size, the limit and what to do.
    #[error("{0}")]
    TooLarge(String),
    /// A bad argument to a read or conversion function.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Encoded bytes (log entries, segments) that cannot be decoded.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// What was wrong with the bytes.
        message: String,
    },
    /// A log replay that does not fit the database value it is applied to.
    #[error("cannot apply transaction log entry t={t}: {message}")]
    Replay {
        /// The t of the log entry.
        t: u64,
        /// What did not fit.
        message: String,
    },
    /// The persistent index layer (storage) failed to deliver data.
    #[error("storage failure while {operation}: {source}")]
    Storage {
        /// What the model was doing.
        operation: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Builds a transaction error naming the offending form.
    pub fn tx(kind: TxErrorKind, message: impl Into<String>, form: impl fmt::Display) -> Self {
        Error::Tx {
            kind,
            message: message.into(),
            form: form.to_string(),
        }
    }

    /// What the failure is about, every variant sorted by name (the error
    /// is `#[non_exhaustive]`, so the layers above sort [`Cause`]s into
    /// their kinds, not variants).
    pub fn cause(&self) -> Cause {
        match self {
            Error::Syntax { .. }
            | Error::Tx { .. }
            | Error::TooLarge(_)
            | Error::InvalidArgument(_) => Cause::Input,
            Error::Decode { .. } | Error::Replay { .. } => Cause::Data,
            Error::Storage { .. } => Cause::Storage,
        }
    }

    /// True when the caller's input was wrong (fix the input, don't retry).
    pub fn is_invalid_input(&self) -> bool {
        self.cause() == Cause::Input
    }

    /// True when the persistent layer failed (the operation may be retried).
    pub fn is_storage(&self) -> bool {
        self.cause() == Cause::Storage
    }

    /// The rule a refused transaction broke, if this is a transaction error.
    pub fn tx_kind(&self) -> Option<TxErrorKind> {
        match self {
            Error::Tx { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_cause() {
        let cases = [
            (
                Error::Syntax {
                    line: 1,
                    column: 2,
                    message: "x".into(),
                },
                Cause::Input,
            ),
            (
                Error::tx(TxErrorKind::InvalidForm, "x", "[:db/add]"),
                Cause::Input,
            ),
            (Error::TooLarge("x".into()), Cause::Input),
            (Error::InvalidArgument("x".into()), Cause::Input),
            (
                Error::Decode {
                    what: "log entry",
                    message: "x".into(),
                },
                Cause::Data,
            ),
            (
                Error::Replay {
                    t: 1001,
                    message: "x".into(),
                },
                Cause::Data,
            ),
            (
                Error::Storage {
                    operation: "reading".into(),
                    source: "x".into(),
                },
                Cause::Storage,
            ),
        ];
        for (e, cause) in cases {
            assert_eq!(e.cause(), cause, "{e}");
            assert_eq!(e.is_invalid_input(), cause == Cause::Input, "{e}");
            assert_eq!(e.is_storage(), cause == Cause::Storage, "{e}");
        }
    }
}
