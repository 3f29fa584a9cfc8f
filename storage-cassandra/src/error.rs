//! What can go wrong talking to Cassandra, and its one translation into
//! [`storage_core::Error`].
//!
//! | failure | storage error | retry? |
//! |---|---|---|
//! | Unavailable, Overloaded, IsBootstrapping, rate limit; no connection to any node; a connection broken or refused | `Unavailable` | yes |
//! | ReadTimeout, WriteTimeout, ReadFailure, WriteFailure; the client's request timeout | `Timeout` | yes |
//! | Invalid because the keyspace or a table does not exist (dropped while in use) | `InvalidInput`, as a keyspace missing at open | no |
//! | Invalid, SyntaxError, Unauthorized, authentication, anything else | `Backend` | no |
//!
//! For a lightweight transaction, a failure after which the write may still
//! take effect ([`Failure::is_ambiguous`]) is not reported as above but
//! resolved with [`storage_core::cas_resolving_ambiguity`].

use scylla::errors::{DbError, ExecutionError, NewSessionError, PrepareError, RequestAttemptError};
use storage_core::Error;

use crate::SCHEME;

/// A failed request, before translation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// A statement failed.
    #[error("{0}")]
    Execution(Box<ExecutionError>),
    /// A statement could not be prepared.
    #[error("{0}")]
    Prepare(Box<PrepareError>),
    /// No session could be opened.
    #[error("{0}")]
    Connect(Box<NewSessionError>),
    /// Our own deadline passed.
    #[error("no answer within {seconds:.1} s")]
    Deadline {
        /// The deadline that passed.
        seconds: f64,
    },
    /// The answer did not have the shape the statement promises.
    #[error("unexpected result: {0}")]
    Shape(String),
}

impl From<ExecutionError> for Failure {
    fn from(e: ExecutionError) -> Self {
        Failure::Execution(Box::new(e))
    }
}

impl From<PrepareError> for Failure {
    fn from(e: PrepareError) -> Self {
        Failure::Prepare(Box::new(e))
    }
}

impl From<NewSessionError> for Failure {
    fn from(e: NewSessionError) -> Self {
        Failure::Connect(Box::new(e))
    }
}

enum Meaning {
    Unavailable,
    Timeout,
    Other,
}

impl Failure {
    /// A result-shape failure.
    pub(crate) fn shape(e: impl std::fmt::Display) -> Self {
        Failure::Shape(e.to_string())
    }

    /// True when a lightweight transaction that failed this way may still
    /// have been (or later be) applied: a write timeout of any write type (a
    /// CAS timeout leaves a proposal that a later round may complete; a
    /// commit timeout leaves an accepted one), a write or server failure, a
    /// connection broken after sending, the client's timeout, or an answer
    /// that arrived but could not be read.
    ///
    /// Everything else is definite: Unavailable and Overloaded are answered
    /// before Paxos starts, a read timeout comes from the read before the
    /// proposal, and a failure to get a connection means nothing was sent.
    pub(crate) fn is_ambiguous(&self) -> bool {
        let Failure::Execution(e) = self else {
            return false;
        };
        match e.as_ref() {
            ExecutionError::RequestTimeout(_) => true,
            ExecutionError::LastAttemptError(attempt) => match attempt {
                RequestAttemptError::DbError(db, _) => matches!(
                    db,
                    DbError::WriteTimeout { .. }
                        | DbError::WriteFailure { .. }
                        | DbError::ServerError
                ),
                RequestAttemptError::BrokenConnectionError(_)
                | RequestAttemptError::CqlResultParseError(_)
                | RequestAttemptError::BodyExtensionsParseError(_)
                | RequestAttemptError::UnexpectedResponse(_) => true,
                _ => false,
            },
            _ => false,
        }
    }

