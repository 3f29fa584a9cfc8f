//! One client connection: the STARTUP/AUTH handshake, then requests, each
//! statement handled in its own task so slow ones do not block others;
//! responses go through one writer task that echoes stream ids.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};

use crate::error::CqlError;
use crate::handler::handle_statement;
use crate::node::Node;
use crate::protocol::{Frame, ReadError, Request, Response, read_frame, write_frame};

const PASSWORD_AUTHENTICATOR: &str = "org.apache.cassandra.auth.PasswordAuthenticator";

/// What the writer task is asked to do.
pub(crate) enum Outgoing {
    Frame {
        stream: i16,
        response: Response,
        lz4: bool,
    },
    /// Close the connection without answering (an injected fault).
    Close,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    AwaitingStartup,
    Authenticating,
    Ready,
}

/// The state of one connection.
pub(crate) struct Connection {
    node: Arc<Node>,
    shutdown: watch::Receiver<bool>,
    keyspace: Arc<Mutex<Option<String>>>,
    stage: Stage,
    lz4: bool,
}

impl Connection {
    pub(crate) fn new(node: Arc<Node>, shutdown: watch::Receiver<bool>) -> Connection {
        Connection {
            node,
            shutdown,
            keyspace: Arc::new(Mutex::new(None)),
            stage: Stage::AwaitingStartup,
            lz4: false,
        }
    }

    /// Serves the connection until the client leaves, a fault closes it or
    /// the cluster shuts down.
    pub(crate) async fn run(mut self, socket: TcpStream) {
        let (mut reader, writer) = socket.into_split();
        let (out, queue) = mpsc::unbounded_channel();
        let (closed_tx, mut closed) = watch::channel(false);
        tokio::spawn(write_loop(writer, queue, closed_tx));
        let mut shutdown = self.shutdown.clone();
        loop {
            let frame = tokio::select! {
                frame = read_frame(&mut reader, self.lz4) => frame,
                _ = closed.changed() => break,
                _ = shutdown.changed() => break,
            };
            match frame {
                Ok(frame) => self.dispatch(frame, &out, &closed),
                Err(ReadError::Closed) => break,
                Err(ReadError::Protocol(stream, e)) => {
                    self.reply(&out, stream, Response::Error(e.into()));
                    break;
                }
            }
        }
        // Stops the writer (after what is queued) and with it the event forwarder.
        let _ = out.send(Outgoing::Close);
    }

    fn reply(&self, out: &mpsc::UnboundedSender<Outgoing>, stream: i16, response: Response) {
        let _ = out.send(Outgoing::Frame {
            stream,
            response,
            lz4: self.lz4,
        });
    }

    fn dispatch(
        &mut self,
        frame: Frame,
        out: &mpsc::UnboundedSender<Outgoing>,
        closed: &watch::Receiver<bool>,
    ) {
        let stream = frame.stream;
        let request = match Request::decode(&frame) {
            Ok(request) => request,
            Err(e) => return self.reply(out, stream, Response::Error(e.into())),
        };
        let response = match request {
            Request::Options => Response::Supported(supported()),
            Request::Startup(options) => return self.startup(out, stream, options.get("COMPRESSION").map(String::as_str)),
            Request::AuthResponse(token) => self.authenticate(token.as_deref()),
            _ if self.stage != Stage::Ready => Response::Error(CqlError::Protocol(
                "Unexpected message before the connection is ready: send STARTUP (and authenticate) first".into(),
            )),
            Request::Register(events) => {
                if events.iter().any(|e| e == "SCHEMA_CHANGE") {
                    self.forward_schema_events(out.clone(), closed.clone());
                }
                Response::Ready
            }
            statement => {
                let (node, keyspace, out, lz4) = (Arc::clone(&self.node), Arc::clone(&self.keyspace), out.clone(), self.lz4);
                tokio::spawn(async move {
                    let outgoing = match handle_statement(&node, &keyspace, statement).await {
                        Some(response) => Outgoing::Frame { stream, response, lz4 },
                        None => Outgoing::Close,
                    };
                    let _ = out.send(outgoing);
                });
                return;
            }
        };
        self.reply(out, stream, response);
    }

    fn startup(
        &mut self,
        out: &mpsc::UnboundedSender<Outgoing>,
        stream: i16,
        compression: Option<&str>,
    ) {
        if self.stage != Stage::AwaitingStartup {
            return self.reply(
                out,
                stream,
                Response::Error(CqlError::Protocol("STARTUP was already received".into())),
            );
        }
        let lz4 = match compression {
            None => false,
            Some(c) if c.eq_ignore_ascii_case("lz4") => true,
            Some(other) => {
                let error = CqlError::Protocol(format!(
                    "Unknown compression algorithm: {other} (the simulator supports lz4)"
                ));
                return self.reply(out, stream, Response::Error(error));
            }
        };
        if self.node.credentials.is_some() {
            self.stage = Stage::Authenticating;
            self.reply(out, stream, Response::Authenticate(PASSWORD_AUTHENTICATOR));
        } else {
            self.stage = Stage::Ready;
            self.reply(out, stream, Response::Ready);
        }
        // The answer to STARTUP goes out uncompressed; everything after is lz4.
        self.lz4 = lz4;
    }

    /// Checks a SASL PLAIN token (`\0user\0password`).
    fn authenticate(&mut self, token: Option<&[u8]>) -> Response {
        if self.stage != Stage::Authenticating {
            return Response::Error(CqlError::Protocol(
                "AUTH_RESPONSE received but no authentication is in progress".into(),
            ));
        }
        let Some((user, password)) = &self.node.credentials else {
            return Response::Error(CqlError::Protocol("authentication is not enabled".into()));
        };
        let mut parts = token.unwrap_or_default().split(|b| *b == 0).skip(1);
        let (given_user, given_password) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if given_user == user.as_bytes() && given_password == password.as_bytes() {
            self.stage = Stage::Ready;
            return Response::AuthSuccess;
        }
        let user = String::from_utf8_lossy(given_user);
        Response::Error(CqlError::BadCredentials(format!(
            "Provided username {user} and/or password are incorrect"
        )))
    }

    fn forward_schema_events(
        &self,
        out: mpsc::UnboundedSender<Outgoing>,
        mut closed: watch::Receiver<bool>,
    ) {
        let mut events = self.node.subscribe();
        let lz4 = self.lz4;
        tokio::spawn(async move {
            loop {
                let change = tokio::select! {
                    change = events.recv() => change,
                    _ = closed.changed() => return,
                };
                match change {
                    Ok(change) => {
                        if out
                            .send(Outgoing::Frame {
                                stream: -1,
                                response: Response::SchemaEvent(change),
                                lz4,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
    }
}

fn supported() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("CQL_VERSION", vec!["3.4.5"]),
        ("COMPRESSION", vec!["lz4"]),
        ("PROTOCOL_VERSIONS", vec!["4/v4"]),
    ])
}

/// Writes responses in the order they are queued; stops (closing the
/// socket) on `Close`, a write error, or when every sender is gone.
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    closed: watch::Sender<bool>,
) {
    while let Some(outgoing) = queue.recv().await {
        let Outgoing::Frame {
            stream,
            response,
            lz4,
        } = outgoing
        else {
            break;
        };
        let (opcode, body) = response.encode();
        if write_frame(&mut writer, stream, opcode, &body, lz4)
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = closed.send(true);
}
