//! Clusters for tests, for this crate and every crate above it (feature
//! `testkit`).
//!
//! - [`TestCluster::sim`]: an in-process cql-sim cluster of 3 replicas
//!   (always available; faults injectable through
//!   [`TestCluster::simulator`]).
//! - [`TestCluster::real`]: a real Cassandra or ScyllaDB, from
//!   `ACCRETE_TEST_CASSANDRA=HOST:PORT` (credentials from the usual
//!   `ACCRETE_CASSANDRA_*` variables, keyspaces replicated as
//!   `ACCRETE_TEST_CASSANDRA_REPLICATION`, default `simple:1`), or, with
//!   `ACCRETE_TEST_CONTAINERS=1`, a one-node container of the flavour
//!   `ACCRETE_TEST_CONTAINER_CASSANDRA` names (`cassandra-4.1`,
//!   `cassandra-5.0`, `scylla`: [`container::Flavour`]) started through
//!   testcontainers and removed when the cluster is dropped. When neither
//!   is set it fails with the reason ([`real_cluster_status`] says it
//!   without starting anything): such tests never pass by skipping.
//! - [`TestCluster::for_suites`]: what the storage suites above this crate
//!   run on (the conformance suite, the transactor's durability tests, the
//!   backup matrix): the simulator, or with `ACCRETE_TEST_CONTAINERS=1` a
//!   container ([`suite_backend`] decides). Tests that inject faults take
//!   [`TestCluster::sim`] and stay on the simulator.
//! - [`container::ThreeNodes`]: three nodes on a container network, for the
//!   tests that stop or pause one of them.
//!
//! Each [`TestCluster::scratch_uri`] creates a keyspace no other test uses,
//! so tests and runs never see each other's data;
//! [`TestCluster::drop_scratch_keyspaces`] removes them from a cluster that
//! outlives the tests.
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use storage_cassandra::testkit::TestCluster;
//! let cluster = TestCluster::sim().await?;
//! let uri = cluster.scratch_uri("orders").await?;
//! assert!(uri.starts_with("cassandra://127.0.0.1:") && uri.contains("db=orders"));
//! # Ok(()) }
//! ```

pub mod container;

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cql_sim::{SimCluster, SimConfig};
use storage_core::StorageUri;

use crate::config::Settings;
use crate::keyspace::{Replication, create_keyspace};

/// Names a real cluster's contact point, `HOST:PORT`.
pub const CONTACT_VAR: &str = "ACCRETE_TEST_CASSANDRA";
/// How scratch keyspaces on a real cluster are replicated (`simple:1` by default).
pub const REPLICATION_VAR: &str = "ACCRETE_TEST_CASSANDRA_REPLICATION";
pub use container::{CONTAINERS_VAR, FLAVOUR_VAR, Flavour};

/// The harness could not provide a cluster, or setting one up failed.
#[derive(Debug, Clone)]
pub struct HarnessError(String);

impl HarnessError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        HarnessError(msg.into())
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

enum Owner {
    Sim(SimCluster),
    External,
    Container(std::sync::Arc<container::Node>),
    Three(container::ThreeNodes),
}

/// A cluster for tests and the scratch keyspaces made in it.
pub struct TestCluster {
    contact: String,
    replication: Replication,
    owner: Owner,
    /// The scratch URIs made so far.
    scratch: Mutex<Vec<String>>,
}

impl fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Owner::Sim(_) => write!(f, "TestCluster(cql-sim at {})", self.contact),
            Owner::External => write!(f, "TestCluster(external at {})", self.contact),
            Owner::Container(c) => write!(f, "TestCluster({c:?})"),
            Owner::Three(t) => write!(f, "TestCluster(three nodes on {})", t.network()),
        }
    }
}

static NEXT_KEYSPACE: AtomicU64 = AtomicU64::new(0);

impl TestCluster {
    /// A simulated cluster of 3 replicas on a free loopback port.
    pub async fn sim() -> Result<TestCluster, HarnessError> {
        Self::sim_with(SimConfig::default()).await
    }

    /// A simulated cluster started with `config`.
    pub async fn sim_with(config: SimConfig) -> Result<TestCluster, HarnessError> {
        let replicas = config.replicas as u32;
        let sim = SimCluster::start(config)
            .await
            .map_err(|e| HarnessError::new(format!("starting cql-sim: {e}")))?;
        Ok(TestCluster {
            contact: sim.contact_point().to_string(),
            replication: Replication::Simple(replicas.max(1)),
            owner: Owner::Sim(sim),
            scratch: Mutex::default(),
        })
    }

