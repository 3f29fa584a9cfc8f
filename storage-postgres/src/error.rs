//! What can go wrong talking to PostgreSQL, and its one translation into
//! [`storage_core::Error`].
//!
//! | failure | storage error | retry? |
//! |---|---|---|
//! | connection refused, reset or closed; SQLSTATE class 08; `57P01`–`57P03` (shutdown, terminated backend, starting up); class 53 (out of connections, disk, memory); `40001`/`40P01` (serialization failure, deadlock); `25006` (a read-only standby) | `Unavailable` | yes |
//! | the call's deadline; `57014` (statement timeout); `55P03` (lock timeout) | `Timeout` | yes |
//! | `XX001`/`XX002` (data or index corrupted) | `Corruption` | no |
//! | `28000`/`28P01` (authentication), `3D000` (no such database), `42501` (permission), TLS, anything else | `Backend` | no |
//!
//! For a root write, a failure that leaves open whether the server applied
//! it ([`Failure::is_ambiguous`]) is not reported as above but resolved
//! with [`storage_core::cas_resolving_ambiguity`].

use std::error::Error as _;

use deadpool_postgres::PoolError;
use storage_core::Error;
use tokio_postgres::error::{DbError, SqlState};

use crate::SCHEME;
use crate::config::{PasswordSource, Settings};

/// A failed call, before translation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// No connection could be had from the pool.
    #[error("could not connect: {}", describe_pool(.0))]
    Connect(PoolError),
    /// A statement failed, or its connection died.
    #[error("{}", describe(.0))]
    Statement(tokio_postgres::Error),
    /// The call's deadline passed; `sent` once the statement was sent.
    #[error("no answer within {seconds:.1} s")]
    Deadline {
        /// The deadline that passed.
        seconds: f64,
        /// Whether the statement had been sent.
        sent: bool,
    },
}

/// What a failure means for the caller.
enum Meaning {
    Unavailable,
    Timeout,
    Corruption,
    Other,
}

impl Failure {
    /// True when the server may have applied the statement: the
    /// connection died without an answer, the deadline passed after
    /// sending, or the session was terminated (`57P01`, `57P02`, class 08:
    /// the server ends sessions at points we do not control, so the commit
    /// may have happened just before).
    ///
    /// A statement error the server reports for a live session, including
    /// a statement timeout or cancel (`57014`), is definite: the server
    /// disarms the statement timeout before committing and holds cancels
    /// during the commit, so the statement did not apply.
    pub(crate) fn is_ambiguous(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Deadline { sent, .. } => *sent,
            Failure::Statement(e) => match e.as_db_error() {
                None => true,
                Some(db) => {
                    let code = db.code();
                    code.code().starts_with("08")
                        || [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN].contains(code)
                }
            },
        }
    }

    /// True when the connection that failed must not be used again.
    pub(crate) fn spoils_connection(&self) -> bool {
        match self {
            Failure::Connect(_) => false,
            Failure::Deadline { .. } => true,
            Failure::Statement(e) => e.is_closed() || e.as_db_error().is_none(),
        }
    }

    /// The storage error for operation `op` (with its key).
    pub(crate) fn into_error(self, op: &str, settings: &Settings) -> Error {
        let detail = self.explain(settings);
        let op = op.to_string();
        let source = |f: Failure| -> Option<storage_core::BoxError> { Some(Box::new(f)) };
        match self.meaning() {
            Meaning::Unavailable => Error::Unavailable {
                backend: SCHEME,
                op,
                detail,
                source: source(self),
            },
            Meaning::Timeout => Error::Timeout {
                backend: SCHEME,
                op: format!("{op} ({detail})"),
            },
            Meaning::Corruption => Error::Corruption {
                what: format!("{} {op}", settings.schema),
                detail,
            },
            Meaning::Other => Error::Backend {
                backend: SCHEME,
                op,
                detail,
                source: source(self),
            },
        }
    }

    fn meaning(&self) -> Meaning {
        match self {
            Failure::Deadline { .. } => Meaning::Timeout,
            Failure::Connect(PoolError::Timeout(_)) => Meaning::Unavailable,
            Failure::Connect(PoolError::Backend(e)) | Failure::Statement(e) => meaning_of(e),
            Failure::Connect(_) => Meaning::Other,
        }
    }

    /// The message, with advice where the cause is the configuration.
    fn explain(&self, settings: &Settings) -> String {
        let code = match self {
            Failure::Connect(PoolError::Backend(e)) | Failure::Statement(e) => e.code(),
            _ => None,
        };
        let no_password = settings.password_source == PasswordSource::None;
        let advice = match code {
            None if no_password && self.to_string().contains("password missing") => format!(
                " (user `{}`, {}; give one with PGPASSWORD, a password file (PGPASSFILE, ~/.pgpass, passfile=) or the URI)",
                settings.user, settings.password_source
            ),
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                let hint = match settings.password_source {
                    PasswordSource::None => {
                        "; give one with PGPASSWORD, a password file (PGPASSFILE, ~/.pgpass, passfile=) or the URI"
                    }
                    _ => "",
                };
                format!(
                    " (user `{}`, {}{hint})",
                    settings.user, settings.password_source
                )
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => format!(
                " (the PostgreSQL database `{}` named in the URI path does not exist; create it first)",
                settings.database
            ),
            Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
                " (user `{}` needs USAGE and CREATE on schema `{}`, or CREATE on database `{}` to create it)",
                settings.user, settings.schema, settings.database
            ),
            _ => String::new(),
        };
        format!("{self}{advice}")
    }
}

fn meaning_of(e: &tokio_postgres::Error) -> Meaning {
    let Some(db) = e.as_db_error() else {
        let mut io = false;
        let mut source = e.source();
        while let Some(s) = source {
            // A refused certificate will not be accepted by trying again
            // (tokio-rustls hands rustls errors over inside io errors).
            let inner = s
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map_or(s, |inner| inner as &dyn std::error::Error);
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return Meaning::Other;
            }
            io |= s.downcast_ref::<std::io::Error>().is_some();
            source = s.source();
        }
        return if e.is_closed() || io {
            Meaning::Unavailable
        } else {
            Meaning::Other
        };
    };
    let code = db.code();
    let class = &code.code()[..2];
    if matches!(class, "08" | "53")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
    {
        Meaning::Unavailable
    } else if [SqlState::QUERY_CANCELED, SqlState::LOCK_NOT_AVAILABLE].contains(code) {
        Meaning::Timeout
    } else if [SqlState::DATA_CORRUPTED, SqlState::INDEX_CORRUPTED].contains(code) {
        Meaning::Corruption
    } else {
        Meaning::Other
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => describe_db(db),
        None => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text = format!("{text}: {part}");
                }
                source = s.source();
            }
            text
        }
    }
}

fn describe_db(db: &DbError) -> String {
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        text = format!("{text}; {detail}");
    }
    if let Some(hint) = db.hint() {
        text = format!("{text}; hint: {hint}");
    }
    text
}

fn describe_pool(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => describe(e),
        PoolError::Timeout(kind) => format!("timed out ({kind:?}) getting a connection"),
        other => other.to_string(),
    }
}
