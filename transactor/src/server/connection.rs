//! One client connection to the endpoint: TLS (when the endpoint speaks
//! it), the handshake that authenticates the client before it names a
//! database, then requests served concurrently, each authorized against
//! the access records as of its arrival, answers sent in whatever order
//! they finish.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use access::{Gate, Identity, Principal, Proof, Role};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::codec::Framed;
use uuid::Uuid;

use super::{Databases, Shared};
use crate::commit::Author;
use crate::error::{Error, ErrorKind, Result};
use crate::handle::{Transactor, parse_tx};
use crate::protocol::{ByteStream, Frame, FrameCodec, Framing, PROTOCOL_VERSION};

/// How long a client has for TLS and to say HELLO.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers waiting for the socket; subscriptions wait when it is full.
const OUTGOING_BUFFER: usize = 1024;

/// How often a subscription checks that its client may still read.
const SUBSCRIPTION_RECHECK: Duration = Duration::from_secs(1);

/// The first byte of every TLS connection (a handshake record). A frame
/// never starts with it: its length would be over the 16 MiB limit.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves one connection until the client leaves or breaks the protocol.
pub(super) async fn serve(socket: TcpStream, shared: Arc<Shared>) {
    let peer = socket
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let peer_ip = socket
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    // Small answers, latency-bound: no Nagle delay.
    let _ = socket.set_nodelay(true);
    let Some((stream, certificate)) = secure(socket, &shared, peer_ip, &peer).await else {
        return;
    };
    let mut framed = Framed::new(stream, FrameCodec::default());
    let (transactor, identity) = match handshake(&mut framed, &shared, peer_ip, certificate).await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::info!(%peer, error = %e, "handshake refused");
            let _ = framed.send(failed(0, &e)).await;
            return;
        }
    };
    tracing::debug!(%peer, principal = %identity.principal, db = %transactor.db_name(), "client admitted");
    let _client = crate::observe::Held::client();
    let (sink, mut requests) = framed.split();
    let (outgoing, queue) = mpsc::channel(OUTGOING_BUFFER);
    let writer = tokio::spawn(write_all(sink, queue));
    let mut session = Session {
        transactor,
        outgoing,
        subscriptions: HashMap::new(),
        guard: Guard {
            gate: shared.security.gate.clone(),
            identity,
        },
    };
    while let Some(frame) = requests.next().await {
        let outcome = match frame {
            Ok(frame) => session.handle(frame).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::info!(%peer, error = %e, "closing connection");
            let _ = session.outgoing.send(failed(0, &e)).await;
            break;
        }
    }
    session.subscriptions.values().for_each(AbortHandle::abort);
    drop(session);
    // Lets queued answers go out before the socket closes.
    let _ = writer.await;
}

/// TLS when the endpoint speaks it (with the principal of a verified
/// client certificate), the bare socket otherwise; `None` when the client
/// was turned away (a plaintext client of a TLS endpoint hears why).
async fn secure(
    socket: TcpStream,
    shared: &Shared,
    peer_ip: IpAddr,
    peer: &str,
) -> Option<(Box<dyn ByteStream>, Option<Principal>)> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.peek(&mut first)).await;
    let speaks_tls = matches!(peeked, Ok(Ok(1))) && first[0] == TLS_HANDSHAKE;
    let Some(config) = &shared.security.tls else {
        if speaks_tls {
            tracing::info!(%peer, "a TLS client on a plaintext endpoint; closing");
            return None;
        }
        return Some((Box::new(socket), None));
    };
    if !speaks_tls {
        let refusal = Error::new(
            ErrorKind::Unauthenticated,
            "this endpoint speaks TLS only: connect with TLS, trusting its CA (ACCRETE_TLS_CA)",
        );
        tracing::info!(%peer, "a plaintext client on a TLS endpoint; refused");
        let mut framed = Framed::new(socket, FrameCodec::default());
        let _ = framed.send(failed(0, &refusal)).await;
        return None;
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
    let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => match access::tls::peer_principal(stream.get_ref().1) {
            Ok(principal) => return Some((Box::new(stream), principal)),
            Err(e) => e.to_string(),
        },
        Ok(Err(e)) => format!("TLS handshake failed: {e}"),
        Err(_) => format!("no TLS handshake within {HANDSHAKE_TIMEOUT:?}"),
    };
    match &shared.security.gate {
        Some(gate) => gate.failed(peer_ip, &why).await,
        None => tracing::info!(%peer, reason = why, "TLS handshake refused"),
    }
    None
}

