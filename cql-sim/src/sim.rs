//! The public entry point: start a simulated cluster, hand its address to
//! the driver, inject faults, shut it down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Timeouts, unix_seconds};
use crate::faults::Faults;
use crate::journal::ReceivedStatement;
use crate::local::LocalSession;
use crate::server::{Node, NodeInfo, serve};

/// How to start a simulated cluster.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of replicas (every keyspace is replicated on all of them).
    pub replicas: usize,
    /// Seed of the generator behind probabilistic faults, replica choice
    /// for reads and contention backoff.
    pub seed: u64,
    /// Where to listen; port 0 picks a free port.
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
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl SimCluster {
    /// Binds the listener and starts serving. Fails if the address cannot
    /// be bound or the configuration has no replicas.
    pub async fn start(config: SimConfig) -> std::io::Result<SimCluster> {
        if config.replicas == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a cluster needs at least one replica",
            ));
        }
        let listener = TcpListener::bind(config.address).await?;
        let address = listener.local_addr()?;
        let faults = Faults::new(config.seed, config.replicas);
        let timeouts = Timeouts {
            request: config.request_timeout,
            cas_contention: config.cas_contention_timeout,
        };
        let cluster = Arc::new(Cluster::new(config.replicas, faults, timeouts));
        let info = NodeInfo {
            address,
            host_id: *uuid::Uuid::new_v4().as_bytes(),
        };
        let node = Arc::new(Node::new(info, cluster, config.credentials));
        let (shutdown, stop) = watch::channel(false);
        let server = tokio::spawn(serve(listener, Arc::clone(&node), stop));
        Ok(SimCluster {
            node,
            shutdown,
            server,
        })
    }

    /// The address to give the driver as its known node.
    pub fn contact_point(&self) -> SocketAddr {
        self.node.info.address
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
        self.node.forget_prepared();
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
        let _ = (&mut self.server).await;
    }
}

impl Drop for SimCluster {
    /// A cluster dropped without [`SimCluster::shutdown`] still stops serving.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
