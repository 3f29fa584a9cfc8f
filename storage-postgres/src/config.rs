//! Connection settings: a `postgres://` URI plus the libpq environment
//! variables and password file, validated into [`Settings`].
//!
//! | URI parameter | environment | default | meaning |
//! |---|---|---|---|
//! | (user in URI) | `PGUSER`, then `USER` | — | role to connect as |
//! | (password in URI) | `PGPASSWORD`, then the password file | none | password (never printed) |
//! | (path) | `PGDATABASE` | the user name | PostgreSQL database |
//! | (port in URI) | `PGPORT` | 5432 | port of every host without one |
//! | `schema` | — | `accrete` | schema holding the `segments` and `roots` tables |
//! | `sslmode` | `PGSSLMODE` | `prefer` | `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full` |
//! | `sslrootcert` | `PGSSLROOTCERT` | `~/.postgresql/root.crt` | CA certificates (PEM), or `system` |
//! | `passfile` | `PGPASSFILE` | `~/.pgpass` | password file |
//! | `connect_timeout` | `PGCONNECT_TIMEOUT` | 10 | seconds to connect to one host |
//! | `statement_timeout` | — | 30000 | milliseconds one statement may run |
//! | `pool_size` | — | 16 | connections in the pool |
//! | `application_name` | `PGAPPNAME` | `accrete` | shown in `pg_stat_activity` |

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use storage_core::{Error, Result, Secret, StorageUri, parse_param_number, truncate_for_message};

use crate::passfile::{self, Target};
use crate::tls::{RootCerts, SslMode};

/// The URI parameters this backend understands (besides `db`).
pub const PARAMS: &[&str] = &[
    "schema",
    "sslmode",
    "sslrootcert",
    "passfile",
    "connect_timeout",
    "statement_timeout",
    "pool_size",
    "application_name",
];

const DEFAULT_PORT: u16 = 5432;
const DEFAULT_SCHEMA: &str = "accrete";
/// PostgreSQL silently truncates identifiers and names longer than this.
const MAX_NAME_BYTES: usize = 63;

/// Reads an environment variable; tests pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where the password came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Written into the URI.
    Uri,
    /// The `PGPASSWORD` environment variable.
    Environment,
    /// A line of this password file.
    Passfile(PathBuf),
    /// No password was found.
    None,
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Uri => f.write_str("password from the URI"),
            PasswordSource::Environment => f.write_str("password from PGPASSWORD"),
            PasswordSource::Passfile(p) => write!(f, "password from {}", p.display()),
            PasswordSource::None => f.write_str("no password given"),
        }
    }
}

/// A validated schema name: 1 to 63 lowercase ASCII letters, digits and
/// `_`, starting with a letter or `_`, not starting with `pg_`. Always
/// double-quoted in SQL as well.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SchemaName(String);

