//! Where a whole-system test runs: one database in a fresh storage of one
//! backend, with a transactor serving it over the protocol, and time limits
//! so that no test hangs.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use index::{LogRoot, SegmentCache, Segments, create_db, log_root_name};
use storage_core::{DbName, MAX_LIST_LIMIT, Registry, SegmentId, Storage};
use test_storages::FreshStorage;
use transactor::{Server, Transactor};

pub use test_storages::{Backend, DURABLE};

/// How long any one step of a test may take before the test fails.
pub const STEP_LIMIT: Duration = Duration::from_secs(120);

/// One database in a fresh storage, alive as long as this value.
pub struct Stage {
    /// The backend.
    pub backend: Backend,
    /// The URI naming the database (with `db=`).
    pub uri: String,
    /// The storage, opened once by this process.
    pub storage: Arc<dyn Storage>,
    /// The database's name.
    pub db: DbName,
    /// What keeps the storage alive (directory, simulator cluster).
    _fresh: FreshStorage,
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stage({} database `{}`)", self.backend, self.db)
    }
}

impl Stage {
    /// A fresh storage of `backend` holding a new, empty database `db`.
    pub async fn new(backend: Backend, db: &str) -> Stage {
        let stage = Stage::empty(backend, db).await;
        within(
            "creating the database",
            create_db(&stage.storage, &stage.db),
        )
        .await
        .unwrap_or_else(|e| panic!("{backend}: create database `{db}`: {e}"));
        stage
    }

    /// A fresh storage of `backend` whose URI names database `db`, which
    /// does not exist yet (a restore target).
    pub async fn empty(backend: Backend, db: &str) -> Stage {
        let name = DbName::new(db).unwrap_or_else(|e| panic!("database name `{db}`: {e}"));
        let fresh = FreshStorage::new(backend, db).await;
        Stage {
            backend,
            uri: fresh.uri.clone(),
            storage: fresh.storage.clone(),
            db: name,
            _fresh: fresh,
        }
    }

    /// A reader and writer of segments through a cache of its own.
    pub fn segments(&self) -> Segments {
        Segments::new(
            self.storage.clone(),
            SegmentCache::new(64 << 20).expect("a 64 MiB cache is a valid size"),
        )
    }

    /// Starts a transactor for the database in this process, serving the
    /// protocol on a loopback port that its lease advertises, so that
    /// peers connecting by URI find it.
    pub async fn serve(&self, config: transactor::Config) -> Served {
        let server = within("binding the transactor's port", Server::bind("127.0.0.1:0"))
            .await
            .expect("a loopback port for the transactor");
        let config = transactor::Config {
            endpoint: Some(server.local_addr().to_string()),
            ..config
        };
        let started = Transactor::start(self.segments(), &self.db, config);
        let transactor = Arc::new(
            within("starting the transactor", started)
                .await
                .unwrap_or_else(|e| panic!("{}: start the transactor: {e}", self.backend)),
        );
        server.serve(transactor.clone());
        Served {
            transactor,
            _server: server,
        }
    }

    /// The database's log root as storage holds it now.
    pub async fn log_root(&self) -> LogRoot {
        let name = log_root_name(&self.db);
        let root = within("reading the log root", self.storage.read_root(&name))
            .await
            .expect("read the log root")
            .expect("the database has a log root");
        LogRoot::decode(&name, root.value.data()).expect("decode the log root")
    }

    /// The id of every segment the storage holds, reachable or not.
    pub async fn segment_ids(&self) -> Vec<SegmentId> {
        let (mut ids, mut from) = (Vec::new(), None);
        loop {
            let listed = self.storage.list_segments(from, MAX_LIST_LIMIT);
            let page = within("listing segments", listed)
                .await
                .unwrap_or_else(|e| panic!("{}: list segments: {e}", self.backend));
            ids.extend(page.ids);
            match page.next {
                Some(next) => from = Some(next),
                None => return ids,
            }
        }
    }

    /// A peer of its own connected to the database by URI: it reads the
    /// latest committed value from storage and finds the transactor (if
    /// any) through the lease.
    pub async fn connect(&self) -> peer::Connection {
        let peer = peer::Peer::new(peer::Config::default()).expect("default peer config");
        within("connecting a peer", peer.connect(&self.uri))
            .await
            .unwrap_or_else(|e| panic!("{}: connect to {}: {e}", self.backend, self.uri))
    }
}

/// A transactor running in this process and the server that serves it.
pub struct Served {
    /// The transactor.
    pub transactor: Arc<Transactor>,
    _server: Server,
}

impl Served {
    /// Waits (polling its metrics) until `done` holds for the transactor.
    pub async fn until(&self, what: &str, done: impl Fn(&transactor::Metrics) -> bool) {
        within(what, async {
            while !done(&self.transactor.metrics()) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// Commits what is queued and releases the lease.
    pub async fn shutdown(self) {
        within("shutting the transactor down", self.transactor.shutdown())
            .await
            .expect("the transactor shuts down cleanly");
    }
}

/// Every backend this build knows (`mem`, `file`, `postgres`, `cassandra`).
pub fn registry() -> Registry {
    peer::builtin_registry()
}

/// `step`, or a panic naming `what` after [`STEP_LIMIT`].
pub async fn within<T>(what: &str, step: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_LIMIT, step).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: no answer within {STEP_LIMIT:?}"),
    }
}

/// Runs `read` on a blocking thread: database values read storage
/// synchronously.
pub async fn blocking<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
    within("a blocking read", tokio::task::spawn_blocking(read))
        .await
        .expect("the blocking read panicked")
}
