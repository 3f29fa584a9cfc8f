//! Cassandra and ScyllaDB in containers for tests, through `testcontainers`:
//! one node ([`Node::start`]) or three on a network of their own
//! ([`ThreeNodes::start`]), each node's CQL port 9042 published on a
//! loopback port only, ready when its log says it serves CQL *and* a CQL
//! session opens, and removed when dropped.
//!
//! Which flavour: [`FLAVOUR_VAR`] (`cassandra-4.1`, `cassandra-5.0`,
//! `scylla`; default [`Flavour::DEFAULT`]). Whether at all:
//! [`CONTAINERS_VAR`]`=1` (see [`super::suite_backend`]).
//!
//! Without a Docker daemon nothing here can start: the error says so, and a
//! test that asked for containers fails with it.

use std::time::Duration;

use scylla::client::session_builder::SessionBuilder;
use storage_core::testkit::containers;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use testcontainers_modules::scylladb::ScyllaDB;

use super::HarnessError;

/// Asks the suites for containers when `1` (Cassandra and PostgreSQL).
pub use storage_core::testkit::containers::CONTAINERS_VAR;
/// Which Cassandra flavour to start: `cassandra-4.1`, `cassandra-5.0`, `scylla`.
pub const FLAVOUR_VAR: &str = "ACCRETE_TEST_CONTAINER_CASSANDRA";

/// The CQL port inside every container.
pub const CQL_PORT: u16 = 9042;
/// Apache Cassandra's image.
pub const CASSANDRA_IMAGE: &str = "cassandra";
/// The Cassandra 4.1 tag.
pub const CASSANDRA_4_1_TAG: &str = "4.1";
/// The Cassandra 5.0 tag.
pub const CASSANDRA_5_0_TAG: &str = "5.0";
/// ScyllaDB's image (the one testcontainers-modules' `ScyllaDB` starts).
pub const SCYLLA_IMAGE: &str = "scylladb/scylla";
/// The ScyllaDB tag (testcontainers-modules' default).
pub const SCYLLA_TAG: &str = "2025.1.0";
/// Cassandra's log line once it accepts CQL clients (stdout).
pub const CASSANDRA_READY_LINE: &str = "Starting listening for CQL clients";
/// ScyllaDB's log line once it serves (stderr).
pub const SCYLLA_READY_LINE: &str = "init - serving";
/// The label every container of these tests carries.
pub const LABEL: (&str, &str) = ("accrete-test", "storage-cassandra");

/// How long a node may take from start to answering CQL (a first run also
/// pulls the image).
pub const STARTUP: Duration = Duration::from_secs(300);

/// A Cassandra-compatible server the container path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Apache Cassandra 4.1.
    Cassandra41,
    /// Apache Cassandra 5.0.
    Cassandra50,
    /// ScyllaDB.
    Scylla,
}

impl Flavour {
    /// Every flavour.
    pub const ALL: [Flavour; 3] = [Flavour::Cassandra41, Flavour::Cassandra50, Flavour::Scylla];
    /// The flavour when [`FLAVOUR_VAR`] names none.
    pub const DEFAULT: Flavour = Flavour::Cassandra50;

