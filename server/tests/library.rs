//! The server as a library in this process: started on a peer
//! connection, answering over loopback, telling its observer (the hook
//! for metrics) about every request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use index::{SegmentCache, Segments, create_db};
use parking_lot::Mutex;
use peer::{Config, Peer};
use storage_core::{DbName, Registry};

fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/edn\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_hears_every_request() {
    let (storage, _) = Registry::default()
        .open("mem://server-library")
        .await
        .unwrap();
    let name = DbName::new("shop").unwrap();
    create_db(&storage, &name).await.unwrap();
    let endpoint_server = transactor::Server::bind("127.0.0.1:0").await.unwrap();
    let config = transactor::Config {
        endpoint: Some(endpoint_server.local_addr().to_string()),
        ..Default::default()
    };
    let seg = Segments::new(storage, SegmentCache::new(16 << 20).unwrap());
    endpoint_server.serve(Arc::new(
        transactor::Transactor::start(seg, &name, config)
            .await
            .unwrap(),
    ));
    let peer = Peer::new(Config::default()).unwrap();
    let conn = peer.connect("mem://server-library?db=shop").await.unwrap();
    let heard: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let observer: server::RequestObserver = {
        let heard = heard.clone();
        Arc::new(move |endpoint: &str, status: u16, _took| {
            heard.lock().push((endpoint.to_string(), status));
        })
    };
    let server = server::Server::start(
        vec![conn],
        server::Config {
            observer: Some(observer),
            ..server::Config::default()
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let answers = tokio::task::spawn_blocking(move || {
        [
            post(addr, "/dbs/shop/transact", r#"{:tx-data [{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]}"#),
            post(addr, "/dbs/shop/q", "{:query [:find ?e . :where [?e :db/ident :a/b]]}"),
            post(addr, "/dbs/shop/q", "{:query [:find ?e :where [?e :nope/x]]}"),
        ]
    })
    .await
    .unwrap();
    assert!(answers[0].starts_with("HTTP/1.1 200"), "{}", answers[0]);
    assert!(answers[1].contains(":result "), "{}", answers[1]);
    assert!(answers[2].starts_with("HTTP/1.1 400"), "{}", answers[2]);
    let heard = heard.lock().clone();
    assert_eq!(
        heard,
        vec![
            ("transact".to_string(), 200),
            ("q".to_string(), 200),
            ("q".to_string(), 400)
        ]
    );
    drop(server);
    drop(endpoint_server);
}