    fn db_error(&self) -> Option<&DbError> {
        let prepare = match self {
            Failure::Execution(e) => match e.as_ref() {
                ExecutionError::LastAttemptError(attempt) => return attempt_db_error(attempt),
                ExecutionError::PrepareError(p) => p,
                _ => return None,
            },
            Failure::Prepare(p) => p.as_ref(),
            _ => return None,
        };
        match prepare {
            PrepareError::AllAttemptsFailed { first_attempt } => attempt_db_error(first_attempt),
            _ => None,
        }
    }

    fn meaning(&self) -> Meaning {
        if let Some(db) = self.db_error() {
            return match db {
                DbError::Unavailable { .. }
                | DbError::Overloaded
                | DbError::IsBootstrapping
                | DbError::RateLimitReached { .. } => Meaning::Unavailable,
                DbError::ReadTimeout { .. }
                | DbError::WriteTimeout { .. }
                | DbError::ReadFailure { .. }
                | DbError::WriteFailure { .. } => Meaning::Timeout,
                _ => Meaning::Other,
            };
        }
        match self {
            Failure::Deadline { .. } => Meaning::Timeout,
            Failure::Execution(e) => match e.as_ref() {
                ExecutionError::RequestTimeout(_) => Meaning::Timeout,
                ExecutionError::ConnectionPoolError(_)
                | ExecutionError::EmptyPlan
                | ExecutionError::LastAttemptError(
                    RequestAttemptError::BrokenConnectionError(_)
                    | RequestAttemptError::UnableToAllocStreamId,
                ) => Meaning::Unavailable,
                _ => Meaning::Other,
            },
            Failure::Prepare(e) if matches!(e.as_ref(), PrepareError::ConnectionPoolError(_)) => {
                Meaning::Unavailable
            }
            Failure::Connect(e) if !is_authentication(e) && !is_tls(e) => Meaning::Unavailable,
            _ => Meaning::Other,
        }
    }

    /// What no longer exists, when the server refused the statement
    /// because its keyspace or table is gone (`Keyspace 'x' does not
    /// exist`, `unconfigured table x`): the keyspace was dropped, or the
    /// tables removed, while this process used them.
    fn missing_schema(&self) -> Option<String> {
        let Failure::Execution(e) = self else {
            return None;
        };
        let ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Invalid, text)) =
            e.as_ref()
        else {
            return None;
        };
        let unquoted = |name: &str| name.trim_matches(|c| c == '\'' || c == '"').to_string();
        if let Some(rest) = text.strip_prefix("Keyspace ")
            && let Some(keyspace) = rest.strip_suffix(" does not exist")
        {
            return Some(format!("keyspace `{}` does not exist", unquoted(keyspace)));
        }
        text.strip_prefix("unconfigured table ").map(|table| {
            format!(
                "table `{}` does not exist (its keyspace was dropped or the table removed)",
                unquoted(table)
            )
        })
    }

    /// The storage error for operation `op` (with its key).
    pub(crate) fn into_error(self, op: &str) -> Error {
        self.into_error_advising(op, "")
    }

    /// [`Failure::into_error`] with `advice` appended to the detail.
    pub(crate) fn into_error_advising(self, op: &str, advice: &str) -> Error {
        // The same condition as a keyspace missing at open, and as final.
        if let Some(missing) = self.missing_schema() {
            return Error::invalid(format!("{SCHEME} {op}: {missing}{advice}"));
        }
        let op = op.to_string();
        let detail = format!("{self}{advice}");
        match self.meaning() {
            Meaning::Unavailable => Error::Unavailable {
                backend: SCHEME,
                op,
                detail,
                source: Some(Box::new(self)),
            },
            Meaning::Timeout => Error::Timeout {
                backend: SCHEME,
                op: format!("{op} ({detail})"),
            },
            Meaning::Other => Error::Backend {
                backend: SCHEME,
                op,
                detail,
                source: Some(Box::new(self)),
            },
        }
    }
}

fn attempt_db_error(attempt: &RequestAttemptError) -> Option<&DbError> {
    match attempt {
        RequestAttemptError::DbError(db, _) => Some(db),
        _ => None,
    }
}

