//! The protocol endpoint of a transactor process: accepts TCP connections
//! and serves, per database, the transactor registered for it.

mod connection;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use storage_core::DbName;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::handle::Transactor;
use crate::lease::Epoch;

type Databases = Arc<RwLock<HashMap<String, Arc<Transactor>>>>;

/// A listening endpoint. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    databases: Databases,
    accept: JoinHandle<()>,
}

impl Server {
    /// Listens on `addr` (`host:port`; port 0 picks a free one).
    pub async fn bind(addr: &str) -> Result<Server> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("listening on {addr}"), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("listening on {addr}"), e))?;
        let databases: Databases = Arc::default();
        let accept = tokio::spawn(accept_loop(listener, databases.clone()));
        tracing::info!(%local_addr, "transactor endpoint listening");
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

async fn accept_loop(listener: TcpListener, databases: Databases) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                tokio::spawn(connection::serve(socket, databases.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