/// Reads HELLO, authenticates the client, checks that it may read the
/// database it names — all before looking the name up, so that a refusal
/// says nothing of which databases exist — and answers WELCOME.
async fn handshake(
    framed: &mut Framing,
    shared: &Shared,
    peer: IpAddr,
    certificate: Option<Principal>,
) -> Result<(Arc<Transactor>, Identity)> {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, framed.next())
        .await
        .map_err(|_| Error::protocol(format!("no HELLO within {HANDSHAKE_TIMEOUT:?}")))?
        .ok_or_else(|| Error::protocol("the client left before HELLO"))??;
    // (The Debug of a HELLO hides its token.)
    let Frame::Hello {
        min_version,
        max_version,
        token,
        db,
        db_id,
        epoch,
    } = first
    else {
        return Err(Error::protocol(format!(
            "the first frame must be HELLO, not {first:?}"
        )));
    };
    if !(min_version..=max_version).contains(&PROTOCOL_VERSION) {
        return Err(Error::protocol(format!(
            "the client speaks versions {min_version}..={max_version}, this transactor speaks {PROTOCOL_VERSION}"
        )));
    }
    let identity = match &shared.security.gate {
        Some(gate) => gate.authenticate(peer, token.as_ref(), certificate).await?,
        None => Identity {
            principal: Principal::anonymous(),
            proof: Proof::Anonymous,
        },
    };
    let guard = Guard {
        gate: shared.security.gate.clone(),
        identity,
    };
    guard.allow(&db, Role::Read).await?;
    let transactor = serving(&shared.databases, &db, db_id, epoch)?;
    framed
        .send(Frame::Welcome {
            version: PROTOCOL_VERSION,
            epoch: transactor.epoch().0,
            basis_t: transactor.db().basis_t(),
        })
        .await?;
    Ok((transactor, guard.identity))
}

/// The transactor serving `db` of id `db_id` at lease `epoch`.
fn serving(databases: &Databases, db: &str, db_id: Uuid, epoch: u64) -> Result<Arc<Transactor>> {
    let serving = databases.read().get(db).cloned();
    match serving {
        Some(t) if t.db_id() == db_id && t.epoch().0 == epoch => Ok(t),
        serving => Err(not_serving(db, db_id, epoch, serving.as_deref())),
    }
}

/// Why this endpoint refuses a HELLO for database `db` of id `db_id` at
/// lease `epoch`: the client must re-read the lease, never assume its
/// transactions went anywhere.
fn not_serving(db: &str, db_id: Uuid, epoch: u64, serving: Option<&Transactor>) -> Error {
    let what = match serving {
        None => format!("this endpoint does not serve a database `{db}` now"),
        Some(t) if t.db_id() != db_id => format!(
            "this endpoint serves another database named `{db}` (id {}), not id {db_id}",
            t.db_id()
        ),
        Some(t) => format!(
            "this endpoint serves `{db}` (id {db_id}) at lease epoch {}, not {epoch}",
            t.epoch()
        ),
    };
    Error::new(ErrorKind::NotServing, format!("{what}: re-read the lease"))
}

async fn write_all(
    mut sink: futures::stream::SplitSink<Framing, Frame>,
    mut queue: mpsc::Receiver<Frame>,
) {
    while let Some(frame) = queue.recv().await {
        if sink.send(frame).await.is_err() {
            return;
        }
    }
}

/// Who the client is, and the gate that says what it may do.
#[derive(Clone)]
struct Guard {
    gate: Option<Arc<Gate>>,
    identity: Identity,
}

impl Guard {
    /// Checks, as of now, that the client may do what needs `needs` on
    /// `db`, and returns the role it holds (every role without a gate).
    async fn allow(&self, db: &str, needs: Role) -> Result<Role> {
        match &self.gate {
            Some(gate) => Ok(gate.authorize(&self.identity, db, needs).await?),
            None => Ok(Role::Admin),
        }
    }
}

/// The requests of one connection.
struct Session {
    transactor: Arc<Transactor>,
    outgoing: mpsc::Sender<Frame>,
    subscriptions: HashMap<u64, AbortHandle>,
    guard: Guard,
}

