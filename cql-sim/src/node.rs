//! One coordinator node's state: what its connections share (prepared
//! statements, credentials) and what all nodes share (schema-change
//! events, the journal of received statements, the ring).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::cluster::Cluster;
use crate::exec::Prepared;
use crate::journal::Journal;
use crate::protocol::SchemaChange;
use crate::ring::NodeInfo;

/// What every node of a simulated cluster shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) credentials: Option<(String, String)>,
    /// The user statements received by any node, for tests to inspect.
    pub(crate) journal: Journal,
    /// Schema changes, announced to connections of every node (a driver's
    /// control connection may sit on another node than the DDL).
    events: broadcast::Sender<SchemaChange>,
}

impl Shared {
    pub(crate) fn new(cluster: Arc<Cluster>, credentials: Option<(String, String)>) -> Shared {
        Shared {
            cluster,
            credentials,
            journal: Journal::default(),
            events: broadcast::channel(64).0,
        }
    }
}

/// State shared by all connections to one coordinator.
pub(crate) struct Node {
    pub(crate) info: NodeInfo,
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) credentials: Option<(String, String)>,
    /// The user statements received (by every node), for tests to inspect.
    pub(crate) journal: Journal,
    prepared: Mutex<HashMap<Vec<u8>, Arc<Prepared>>>,
    events: broadcast::Sender<SchemaChange>,
}

impl Node {
    pub(crate) fn new(info: NodeInfo, shared: Shared) -> Node {
        Node {
            info,
            cluster: shared.cluster,
            credentials: shared.credentials,
            journal: shared.journal,
            prepared: Mutex::new(HashMap::new()),
            events: shared.events,
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
