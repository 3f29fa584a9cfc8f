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
//! A client proves who it is in the same HELLO: a [`Connector`] carries
//! its token and, for a TLS endpoint, the CA to trust (and a client
//! certificate, for mTLS); [`Connector::from_env`] reads them from
//! `ACCRETE_TOKEN` / `ACCRETE_TOKEN_FILE` and `ACCRETE_TLS_CA` /
//! `ACCRETE_TLS_CERT` / `ACCRETE_TLS_KEY`. The `Client::connect*`
//! functions connect without credentials, in plaintext (a development
//! endpoint on loopback).
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

use access::Secret;
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
use crate::protocol::{ByteStream, Frame, FrameCodec, PROTOCOL_VERSION};
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

/// How a client proves who it is and secures its connection: the token
/// it presents, and TLS (the CAs it trusts, a client certificate).
/// Without TLS it speaks plaintext; without a token or certificate it is
/// `anonymous`, which only a development endpoint on loopback admits.
///
/// Two connectors are equal when they present the same token and share
/// one TLS configuration.
#[derive(Clone, Debug, Default)]
pub struct Connector {
    /// The token to present (`acrt_…`).
    pub token: Option<Secret>,
    /// When set, the client speaks TLS with this configuration.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl PartialEq for Connector {
    fn eq(&self, other: &Self) -> bool {
        let same_tls = match (&self.tls, &other.tls) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.token == other.token && same_tls
    }
}

impl Eq for Connector {}

impl Connector {
    /// Credentials from the environment: the token in `ACCRETE_TOKEN`, or
    /// in the file `ACCRETE_TOKEN_FILE` names; TLS when `ACCRETE_TLS_CA`
    /// names a CA file (with a client certificate when `ACCRETE_TLS_CERT`
    /// and `ACCRETE_TLS_KEY` name one). Secrets never come from arguments.
    pub fn from_env() -> Result<Connector> {
        let token = Secret::from_env()?;
        let tls = match access::tls::ClientTlsFiles::from_env()? {
            Some(files) => Some(files.load()?),
            None => None,
        };
        Ok(Connector { token, tls })
    }

