//! A coordinator node's TCP listener on loopback, accepting driver
//! connections for its [`Node`].

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connection::Connection;
use crate::node::Node;

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let _ = socket.set_nodelay(true);
                    let connection = Connection::new(Arc::clone(&node), shutdown.clone());
                    tokio::spawn(connection.run(socket));
                }
                Err(e) => tracing::warn!("cql-sim: accept failed: {e}"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