    /// A real cluster from the environment (see the module docs), or the
    /// reason there is none.
    pub async fn real() -> Result<TestCluster, HarnessError> {
        let replication = match std::env::var(REPLICATION_VAR) {
            Ok(text) => text
                .parse()
                .map_err(|e| HarnessError::new(format!("{REPLICATION_VAR}: {e}")))?,
            Err(_) => Replication::Simple(1),
        };
        let (contact, owner) = match real_cluster_status()? {
            None => return Err(HarnessError::new(NOT_ASKED)),
            Some(RealCluster::External(contact)) => (contact, Owner::External),
            Some(RealCluster::Container(flavour)) => {
                let node = std::sync::Arc::new(container::Node::start(flavour).await?);
                (node.contact_point().to_string(), Owner::Container(node))
            }
        };
        Ok(TestCluster {
            contact,
            replication,
            owner,
            scratch: Mutex::default(),
        })
    }

    /// The cluster the storage suites run on: with
    /// `ACCRETE_TEST_CONTAINERS=1` a container ([`suite_backend`]; failing
    /// with the reason when none starts, never falling back), otherwise a
    /// simulated cluster of 3 replicas.
    pub async fn for_suites() -> Result<TestCluster, HarnessError> {
        match suite_backend()? {
            SuiteBackend::Simulator => Self::sim().await,
            SuiteBackend::Container(flavour) => {
                // One node for every suite of the process (a Cassandra node
                // takes most of a minute to start); each test still gets
                // keyspaces of its own. A static is never dropped, so a
                // watchdog removes the container when the process ends.
                static SHARED: tokio::sync::OnceCell<
                    Result<std::sync::Arc<container::Node>, HarnessError>,
                > = tokio::sync::OnceCell::const_new();
                let node = SHARED
                    .get_or_init(|| async {
                        let node = container::Node::start(flavour).await?;
                        storage_core::testkit::containers::remove_when_process_ends(node.id());
                        Ok(std::sync::Arc::new(node))
                    })
                    .await
                    .clone()?;
                Ok(TestCluster {
                    contact: node.contact_point().to_string(),
                    replication: Replication::Simple(1),
                    owner: Owner::Container(node),
                    scratch: Mutex::default(),
                })
            }
        }
    }

    /// Three nodes of `flavour` on a container network
    /// ([`container::ThreeNodes`]), scratch keyspaces replicated three
    /// times, every node a contact point.
    pub async fn three_nodes(flavour: Flavour) -> Result<TestCluster, HarnessError> {
        let nodes = container::ThreeNodes::start(flavour).await?;
        Ok(TestCluster {
            contact: nodes.contact_points().join(","),
            replication: Replication::Simple(3),
            owner: Owner::Three(nodes),
            scratch: Mutex::default(),
        })
    }

    /// The nodes of a [`TestCluster::three_nodes`] cluster.
    pub fn nodes(&self) -> Option<&container::ThreeNodes> {
        match &self.owner {
            Owner::Three(nodes) => Some(nodes),
            _ => None,
        }
    }

    /// The nodes of a [`TestCluster::three_nodes`] cluster, to stop and
    /// restart one.
    pub fn nodes_mut(&mut self) -> Option<&mut container::ThreeNodes> {
        match &mut self.owner {
            Owner::Three(nodes) => Some(nodes),
            _ => None,
        }
    }

    /// The container of a cluster started by the container path.
    pub fn container(&self) -> Option<&container::Node> {
        match &self.owner {
            Owner::Container(node) => Some(node),
            _ => None,
        }
    }

    /// The simulator behind a [`TestCluster::sim`] cluster (faults, replicas,
    /// the statements received).
    pub fn simulator(&self) -> Option<&SimCluster> {
        match &self.owner {
            Owner::Sim(sim) => Some(sim),
            _ => None,
        }
    }

    /// The contact point, `HOST:PORT` (several, comma-separated, for
    /// [`TestCluster::three_nodes`]).
    pub fn contact_point(&self) -> &str {
        &self.contact
    }

    /// The URI of `keyspace` with the query parameters `params` (`db=…&…`).
    pub fn uri(&self, keyspace: &str, params: &str) -> String {
        format!("cassandra://{}/{keyspace}?{params}", self.contact)
    }

