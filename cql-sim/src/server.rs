//! The coordinator node: a TCP listener on loopback that accepts driver
//! connections, plus what all connections share (prepared statements,
//! credentials, schema-change events).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::cluster::Cluster;
use crate::connection::Connection;
use crate::exec::Prepared;
use crate::journal::Journal;
use crate::protocol::SchemaChange;

/// What `system.local` says about the node.
#[derive(Clone, Debug)]
pub(crate) struct NodeInfo {
    pub(crate) address: SocketAddr,
    pub(crate) host_id: [u8; 16],
}

/// State shared by all connections to the coordinator.
pub(crate) struct Node {
    pub(crate) info: NodeInfo,
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) credentials: Option<(String, String)>,
    /// The user statements received, for tests to inspect.
    pub(crate) journal: Journal,
    prepared: Mutex<HashMap<Vec<u8>, Arc<Prepared>>>,
    events: broadcast::Sender<SchemaChange>,
}

impl Node {
    pub(crate) fn new(
        info: NodeInfo,
        cluster: Arc<Cluster>,
        credentials: Option<(String, String)>,
    ) -> Node {
        Node {
            info,
            cluster,
            credentials,
            journal: Journal::default(),
            prepared: Mutex::new(HashMap::new()),
            events: broadcast::channel(64).0,
        }
    }

    /// Caches a prepared statement under its id.
    pub(crate) fn remember(&self, prepared: Arc<Prepared>) {
        self.prepared.lock().insert(prepared.id.clone(), prepared);
    }

    /// A cached prepared statement, if it is still valid for the schema.
    pub(crate) fn prepared(&self, id: &[u8]) -> Option<Arc<Prepared>> {
        let mut cache = self.prepared.lock();
        let prepared = cache.get(id).cloned()?;
        if prepared.is_current(&self.cluster) {
            return Some(prepared);
        }
        cache.remove(id);
        None
    }

    /// Forgets every prepared statement (as a node restart does).
    pub(crate) fn forget_prepared(&self) {
        self.prepared.lock().clear();
    }

    /// Announces a schema change to connections registered for it.
    pub(crate) fn announce(&self, change: SchemaChange) {
        let _ = self.events.send(change);
    }

    /// Subscribes to schema-change events.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SchemaChange> {
        self.events.subscribe()
    }
}

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    let connection = Connection::new(Arc::clone(&node), shutdown.clone());
                    tokio::spawn(connection.run(socket));
                }
                Err(e) => tracing::warn!("cql-sim: accept failed: {e}"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