/// Whether opening a session failed on authentication (the driver nests the
/// server's answer deep inside pool and metadata errors, so its text is
/// what tells).
pub(crate) fn is_authentication(e: &NewSessionError) -> bool {
    e.to_string()
        .to_ascii_lowercase()
        .contains("authentication")
}

/// Whether opening a session failed in the TLS handshake (a certificate
/// the other side refused): trying again will not help.
pub(crate) fn is_tls(e: &NewSessionError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("certificate") || text.contains("handshake")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use scylla::errors::{ConnectionPoolError, WriteType};
    use scylla::statement::Consistency;

    use super::*;

    fn db(error: DbError) -> Failure {
        let attempt = RequestAttemptError::DbError(error, "from the server".into());
        Failure::from(ExecutionError::LastAttemptError(attempt))
    }

    fn write_timeout(write_type: WriteType) -> DbError {
        DbError::WriteTimeout {
            consistency: Consistency::Serial,
            received: 1,
            required: 2,
            write_type,
        }
    }

    /// `(failure, ambiguous for an LWT, retryable as a definite error)`.
    fn table() -> Vec<(&'static str, Failure, bool, bool)> {
        let unavailable = DbError::Unavailable {
            consistency: Consistency::Quorum,
            required: 2,
            alive: 1,
        };
        let read_timeout = DbError::ReadTimeout {
            consistency: Consistency::Quorum,
            received: 1,
            required: 2,
            data_present: false,
        };
        vec![
            (
                "CAS write timeout",
                db(write_timeout(WriteType::Cas)),
                true,
                true,
            ),
            (
                "commit write timeout",
                db(write_timeout(WriteType::Simple)),
                true,
                true,
            ),
            ("server error", db(DbError::ServerError), true, false),
            (
                "client timeout",
                Failure::from(ExecutionError::RequestTimeout(Duration::from_secs(1))),
                true,
                true,
            ),
            ("unavailable", db(unavailable), false, true),
            ("overloaded", db(DbError::Overloaded), false, true),
            ("read timeout", db(read_timeout), false, true),
            ("invalid", db(DbError::Invalid), false, false),
            ("unauthorized", db(DbError::Unauthorized), false, false),
            (
                "no connection",
                Failure::from(ExecutionError::ConnectionPoolError(
                    ConnectionPoolError::Initializing,
                )),
                false,
                true,
            ),
            (
                "empty plan",
                Failure::from(ExecutionError::EmptyPlan),
                false,
                true,
            ),
            (
                "no stream id",
                Failure::from(ExecutionError::LastAttemptError(
                    RequestAttemptError::UnableToAllocStreamId,
                )),
                false,
                true,
            ),
            (
                "our deadline",
                Failure::Deadline { seconds: 1.0 },
                false,
                true,
            ),
            ("bad result", Failure::shape("no [applied]"), false, false),
        ]
    }

    /// A keyspace or table dropped while in use is invalid input, as a
    /// keyspace missing at open, whatever the server's quoting.
    #[test]
    fn a_dropped_keyspace_or_table_is_invalid_input() {
        for (text, says) in [
            (
                "Keyspace 'ks1' does not exist",
                "keyspace `ks1` does not exist",
            ),
            (
                "Keyspace ks1 does not exist",
                "keyspace `ks1` does not exist",
            ),
            ("unconfigured table roots", "table `roots` does not exist"),
        ] {
            let attempt = RequestAttemptError::DbError(DbError::Invalid, text.into());
            let error = Failure::from(ExecutionError::LastAttemptError(attempt))
                .into_error("read_root catalog");
            assert!(
                matches!(&error, Error::InvalidInput(m) if m.contains(says) && m.contains("read_root catalog")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn failures_are_classified() {
        for (what, failure, ambiguous, retryable) in table() {
            assert_eq!(failure.is_ambiguous(), ambiguous, "{what}: ambiguous");
            let error = failure.into_error("cas_root r");
            assert_eq!(error.is_retryable(), retryable, "{what}: {error}");
            assert!(error.to_string().contains("cas_root r"), "{what}: {error}");
        }
    }
}
