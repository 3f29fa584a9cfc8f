//! The one error type of access control: a kind that says what to do and
//! a message that says what happened (never a secret).

/// What an access failure means for the caller: the shared kinds of
/// [`storage_core::ErrorKind`]. Access errors are
/// [`ErrorKind::Unauthenticated`] (no credentials, or credentials that
/// prove nothing: present valid ones), [`ErrorKind::Forbidden`] (the
/// principal lacks the role: ask for a grant), [`ErrorKind::Invalid`] (a
/// malformed token, an unreadable certificate file, a bad principal name),
/// and for the access records in storage whatever storage reported
/// ([`ErrorKind::Unavailable`], [`ErrorKind::Corruption`], ...).
pub use storage_core::ErrorKind;

/// An access failure.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", kind.name())]
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
        use storage_core::Error as S;
        let kind = match &e {
            S::InvalidInput(_) => ErrorKind::Invalid,
            S::Corruption { .. } => ErrorKind::Corruption,
            // As before the kinds were shared: every other failure of the
            // records' storage is reported as unavailable (a lost CAS or
            // an unknown outcome of a record write is re-read on retry).
            S::Unavailable { .. }
            | S::Timeout { .. }
            | S::Conflict { .. }
            | S::OutcomeUnknown { .. }
            | S::Backend { .. } => ErrorKind::Unavailable,
            other => other.kind(),
        };
        Error::new(kind, format!("access records in storage: {e}"))
    }
}

/// The result of access operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Access errors say their kind's name only: they are not about a
    /// transaction.
    #[test]
    fn messages_name_the_kind_alone() {
        let e = Error::unauthenticated("token revoked");
        assert_eq!(e.to_string(), "unauthenticated: token revoked");
        let e = Error::from(storage_core::Error::Corruption {
            what: "access records".into(),
            detail: "bad frame".into(),
        });
        assert_eq!(e.kind(), ErrorKind::Corruption);
        assert!(e.to_string().starts_with("corruption: "), "{e}");
    }
}
