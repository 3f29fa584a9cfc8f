//! The client side of the transactor protocol: connect to the endpoint a
//! lease advertises, transact, subscribe to committed transactions, ask for
//! the status. The `peer` crate and the `accrete` CLI build on it.
//!
//! One [`Client`] is one TCP connection; it is cheap to share (`&self`
//! methods) and many requests may be in flight at once.
//!
//! A client proves which database it means: besides the name, its HELLO
//! carries the database's catalog id and the lease epoch the client read
//! from storage ([`Target`]); a transactor that does not serve that id at
//! that epoch refuses with [`ErrorKind::NotServing`] (re-read the lease),
//! so a write never lands in another database of the same name.
//!
//! ```no_run
//! # async fn demo(storage: &dyn storage_core::Storage) -> transactor::Result<()> {
//! use transactor::client::Client;
//! let db = storage_core::DbName::new("orders").unwrap();
//! let client = Client::connect_by_lease(storage, &db).await?;
//! let committed = client.transact(r#"[{:db/id "o" :order/id 1}]"#).await?;
//! println!("committed t={} ({} datoms)", committed.t(), committed.entry.data.len());
//! let mut reports = client.subscribe(committed.t()).await?;
//! let entry = reports.next().await?;
//! assert_eq!(entry.t, committed.t());
//! # Ok(()) }
//! ```

mod connection;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use index::{Catalog, catalog_root_name};
use model::{EntityId, TxLog};
use storage_core::{DbName, Storage};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};
use crate::lease::read_lease;
use crate::protocol::{Frame, FrameCodec, PROTOCOL_VERSION};
use crate::txid::TxStatus;
use connection::{Connection, failure};

/// How long connecting and the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest pause of [`Client::transact_by_lease`] between two
/// submissions: a client notices the new transactor within this long of
/// its serving (each try reads the lease once).
pub const RESUBMIT_PAUSE_MAX: Duration = Duration::from_millis(100);

/// A committed transaction, as the transactor reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The log entry: t and every datom (the `:db/txInstant` datom first).
    pub entry: TxLog,
    /// How tempids resolved.
    pub tempids: HashMap<String, EntityId>,
}

impl Committed {
    /// The transaction's t.
    pub fn t(&self) -> u64 {
        self.entry.t
    }
}

/// The transactor's state, from a STATUS request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The t of the last committed transaction.
    pub basis_t: u64,
    /// The epoch of the serving transactor.
    pub epoch: u64,
}

/// Exactly which database a client means, as it read it from storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The database's name.
    pub db: DbName,
    /// Its catalog id (the uuid `create-db` prints).
    pub db_id: Uuid,
    /// The lease epoch of the transactor the client means to reach.
    pub epoch: u64,
}

/// A connection to a transactor, for one database.
#[derive(Debug)]
pub struct Client {
    connection: Arc<Connection>,
    next_id: AtomicU64,
    welcome: Status,
    endpoint: String,
}

