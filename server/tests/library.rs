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

/// A database `shop` in memory storage `mem`, its transactor, and a server
/// in front of it.
async fn serving(
    mem: &str,
    observer: Option<server::RequestObserver>,
) -> (server::Server, transactor::Server) {
    let (storage, _) = Registry::default()
        .open(&format!("mem://{mem}"))
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
    let conn = peer.connect(&format!("mem://{mem}?db=shop")).await.unwrap();
    let server = server::Server::start(
        vec![conn],
        server::Config {
            observer,
            ..server::Config::default()
        },
    )
    .await
    .unwrap();
    (server, endpoint_server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_hears_every_request() {
    let heard: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let observer: server::RequestObserver = {
        let heard = heard.clone();
        Arc::new(move |endpoint: &str, status: u16, _took| {
            heard.lock().push((endpoint.to_string(), status));
        })
    };
    let (server, endpoint_server) = serving("server-library", Some(observer)).await;
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

/// One HTTP/1.1 GET: (status line and headers, body).
fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAccept: application/edn\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_string())
}

/// The EDN body of an answer that must be 200.
fn body_of(answer: &str) -> model::edn::Edn {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    model::edn::parse(body).unwrap()
}

fn at<'a>(edn: &'a model::edn::Edn, key: &str) -> &'a model::edn::Edn {
    edn.get(&model::edn::Edn::keyword(key))
        .unwrap_or_else(|| panic!("no {key} in {edn}"))
}

