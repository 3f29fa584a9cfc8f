//! PostgreSQL 15 or 17 in a container for tests, through testcontainers
//! (testcontainers-modules' `Postgres`): port 5432 published on a loopback
//! port only, ready when the log says it accepts connections (the module
//! waits for it) *and* a SQL connection opens, removed when dropped.
//!
//! Asked for with [`CONTAINERS_VAR`]`=1`; the version from [`VERSION_VAR`]
//! (`15` or `17`, default [`PgVersion::DEFAULT`]).

use std::fmt;
use std::time::Duration;

use storage_core::StorageUri;
use storage_core::testkit::containers;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use testcontainers_modules::postgres::Postgres;

use super::HarnessError;
use crate::config::Settings;

/// Asks the suites for containers when `1` (PostgreSQL and Cassandra).
pub use storage_core::testkit::containers::CONTAINERS_VAR;
/// Which PostgreSQL version to start: `15` or `17`.
pub const VERSION_VAR: &str = "ACCRETE_TEST_CONTAINER_POSTGRES";
/// PostgreSQL's image.
pub const IMAGE: &str = "postgres";
/// The PostgreSQL 15 tag.
pub const TAG_15: &str = "15-alpine";
/// The PostgreSQL 17 tag.
pub const TAG_17: &str = "17-alpine";
/// The port inside the container.
pub const PORT: u16 = 5432;
/// The server's user, password and database (the container is reachable on
/// loopback only).
pub const USER: &str = "postgres";
/// See [`USER`].
pub const PASSWORD: &str = "accrete-test";
/// See [`USER`].
pub const DATABASE: &str = "postgres";
/// The log line the module waits for (twice: initdb's server, then the real one).
pub const READY_LINE: &str = "database system is ready to accept connections";
/// The label every container of these tests carries.
pub const LABEL: (&str, &str) = ("accrete-test", "storage-postgres");
/// How long start-up may take (a first run also pulls the image).
pub const STARTUP: Duration = Duration::from_secs(180);

/// A PostgreSQL major version the container path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgVersion {
    /// PostgreSQL 15.
    V15,
    /// PostgreSQL 17.
    V17,
}

impl PgVersion {
    /// Every version.
    pub const ALL: [PgVersion; 2] = [PgVersion::V15, PgVersion::V17];
    /// The version when [`VERSION_VAR`] names none.
    pub const DEFAULT: PgVersion = PgVersion::V17;

    /// The name [`VERSION_VAR`] takes.
    pub fn name(self) -> &'static str {
        match self {
            PgVersion::V15 => "15",
            PgVersion::V17 => "17",
        }
    }

    /// Parses a [`PgVersion::name`].
    pub fn parse(text: &str) -> Result<PgVersion, HarnessError> {
        containers::choose_by_name(VERSION_VAR, text, &PgVersion::ALL, PgVersion::name)
            .map_err(HarnessError::new)
    }

    /// The version the environment names ([`PgVersion::DEFAULT`] when none).
    pub fn from_env() -> Result<PgVersion, HarnessError> {
        containers::choose_from_env(
            VERSION_VAR,
            &PgVersion::ALL,
            PgVersion::name,
            PgVersion::DEFAULT,
        )
        .map_err(HarnessError::new)
    }

    /// Image name and tag.
    pub fn image(self) -> (&'static str, &'static str) {
        match self {
            PgVersion::V15 => (IMAGE, TAG_15),
            PgVersion::V17 => (IMAGE, TAG_17),
        }
    }
}

/// Whether `ACCRETE_TEST_CONTAINERS` asks for containers: `1` yes, unset,
/// empty or `0` no, anything else is an error (a typo must not quietly
/// fall back to the private server).
pub fn parse_switch(value: Option<&str>) -> Result<bool, HarnessError> {
    storage_core::testkit::containers::parse_switch(value, "the private server")
        .map_err(HarnessError::new)
}

/// [`parse_switch`] of the environment.
pub fn containers_asked() -> Result<bool, HarnessError> {
    storage_core::testkit::containers::containers_asked("the private server")
        .map_err(HarnessError::new)
}

/// The URI of the container's server published on loopback `port`.
pub fn uri_for(port: u16) -> String {
    format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}")
}

/// A running PostgreSQL container, removed when dropped.
pub struct PgContainer {
    container: ContainerAsync<Postgres>,
    version: PgVersion,
    port: u16,
}

impl fmt::Debug for PgContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PgContainer(PostgreSQL {} at 127.0.0.1:{}, container {})",
            self.version.name(),
            self.port,
            self.container.id()
        )
    }
}

impl PgContainer {
    /// Starts `version` and waits until it accepts SQL.
    pub async fn start(version: PgVersion) -> Result<PgContainer, HarnessError> {
        let (image, tag) = version.image();
        let fail = |e: &dyn fmt::Display| {
            HarnessError::new(format!(
                "{CONTAINERS_VAR}=1: could not start a PostgreSQL {} container ({image}:{tag}): {e}; the container suites need a running Docker daemon this user can reach (`docker info`)",
                version.name()
            ))
        };
        let container = Postgres::default()
            .with_user(USER)
            .with_password(PASSWORD)
            .with_db_name(DATABASE)
            .with_tag(tag)
            .with_label(LABEL.0, LABEL.1)
            .with_startup_timeout(STARTUP)
            .with_host_config_modifier(|host| {
                use testcontainers::bollard::models::PortBinding;
                host.publish_all_ports = Some(false);
                host.port_bindings = Some(
                    [(
                        format!("{PORT}/tcp"),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".to_string()),
                            host_port: Some(String::new()),
                        }]),
                    )]
                    .into_iter()
                    .collect(),
                );
            })
            .start()
            .await
            .map_err(|e| fail(&e))?;
        let port = container
            .get_host_port_ipv4(PORT)
            .await
            .map_err(|e| fail(&format!("its port: {e}")))?;
        let server = PgContainer {
            container,
            version,
            port,
        };
        wait_for_sql(&server.uri(), STARTUP).await?;
        Ok(server)
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// Its version.
    pub fn version(&self) -> PgVersion {
        self.version
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's URI (no `db=` or `schema=`).
    pub fn uri(&self) -> String {
        uri_for(self.port)
    }
}

/// Waits until a SQL connection to `uri` opens, or fails after `limit`.
pub async fn wait_for_sql(uri: &str, limit: Duration) -> Result<(), HarnessError> {
    let parsed = StorageUri::parse(uri).map_err(|e| HarnessError::new(format!("{uri}: {e}")))?;
    let settings =
        Settings::from_uri(&parsed).map_err(|e| HarnessError::new(format!("{parsed}: {e}")))?;
    let started = tokio::time::Instant::now();
    loop {
        let error = match tokio::time::timeout(
            Duration::from_secs(10),
            crate::store::connect_one(&settings),
        )
        .await
        {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no connection within 10 s".to_string(),
        };
        if started.elapsed() >= limit {
            return Err(HarnessError::new(format!(
                "nothing answered SQL at {parsed} within {limit:?}: {error}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500).min(limit)).await;
    }
}