    /// The name [`FLAVOUR_VAR`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Cassandra41 => "cassandra-4.1",
            Flavour::Cassandra50 => "cassandra-5.0",
            Flavour::Scylla => "scylla",
        }
    }

    /// Parses a [`Flavour::name`].
    pub fn parse(text: &str) -> Result<Flavour, HarnessError> {
        containers::choose_by_name(FLAVOUR_VAR, text, &Flavour::ALL, Flavour::name)
            .map_err(HarnessError::new)
    }

    /// The flavour the environment names ([`Flavour::DEFAULT`] when none).
    pub fn from_env() -> Result<Flavour, HarnessError> {
        containers::choose_from_env(FLAVOUR_VAR, &Flavour::ALL, Flavour::name, Flavour::DEFAULT)
            .map_err(HarnessError::new)
    }

    /// Image name and tag.
    pub fn image(self) -> (&'static str, &'static str) {
        match self {
            Flavour::Cassandra41 => (CASSANDRA_IMAGE, CASSANDRA_4_1_TAG),
            Flavour::Cassandra50 => (CASSANDRA_IMAGE, CASSANDRA_5_0_TAG),
            Flavour::Scylla => (SCYLLA_IMAGE, SCYLLA_TAG),
        }
    }

    /// The log line that says the node serves CQL.
    pub fn ready_line(self) -> &'static str {
        match self {
            Flavour::Cassandra41 | Flavour::Cassandra50 => CASSANDRA_READY_LINE,
            Flavour::Scylla => SCYLLA_READY_LINE,
        }
    }

    /// Whether `line` (of the container's log) says the node is ready.
    pub fn is_ready_line(self, line: &str) -> bool {
        line.contains(self.ready_line())
    }

    /// The environment of a node (`seeds`: the seed node's host name on the
    /// container network, for a multi-node cluster).
    pub fn env(self, seeds: Option<&str>) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match self {
            Flavour::Cassandra41 | Flavour::Cassandra50 => {
                let mut env = vec![
                    ("CASSANDRA_CLUSTER_NAME", "accrete-test".to_string()),
                    // A test node, not a production one: a small heap.
                    ("MAX_HEAP_SIZE", "512M".to_string()),
                    ("HEAP_NEWSIZE", "128M".to_string()),
                ];
                match seeds {
                    Some(seed) => env.push(("CASSANDRA_SEEDS", seed.to_string())),
                    // Alone: no gossip to wait for.
                    None => env.push((
                        "JVM_EXTRA_OPTS",
                        "-Dcassandra.skip_wait_for_gossip_to_settle=0".to_string(),
                    )),
                }
                env
            }
            Flavour::Scylla => Vec::new(),
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The command-line arguments of a node.
    pub fn args(self, seeds: Option<&str>) -> Vec<String> {
        match self {
            Flavour::Cassandra41 | Flavour::Cassandra50 => Vec::new(),
            Flavour::Scylla => {
                let mut args: Vec<String> = [
                    "--smp",
                    "1",
                    "--memory",
                    "750M",
                    "--overprovisioned",
                    "1",
                    "--developer-mode",
                    "1",
                ]
                .map(String::from)
                .to_vec();
                if let Some(seed) = seeds {
                    args.extend(["--seeds".to_string(), seed.to_string()]);
                }
                args
            }
        }
    }
}

/// A started container of either kind.
enum Handle {
    Generic(ContainerAsync<GenericImage>),
    Scylla(ContainerAsync<ScyllaDB>),
}

macro_rules! on_handle {
    ($handle:expr, $c:ident => $body:expr) => {
        match $handle {
            Handle::Generic($c) => $body,
            Handle::Scylla($c) => $body,
        }
    };
}

/// One node in a container, removed when dropped (testcontainers removes
/// the container, with its volumes, in its `Drop`).
pub struct Node {
    handle: Handle,
    flavour: Flavour,
    name: String,
    contact: String,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Node({} {} at {}, container {})",
            self.flavour.name(),
            self.name,
            self.contact,
            self.id()
        )
    }
}

/// A host configuration that publishes `port` on a loopback port only
/// (testcontainers would publish every exposed port on all interfaces).
fn loopback_only(
    port: u16,
) -> impl Fn(&mut testcontainers::bollard::models::HostConfig) + Send + Sync + 'static {
    move |host| {
        use testcontainers::bollard::models::PortBinding;
        host.publish_all_ports = Some(false);
        host.port_bindings = Some(
            [(
                format!("{port}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_string()),
                    host_port: Some(String::new()),
                }]),
            )]
            .into_iter()
            .collect(),
        );
    }
}

/// Why a start failed, with what to check.
fn start_error(flavour: Flavour, e: impl std::fmt::Display) -> HarnessError {
    let (image, tag) = flavour.image();
    HarnessError::new(format!(
        "{CONTAINERS_VAR}=1: could not start a {} container ({image}:{tag}): {e}; the container suites need a running Docker daemon this user can reach (`docker info`)",
        flavour.name()
    ))
}

impl Node {
    /// One node alone, ready for CQL.
    pub async fn start(flavour: Flavour) -> Result<Node, HarnessError> {
        Node::start_on(flavour, None, None).await
    }

