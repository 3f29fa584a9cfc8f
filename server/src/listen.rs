//! Listening: the security check before anything binds, the accept loop
//! (TLS when configured, the client certificate's subject kept for the
//! gate), and HTTP/1 connections served by the router.

use std::net::SocketAddr;
use std::sync::Arc;

use access::{Admission, Gate};
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use peer::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::app::{App, ClientInfo};
use crate::error::ApiError;
use crate::{Config, DEFAULT_LISTEN};

/// How the server authenticates clients and secures connections.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// The gate over the access records (tokens, grants). Without one, or
    /// with one that admits clients without credentials, every client is
    /// `anonymous` with every role: development on loopback only.
    pub gate: Option<Arc<Gate>>,
    /// TLS: when set, every connection must speak it.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Security {
    /// Refuses what would break the rule that nothing but loopback answers
    /// without authentication: beyond loopback, clients must authenticate
    /// (a gate that admits only authenticated clients) and connections
    /// must be TLS (a token must not cross the network in the clear).
    pub fn check(&self, addr: SocketAddr) -> Result<(), ApiError> {
        if addr.ip().is_loopback() {
            return Ok(());
        }
        if self.is_open() {
            return Err(ApiError::invalid(format!(
                "refusing to serve {addr} without authentication: only a loopback address may admit clients without credentials (`accrete serve --auth`)"
            )));
        }
        if self.tls.is_none() {
            return Err(ApiError::invalid(format!(
                "refusing to serve {addr} without TLS: tokens and data would cross the network in the clear (--tls-cert, --tls-key)"
            )));
        }
        Ok(())
    }

    /// Whether clients without credentials get in (development mode).
    pub fn is_open(&self) -> bool {
        !self
            .gate
            .as_ref()
            .is_some_and(|g| g.admission() == Admission::Authenticated)
    }
}

/// A running server. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Server {
    /// Serves `databases` (each by its name) as `config` says, once the
    /// security check passed and the address is bound.
    pub async fn start(databases: Vec<Connection>, config: Config) -> Result<Server, ApiError> {
        let listen = config.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let addr = crate::resolve(listen).await?;
        // Checked before binding: a refused address never listens at all.
        config.security.check(addr)?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            ApiError::new(crate::Kind::Refused, format!("listening on {addr}: {e}"))
        })?;
        let local_addr = listener.local_addr().map_err(|e| {
            ApiError::new(crate::Kind::Refused, format!("listening on {addr}: {e}"))
        })?;
        let app = Arc::new(App::new(
            databases,
            config.limits.clone(),
            config.security.gate.clone(),
            config.observer.clone(),
        )?);
        let router = app.router();
        let tls = config.security.tls.clone().map(TlsAcceptor::from);
        let accept = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let router = router.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, peer, tls, router).await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
        });
        Ok(Server { local_addr, accept })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the server stops (it runs until dropped or the process ends).
    pub async fn wait(self) {
        let _ = (&mut { self }.accept).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Serves one connection: the TLS handshake (when configured), then
/// HTTP/1 requests, each carrying who connected.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            let client = ClientInfo {
                addr: peer,
                certificate: None,
            };
            serve(TokioIo::new(stream), client, router).await
        }
        Some(acceptor) => {
            let stream = acceptor.accept(stream).await?;
            let certificate = access::tls::peer_principal(stream.get_ref().1)?;
            let client = ClientInfo {
                addr: peer,
                certificate,
            };
            serve(TokioIo::new(stream), client, router).await
        }
    }
}

async fn serve<I>(
    io: I,
    client: ClientInfo,
    router: axum::Router,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req: Request = req.map(Body::new);
        req.extensions_mut().insert(client.clone());
        router.clone().oneshot(req)
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await?;
    Ok(())
}
