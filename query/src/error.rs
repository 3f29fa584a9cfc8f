//! The one error type of the crate: what went wrong, of which kind, and
//! where in the query (the clause, binding or find element as the user
//! wrote it, printed as EDN).

use std::fmt;

/// The kind of a query failure. Every kind but [`ErrorKind::Storage`],
/// [`ErrorKind::Timeout`] and [`ErrorKind::Cancelled`] means the query or
/// its inputs must be fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The query, a rule or a pull pattern is not well formed.
    Syntax,
    /// A variable is used where nothing binds it (`:find`, `:with`, a rule head).
    UnboundVariable,
    /// A predicate, function, rule call, `not` or `or-join` needs variables
    /// that no clause binds before it.
    InsufficientBinding,
    /// An attribute constant names no attribute.
    UnknownAttribute,
    /// A rule call names no rule, or passes the wrong number of arguments.
    Rule,
    /// A function name that is neither built in nor registered.
    UnknownFunction,
    /// A function or predicate failed (wrong argument types, overflow …).
    Function,
    /// The inputs do not match the `:in` bindings.
    Input,
    /// A source named in a clause is not among the inputs, or is of the
    /// wrong kind for the clause.
    Source,
    /// The database failed to deliver data (storage): the query may be retried.
    Storage,
    /// The query ran longer than its timeout.
    Timeout,
    /// The caller cancelled the query (e.g. its client went away).
    Cancelled,
    /// An intermediate result grew past the row limit the caller set:
    /// narrow the query.
    TooLarge,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Syntax => "invalid query",
            ErrorKind::UnboundVariable => "unbound variable",
            ErrorKind::InsufficientBinding => "insufficient binding",
            ErrorKind::UnknownAttribute => "unknown attribute",
            ErrorKind::Rule => "rule error",
            ErrorKind::UnknownFunction => "unknown function",
            ErrorKind::Function => "function failed",
            ErrorKind::Input => "wrong input",
            ErrorKind::Source => "wrong source",
            ErrorKind::Storage => "storage failure",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::TooLarge => "result too large",
        })
    }
}

/// A query failure: its kind, what was wrong, and the part of the query it
/// concerns (a clause, a binding, a find element or a pull pattern).
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}{}", at_suffix(.at))]
pub struct Error {
    kind: ErrorKind,
    message: String,
    at: String,
    #[source]
    source: Option<model::Error>,
}

fn at_suffix(at: &str) -> String {
    match at.is_empty() {
        true => String::new(),
        false => format!(", in {at}"),
    }
}

impl Error {
    /// An error of `kind` about the part of the query printed as `at`.
    pub fn new(kind: ErrorKind, message: impl Into<String>, at: impl fmt::Display) -> Error {
        Error {
            kind,
            message: message.into(),
            at: at.to_string(),
            source: None,
        }
    }

    /// A failure of the database while evaluating the part printed as `at`.
    /// Invalid arguments the model refuses count as invalid input, every
    /// other model failure as storage.
    pub fn model(source: model::Error, at: impl fmt::Display) -> Error {
        let kind = match source.is_invalid_input() {
            true => ErrorKind::Input,
            false => ErrorKind::Storage,
        };
        Error {
            kind,
            message: source.to_string(),
            at: at.to_string(),
            source: Some(source),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What was wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The part of the query the error concerns, printed as EDN (may be empty).
    pub fn at(&self) -> &str {
        &self.at
    }

    /// What the failure means for the caller, in the kinds every layer
    /// shares ([`storage_core::ErrorKind`]); [`Error::kind`] keeps the
    /// query's own detail. A mistake in the query or its inputs (and a
    /// result over the row limit) is invalid input; a query stopped by its
    /// timeout or its caller is a timeout (nothing was changed: run it
    /// again, or with more time); a failed read of the database is
    /// unavailable storage, unless the data did not decode (corruption).
    pub fn shared_kind(&self) -> storage_core::ErrorKind {
        use storage_core::ErrorKind as K;
        match self.kind {
            ErrorKind::Syntax
            | ErrorKind::UnboundVariable
            | ErrorKind::InsufficientBinding
            | ErrorKind::UnknownAttribute
            | ErrorKind::Rule
            | ErrorKind::UnknownFunction
            | ErrorKind::Function
            | ErrorKind::Input
            | ErrorKind::Source
            | ErrorKind::TooLarge => K::Invalid,
            ErrorKind::Timeout | ErrorKind::Cancelled => K::Timeout,
            // A read of the database value failed: storage that did not
            // answer, or stored data the model could not take.
            ErrorKind::Storage => match self.source.as_ref().map(model::Error::cause) {
                None | Some(model::Cause::Storage) => K::Unavailable,
                Some(model::Cause::Data | model::Cause::Input) => K::Corruption,
            },
        }
    }

    /// True when the query or its inputs must change (retrying won't help).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Storage | ErrorKind::Timeout | ErrorKind::Cancelled
        )
    }

    /// Names the part of the query an error concerns, unless it already names one.
    pub(crate) fn at_if_unset(mut self, at: impl fmt::Display) -> Error {
        if self.at.is_empty() {
            self.at = at.to_string();
        }
        self
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for a syntax error.
pub(crate) fn syntax(message: impl Into<String>, at: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Syntax, message, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_core::ErrorKind as K;

    #[test]
    fn every_kind_maps_to_what_the_caller_does() {
        for (kind, shared) in [
            (ErrorKind::Syntax, K::Invalid),
            (ErrorKind::UnboundVariable, K::Invalid),
            (ErrorKind::InsufficientBinding, K::Invalid),
            (ErrorKind::UnknownAttribute, K::Invalid),
            (ErrorKind::Rule, K::Invalid),
            (ErrorKind::UnknownFunction, K::Invalid),
            (ErrorKind::Function, K::Invalid),
            (ErrorKind::Input, K::Invalid),
            (ErrorKind::Source, K::Invalid),
            (ErrorKind::TooLarge, K::Invalid),
            (ErrorKind::Timeout, K::Timeout),
            (ErrorKind::Cancelled, K::Timeout),
            (ErrorKind::Storage, K::Unavailable),
        ] {
            assert_eq!(Error::new(kind, "x", "").shared_kind(), shared, "{kind:?}");
        }
        let undecodable = model::Error::Decode {
            what: "segment",
            message: "bad magic".into(),
        };
        let e = Error::model(undecodable, "[?e :a/b]");
        assert_eq!(e.shared_kind(), K::Corruption, "{e}");
    }
}