    /// A node named `name` on container network `network` (seeded by
    /// `seeds`), or alone when both are `None`.
    async fn start_on(
        flavour: Flavour,
        network: Option<(&str, &str)>,
        seeds: Option<&str>,
    ) -> Result<Node, HarnessError> {
        let (image, tag) = flavour.image();
        let handle = match flavour {
            Flavour::Scylla => {
                let mut request = ScyllaDB::default()
                    .with_cmd(flavour.args(seeds))
                    .with_label(LABEL.0, LABEL.1)
                    .with_startup_timeout(STARTUP)
                    .with_host_config_modifier(loopback_only(CQL_PORT));
                if let Some((net, name)) = network {
                    request = request.with_network(net).with_container_name(name);
                }
                Handle::Scylla(request.start().await.map_err(|e| start_error(flavour, e))?)
            }
            Flavour::Cassandra41 | Flavour::Cassandra50 => {
                let mut request = GenericImage::new(image, tag)
                    .with_exposed_port(ContainerPort::Tcp(CQL_PORT))
                    .with_wait_for(WaitFor::message_on_stdout(flavour.ready_line()))
                    .with_label(LABEL.0, LABEL.1)
                    .with_startup_timeout(STARTUP)
                    .with_host_config_modifier(loopback_only(CQL_PORT));
                for (k, v) in flavour.env(seeds) {
                    request = request.with_env_var(k, v);
                }
                if let Some((net, name)) = network {
                    request = request.with_network(net).with_container_name(name);
                }
                Handle::Generic(request.start().await.map_err(|e| start_error(flavour, e))?)
            }
        };
        let port = on_handle!(&handle, c => c.get_host_port_ipv4(CQL_PORT).await)
            .map_err(|e| start_error(flavour, format!("its CQL port: {e}")))?;
        let node = Node {
            handle,
            flavour,
            name: network.map_or_else(String::new, |(_, n)| n.to_string()),
            contact: contact_for(port),
        };
        wait_for_cql(&node.contact, STARTUP).await?;
        Ok(node)
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        on_handle!(&self.handle, c => c.id())
    }

    /// Its flavour.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// `127.0.0.1:PORT`, the CQL port published on loopback.
    pub fn contact_point(&self) -> &str {
        &self.contact
    }

    /// `docker stop`: the node shuts down (Cassandra drains first).
    pub async fn stop(&self) -> Result<(), HarnessError> {
        on_handle!(&self.handle, c => c.stop().await)
            .map_err(|e| HarnessError::new(format!("stopping {self:?}: {e}")))
    }

    /// `docker start` after [`Node::stop`]; back when it answers CQL again.
    /// Its loopback port may change: [`Node::contact_point`] says the new one.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        on_handle!(&self.handle, c => c.start().await)
            .map_err(|e| HarnessError::new(format!("starting {self:?} again: {e}")))?;
        let port = on_handle!(&self.handle, c => c.get_host_port_ipv4(CQL_PORT).await)
            .map_err(|e| HarnessError::new(format!("the CQL port of {self:?}: {e}")))?;
        self.contact = contact_for(port);
        wait_for_cql(&self.contact, STARTUP).await
    }

    /// `docker pause`: the node's processes are frozen, its sockets stay
    /// open (a node that hangs rather than one that is gone).
    pub async fn pause(&self) -> Result<(), HarnessError> {
        on_handle!(&self.handle, c => c.pause().await)
            .map_err(|e| HarnessError::new(format!("pausing {self:?}: {e}")))
    }

    /// `docker unpause`.
    pub async fn unpause(&self) -> Result<(), HarnessError> {
        on_handle!(&self.handle, c => c.unpause().await)
            .map_err(|e| HarnessError::new(format!("unpausing {self:?}: {e}")))
    }
}

/// `127.0.0.1:PORT`.
pub fn contact_for(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Waits until a CQL session opens at `contact` (the log line comes a
/// little before the port accepts every request), or fails after `limit`.
pub async fn wait_for_cql(contact: &str, limit: Duration) -> Result<(), HarnessError> {
    let started = tokio::time::Instant::now();
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(10),
            SessionBuilder::new()
                .known_node(contact)
                .fetch_schema_metadata(false)
                .build(),
        )
        .await;
        let error = match attempt {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no session within 10 s".to_string(),
        };
        if started.elapsed() >= limit {
            return Err(HarnessError::new(format!(
                "nothing answered CQL at {contact} within {limit:?}: {error}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500).min(limit)).await;
    }
}

/// Three nodes of one flavour on a container network of their own (the
/// first is the seed); removed, with the network, when dropped.
#[derive(Debug)]
pub struct ThreeNodes {
    /// The nodes; `nodes[0]` is the seed.
    pub nodes: Vec<Node>,
    network: String,
}

impl ThreeNodes {
    /// Starts the seed, then the two others one after the other (Cassandra
    /// lets one node join at a time), each ready for CQL.
    pub async fn start(flavour: Flavour) -> Result<ThreeNodes, HarnessError> {
        let network = format!(
            "accrete-test-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let names: Vec<String> = (1..=3).map(|i| format!("{network}-n{i}")).collect();
        let mut nodes = Vec::with_capacity(3);
        for name in &names {
            let seed = names[0].as_str();
            nodes.push(Node::start_on(flavour, Some((&network, name)), Some(seed)).await?);
        }
        Ok(ThreeNodes { nodes, network })
    }

    /// The container network's name.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The contact points of the nodes, `HOST:PORT,HOST:PORT,…`.
    pub fn contact_points(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.contact.clone()).collect()
    }
}
