//! One protocol connection: a writer task that sends frames, a reader task
//! that hands each answer to the request waiting for it.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use model::TxLog;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{Frame, Framing};

/// How many subscription entries wait for their reader before the
/// connection stops reading (and the server notices the lag).
const SUBSCRIPTION_BUFFER: usize = 1024;

/// Who waits for the answers to a request id.
enum Waiter {
    Call(oneshot::Sender<Result<Frame>>),
    Subscription(mpsc::Sender<Result<TxLog>>),
}

type Waiters = Arc<Mutex<Option<HashMap<u64, Waiter>>>>;

/// The shared end of a connection: send requests, get answers.
pub(crate) struct Connection {
    outgoing: mpsc::UnboundedSender<Frame>,
    waiters: Waiters,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.waiters.lock().as_ref().map(HashMap::len);
        f.debug_struct("Connection")
            .field("waiting", &waiting)
            .finish()
    }
}

impl Connection {
    /// Runs `framed` (after the handshake) on two tasks.
    pub(crate) fn start(framed: Framing) -> Connection {
        let (mut sink, mut stream) = framed.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Frame>();
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        let for_writer = waiters.clone();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if let Err(e) = sink.send(frame).await {
                    fail_all(&for_writer, &e);
                    return;
                }
            }
        });
        let for_reader = waiters.clone();
        tokio::spawn(async move {
            let end = loop {
                match stream.next().await {
                    Some(Ok(frame)) => {
                        if let Err(e) = dispatch(&for_reader, frame).await {
                            break e;
                        }
                    }
                    Some(Err(e)) => break e,
                    None => {
                        break Error::new(
                            ErrorKind::Unavailable,
                            "the transactor closed the connection",
                        );
                    }
                }
            };
            fail_all(&for_reader, &end);
        });
        Connection { outgoing, waiters }
    }

    /// Sends `frame` and waits for the answer to `id`.
    pub(crate) async fn call(&self, id: u64, frame: Frame) -> Result<Frame> {
        let (tell, answer) = oneshot::channel();
        self.register(id, Waiter::Call(tell))?;
        self.send(frame)?;
        answer.await.map_err(|_| {
            Error::new(
                ErrorKind::OutcomeUnknown,
                "the connection ended before an answer came",
            )
        })?
    }

    /// Sends `frame` and routes the entries of subscription `id`.
    pub(crate) fn subscribe(&self, id: u64, frame: Frame) -> Result<mpsc::Receiver<Result<TxLog>>> {
        let (tell, entries) = mpsc::channel(SUBSCRIPTION_BUFFER);
        self.register(id, Waiter::Subscription(tell))?;
        self.send(frame)?;
        Ok(entries)
    }

    /// Forgets subscription `id` and tells the server.
    pub(crate) fn unsubscribe(&self, id: u64) {
        if let Some(waiters) = self.waiters.lock().as_mut() {
            waiters.remove(&id);
        }
        // A closed connection has no subscription left to end.
        let _ = self.outgoing.send(Frame::Unsubscribe { id });
    }

    fn register(&self, id: u64, waiter: Waiter) -> Result<()> {
        match self.waiters.lock().as_mut() {
            Some(waiters) => {
                waiters.insert(id, waiter);
                Ok(())
            }
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "the connection to the transactor is closed",
            )),
        }
    }

    fn send(&self, frame: Frame) -> Result<()> {
        self.outgoing.send(frame).map_err(|_| {
            Error::new(
                ErrorKind::Unavailable,
                "the connection to the transactor is closed",
            )
        })
    }
}

/// Hands one incoming frame to whoever waits for it.
async fn dispatch(waiters: &Waiters, frame: Frame) -> Result<()> {
    let id = match &frame {
        Frame::Committed { id, .. }
        | Frame::Tx { id, .. }
        | Frame::StatusReply { id, .. }
        | Frame::TxStatusReply { id, .. }
        | Frame::Failed { id, .. } => *id,
        other => {
            return Err(Error::protocol(format!(
                "unexpected frame from the server: {other:?}"
            )));
        }
    };
    if let Frame::Failed { id: 0, .. } = &frame {
        return Err(failure(frame));
    }
    let subscription = {
        let mut guard = waiters.lock();
        let Some(map) = guard.as_mut() else {
            return Ok(());
        };
        match map.remove(&id) {
            None => return Ok(()), // a late answer to an ended subscription
            Some(Waiter::Call(tell)) => {
                let answer = match frame {
                    Frame::Failed { .. } => Err(failure(frame)),
                    other => Ok(other),
                };
                // The caller may have given up waiting.
                let _ = tell.send(answer);
                return Ok(());
            }
            Some(Waiter::Subscription(tell)) => {
                if !matches!(frame, Frame::Failed { .. }) {
                    map.insert(id, Waiter::Subscription(tell.clone()));
                }
                tell
            }
        }
    };
    let item = match frame {
        Frame::Tx { entry, .. } => Ok(entry),
        Frame::Failed { .. } => Err(failure(frame)),
        other => Err(Error::protocol(format!(
            "unexpected answer to a subscription: {other:?}"
        ))),
    };
    if subscription.send(item).await.is_err() {
        // The subscriber was dropped; it sent UNSUBSCRIBE on its way out.
        if let Some(map) = waiters.lock().as_mut() {
            map.remove(&id);
        }
    }
    Ok(())
}

/// The error a FAILED frame carries.
pub(crate) fn failure(frame: Frame) -> Error {
    match frame {
        Frame::Failed {
            kind,
            tx_code,
            message,
            ..
        } => {
            let e = Error::new(kind, message);
            match tx_code.is_empty() {
                true => e,
                false => e.with_tx_code(tx_code),
            }
        }
        other => Error::protocol(format!("expected a FAILED frame, got {other:?}")),
    }
}

/// Ends every waiting request with `why`: calls in flight may have
/// committed; subscriptions just end.
fn fail_all(waiters: &Waiters, why: &Error) {
    let Some(map) = waiters.lock().take() else {
        return;
    };
    for (_, waiter) in map {
        match waiter {
            Waiter::Call(tell) => {
                // Whatever broke the connection (a network error, a garbled
                // frame), a request already sent may have committed.
                let message = format!("{}: {}", why.kind(), why.message());
                let _ = tell.send(Err(Error::new(ErrorKind::OutcomeUnknown, message)));
            }
            Waiter::Subscription(tell) => {
                let _ = tell.try_send(Err(Error::new(why.kind(), why.message().to_string())));
            }
        }
    }
}