    /// Creates a keyspace no other test uses and returns its URI with `db=DB`.
    pub async fn scratch_uri(&self, db: &str) -> Result<String, HarnessError> {
        self.scratch_uri_with(&format!("db={db}")).await
    }

    /// Creates a keyspace no other test uses and returns its URI with the
    /// query parameters `params`.
    pub async fn scratch_uri_with(&self, params: &str) -> Result<String, HarnessError> {
        let text = self.uri(&scratch_keyspace(), params);
        let uri = StorageUri::parse(&text).map_err(|e| HarnessError::new(e.to_string()))?;
        create_keyspace(&uri, &self.replication)
            .await
            .map_err(|e| HarnessError::new(format!("creating a scratch keyspace: {e}")))?;
        lock(&self.scratch).push(text.clone());
        Ok(text)
    }

    /// Drops every keyspace [`TestCluster::scratch_uri`] made.
    pub async fn drop_scratch_keyspaces(&self) -> Result<(), HarnessError> {
        let made = std::mem::take(&mut *lock(&self.scratch));
        for text in made {
            let fail = |e: &dyn fmt::Display| HarnessError::new(format!("dropping {text}: {e}"));
            let uri = StorageUri::parse(&text).map_err(|e| fail(&e))?;
            let settings = Settings::from_uri(&uri).map_err(|e| fail(&e))?;
            let session = crate::session::connect(&settings)
                .await
                .map_err(|e| fail(&e))?;
            let ddl = format!("DROP KEYSPACE IF EXISTS {}", uri.path());
            session.query_unpaged(ddl, ()).await.map_err(|e| fail(&e))?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is one push or take: a panic cannot leave the
    // list half-changed.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A keyspace name no other test of any process uses.
pub fn scratch_keyspace() -> String {
    format!(
        "t_{}_{}_{:08x}",
        std::process::id(),
        NEXT_KEYSPACE.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// Where [`TestCluster::real`] would get its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealCluster {
    /// The contact point given by [`CONTACT_VAR`].
    External(String),
    /// A container of this flavour ([`CONTAINERS_VAR`], [`FLAVOUR_VAR`]).
    Container(Flavour),
}

/// Why [`TestCluster::real`] has no cluster when the environment names none.
pub const NOT_ASKED: &str = "no real Cassandra or ScyllaDB was asked for: set ACCRETE_TEST_CASSANDRA=HOST:PORT to use a running cluster, or ACCRETE_TEST_CONTAINERS=1 (and ACCRETE_TEST_CONTAINER_CASSANDRA=cassandra-4.1|cassandra-5.0|scylla) to start a container where a Docker daemon runs";

/// What the environment asks for, without starting anything: `None` when it
/// names no real cluster ([`NOT_ASKED`] says how to), an error when it names
/// one badly.
pub fn real_cluster_status() -> Result<Option<RealCluster>, HarnessError> {
    if let Ok(contact) = std::env::var(CONTACT_VAR) {
        let valid = contact
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(HarnessError::new(format!(
                "{CONTACT_VAR}=`{contact}` is not HOST:PORT"
            )));
        }
        return Ok(Some(RealCluster::External(contact)));
    }
    if containers_asked()? {
        return Ok(Some(RealCluster::Container(Flavour::from_env()?)));
    }
    Ok(None)
}

/// What the storage suites run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteBackend {
    /// The in-process simulator (the default).
    Simulator,
    /// A container of this flavour (`ACCRETE_TEST_CONTAINERS=1`).
    Container(Flavour),
}

/// Whether `ACCRETE_TEST_CONTAINERS` asks for containers: `1` yes, unset,
/// empty or `0` no, anything else is an error (a typo must not quietly
/// run the simulator instead).
pub fn containers_asked() -> Result<bool, HarnessError> {
    storage_core::testkit::containers::containers_asked("the simulator").map_err(HarnessError::new)
}

/// Reads the value of `ACCRETE_TEST_CONTAINERS`.
pub fn parse_switch(value: Option<&str>) -> Result<bool, HarnessError> {
    storage_core::testkit::containers::parse_switch(value, "the simulator")
        .map_err(HarnessError::new)
}

/// What [`TestCluster::for_suites`] would run on, without starting anything.
pub fn suite_backend() -> Result<SuiteBackend, HarnessError> {
    if containers_asked()? {
        Ok(SuiteBackend::Container(Flavour::from_env()?))
    } else {
        Ok(SuiteBackend::Simulator)
    }
}