impl Client {
    /// Connects to the transactor at `endpoint` (`host:port`) serving
    /// `target`: [`ErrorKind::NotServing`] when it serves no database of
    /// that name, or another one (another id), or at another lease epoch.
    pub async fn connect(endpoint: &str, target: &Target) -> Result<Client> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::handshake(endpoint, target))
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("connecting to the transactor at {endpoint}: no answer within {CONNECT_TIMEOUT:?}"),
                )
            })?
    }

    /// Connects to the transactor the lease of `db` in `storage`
    /// advertises, for the live database of that name in the catalog.
    /// [`ErrorKind::NotFound`] when there is none; [`ErrorKind::NotServing`]
    /// when no live transactor with an endpoint holds its lease.
    pub async fn connect_by_lease(storage: &dyn Storage, db: &DbName) -> Result<Client> {
        let Some(db_id) = live_db_id(storage, db).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("database `{db}` does not exist"),
            ));
        };
        Client::connect_to_lease(storage, db, db_id).await
    }

    /// [`Client::connect_by_lease`] for the database of catalog id `db_id`
    /// (a peer following it): [`ErrorKind::NotServing`] also when the
    /// lease is of another database of that name.
    pub async fn connect_to_lease(
        storage: &dyn Storage,
        db: &DbName,
        db_id: Uuid,
    ) -> Result<Client> {
        let lease = read_lease(storage, db).await?;
        let not_serving = |why: String| Err(Error::new(ErrorKind::NotServing, why));
        let Some(lease) = lease else {
            return not_serving(format!(
                "no transactor ever held the lease of database `{db}`"
            ));
        };
        if let Some(other) = lease.db_id.filter(|id| *id != db_id) {
            return not_serving(format!(
                "the lease of `{db}` is of another database of that name (id {other}, not {db_id})"
            ));
        }
        let Some(endpoint) = lease.holder.as_ref().and_then(|h| h.endpoint()) else {
            return not_serving(format!(
                "no transactor with an endpoint holds the lease of database `{db}`"
            ));
        };
        let target = Target {
            db: db.clone(),
            db_id,
            epoch: lease.epoch.0,
        };
        Client::connect(endpoint, &target).await
    }

    async fn handshake(endpoint: &str, target: &Target) -> Result<Client> {
        let socket = TcpStream::connect(endpoint)
            .await
            .map_err(|e| Error::io(format!("connecting to the transactor at {endpoint}"), e))?;
        // Requests are small and latency matters more than packet count.
        socket
            .set_nodelay(true)
            .map_err(|e| Error::io("configuring the socket", e))?;
        let mut framed = Framed::new(socket, FrameCodec::default());
        framed
            .send(Frame::Hello {
                min_version: PROTOCOL_VERSION,
                max_version: PROTOCOL_VERSION,
                db: target.db.to_string(),
                db_id: target.db_id,
                epoch: target.epoch,
            })
            .await?;
        let answer = framed.next().await.ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("{endpoint} closed the connection during the handshake"),
            )
        })??;
        let welcome = match answer {
            Frame::Welcome { epoch, basis_t, .. } => Status { basis_t, epoch },
            failed @ Frame::Failed { .. } => return Err(failure(failed)),
            other => return Err(Error::protocol(format!("expected WELCOME, got {other:?}"))),
        };
        Ok(Client {
            connection: Arc::new(Connection::start(framed)),
            next_id: AtomicU64::new(1),
            welcome,
            endpoint: endpoint.to_string(),
        })
    }

    /// The transactor's status when this client connected.
    pub fn welcome(&self) -> Status {
        self.welcome
    }

    /// The endpoint this client is connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Commits `tx` (EDN text of a vector of forms) under a fresh
    /// transaction id and returns once it is durable. Errors say whether it
    /// committed ([`Error::not_committed`]); after an unknown outcome, ask
    /// [`Client::tx_status`] or resubmit under the same id with
    /// [`Client::transact_with_id`] (which never commits twice).
    pub async fn transact(&self, tx: &str) -> Result<Committed> {
        self.transact_with_id(tx, Uuid::new_v4()).await
    }

    /// Commits `tx` under transaction id `tx_id` (`:tx/id`). When that id
    /// committed before, nothing is committed and the answer is the first
    /// commit's (its t, datoms and tempids).
    /// Tx data over [`model::limits::MAX_TX_BYTES`] is refused unsent.
    pub async fn transact_with_id(&self, tx: &str, tx_id: Uuid) -> Result<Committed> {
        model::limits::check_tx_bytes(tx.len())?;
        let id = self.id();
        let frame = Frame::Transact {
            id,
            tx: tx.to_string(),
            tx_id: Some(tx_id),
        };
        match self.connection.call(id, frame).await? {
            Frame::Committed { entry, tempids, .. } => Ok(Committed {
                entry,
                tempids: tempids.into_iter().collect(),
            }),
            other => Err(Error::protocol(format!(
                "expected COMMITTED, got {other:?}"
            ))),
        }
    }

    /// What became of transaction `tx_id`: committed at t, not committed
    /// (proven by the live transactor), or unknown (ask again later, e.g.
    /// after a failover, of the transactor the lease names then).
    pub async fn tx_status(&self, tx_id: Uuid) -> Result<TxStatus> {
        let id = self.id();
        match self
            .connection
            .call(id, Frame::TxStatus { id, tx_id })
            .await?
        {
            Frame::TxStatusReply { status, .. } => Ok(status),
            other => Err(Error::protocol(format!(
                "expected TX_STATUS_REPLY, got {other:?}"
            ))),
        }
    }

    /// Commits `tx` under `tx_id` through whichever transactor holds the
    /// lease of `db`, surviving failover: when the connection or the
    /// transactor fails (unavailable, outcome unknown, fenced, shutting
    /// down, not serving), it looks the lease up again, reconnects and
    /// resubmits under the same id — which commits at most once and
    /// answers with the first commit — until `patience` is spent, pausing
    /// at most [`RESUBMIT_PAUSE_MAX`] between tries. A refusal of the
    /// transaction itself (invalid, not found) is returned at once.
    ///
    /// When patience runs out after a submission whose outcome was unknown
    /// (sent, then the connection broke or no answer came), the error is
    /// [`ErrorKind::OutcomeUnknown`] whatever the last try said: a later
    /// "unavailable" proves nothing about the earlier submission.
    pub async fn transact_by_lease(
        storage: &dyn Storage,
        db: &DbName,
        tx: &str,
        tx_id: Uuid,
        patience: Duration,
    ) -> Result<Committed> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = Duration::from_millis(25);
        let mut unknown = false;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let error = match attempt(storage, db, tx, tx_id, left).await {
                Ok(committed) => return Ok(committed),
                Err(e) if !worth_resubmitting(e.kind()) => return Err(e),
                Err(e) => e,
            };
            unknown |= error.kind() == ErrorKind::OutcomeUnknown;
            if tokio::time::Instant::now() + pause > deadline {
                let error = match unknown && error.kind() != ErrorKind::OutcomeUnknown {
                    true => Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!("an earlier submission may have committed; the last try: {error}"),
                    ),
                    false => error,
                };
                return Err(error.context(format!(
                    "transaction {tx_id} (ask `tx_status` for its fate)"
                )));
            }
            tracing::info!(%tx_id, error = %error, "resubmitting under the same id");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RESUBMIT_PAUSE_MAX);
        }
    }

    /// The transactor's latest t and epoch.
    pub async fn status(&self) -> Result<Status> {
        let id = self.id();
        match self.connection.call(id, Frame::Status { id }).await? {
            Frame::StatusReply { basis_t, epoch, .. } => Ok(Status { basis_t, epoch }),
            other => Err(Error::protocol(format!("expected STATUS, got {other:?}"))),
        }
    }

    /// Every committed transaction with t ≥ `from_t`, in t order: those
    /// committed already, then each new one as it commits.
    pub async fn subscribe(&self, from_t: u64) -> Result<Subscription> {
        let id = self.id();
        let entries = self
            .connection
            .subscribe(id, Frame::Subscribe { id, from_t })?;
        Ok(Subscription {
            id,
            entries,
            connection: self.connection.clone(),
        })
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The catalog id of the live database `db`, if there is one.
async fn live_db_id(storage: &dyn Storage, db: &DbName) -> Result<Option<Uuid>> {
    let Some(root) = storage.read_root(&catalog_root_name()).await? else {
        return Ok(None);
    };
    let catalog = Catalog::decode(root.value.data())?;
    Ok(catalog.live(db.as_str()).map(|entry| entry.uuid))
}

/// One submission to the transactor the lease names, given up (as
/// "outcome unknown") when no answer comes within twice the holder's lease
/// ttl: a frozen transactor keeps its connection open and never answers,
/// and its lease lapses within one ttl.
async fn attempt(
    storage: &dyn Storage,
    db: &DbName,
    tx: &str,
    tx_id: Uuid,
    left: Duration,
) -> Result<Committed> {
    let ttl = read_lease(storage, db)
        .await?
        .map_or(Duration::from_secs(1), |lease| lease.ttl);
    let limit = (ttl * 2).max(Duration::from_secs(1)).min(left);
    let submit = async {
        let client = Client::connect_by_lease(storage, db).await?;
        client.transact_with_id(tx, tx_id).await
    };
    tokio::time::timeout(limit, submit).await.map_err(|_| {
        Error::new(
            ErrorKind::OutcomeUnknown,
            format!("no answer within {limit:?}"),
        )
    })?
}

/// True for failures after which the same transaction, under the same id,
/// may go to the (next) transactor: the transactor or the connection
/// failed, not the transaction.
fn worth_resubmitting(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Unavailable
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Fenced
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
    )
}

/// Committed transactions as they arrive; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    entries: mpsc::Receiver<Result<TxLog>>,
    connection: Arc<Connection>,
}

impl Subscription {
    /// The next committed transaction. An error ends the subscription:
    /// [`ErrorKind::Unavailable`] when the connection ended, or what the
    /// transactor said (e.g. [`ErrorKind::Fenced`] when it was deposed).
    pub async fn next(&mut self) -> Result<TxLog> {
        match self.entries.recv().await {
            Some(item) => item,
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "the subscription ended with its connection",
            )),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.connection.unsubscribe(self.id);
    }
}
