//! The one semantic error type of the storage layer.

use std::fmt;

use crate::kind::ErrorKind;
use crate::root::{Revision, RootName};
use crate::segment::SegmentId;

/// A boxed error from a backend's driver, kept as the source of [`Error::Backend`]
/// and friends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every storage operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a storage operation.
///
/// Errors name the operation, the key and the backend, and never a secret.
/// A missing segment is not an error (`Ok(None)`); a lost compare-and-swap is
/// normally reported as [`crate::CasOutcome::Conflict`], and [`Error::Conflict`]
/// exists for the conveniences in [`crate::StorageExt`] that turn it into an
/// error.
///
/// [`Error::is_retryable`] tells whether repeating the *same* call unchanged
/// may succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A compare-and-swap lost: the root is not at the expected revision.
    #[error("root `{name}`: conflict, expected {expected}, found {found}")]
    Conflict {
        /// The root.
        name: RootName,
        /// The revision the caller expected.
        expected: RevisionText,
        /// The revision actually current.
        found: RevisionText,
    },

    /// Stored bytes are not what was written: a segment whose content does
    /// not hash to its id, a torn root record, an undecodable frame.
    #[error("corruption in {what}: {detail}")]
    Corruption {
        /// What is corrupt (a segment id, a root name, a file path).
        what: String,
        /// What is wrong with it.
        detail: String,
    },

    /// The backend cannot be reached or cannot serve the request at the
    /// required durability right now (server down, replicas unavailable).
    /// Nothing was changed by this call.
    #[error("{backend} unavailable during {op}: {detail}")]
    Unavailable {
        /// Which backend.
        backend: &'static str,
        /// The operation (with its key).
        op: String,
        /// What happened.
        detail: String,
        /// The driver's error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The operation did not complete in time. For a root write this is never
    /// returned while the outcome is ambiguous: that is [`Error::OutcomeUnknown`].
    #[error("{backend} timed out during {op}")]
    Timeout {
        /// Which backend.
        backend: &'static str,
        /// The operation (with its key).
        op: String,
    },

    /// A root write may or may not have been applied, and a linearizable
    /// re-read could not settle it: it may still land later. It proves
    /// neither "written" nor "not written". Sending the *same* value again
    /// is safe ([`crate::write_root`] does); writing a new value as if
    /// nothing had happened is wrong.
    #[error("root `{name}`: outcome of write unknown: {detail}")]
    OutcomeUnknown {
        /// The root.
        name: RootName,
        /// Why it could not be resolved.
        detail: String,
    },

    /// The caller passed something invalid: a bad URI, a root name with bad
    /// characters, a segment over the size limit, an id that does not match
    /// the bytes.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// Any other failure of the backend, with its source.
    #[error("{backend} error during {op}: {detail}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The operation (with its key).
        op: String,
        /// What happened.
        detail: String,
        /// The driver's error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// What the failure means for the caller. A [`Error::Timeout`] is
    /// [`ErrorKind::Unavailable`]: it is never an ambiguous write (that is
    /// [`Error::OutcomeUnknown`]), so nothing changed and the call may be
    /// repeated. A [`Error::Backend`] error is [`ErrorKind::Internal`]: the
    /// backend could not say it is transient (it is not
    /// [`Error::is_retryable`]), so retrying is not advised.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Corruption { .. } => ErrorKind::Corruption,
            Error::Unavailable { .. } | Error::Timeout { .. } => ErrorKind::Unavailable,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Error::InvalidInput(_) => ErrorKind::Invalid,
            Error::Backend { .. } => ErrorKind::Internal,
        }
    }

    /// True when repeating the same call unchanged may succeed (the backend
    /// was unavailable or slow and nothing was changed).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Timeout { .. })
    }

    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// A corruption error about segment `id`, found at `location` (a path, a
    /// table row), for `detail`.
    pub fn corrupt_segment(id: &SegmentId, location: &str, detail: impl Into<String>) -> Self {
        let what = if location.is_empty() {
            format!("segment {id}")
        } else {
            format!("segment {id} at {location}")
        };
        Error::Corruption {
            what,
            detail: detail.into(),
        }
    }

    /// An invalid-input error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// A backend error without a source.
    pub fn backend(
        backend: &'static str,
        op: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Backend {
            backend,
            op: op.into(),
            detail: detail.into(),
            source: None,
        }
    }
}

/// A revision, or its absence, as printed in a conflict message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionText(pub Option<Revision>);

impl fmt::Display for RevisionText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(r) => write!(f, "revision {}", r.get()),
            None => f.write_str("no root"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's kind; a backend error is not "try again".
    #[test]
    fn every_variant_has_its_kind() {
        let name = RootName::new("db/x/log").unwrap();
        let cases = [
            (
                Error::Conflict {
                    name: name.clone(),
                    expected: RevisionText(None),
                    found: RevisionText(None),
                },
                ErrorKind::Conflict,
            ),
            (
                Error::Corruption {
                    what: "segment".into(),
                    detail: "hash".into(),
                },
                ErrorKind::Corruption,
            ),
            (
                Error::Unavailable {
                    backend: "file",
                    op: "read".into(),
                    detail: "disk".into(),
                    source: None,
                },
                ErrorKind::Unavailable,
            ),
            (
                Error::Timeout {
                    backend: "postgres",
                    op: "read".into(),
                },
                ErrorKind::Unavailable,
            ),
            (
                Error::OutcomeUnknown {
                    name,
                    detail: "cut".into(),
                },
                ErrorKind::OutcomeUnknown,
            ),
            (Error::invalid("bad uri"), ErrorKind::Invalid),
            (
                Error::backend("postgres", "open", "password authentication failed"),
                ErrorKind::Internal,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.is_retryable(), kind.is_retryable(), "{e}");
        }
    }
}
