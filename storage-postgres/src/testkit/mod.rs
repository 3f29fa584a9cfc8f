//! A PostgreSQL server for tests, for this crate and every crate above it
//! (feature `testkit`).
//!
//! [`PgServer::shared`] gives the server every test of a process shares:
//!
//! 1. `ACCRETE_TEST_POSTGRES_URI` if set: a server you run
//!    (`postgres://USER[:PASSWORD]@HOST:PORT/PGDB`, no `db=` or `schema=`;
//!    the user must be able to create schemas);
//! 2. otherwise a private server started from the system's binaries
//!    (`initdb`, `pg_ctl`; `ACCRETE_PG_BINDIR`, `pg_config --bindir`,
//!    `/usr/lib/postgresql/*/bin` or `PATH`) in
//!    `$TMPDIR/accrete-pg-test`, on a free loopback port, run as the
//!    `postgres` OS user when the tests run as root.
//!
//! With `ACCRETE_TEST_CONTAINERS=1` (and no `ACCRETE_TEST_POSTGRES_URI`)
//! the shared server is instead a PostgreSQL container
//! ([`container::PgContainer`], version `ACCRETE_TEST_CONTAINER_POSTGRES`,
//! `15` or `17`), started through testcontainers, removed by a watchdog when
//! the process ends; when it cannot start (no Docker daemon) the tests fail
//! with the reason, never falling back. The private server stays the
//! default, since it runs everywhere. When none can be had, it fails with a message saying how to provide
//! one: tests never pass by skipping. Each test takes its own schema
//! ([`PgServer::scratch_uri`]), so tests and runs never see each other's
//! data.
//!
//! A private server dies with the process that started it, however that
//! process ends: a detached watchdog stops it within a second of the
//! owner's death (also `kill -9`), and every start reaps servers whose
//! owner is gone. Tests that stop, restart or reconfigure a server take
//! their own with [`PgServer::private`].

pub mod container;
mod private;
mod reaper;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use storage_core::StorageUri;
use tokio::sync::OnceCell;

use crate::config::Settings;
use private::PrivateServer;

/// The role a private server demands a SCRAM password from (every other
/// role is trusted on loopback). Create it with the password a test needs.
pub const PASSWORD_USER: &str = "accrete_password_user";

/// The environment variable naming a server to test against.
pub const URI_VAR: &str = "ACCRETE_TEST_POSTGRES_URI";

pub use container::{CONTAINERS_VAR, PgVersion, VERSION_VAR};

/// Where [`PgServer::shared`] gets its server, decided from the environment
/// without starting anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedSource {
    /// The server `ACCRETE_TEST_POSTGRES_URI` names.
    External(String),
    /// A container of this version (`ACCRETE_TEST_CONTAINERS=1`).
    Container(PgVersion),
    /// A private server from the system's binaries (the default).
    Private,
}

/// What [`PgServer::shared`] would use.
pub fn shared_source() -> Result<SharedSource, HarnessError> {
    if let Ok(uri) = std::env::var(URI_VAR) {
        return Ok(SharedSource::External(uri));
    }
    if container::containers_asked()? {
        return Ok(SharedSource::Container(PgVersion::from_env()?));
    }
    Ok(SharedSource::Private)
}

const NO_SERVER_HELP: &str = "no PostgreSQL server for the tests: set ACCRETE_TEST_POSTGRES_URI=postgres://USER@HOST:PORT/PGDB to use a running server, or install the server binaries so the tests can start a private one (Debian: apt-get install -y postgresql; or set ACCRETE_PG_BINDIR to the directory holding initdb and pg_ctl)";

/// The harness could not provide a server, or a server operation failed.
#[derive(Debug, Clone)]
pub struct HarnessError(String);

impl HarnessError {
    fn new(msg: impl Into<String>) -> Self {
        HarnessError(msg.into())
    }

