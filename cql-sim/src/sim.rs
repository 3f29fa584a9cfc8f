//! The public entry point: start a simulated cluster, hand its address to
//! the driver, inject faults, shut it down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Timeouts, unix_seconds};
use crate::faults::Faults;
use crate::journal::ReceivedStatement;
use crate::local::LocalSession;
use crate::node::{Node, Shared};
use crate::ring::{Member, NodeInfo, owner, ring_token};
use crate::server::serve;

/// How to start a simulated cluster.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of replicas (every keyspace is replicated on all of them).
    pub replicas: usize,
    /// Seed of the generator behind probabilistic faults, replica choice
    /// for reads and contention backoff.
    pub seed: u64,
    /// Number of coordinator nodes the driver sees (default 1). Node `i`
    /// listens on the address's IPv4 plus `i` in the last octet, all on
    /// one port (drivers reach peers at the contact point's port), and
    /// owns an even share of the token ring, so a token-aware driver sends
    /// each statement to the node owning its partition. Data still lives
    /// on every replica whatever node coordinates.
    pub nodes: usize,
    /// Where node 0 listens; port 0 picks a free port.
    pub address: SocketAddr,
    /// `(user, password)` to require PasswordAuthenticator login.
    pub credentials: Option<(String, String)>,
    /// How long the coordinator waits for replicas in one phase before a
    /// read or write timeout.
    pub request_timeout: Duration,
    /// How long an LWT retries under Paxos contention before a CAS write timeout.
    pub cas_contention_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            replicas: 3,
            nodes: 1,
            seed: 0,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: None,
            request_timeout: Duration::from_secs(2),
            cas_contention_timeout: Duration::from_secs(1),
        }
    }
}

/// A running simulated cluster.
pub struct SimCluster {
    /// Node 0, the contact point.
    node: Arc<Node>,
    nodes: Vec<Arc<Node>>,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

/// How often a free port is looked for when other nodes' addresses turn
/// out to be taken on it.
const BIND_ATTEMPTS: usize = 20;

/// The address of node `i` when node 0 is at `first`.
fn node_address(first: SocketAddr, i: usize, port: u16) -> std::io::Result<SocketAddr> {
    let ip = match first.ip() {
        _ if i == 0 => first.ip(),
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let last = u8::try_from(usize::from(d) + i).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} nodes do not fit after {v4} in its last octet", i + 1),
                )
            })?;
            IpAddr::V4(Ipv4Addr::new(a, b, c, last))
        }
        IpAddr::V6(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "several nodes need an IPv4 address (one per node, same port)",
            ));
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// Binds one listener per node, all on one port.
async fn bind_all(first: SocketAddr, nodes: usize) -> std::io::Result<Vec<TcpListener>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let zero = TcpListener::bind(first).await?;
        let port = zero.local_addr()?.port();
        let mut listeners = vec![zero];
        let mut taken = None;
        for i in 1..nodes {
            match TcpListener::bind(node_address(first, i, port)?).await {
                Ok(listener) => listeners.push(listener),
                Err(e) => {
                    taken = Some(e);
                    break;
                }
            }
        }
        match taken {
            None => return Ok(listeners),
            // A picked port may be taken on another node's address: pick again.
            Some(e)
                if first.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < BIND_ATTEMPTS => {}
            Some(e) => return Err(e),
        }
    }
}