impl SchemaName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_BYTES
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with("pg_");
        if !valid {
            return Err(Error::invalid(format!(
                "schema `{}` must be 1 to {MAX_NAME_BYTES} lowercase ASCII letters, digits or `_`, starting with a letter or `_`, and not start with `pg_`",
                truncate_for_message(name)
            )));
        }
        Ok(SchemaName(name.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier.
    pub(crate) fn quoted(&self) -> String {
        // Validation admits no `"`, so quoting cannot be escaped.
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything needed to connect, from a URI and the environment.
#[derive(Clone)]
pub struct Settings {
    pub(crate) uri: String,
    pub(crate) hosts: Vec<(String, u16)>,
    pub(crate) user: String,
    pub(crate) password: Option<Secret>,
    pub(crate) password_source: PasswordSource,
    pub(crate) database: String,
    pub(crate) schema: SchemaName,
    pub(crate) ssl_mode: SslMode,
    pub(crate) root_certs: RootCerts,
    pub(crate) connect_timeout: Duration,
    pub(crate) statement_timeout: Duration,
    pub(crate) pool_size: usize,
    pub(crate) application_name: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("uri", &self.uri)
            .field("hosts", &self.hosts)
            .field("user", &self.user)
            .field("password", &self.password_source.to_string())
            .field("database", &self.database)
            .field("schema", &self.schema.as_str())
            .field("ssl_mode", &self.ssl_mode)
            .field("root_certs", &self.root_certs)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("pool_size", &self.pool_size)
            .field("application_name", &self.application_name)
            .finish()
    }
}

impl Settings {
    /// Settings from `uri` and the process environment.
    pub fn from_uri(uri: &StorageUri) -> Result<Self> {
        Self::from_uri_with_env(uri, &|name| std::env::var(name).ok())
    }

    /// Settings from `uri` and the environment `env`.
    pub fn from_uri_with_env(uri: &StorageUri, env: Env<'_>) -> Result<Self> {
        uri.expect_backend(crate::SCHEME, "a postgres:// URI", PARAMS)?;
        let bad = |why: String| uri.invalid(why);
        let param = |name: &str, var: Option<&str>| {
            uri.params()
                .get(name)
                .cloned()
                .or_else(|| var.and_then(env))
        };
        let user = uri
            .user()
            .map(str::to_string)
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .ok_or_else(|| {
                bad("names no user: write `postgres://USER@HOST/…` or set PGUSER".into())
            })?;
        check_name("user name", &user).map_err(bad)?;
        let database = match uri.path() {
            "" => env("PGDATABASE").unwrap_or_else(|| user.clone()),
            path => path.to_string(),
        };
        check_name("PostgreSQL database", &database).map_err(bad)?;
        let default_port = match env("PGPORT") {
            None => DEFAULT_PORT,
            Some(p) => parse_param_number("PGPORT", &p, 1, u16::MAX.into()).map_err(bad)? as u16,
        };
        let hosts: Vec<(String, u16)> = uri
            .hosts()
            .iter()
            .map(|h| (h.host.clone(), h.port.unwrap_or(default_port)))
            .collect();
        let schema = SchemaName::new(param("schema", None).as_deref().unwrap_or(DEFAULT_SCHEMA))
            .map_err(|e| bad(strip_invalid(e)))?;
        let ssl_mode = match param("sslmode", Some("PGSSLMODE")) {
            None => SslMode::Prefer,
            Some(text) => SslMode::parse(&text).map_err(bad)?,
        };
        let root_certs = RootCerts::from_param(
            param("sslrootcert", Some("PGSSLROOTCERT")).as_deref(),
            env("HOME").as_deref(),
        );
        let connect_timeout = uri
            .number_param("connect_timeout", env("PGCONNECT_TIMEOUT"), 1, 3600)?
            .map_or(Duration::from_secs(10), Duration::from_secs);
        let statement_timeout = uri
            .number_param("statement_timeout", None, 100, 3_600_000)?
            .map_or(Duration::from_secs(30), Duration::from_millis);
        let pool_size = uri
            .number_param("pool_size", None, 1, 1000)?
            .map_or(16, |n| n as usize);
        let application_name =
            param("application_name", Some("PGAPPNAME")).unwrap_or_else(|| "accrete".into());
        check_application_name(&application_name).map_err(bad)?;
        let mut settings = Settings {
            uri: uri.to_string(),
            hosts,
            user,
            password: None,
            password_source: PasswordSource::None,
            database,
            schema,
            ssl_mode,
            root_certs,
            connect_timeout,
            statement_timeout,
            pool_size,
            application_name,
        };
        settings.find_password(uri, env, param("passfile", Some("PGPASSFILE")))?;
        Ok(settings)
    }

    /// The URI these settings came from, with any password redacted.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// The PostgreSQL database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The role connected as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// How many connections the pool holds at most.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// Where the password came from.
    pub fn password_source(&self) -> &PasswordSource {
        &self.password_source
    }

    /// The longest a call may wait for a connection and its statement.
    pub(crate) fn call_deadline(&self) -> Duration {
        self.connect_timeout + self.statement_timeout
    }

    /// URI password, then `PGPASSWORD`, then the password file (matched
    /// against the first host).
    fn find_password(
        &mut self,
        uri: &StorageUri,
        env: Env<'_>,
        passfile: Option<String>,
    ) -> Result<()> {
        if let Some(pw) = uri.password() {
            (self.password, self.password_source) = (Some(pw.clone()), PasswordSource::Uri);
            return Ok(());
        }
        if let Some(pw) = env("PGPASSWORD") {
            (self.password, self.password_source) =
                (Some(Secret::new(pw)), PasswordSource::Environment);
            return Ok(());
        }
        let explicit = passfile.is_some();
        let Some(path) = passfile
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".pgpass")))
        else {
            return Ok(());
        };
        // The URI parser guarantees at least one host.
        let Some((host, port)) = self.hosts.first() else {
            return Ok(());
        };
        let target = Target {
            host,
            port: *port,
            database: &self.database,
            user: &self.user,
        };
        match passfile::lookup(&path, target) {
            Ok(Some(pw)) => {
                self.password = Some(Secret::new(pw));
                self.password_source = PasswordSource::Passfile(path);
            }
            Ok(None) => {}
            Err(e) if explicit => {
                return Err(Error::invalid(format!("storage URI `{}`: {e}", self.uri)));
            }
            // libpq ignores an unusable default ~/.pgpass with a warning.
            Err(e) => tracing::warn!(error = %e, "ignoring the password file"),
        }
        Ok(())
    }
}

/// Rejects names PostgreSQL would truncate or cannot carry.
fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.contains('\0') {
        return Err(format!(
            "the {what} `{}` must be 1 to {MAX_NAME_BYTES} bytes without NUL",
            truncate_for_message(name)
        ));
    }
    Ok(())
}

fn check_application_name(name: &str) -> std::result::Result<(), String> {
    if name.len() > MAX_NAME_BYTES || !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(format!(
            "application_name `{}` must be at most {MAX_NAME_BYTES} printable ASCII characters",
            truncate_for_message(name)
        ));
    }
    Ok(())
}

fn strip_invalid(e: Error) -> String {
    match e {
        Error::InvalidInput(msg) => msg,
        other => other.to_string(),
    }
}