impl Session {
    /// Starts serving one request once the client may make it; an error
    /// ends the connection (also a revoked token: the request hears why
    /// first).
    async fn handle(&mut self, frame: Frame) -> Result<()> {
        let (id, needs) = match &frame {
            Frame::Transact { id, .. } => (*id, Role::Write),
            Frame::TxStatus { id, .. } | Frame::Subscribe { id, .. } | Frame::Status { id } => {
                (*id, Role::Read)
            }
            Frame::Unsubscribe { id } => {
                if let Some(task) = self.subscriptions.remove(id) {
                    task.abort();
                }
                return Ok(());
            }
            other => return Err(Error::protocol(format!("a client may not send {other:?}"))),
        };
        let role = match self
            .guard
            .allow(self.transactor.db_name().as_str(), needs)
            .await
        {
            Ok(role) => role,
            Err(e) => {
                let _ = self.outgoing.send(failed(id, &e)).await;
                return match e.kind() {
                    ErrorKind::Forbidden => Ok(()),
                    _ => Err(e),
                };
            }
        };
        match frame {
            Frame::Transact { id, tx, tx_id } => self.transact(id, tx, tx_id, role),
            Frame::TxStatus { id, tx_id } => self.tx_status(id, tx_id),
            Frame::Subscribe { id, from_t } => self.subscribe(id, from_t),
            Frame::Status { id } => {
                let reply = Frame::StatusReply {
                    id,
                    basis_t: self.transactor.db().basis_t(),
                    epoch: self.transactor.epoch().0,
                };
                let _ = self.outgoing.send(reply).await;
            }
            _ => {}
        }
        Ok(())
    }

    fn tx_status(&self, id: u64, tx_id: Uuid) {
        let (transactor, outgoing) = (self.transactor.clone(), self.outgoing.clone());
        tokio::spawn(async move {
            let answer = match transactor.tx_status(tx_id).await {
                Ok(status) => Frame::TxStatusReply { id, status },
                Err(e) => failed(id, &e),
            };
            let _ = outgoing.send(answer).await;
        });
    }

    fn transact(&self, id: u64, tx: String, tx_id: Option<Uuid>, role: Role) {
        let (transactor, outgoing) = (self.transactor.clone(), self.outgoing.clone());
        let author = Author {
            principal: self.guard.identity.principal.clone(),
            admin: role == Role::Admin,
        };
        tokio::spawn(async move {
            let outcome = match parse_tx(&tx) {
                Ok(forms) => transactor.transact_as(forms, tx_id, author).await,
                Err(e) => Err(e),
            };
            let answer = match outcome {
                Ok(report) => Frame::Committed {
                    id,
                    entry: report.log_entry(),
                    tempids: report.tempids.into_iter().collect(),
                },
                Err(e) => failed(id, &e),
            };
            // The client may have left; the outcome stands either way.
            let _ = outgoing.send(answer).await;
        });
    }

    /// Streams the feed; every [`SUBSCRIPTION_RECHECK`] it checks again
    /// that the client may still read, and ends with the refusal when not.
    fn subscribe(&mut self, id: u64, from_t: u64) {
        let mut feed = self.transactor.subscribe(from_t);
        let outgoing = self.outgoing.clone();
        let guard = self.guard.clone();
        let db = self.transactor.db_name().to_string();
        let task = tokio::spawn(async move {
            let _subscriber = crate::observe::Held::subscriber();
            let mut checked = tokio::time::Instant::now();
            loop {
                let entry = feed.next().await;
                if entry.is_ok() && checked.elapsed() >= SUBSCRIPTION_RECHECK {
                    if let Err(e) = guard.allow(&db, Role::Read).await {
                        let _ = outgoing.send(failed(id, &e)).await;
                        return;
                    }
                    checked = tokio::time::Instant::now();
                }
                let frame = match entry {
                    Ok(entry) => Frame::Tx { id, entry },
                    Err(e) => {
                        let _ = outgoing.send(failed(id, &e)).await;
                        return;
                    }
                };
                if outgoing.send(frame).await.is_err() {
                    return;
                }
            }
        });
        self.subscriptions.retain(|_, task| !task.is_finished());
        if let Some(old) = self.subscriptions.insert(id, task.abort_handle()) {
            old.abort();
        }
    }
}

/// The FAILED frame of `e` for request `id`.
fn failed(id: u64, e: &Error) -> Frame {
    Frame::Failed {
        id,
        kind: e.kind(),
        tx_code: e.tx_code().unwrap_or_default().to_string(),
        message: e.message().to_string(),
    }
}