    /// Connects to the transactor at `endpoint` (`host:port`) serving
    /// `target`: [`ErrorKind::NotServing`] when it serves no database of
    /// that name, or another one (another id), or at another lease epoch;
    /// [`ErrorKind::Unauthenticated`] or [`ErrorKind::Forbidden`] when it
    /// refuses these credentials (before it says anything of the database).
    pub async fn connect(&self, endpoint: &str, target: &Target) -> Result<Client> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.handshake(endpoint, target))
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
    pub async fn connect_by_lease(&self, storage: &dyn Storage, db: &DbName) -> Result<Client> {
        let Some(db_id) = live_db_id(storage, db).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("database `{db}` does not exist"),
            ));
        };
        self.connect_to_lease(storage, db, db_id).await
    }

    /// [`Connector::connect_by_lease`] for the database of catalog id
    /// `db_id` (a peer following it): [`ErrorKind::NotServing`] also when
    /// the lease is of another database of that name.
    pub async fn connect_to_lease(
        &self,
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
        self.connect(endpoint, &target).await
    }

    /// Commits `tx` under `tx_id` through whichever transactor holds the
    /// lease of `db`, surviving failover: when the connection or the
    /// transactor fails (unavailable, outcome unknown, fenced, shutting
    /// down, not serving), it looks the lease up again, reconnects and
    /// resubmits under the same id — which commits at most once and
    /// answers with the first commit — until `patience` is spent, pausing
    /// at most [`RESUBMIT_PAUSE_MAX`] between tries. A refusal of the
    /// transaction itself (invalid, not found, unauthenticated, forbidden)
    /// is returned at once.
    ///
    /// When patience runs out after a submission whose outcome was unknown
    /// (sent, then the connection broke or no answer came), the error is
    /// [`ErrorKind::OutcomeUnknown`] whatever the last try said: a later
    /// "unavailable" proves nothing about the earlier submission.
    pub async fn transact_by_lease(
        &self,
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
            let error = match self.attempt(storage, db, tx, tx_id, left).await {
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

    /// One submission to the transactor the lease names, given up (as
    /// "outcome unknown") when no answer comes within twice the holder's
    /// lease ttl: a frozen transactor keeps its connection open and never
    /// answers, and its lease lapses within one ttl.
    async fn attempt(
        &self,
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
            let client = self.connect_by_lease(storage, db).await?;
            client.transact_with_id(tx, tx_id).await
        };
        tokio::time::timeout(limit, submit).await.map_err(|_| {
            Error::new(
                ErrorKind::OutcomeUnknown,
                format!("no answer within {limit:?}"),
            )
        })?
    }

    /// The byte stream to `endpoint`: TLS when so configured.
    async fn open(&self, endpoint: &str) -> Result<Box<dyn ByteStream>> {
        let socket = TcpStream::connect(endpoint)
            .await
            .map_err(|e| Error::io(format!("connecting to the transactor at {endpoint}"), e))?;
        // Requests are small and latency matters more than packet count.
        socket
            .set_nodelay(true)
            .map_err(|e| Error::io("configuring the socket", e))?;
        let Some(config) = &self.tls else {
            return Ok(Box::new(socket));
        };
        let name = access::tls::server_name(endpoint)?;
        let stream = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, socket)
            .await
            .map_err(|e| tls_refusal(endpoint, Error::io("TLS handshake", e)))?;
        Ok(Box::new(stream))
    }

    async fn handshake(&self, endpoint: &str, target: &Target) -> Result<Client> {
        let stream = self.open(endpoint).await?;
        let mut framed = Framed::new(stream, FrameCodec::default());
        framed
            .send(Frame::Hello {
                min_version: PROTOCOL_VERSION,
                max_version: PROTOCOL_VERSION,
                token: self.token.clone(),
                db: target.db.to_string(),
                db_id: target.db_id,
                epoch: target.epoch,
            })
            .await?;
        let answer = framed
            .next()
            .await
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("{endpoint} closed the connection during the handshake"),
                )
            })?
            .map_err(|e| tls_refusal(endpoint, e))?;
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
}

/// `e` as [`ErrorKind::Unauthenticated`] when TLS refused the connection
/// (a certificate the other side does not trust, expired, or none where
/// one is required), with what to check; otherwise `e` as it is.
fn tls_refusal(endpoint: &str, e: Error) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        let rustls = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(refusal) = rustls {
            return Error::new(
                ErrorKind::Unauthenticated,
                format!(
                    "TLS with the transactor at {endpoint} failed: {refusal} (check ACCRETE_TLS_CA, and the client certificate if the endpoint asks for one)"
                ),
            );
        }
        cause = c.source();
    }
    e
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
    /// [`Connector::connect`] without credentials, in plaintext.
    pub async fn connect(endpoint: &str, target: &Target) -> Result<Client> {
        Connector::default().connect(endpoint, target).await
    }

    /// [`Connector::connect_by_lease`] without credentials, in plaintext.
    pub async fn connect_by_lease(storage: &dyn Storage, db: &DbName) -> Result<Client> {
        Connector::default().connect_by_lease(storage, db).await
    }

    /// [`Connector::connect_to_lease`] without credentials, in plaintext.
    pub async fn connect_to_lease(
        storage: &dyn Storage,
        db: &DbName,
        db_id: Uuid,
    ) -> Result<Client> {
        Connector::default()
            .connect_to_lease(storage, db, db_id)
            .await
    }

    /// [`Connector::transact_by_lease`] without credentials, in plaintext.
    pub async fn transact_by_lease(
        storage: &dyn Storage,
        db: &DbName,
        tx: &str,
        tx_id: Uuid,
        patience: Duration,
    ) -> Result<Committed> {
        Connector::default()
            .transact_by_lease(storage, db, tx, tx_id, patience)
            .await
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