impl SimCluster {
    /// Binds the listener and starts serving. Fails if the address cannot
    /// be bound or the configuration has no replicas.
    pub async fn start(config: SimConfig) -> std::io::Result<SimCluster> {
        if config.replicas == 0 || config.nodes == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a cluster needs at least one replica and one node",
            ));
        }
        let listeners = bind_all(config.address, config.nodes).await?;
        let faults = Faults::new(config.seed, config.replicas);
        let timeouts = Timeouts {
            request: config.request_timeout,
            cas_contention: config.cas_contention_timeout,
        };
        let cluster = Arc::new(Cluster::new(config.replicas, faults, timeouts));
        let ring: Arc<[Member]> = listeners
            .iter()
            .enumerate()
            .map(|(i, listener)| {
                Ok(Member {
                    address: listener.local_addr()?,
                    host_id: *uuid::Uuid::new_v4().as_bytes(),
                    token: ring_token(i, config.nodes),
                })
            })
            .collect::<std::io::Result<_>>()?;
        let shared = Shared::new(cluster, config.credentials);
        let (shutdown, stop) = watch::channel(false);
        let mut nodes = Vec::with_capacity(listeners.len());
        let mut servers = Vec::with_capacity(listeners.len());
        for (index, listener) in listeners.into_iter().enumerate() {
            let info = NodeInfo {
                index,
                ring: Arc::clone(&ring),
            };
            let node = Arc::new(Node::new(info, shared.clone()));
            servers.push(tokio::spawn(serve(
                listener,
                Arc::clone(&node),
                stop.clone(),
            )));
            nodes.push(node);
        }
        Ok(SimCluster {
            node: Arc::clone(&nodes[0]),
            nodes,
            shutdown,
            servers,
        })
    }

    /// The address to give the driver as its known node (node 0's).
    pub fn contact_point(&self) -> SocketAddr {
        self.node.info.me().address
    }

    /// Every node's address, in ring order (node 0 first).
    pub fn node_addresses(&self) -> Vec<SocketAddr> {
        self.node.info.ring.iter().map(|m| m.address).collect()
    }

    /// The node owning `token` (see [`crate::token_of`]): where a
    /// token-aware driver sends a statement on that partition when its
    /// keyspace has one replica per token (`replication_factor` 1).
    pub fn owner_of_token(&self, token: i64) -> usize {
        owner(&self.node.info.ring, token)
    }

    /// A session that runs statements on this cluster in process, with no
    /// socket or driver: what deterministic tests drive (see
    /// [`LocalSession`]).
    pub fn local_session(&self) -> LocalSession {
        LocalSession::new(Arc::clone(&self.node))
    }

    /// The fault-injection handle (clone it to keep it beyond the cluster).
    pub fn faults(&self) -> &Faults {
        &self.node.cluster.faults
    }

    /// Takes replica `i` down (see [`Faults::replica_down`]).
    pub fn replica_down(&self, i: usize) {
        self.faults().replica_down(i);
    }

    /// Brings replica `i` back up.
    pub fn replica_up(&self, i: usize) {
        self.faults().replica_up(i);
    }

    /// The user statements (QUERY, EXECUTE and BATCH requests; never the
    /// driver's system queries) the coordinator received since it started
    /// or [`SimCluster::clear_received`], oldest first: the first 100,000.
    pub fn received(&self) -> Vec<ReceivedStatement> {
        self.node.journal.statements()
    }

    /// How many user statements were received since the last clear, also
    /// those beyond the 100,000 that [`SimCluster::received`] keeps.
    pub fn received_count(&self) -> u64 {
        self.node.journal.total()
    }

    /// Empties the journal of received statements.
    pub fn clear_received(&self) {
        self.node.journal.clear();
    }

    /// Forgets all prepared statements, as a node restart does: the next
    /// EXECUTE of each gets Unprepared and the driver re-prepares.
    pub fn forget_prepared(&self) {
        for node in &self.nodes {
            node.forget_prepared();
        }
    }

    /// The number of live rows replica `i` holds for `keyspace.table`
    /// (`None` if the replica or table does not exist): shows what a
    /// replica missed.
    pub fn replica_live_rows(&self, i: usize, keyspace: &str, table: &str) -> Option<usize> {
        let id = self
            .node
            .cluster
            .schema
            .read()
            .table(keyspace, table)
            .ok()?
            .id;
        self.node
            .cluster
            .on_replica(i, |r| r.live_rows(id, unix_seconds()))
    }

    /// Every byte value replica `i` holds for `keyspace.table`, shadowed
    /// cells and Paxos proposals included, per partition ([`None`] if the
    /// replica or table does not exist): what a scan of its disk would see.
    pub fn replica_raw_values(
        &self,
        i: usize,
        keyspace: &str,
        table: &str,
    ) -> Option<Vec<Vec<Vec<u8>>>> {
        let id = self
            .node
            .cluster
            .schema
            .read()
            .table(keyspace, table)
            .ok()?
            .id;
        self.node.cluster.on_replica(i, |r| r.raw_values(id))
    }

    /// Compacts every replica: data shadowed by tombstones leaves them
    /// (as `nodetool compact` does on a real cluster).
    pub fn compact(&self) {
        self.node.cluster.on_every_replica(|r| r.compact());
    }

    /// The number of replicas.
    pub fn replica_count(&self) -> usize {
        self.node.cluster.size()
    }

    /// Stops accepting connections and closes the open ones.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for server in &mut self.servers {
            let _ = server.await;
        }
    }
}

impl Drop for SimCluster {
    /// A cluster dropped without [`SimCluster::shutdown`] still stops serving.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
