//! The one error type of access control: a kind that says what to do and
//! a message that says what happened (never a secret).

use std::fmt;

/// What an access failure means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No credentials, or credentials that prove nothing (wrong, revoked or
    /// expired): present valid ones.
    Unauthenticated,
    /// The principal is known but lacks the role the request needs: ask an
    /// operator for a grant.
    Forbidden,
    /// A bad argument or setting (a malformed token, an unreadable
    /// certificate file, a bad principal name).
    Invalid,
    /// The access records in storage could not be read or written; the
    /// same request may be repeated.
    Unavailable,
    /// The stored access records could not be decoded.
    Corruption,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Corruption => "corruption",
        })
    }
}

/// An access failure.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What the failure means.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What happened, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An [`ErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    /// An [`ErrorKind::Unauthenticated`] error.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthenticated, message)
    }

    /// An [`ErrorKind::Forbidden`] error.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, message)
    }
}

impl From<storage_core::Error> for Error {
    fn from(e: storage_core::Error) -> Self {
        let kind = match &e {
            storage_core::Error::InvalidInput(_) => ErrorKind::Invalid,
            storage_core::Error::Corruption { .. } => ErrorKind::Corruption,
            _ => ErrorKind::Unavailable,
        };
        Error::new(kind, format!("access records in storage: {e}"))
    }
}

/// The result of access operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
