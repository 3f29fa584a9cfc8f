//! The protocol endpoint of a transactor process: accepts TCP connections
//! and serves, per database, the transactor registered for it.

mod connection;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use access::{Admission, Gate};
use parking_lot::RwLock;
use storage_core::DbName;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::handle::Transactor;
use crate::lease::Epoch;

type Databases = Arc<RwLock<HashMap<String, Arc<Transactor>>>>;

/// How an endpoint secures its connections.
///
/// The rule it enforces: nothing answers on the network without
/// authentication, except loopback in development. So an endpoint on an
/// address other than loopback needs a gate that admits only
/// authenticated clients, and TLS unless `insecure_plaintext` says
/// otherwise (then it warns at every start). On loopback, no gate (or an
/// open one) is development mode: every client is `anonymous` with every
/// role, and the endpoint says so when it starts.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// TLS: when set, every connection must speak it; a plaintext client
    /// is refused with a message saying so.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Authentication and authorization; `None` is development mode
    /// (loopback only).
    pub gate: Option<Arc<Gate>>,
    /// Allows plaintext on an address other than loopback: tokens then
    /// cross the network in the clear.
    pub insecure_plaintext: bool,
}

impl Security {
    /// Refuses settings that would break the rule on `addr`, and logs the
    /// mode of an endpoint that is open or in plaintext.
    fn check(&self, addr: SocketAddr) -> Result<()> {
        let loopback = addr.ip().is_loopback();
        if !loopback && self.is_open() {
            return Err(Error::invalid(format!(
                "refusing to serve {addr} without authentication: only a loopback endpoint may admit clients without credentials (give the endpoint a gate, `accrete transactor --auth`)"
            )));
        }
        if !loopback && self.tls.is_none() && !self.insecure_plaintext {
            return Err(Error::invalid(format!(
                "refusing to serve {addr} in plaintext: give the endpoint a certificate and key (--tls-cert, --tls-key), or accept the risk with --insecure-plaintext"
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

    /// Logs the mode of an endpoint that listens on `addr`, when it is
    /// open or in plaintext by request: at every start.
    fn announce(&self, addr: SocketAddr) {
        if self.tls.is_none() && self.insecure_plaintext {
            tracing::warn!(%addr, "INSECURE: serving {addr} in plaintext (--insecure-plaintext): tokens and data cross the network in the clear");
        }
        if self.is_open() {
            tracing::info!(%addr, "development mode: this loopback endpoint admits clients without credentials as `anonymous` with every role");
        }
    }
}

/// What every connection of an endpoint shares.
#[derive(Debug)]
struct Shared {
    databases: Databases,
    security: Security,
}

/// A listening endpoint. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    databases: Databases,
    accept: JoinHandle<()>,
}

impl Server {
    /// Listens on `addr` (`host:port`; port 0 picks a free one) in
    /// development mode: loopback only, no credentials asked (see
    /// [`Security`]).
    pub async fn bind(addr: &str) -> Result<Server> {
        Server::bind_with(addr, Security::default()).await
    }

    /// Listens on `addr`, securing connections as `security` says;
    /// refuses settings that would let anything but loopback answer
    /// without authentication.
    pub async fn bind_with(addr: &str, security: Security) -> Result<Server> {
        // Checked before binding: a refused address never listens at all.
        let resolved = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| Error::io(format!("resolving {addr}"), e))?;
        for candidate in resolved {
            security.check(candidate)?;
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("listening on {addr}"), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("listening on {addr}"), e))?;
        security.announce(local_addr);
        let databases: Databases = Arc::default();
        let tls = security.tls.is_some();
        let shared = Arc::new(Shared {
            databases: databases.clone(),
            security,
        });
        let accept = tokio::spawn(accept_loop(listener, shared));
        tracing::info!(%local_addr, tls, "transactor endpoint open (it serves each database once it holds the lease)");
        Ok(Server {
            local_addr,
            databases,
            accept,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `transactor`'s database from now on (replacing an earlier
    /// transactor of it).
    pub fn serve(&self, transactor: Arc<Transactor>) {
        let name = transactor.db_name().to_string();
        self.databases.write().insert(name, transactor);
    }

    /// Stops serving `db` if the transactor registered for it is of `epoch`.
    pub fn withdraw(&self, db: &DbName, epoch: Epoch) {
        let mut databases = self.databases.write();
        if databases
            .get(db.as_str())
            .is_some_and(|t| t.epoch() == epoch)
        {
            databases.remove(db.as_str());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                tokio::spawn(connection::serve(socket, shared.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