/// What the console reads beyond the API every client has: the schema,
/// datom counts, transactions per minute, the log by instant and by
/// attribute, the caller's role, and the console's own files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_schema_counts_rates_and_the_log() {
    let (server, endpoint_server) = serving("server-console", None).await;
    let addr = server.local_addr();
    tokio::task::spawn_blocking(move || {
        let schema = r#"{:tx-data [{:db/ident :item/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity :db/doc "The item's name"}
                                    {:db/ident :item/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many :db/index true}]}"#;
        let schema_t = body_of(&post(addr, "/dbs/shop/transact", schema));
        let schema_t = at(&schema_t, "t").clone();
        body_of(&post(addr, "/dbs/shop/transact", r#"{:tx-data [{:item/name "a" :item/tags [:x :y]} {:item/name "b"}]}"#));
        body_of(&post(addr, "/dbs/shop/transact", r#"{:tx-data [{:item/name "c"}]}"#));

        // schema: the attributes with their facts; as of before the schema,
        // none of them.
        let answer = body_of(&post(addr, "/dbs/shop/schema", "{}"));
        let text = answer.to_string();
        assert!(text.contains(":db/ident :item/name"), "{text}");
        let name = match at(&answer, "attributes") {
            model::edn::Edn::Vector(items) => items
                .iter()
                .find(|a| at(a, "db/ident").to_string() == ":item/name")
                .unwrap()
                .clone(),
            other => panic!("{other}"),
        };
        assert_eq!(at(&name, "db/valueType").to_string(), ":db.type/string");
        assert_eq!(at(&name, "db/cardinality").to_string(), ":db.cardinality/one");
        assert_eq!(at(&name, "db/unique").to_string(), ":db.unique/identity");
        assert_eq!(at(&name, "db/doc").to_string(), "\"The item's name\"");
        assert_eq!(at(&name, "builtin").to_string(), "false");
        assert!(text.contains(":db/ident :db/txInstant"), "builtins too");
        let model::edn::Edn::Long(t) = schema_t else { panic!("{schema_t}") };
        let before = body_of(&post(addr, "/dbs/shop/schema", &format!("{{:as-of {}}}", t - 1)));
        assert!(!before.to_string().contains(":item/name"), "{before}");

        // stats: every datom counted once, per attribute.
        let stats = body_of(&post(addr, "/dbs/shop/stats", "{}"));
        let text = stats.to_string();
        assert!(text.contains("[:item/name 3]") && text.contains("[:item/tags 2]"), "{text}");
        let model::edn::Edn::Vector(rows) = at(&stats, "attributes") else { panic!() };
        let sum: i64 = rows
            .iter()
            .map(|r| match r {
                model::edn::Edn::Vector(p) => match p[1] {
                    model::edn::Edn::Long(n) => n,
                    _ => panic!("{r}"),
                },
                _ => panic!("{r}"),
            })
            .sum();
        assert_eq!(at(&stats, "datoms"), &model::edn::Edn::Long(sum));
        let since = body_of(&post(addr, "/dbs/shop/stats", "{:since 1}"));
        assert!(since.to_string().contains("[:item/name 3]"), "{since}");

        // tx-rate: the three transactions, in buckets of a minute (the
        // bootstrap transaction is not counted); none after the future.
        let rate = body_of(&post(addr, "/dbs/shop/tx-rate", "{}"));
        let model::edn::Edn::Vector(buckets) = at(&rate, "buckets") else { panic!() };
        let counted: i64 = buckets
            .iter()
            .map(|b| match b {
                model::edn::Edn::Vector(p) => match (&p[0], &p[1]) {
                    (model::edn::Edn::Inst(i), model::edn::Edn::Long(n)) => {
                        assert_eq!(i.millis() % 60_000, 0, "a bucket starts on a minute");
                        *n
                    }
                    _ => panic!("{b}"),
                },
                _ => panic!("{b}"),
            })
            .sum();
        assert_eq!(counted, 3, "{rate}");
        let none = body_of(&post(addr, "/dbs/shop/tx-rate", r#"{:start #inst "2999-01-01"}"#));
        assert_eq!(at(&none, "buckets").to_string(), "[]");
        let zero = post(addr, "/dbs/shop/tx-rate", "{:bucket 0}");
        assert!(zero.starts_with("HTTP/1.1 400") && zero.contains("bucket"), "{zero}");

        // tx-range: by attribute, and between instants.
        let tagged = body_of(&post(addr, "/dbs/shop/tx-range", "{:attr :item/tags}"));
        let model::edn::Edn::Vector(txs) = at(&tagged, "txs") else { panic!() };
        assert_eq!(txs.len(), 1, "only the transaction with tags: {tagged}");
        let all = body_of(&post(addr, "/dbs/shop/tx-range", r#"{:start #inst "2000-01-01" :end "2999-01-01"}"#));
        let model::edn::Edn::Vector(txs) = at(&all, "txs") else { panic!() };
        assert_eq!(txs.len(), 3, "the bootstrap (1970) is before 2000: {all}");
        let later = body_of(&post(addr, "/dbs/shop/tx-range", r#"{:start #inst "2999-01-01"}"#));
        assert_eq!(at(&later, "txs").to_string(), "[]");
        let unknown = post(addr, "/dbs/shop/tx-range", "{:attr :nope/x}");
        assert!(unknown.starts_with("HTTP/1.1 400") && unknown.contains("names no attribute"), "{unknown}");

        // /status: the caller's role and principal (development mode:
        // anonymous, every role).
        let (head, status) = get(addr, "/status");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(status.contains(":role \"admin\"") && status.contains(":principal \"anonymous\""), "{status}");

        // The console's files, with a policy that allows only this origin.
        let (head, page) = get(addr, "/console/");
        assert!(head.starts_with("http/1.1 200") && head.contains("text/html"), "{head}");
        assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
        assert!(page.contains("<script src=\"console.js\""), "{page}");
        let (head, script) = get(addr, "/console/console.js");
        assert!(head.contains("text/javascript") && script.contains("'use strict'"), "{head}");
        let (head, _) = get(addr, "/console/console.css");
        assert!(head.contains("text/css"), "{head}");
        let (head, _) = get(addr, "/console");
        assert!(head.starts_with("http/1.1 308") && head.contains("location: /console/"), "{head}");
        let (head, body) = get(addr, "/console/secrets.txt");
        assert!(head.starts_with("http/1.1 404") && body.contains("console.js"), "{head} {body}");
    })
    .await
    .unwrap();
    drop(server);
    drop(endpoint_server);
}
