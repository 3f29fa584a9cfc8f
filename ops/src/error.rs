//! The error of this crate: what was wrong, said for the operator.

use std::fmt;

/// A setting that cannot be used, or a listener that cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// What kind of failure an [`Error`] is: the shared kinds of
/// [`storage_core::ErrorKind`]. Operations' errors are
/// [`ErrorKind::Invalid`] (a setting, flag, variable or file is wrong: fix
/// it) or [`ErrorKind::Unavailable`] (the system refused: an address in
/// use, a file that cannot be read).
pub use storage_core::ErrorKind;

impl Error {
    /// An invalid setting.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A refusal of the system.
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
