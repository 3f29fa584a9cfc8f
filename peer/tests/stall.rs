//! A transactor connection that dies without closing (the network drops
//! everything, no FIN): the peer notices through storage and reconnects.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use transactor::{Server, Transactor};

/// A TCP proxy whose existing connections can be frozen: they stay open
/// but nothing passes any more. Later connections pass.
struct Proxy {
    addr: SocketAddr,
    generation: Arc<AtomicU64>,
    frozen: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            generation: Arc::new(AtomicU64::new(1)),
            frozen: Arc::new(AtomicU64::new(0)),
        };
        let (generation, frozen) = (proxy.generation.clone(), proxy.frozen.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(target).await.unwrap();
                let born = generation.fetch_add(1, Ordering::SeqCst);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, born, frozen.clone()));
                tokio::spawn(pump(server_read, client_write, born, frozen.clone()));
            }
        });
        proxy
    }

    /// Freezes every connection made so far.
    fn freeze(&self) {
        let last = self.generation.load(Ordering::SeqCst) - 1;
        self.frozen.store(last, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    born: u64,
    frozen: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if born <= frozen.load(Ordering::SeqCst) {
            // Swallow everything and keep both sockets open.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stalls_silently_is_replaced() {
    let (uri, _storage) = mem_db("stall").await;
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let proxy = Proxy::start(server.local_addr()).await;
    let config = transactor::Config {
        endpoint: Some(proxy.addr.to_string()),
        ..transactor_config()
    };
    let transactor: Arc<Transactor> = Arc::new(embedded(&uri, config).await);
    server.serve(transactor.clone());

    let conn = connect(&uri, peer_config()).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let mut queue = conn.tx_report_queue().unwrap();
    proxy.freeze();
    let committed = transactor.transact_edn(&marked(1)).await.unwrap();
    let started = Instant::now();
    let db = within(conn.sync_t(committed.t())).await.unwrap();
    assert!(holds(&db, 1).await);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "noticed after {:?}",
        started.elapsed()
    );
    assert_eq!(within(queue.next()).await.unwrap().t(), committed.t());
    // Transactions pass again, through a new connection.
    let report = within(conn.transact(&marked(2))).await.unwrap();
    assert_eq!(within(queue.next()).await.unwrap().t(), report.t());
    within(transactor.shutdown()).await.unwrap();
}