    fn io(path: &Path, e: std::io::Error) -> Self {
        HarnessError(format!("{}: {e}", path.display()))
    }

    fn with_log(self, log: &str) -> Self {
        HarnessError(format!("{}\nlast lines of the server log:\n{log}", self.0))
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// Settings and files for a private server.
#[derive(Debug, Clone, Default)]
pub struct PrivateOptions {
    /// Extra `postgresql.conf` settings (values are quoted for you).
    pub settings: Vec<(String, String)>,
    /// Files written into the data directory (mode 0600, owned by the
    /// server's user), e.g. `server.crt` and `server.key` for TLS; relative
    /// paths in settings resolve against the data directory.
    pub files: Vec<(String, Vec<u8>)>,
}

enum Kind {
    Private(Arc<PrivateServer>),
    External(String),
    Container(Box<container::PgContainer>),
}

/// A PostgreSQL server for tests.
pub struct PgServer {
    kind: Kind,
}

impl fmt::Debug for PgServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Private(s) => write!(f, "PgServer(private, port {})", s.port),
            Kind::External(uri) => match StorageUri::parse(uri) {
                Ok(parsed) => write!(f, "PgServer({parsed})"),
                Err(_) => f.write_str("PgServer(external)"),
            },
            Kind::Container(c) => write!(f, "PgServer({c:?})"),
        }
    }
}

static SHARED: OnceCell<Result<PgServer, HarnessError>> = OnceCell::const_new();
static NEXT_SCHEMA: AtomicU64 = AtomicU64::new(0);

