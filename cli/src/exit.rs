//! Exit codes: what a failed command means for the script that ran it.

use std::fmt;
use std::process::ExitCode;

use transactor::ErrorKind;

/// The exit codes of `accrete`, as printed by `accrete --help`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage error (bad arguments)
  2  invalid input: bad URI, EDN, index or query; transaction refused by the
     rules; no such database or keyspace
  3  storage or transactor unavailable: nothing was changed, try again
  4  conflict: fenced by another transactor, the lease is held by a live
     transactor this command cannot reach, or the database already exists;
     a restore that needs --force
  5  outcome unknown: the transaction may have committed; read before retrying
  6  corrupt or unreadable stored data (verify-db and verify-backup: damage
     was found), or a backup of a format this build does not read
  7  refused: wrong or missing credentials, no permission, an address in
     use, or another failure that trying again will not cure; change what
     the message names (an internal error, a task that panicked: report it)
  130, 143  stopped by SIGINT or SIGTERM (an embedded transactor first
     released its lease)";

/// Why a command failed, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Usage = 1,
    Invalid = 2,
    Unavailable = 3,
    Conflict = 4,
    Unknown = 5,
    Corruption = 6,
    Refused = 7,
    Interrupted = 130,
    Terminated = 143,
}

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(Code::Invalid, message)
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code as u8)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a command.
pub(crate) type Outcome<T = ()> = Result<T, Failure>;

/// The exit code of every shared error kind: the one table behind
/// [`EXIT_CODES`].
pub(crate) fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Invalid | ErrorKind::NotFound => Code::Invalid,
        ErrorKind::Unavailable
        | ErrorKind::Overloaded
        | ErrorKind::ShuttingDown
        | ErrorKind::NotServing
        | ErrorKind::Timeout
        | ErrorKind::Closed => Code::Unavailable,
        ErrorKind::Fenced | ErrorKind::LeaseHeld | ErrorKind::Conflict => Code::Conflict,
        ErrorKind::OutcomeUnknown => Code::Unknown,
        ErrorKind::Corruption | ErrorKind::Protocol => Code::Corruption,
        // Not "try again", and not corruption: change what the message
        // names, or report the bug.
        ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::Internal => Code::Refused,
    }
}

impl From<transactor::Error> for Failure {
    /// By the error's kind; an "unavailable" whose cause is permanent (a
    /// storage error that is not retryable, an address in use) is
    /// [`Code::Refused`], never "try again".
    fn from(e: transactor::Error) -> Self {
        let code = match e.kind() {
            ErrorKind::Unavailable if permanent_cause(&e) => Code::Refused,
            kind => code_of(kind),
        };
        let message = match e.tx_code() {
            Some(_) => format!("transaction refused: {}", e.message()),
            // Not "unavailable": that would say "try again".
            None if code == Code::Refused => format!("refused: {}", e.message()),
            None => e.to_string(),
        };
        Failure::new(code, message)
    }
}

/// True when a cause in `e`'s source chain says trying again cannot help:
/// a storage error that is not retryable and not more specific (wrong
/// credentials, a missing server-side database, no permission), or a
/// socket the system refuses (address in use or not local, no permission).
fn permanent_cause(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as Io;
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(storage) = c.downcast_ref::<storage_core::Error>() {
            return matches!(storage, storage_core::Error::Backend { .. });
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                Io::AddrInUse | Io::AddrNotAvailable | Io::PermissionDenied
            );
        }
        cause = c.source();
    }
    false
}

impl From<storage_core::Error> for Failure {
    fn from(e: storage_core::Error) -> Self {
        transactor::Error::from(e).into()
    }
}

impl From<access::Error> for Failure {
    fn from(e: access::Error) -> Self {
        transactor::Error::from(e).into()
    }
}

impl From<model::Error> for Failure {
    fn from(e: model::Error) -> Self {
        transactor::Error::from(e).into()
    }
}

impl From<index::Error> for Failure {
    fn from(e: index::Error) -> Self {
        match e {
            index::Error::DbExists(_) => Failure::new(Code::Conflict, e.to_string()),
            other => transactor::Error::from(other).into(),
        }
    }
}

impl From<query::Error> for Failure {
    /// The query crate's message, by its shared kind: a query to fix (2),
    /// a failure to read the database or the query's timeout (3),
    /// undecodable data (6).
    fn from(e: query::Error) -> Self {
        Failure::new(code_of(e.shared_kind()), e.to_string())
    }
}

