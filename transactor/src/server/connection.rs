//! One client connection to the endpoint: the handshake, then requests
//! served concurrently, answers sent in whatever order they finish.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::codec::Framed;
use uuid::Uuid;

use super::Databases;
use crate::error::{Error, ErrorKind, Result};
use crate::handle::{Transactor, parse_tx};
use crate::protocol::{Frame, FrameCodec, PROTOCOL_VERSION};

/// How long a client has to say HELLO.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers waiting for the socket; subscriptions wait when it is full.
const OUTGOING_BUFFER: usize = 1024;

/// Serves one connection until the client leaves or breaks the protocol.
pub(super) async fn serve(socket: TcpStream, databases: Databases) {
    let peer = socket
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    // Small answers, latency-bound: no Nagle delay.
    let _ = socket.set_nodelay(true);
    let mut framed = Framed::new(socket, FrameCodec::default());
    let transactor = match handshake(&mut framed, &databases).await {
        Ok(transactor) => transactor,
        Err(e) => {
            tracing::info!(%peer, error = %e, "handshake refused");
            let _ = framed.send(failed(0, &e)).await;
            return;
        }
    };
    let (sink, mut requests) = framed.split();
    let (outgoing, queue) = mpsc::channel(OUTGOING_BUFFER);
    let writer = tokio::spawn(write_all(sink, queue));
    let mut session = Session {
        transactor,
        outgoing,
        subscriptions: HashMap::new(),
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

/// Reads HELLO and answers WELCOME, or fails.
async fn handshake(
    framed: &mut Framed<TcpStream, FrameCodec>,
    databases: &Databases,
) -> Result<Arc<Transactor>> {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, framed.next())
        .await
        .map_err(|_| Error::protocol(format!("no HELLO within {HANDSHAKE_TIMEOUT:?}")))?
        .ok_or_else(|| Error::protocol("the client left before HELLO"))??;
    let Frame::Hello {
        min_version,
        max_version,
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
    let serving = databases.read().get(&db).cloned();
    let transactor = match serving {
        Some(t) if t.db_id() == db_id && t.epoch().0 == epoch => t,
        serving => return Err(not_serving(&db, db_id, epoch, serving.as_deref())),
    };
    framed
        .send(Frame::Welcome {
            version: PROTOCOL_VERSION,
            epoch: transactor.epoch().0,
            basis_t: transactor.db().basis_t(),
        })
        .await?;
    Ok(transactor)
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
    mut sink: futures::stream::SplitSink<Framed<TcpStream, FrameCodec>, Frame>,
    mut queue: mpsc::Receiver<Frame>,
) {
    while let Some(frame) = queue.recv().await {
        if sink.send(frame).await.is_err() {
            return;
        }
    }
}

/// The requests of one connection.
struct Session {
    transactor: Arc<Transactor>,
    outgoing: mpsc::Sender<Frame>,
    subscriptions: HashMap<u64, AbortHandle>,
}

impl Session {
    /// Starts serving one request; an error ends the connection.
    async fn handle(&mut self, frame: Frame) -> Result<()> {
        match frame {
            Frame::Transact { id, tx, tx_id } => self.transact(id, tx, tx_id),
            Frame::TxStatus { id, tx_id } => self.tx_status(id, tx_id),
            Frame::Subscribe { id, from_t } => self.subscribe(id, from_t),
            Frame::Unsubscribe { id } => {
                if let Some(task) = self.subscriptions.remove(&id) {
                    task.abort();
                }
            }
            Frame::Status { id } => {
                let reply = Frame::StatusReply {
                    id,
                    basis_t: self.transactor.db().basis_t(),
                    epoch: self.transactor.epoch().0,
                };
                let _ = self.outgoing.send(reply).await;
            }
            other => return Err(Error::protocol(format!("a client may not send {other:?}"))),
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

    fn transact(&self, id: u64, tx: String, tx_id: Option<Uuid>) {
        let (transactor, outgoing) = (self.transactor.clone(), self.outgoing.clone());
        tokio::spawn(async move {
            let outcome = match parse_tx(&tx) {
                Ok(forms) => transactor.transact_with_id(forms, tx_id).await,
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

    fn subscribe(&mut self, id: u64, from_t: u64) {
        let mut feed = self.transactor.subscribe(from_t);
        let outgoing = self.outgoing.clone();
        let task = tokio::spawn(async move {
            loop {
                let frame = match feed.next().await {
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