impl PgServer {
    /// The server the tests of this process share (see the module docs).
    pub async fn shared() -> Result<&'static PgServer, HarnessError> {
        SHARED
            .get_or_init(|| async {
                match shared_source()? {
                    SharedSource::External(uri) => PgServer::external(uri),
                    SharedSource::Container(version) => {
                        let server = container::PgContainer::start(version).await?;
                        storage_core::testkit::containers::remove_when_process_ends(server.id());
                        Ok(PgServer {
                            kind: Kind::Container(Box::new(server)),
                        })
                    }
                    SharedSource::Private => PgServer::private().await,
                }
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A new private server, for tests that stop, restart or reconfigure
    /// it; stopped and removed when dropped.
    pub async fn private() -> Result<PgServer, HarnessError> {
        Self::private_with(PrivateOptions::default()).await
    }

    /// A new private server with extra settings and files.
    pub async fn private_with(options: PrivateOptions) -> Result<PgServer, HarnessError> {
        let server = tokio::task::spawn_blocking(move || PrivateServer::start_new(&options))
            .await
            .map_err(|e| HarnessError::new(format!("starting the server panicked: {e}")))??;
        Ok(PgServer {
            kind: Kind::Private(Arc::new(server)),
        })
    }

    fn external(uri: String) -> Result<PgServer, HarnessError> {
        let parsed =
            StorageUri::parse(&uri).map_err(|e| HarnessError::new(format!("{URI_VAR}: {e}")))?;
        if parsed.db().is_some() || parsed.params().contains_key("schema") {
            return Err(HarnessError::new(format!(
                "{URI_VAR}=`{parsed}` must not name `db=` or `schema=`: every test picks its own"
            )));
        }
        Ok(PgServer {
            kind: Kind::External(uri),
        })
    }

    /// The server's URI, without `db=` or `schema=`.
    pub fn uri(&self) -> String {
        match &self.kind {
            Kind::Private(s) => format!("postgres://postgres@127.0.0.1:{}/postgres", s.port),
            Kind::External(uri) => uri.clone(),
            Kind::Container(c) => c.uri(),
        }
    }

    /// The loopback port of a private server.
    pub fn port(&self) -> Option<u16> {
        match &self.kind {
            Kind::Private(s) => Some(s.port),
            Kind::External(_) | Kind::Container(_) => None,
        }
    }

    /// The server's URI with `db=DB` and a schema no other test uses.
    pub fn scratch_uri(&self, db: &str) -> String {
        self.uri_with(&format!("db={db}&schema={}", scratch_schema()))
    }

    /// The server's URI with the query parameters `params` added.
    pub fn uri_with(&self, params: &str) -> String {
        let uri = self.uri();
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}{params}")
    }

    /// A connection as the server's (admin) user, for tests that look
    /// underneath the storage.
    pub async fn admin(&self) -> Result<tokio_postgres::Client, HarnessError> {
        let fail = |e: &dyn fmt::Display| HarnessError::new(format!("admin connection: {e}"));
        let uri = StorageUri::parse(&self.uri()).map_err(|e| fail(&e))?;
        let settings = Settings::from_uri(&uri).map_err(|e| fail(&e))?;
        crate::store::connect_one(&settings)
            .await
            .map_err(|e| fail(&e))
    }

    /// Process ids of the server sessions whose `application_name` is `app`.
    pub async fn backend_pids(&self, app: &str) -> Result<Vec<i32>, HarnessError> {
        let admin = self.admin().await?;
        let rows = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
                &[&app],
            )
            .await
            .map_err(|e| HarnessError::new(format!("listing sessions: {e}")))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Kills one server session (`pg_terminate_backend`); false if it was
    /// gone already.
    pub async fn terminate_backend(&self, pid: i32) -> Result<bool, HarnessError> {
        let admin = self.admin().await?;
        let row = admin
            .query_one("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(|e| HarnessError::new(format!("terminating session {pid}: {e}")))?;
        Ok(row.get(0))
    }

    /// Stops a private server (`fast`: sessions are ended cleanly;
    /// `immediate`: like a crash, recovered from the WAL on start).
    pub async fn stop(&self, mode: StopMode) -> Result<(), HarnessError> {
        let server = self.owned("stop")?;
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        blocking(move || server.pg_ctl_stop(mode)).await
    }

    /// Starts a stopped private server again on the same port.
    pub async fn start(&self) -> Result<(), HarnessError> {
        let server = self.owned("start")?;
        blocking(move || server.pg_ctl_start()).await
    }

    /// Stops and starts a private server.
    pub async fn restart(&self, mode: StopMode) -> Result<(), HarnessError> {
        self.stop(mode).await?;
        self.start().await
    }

    /// The last lines of a private server's log.
    pub fn log_tail(&self) -> String {
        match &self.kind {
            Kind::Private(s) => s.log_tail(),
            Kind::External(_) => String::from("(the log of an external server is not at hand)"),
            Kind::Container(c) => format!("(the log of {c:?} is at `docker logs {}`)", c.id()),
        }
    }

    fn owned(&self, what: &str) -> Result<Arc<PrivateServer>, HarnessError> {
        match &self.kind {
            Kind::Private(s) => Ok(s.clone()),
            Kind::External(_) | Kind::Container(_) => Err(HarnessError::new(format!(
                "cannot {what} a server given by {URI_VAR} or a shared container; tests that {what} servers use PgServer::private()"
            ))),
        }
    }
}

/// How [`PgServer::stop`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Sessions are terminated and the server shuts down cleanly.
    Fast,
    /// The server is killed and recovers from its WAL on the next start.
    Immediate,
}

/// The directory of the PostgreSQL server binaries the harness uses (also
/// home to `pgbench` and `psql`).
pub fn server_bindir() -> Result<std::path::PathBuf, HarnessError> {
    private::find_bindir()
}

/// A schema name no other test of any process uses.
pub fn scratch_schema() -> String {
    format!(
        "t_{}_{}_{:08x}",
        std::process::id(),
        NEXT_SCHEMA.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

async fn blocking(
    f: impl FnOnce() -> Result<(), HarnessError> + Send + 'static,
) -> Result<(), HarnessError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HarnessError::new(format!("server command panicked: {e}")))?
}