impl From<ops::Error> for Failure {
    fn from(e: ops::Error) -> Self {
        let code = match e.kind() {
            // The system refused (an address in use, a file that cannot be
            // read): trying again will not cure it.
            ErrorKind::Unavailable => Code::Refused,
            kind => code_of(kind),
        };
        Failure::new(code, e.message())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_core::Error as S;

    fn backend(detail: &str) -> S {
        S::Backend {
            backend: "postgres",
            op: "open".into(),
            detail: detail.into(),
            source: None,
        }
    }

    fn io(kind: std::io::ErrorKind) -> transactor::Error {
        transactor::Error::io("listening on 127.0.0.1:4334", std::io::Error::from(kind))
    }

    /// Every cause a command can fail with, and the code a script sees:
    /// only what may cure itself is 3 ("nothing was changed, try again").
    #[test]
    fn causes_map_to_exit_codes() {
        let name = storage_core::RootName::new("db/x/log").unwrap();
        let cases: Vec<(&str, Failure, Code)> = vec![
            (
                "a server that does not answer",
                S::Unavailable {
                    backend: "cassandra",
                    op: "open".into(),
                    detail: "connection refused".into(),
                    source: None,
                }
                .into(),
                Code::Unavailable,
            ),
            (
                "a full disk",
                S::Unavailable {
                    backend: "file",
                    op: "put_segment".into(),
                    detail: "No space left on device".into(),
                    source: None,
                }
                .into(),
                Code::Unavailable,
            ),
            (
                "a timeout",
                S::Timeout {
                    backend: "postgres",
                    op: "read_root".into(),
                }
                .into(),
                Code::Unavailable,
            ),
            (
                "a wrong password",
                backend("password authentication failed (28P01)").into(),
                Code::Refused,
            ),
            (
                "missing credentials",
                backend("Authentication failed: no credentials").into(),
                Code::Refused,
            ),
            (
                "a missing PostgreSQL database",
                backend("database \"nope\" does not exist (3D000)").into(),
                Code::Refused,
            ),
            (
                "a storage path below a file",
                S::invalid("storage path /etc/passwd/x: a component is a file").into(),
                Code::Invalid,
            ),
            (
                "a bad URI",
                S::invalid("storage URI `x`: has no scheme").into(),
                Code::Invalid,
            ),
            (
                "an address in use",
                io(std::io::ErrorKind::AddrInUse).into(),
                Code::Refused,
            ),
            (
                "an address not on this machine",
                io(std::io::ErrorKind::AddrNotAvailable).into(),
                Code::Refused,
            ),
            (
                "a network failure",
                io(std::io::ErrorKind::ConnectionReset).into(),
                Code::Unavailable,
            ),
            (
                "an unknown outcome",
                S::OutcomeUnknown {
                    name: name.clone(),
                    detail: "timeout".into(),
                }
                .into(),
                Code::Unknown,
            ),
            (
                "corruption",
                S::Corruption {
                    what: "segment".into(),
                    detail: "hash".into(),
                }
                .into(),
                Code::Corruption,
            ),
            (
                "a missing accrete database",
                index::Error::DbNotFound("x".into()).into(),
                Code::Invalid,
            ),
        ];
        for (cause, failure, code) in cases {
            assert_eq!(failure.code, code, "{cause}: {failure}");
        }
    }

    #[test]
    fn query_failures_say_whether_to_fix_the_query_or_retry() {
        let invalid = query::Error::new(query::ErrorKind::UnboundVariable, "?x", ":find ?x");
        assert_eq!(Failure::from(invalid).code, Code::Invalid);
        let storage = model::Error::Storage {
            operation: "reading a segment".into(),
            source: Box::new(std::io::Error::other("connection refused")),
        };
        let failure = Failure::from(query::Error::model(storage, "[?e :a/b]"));
        assert_eq!(failure.code, Code::Unavailable);
        assert!(failure.message.contains("reading a segment"), "{failure}");
        let undecodable = model::Error::Decode {
            what: "segment",
            message: "bad magic".into(),
        };
        let failure = Failure::from(query::Error::model(undecodable, "[?e :a/b]"));
        assert_eq!(failure.code, Code::Corruption);
        let timeout = query::Error::new(query::ErrorKind::Timeout, "ran 5s", "");
        assert_eq!(Failure::from(timeout).code, Code::Unavailable);
        let too_large = query::Error::new(query::ErrorKind::TooLarge, "rows", "");
        assert_eq!(Failure::from(too_large).code, Code::Invalid);
    }

    /// The exit codes `accrete --help` documents, kind by kind; a task that
    /// panicked is neither corruption (6) nor invalid input (2).
    #[test]
    fn every_kind_has_its_documented_exit_code() {
        let table = [
            (ErrorKind::Invalid, 2),
            (ErrorKind::NotFound, 2),
            (ErrorKind::Unavailable, 3),
            (ErrorKind::Overloaded, 3),
            (ErrorKind::ShuttingDown, 3),
            (ErrorKind::NotServing, 3),
            (ErrorKind::Timeout, 3),
            (ErrorKind::Closed, 3),
            (ErrorKind::Fenced, 4),
            (ErrorKind::LeaseHeld, 4),
            (ErrorKind::Conflict, 4),
            (ErrorKind::OutcomeUnknown, 5),
            (ErrorKind::Corruption, 6),
            (ErrorKind::Protocol, 6),
            (ErrorKind::Unauthenticated, 7),
            (ErrorKind::Forbidden, 7),
            (ErrorKind::Internal, 7),
        ];
        assert_eq!(table.len(), ErrorKind::ALL.len());
        for (kind, code) in table {
            assert_eq!(code_of(kind) as u8, code, "{kind:?}");
            assert!(EXIT_CODES.contains(&format!("\n  {code}  ")), "{code}");
        }
        let panicked = transactor::Error::new(ErrorKind::Internal, "a task panicked");
        assert_eq!(Failure::from(panicked).code, Code::Refused);
        let backup_backend = backup::Error::from(backend("password authentication failed"));
        assert_eq!(
            Failure::from(backup_backend).code,
            Code::Refused,
            "was 3 (try again) before issue 23"
        );
        let system = ops::Error::unavailable("address in use");
        assert_eq!(Failure::from(system).code, Code::Refused);
        let setting = ops::Error::invalid("bad flag");
        assert_eq!(Failure::from(setting).code, Code::Invalid);
    }
}
