//! Benchmarks of `accrete serve`, printed as a table and as JSON:
//! - a point query (`q` by a unique attribute) and a `pull` by lookup ref,
//!   over HTTP/1.1 keep-alive on loopback with 1 and 32 concurrent
//!   clients (closed loop): requests per second, p50 and p99 latency;
//!   beside the same query and pull run in process on the peer's value;
//! - report-stream latency: from the submission of a transaction to its
//!   event at an HTTP Server-Sent-Events subscriber, while transactions
//!   are offered at a steady rate (open loop).
//!
//! The transactor runs in this process on `mem:` storage; the server is
//! the `server` crate's, the clients are plain threads with raw sockets.
//! `cargo bench -p server --bench http`. `ACCRETE_BENCH_SECONDS` (default
//! 3) sets each run's length, `ACCRETE_BENCH_ENTITIES` (default 10_000)
//! the database's size, `ACCRETE_BENCH_TX_RATE` (default 1000) the offered
//! transactions per second of the stream run.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use index::{SegmentCache, Segments, create_db};
use model::Value;
use peer::{Config, Connection, Peer};
use serde_json::json;
use storage_core::{DbName, Registry};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A keep-alive HTTP/1.1 client on one connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn post(&mut self, path: &str, body: &str) -> String {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/edn\r\nAccept: application/edn\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut length = 0;
        let mut status = String::new();
        self.reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("content-length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        String::from_utf8(body).unwrap()
    }
}

struct Stats {
    name: String,
    clients: usize,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
}

/// Runs `clients` threads, each doing `op(i)` in a closed loop for `secs`.
fn closed_loop(
    name: &str,
    clients: usize,
    secs: u64,
    op: impl Fn(usize) + Send + Sync + 'static,
) -> Stats {
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let op = op.clone();
            std::thread::spawn(move || {
                let mut hist = Histogram::<u64>::new(3).unwrap();
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    op(i);
                    hist.record(started.elapsed().as_micros() as u64).unwrap();
                    i += 1;
                }
                hist
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3).unwrap();
    for t in threads {
        all.add(t.join().unwrap()).unwrap();
    }
    Stats {
        name: name.to_string(),
        clients,
        rps: all.len() as f64 / secs as f64,
        p50_us: all.value_at_quantile(0.5),
        p99_us: all.value_at_quantile(0.99),
    }
}

async fn stage(entities: u64) -> (Connection, server::Server, Vec<Box<dyn std::any::Any>>) {
    let (storage, _) = Registry::default().open("mem://serve-bench").await.unwrap();
    let name = DbName::new("bench").unwrap();
    create_db(&storage, &name).await.unwrap();
    let endpoint_server = transactor::Server::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Some(endpoint_server.local_addr().to_string());
    let seg = Segments::new(storage, SegmentCache::new(256 << 20).unwrap());
    let config = transactor::Config {
        endpoint,
        ..Default::default()
    };
    endpoint_server.serve(Arc::new(
        transactor::Transactor::start(seg, &name, config)
            .await
            .unwrap(),
    ));
    let peer = Peer::new(Config::default()).unwrap();
    let conn = peer.connect("mem://serve-bench?db=bench").await.unwrap();
    conn.transact(
        r#"[{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
            {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#,
    )
    .await
    .unwrap();
    for start in (0..entities).step_by(5000) {
        let forms: Vec<String> = (start..(start + 5000).min(entities))
            .map(|i| format!(r#"{{:user/email "u{i}@x" :user/name "User {i}"}}"#))
            .collect();
        conn.transact(&format!("[{}]", forms.join(" ")))
            .await
            .unwrap();
    }
    let server = server::Server::start(vec![conn.clone()], server::Config::default())
        .await
        .unwrap();
    (
        conn,
        server,
        vec![Box::new(endpoint_server), Box::new(peer)],
    )
}

const POINT_Q: &str = "[:find ?n . :in $ ?email :where [?e :user/email ?email] [?e :user/name ?n]]";

fn main() {
    let secs = env_or("ACCRETE_BENCH_SECONDS", 3);
    let entities = env_or("ACCRETE_BENCH_ENTITIES", 10_000);
    let rate = env_or("ACCRETE_BENCH_TX_RATE", 1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (conn, server, _keep) = runtime.block_on(stage(entities));
    let addr = server.local_addr();
    let mut results = Vec::new();

    for clients in [1usize, 32] {
        results.push(closed_loop("q point over HTTP", clients, secs, move |i| {
            thread_local! { static CLIENT: std::cell::RefCell<Option<Client>> = const { std::cell::RefCell::new(None) }; }
            let email = format!("u{}@x", i as u64 % entities);
            let body = format!(r#"{{:query {POINT_Q} :args ["{email}"]}}"#);
            CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                let client = c.get_or_insert_with(|| Client::connect(addr));
                let answer = client.post("/dbs/bench/q", &body);
                assert!(answer.contains(":result \"User"), "{answer}");
            });
        }));
        results.push(closed_loop("pull over HTTP", clients, secs, move |i| {
            thread_local! { static CLIENT: std::cell::RefCell<Option<Client>> = const { std::cell::RefCell::new(None) }; }
            let body = format!(
                r#"{{:pattern [:user/name] :eid [:user/email "u{}@x"]}}"#,
                i as u64 % entities
            );
            CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                let client = c.get_or_insert_with(|| Client::connect(addr));
                let answer = client.post("/dbs/bench/pull", &body);
                assert!(answer.contains(":user/name"), "{answer}");
            });
        }));
        let db = conn.db();
        let query = query::Query::parse(POINT_Q).unwrap();
        results.push(closed_loop("q point in process", clients, secs, move |i| {
            let email = Value::string(&format!("u{}@x", i as u64 % entities));
            let found = query
                .run(
                    &[query::Input::Db(db.clone()), query::Input::Value(email)],
                    &query::Options::default(),
                )
                .unwrap();
            assert!(found.scalar().is_some());
        }));
        let db = conn.db();
        let pattern = query::PullPattern::parse("[:user/name]").unwrap();
        results.push(closed_loop("pull in process", clients, secs, move |i| {
            let eid = db
                .entid(
                    &model::edn::parse(&format!("[:user/email \"u{}@x\"]", i as u64 % entities))
                        .unwrap(),
                )
                .unwrap()
                .unwrap();
            let pulled = query::pull(&db, &pattern, &Value::Ref(eid)).unwrap();
            assert!(!pulled.is_empty());
        }));
    }

    let stream = runtime.block_on(report_stream(&conn, addr, secs, rate));

    println!(
        "{:<22} {:>7} {:>10} {:>9} {:>9}",
        "operation", "clients", "req/s", "p50 µs", "p99 µs"
    );
    for s in &results {
        println!(
            "{:<22} {:>7} {:>10.0} {:>9} {:>9}",
            s.name, s.clients, s.rps, s.p50_us, s.p99_us
        );
    }
    println!(
        "report stream at {} tx/s offered ({} tx/s committed): submit→event p50 {} µs, p99 {} µs, max {} µs; ack→event p50 {} µs, p99 {} µs ({} events)",
        rate,
        stream.committed_rate as u64,
        stream.p50,
        stream.p99,
        stream.max,
        stream.ack_p50,
        stream.ack_p99,
        stream.count
    );
    let json = json!({
        "machine": format!("{} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)),
        "entities": entities,
        "seconds": secs,
        "requests": results.iter().map(|s| json!({
            "operation": s.name, "clients": s.clients, "rps": s.rps.round(),
            "p50_us": s.p50_us, "p99_us": s.p99_us,
        })).collect::<Vec<_>>(),
        "report_stream": {
            "offered_tx_per_s": rate, "committed_tx_per_s": stream.committed_rate.round(),
            "events": stream.count, "submit_to_event_p50_us": stream.p50,
            "submit_to_event_p99_us": stream.p99, "submit_to_event_max_us": stream.max,
            "ack_to_event_p50_us": stream.ack_p50, "ack_to_event_p99_us": stream.ack_p99,
        },
    });
    println!("{json}");
    drop(server);
}

struct StreamStats {
    count: u64,
    committed_rate: f64,
    p50: u64,
    p99: u64,
    max: u64,
    ack_p50: u64,
    ack_p99: u64,
}

/// Offers `rate` transactions per second for `secs` through the peer
/// (open loop, each submission on its own task), each carrying its
/// sequence number; an SSE subscriber notes when each event arrives.
async fn report_stream(conn: &Connection, addr: SocketAddr, secs: u64, rate: u64) -> StreamStats {
    let total = secs * rate;
    let origin = Instant::now();
    let arrivals = Arc::new(parking_lot::Mutex::new(std::collections::HashMap::<
        u64,
        Duration,
    >::new()));
    let from = conn.basis_t() + 1;
    let subscriber = {
        let arrivals = arrivals.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "GET /dbs/bench/reports?from={from}&format=edn HTTP/1.1\r\nHost: bench\r\n\r\n"
            )
            .unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut seen = 0;
            while seen < total {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                // The transaction's name datom carries its sequence number.
                if let Some(data) = line.strip_prefix("data: ")
                    && let Some(at) = data.find("\"seq-")
                {
                    let seq: u64 = data[at + 5..].split('"').next().unwrap().parse().unwrap();
                    arrivals.lock().insert(seq, origin.elapsed());
                    seen += 1;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let submitted = Arc::new(parking_lot::Mutex::new(std::collections::HashMap::<
        u64,
        (Duration, Duration),
    >::new()));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for seq in 0..total {
        let due = started + interval * seq as u32;
        tokio::time::sleep_until(due.into()).await;
        let conn = conn.clone();
        let submitted = submitted.clone();
        tasks.push(tokio::spawn(async move {
            let at = origin.elapsed();
            conn.transact(&format!(r#"[{{:user/name "seq-{seq}"}}]"#))
                .await
                .unwrap();
            submitted.lock().insert(seq, (at, origin.elapsed()));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let committed_rate = total as f64 / started.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || subscriber.join().unwrap())
        .await
        .unwrap();
    let arrivals = arrivals.lock();
    let submitted = submitted.lock();
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut ack = Histogram::<u64>::new(3).unwrap();
    for (seq, arrived) in arrivals.iter() {
        let (sent, acked) = submitted[seq];
        hist.record(arrived.saturating_sub(sent).as_micros() as u64)
            .unwrap();
        ack.record(arrived.saturating_sub(acked).as_micros() as u64)
            .unwrap();
    }
    StreamStats {
        count: hist.len(),
        committed_rate,
        p50: hist.value_at_quantile(0.5),
        p99: hist.value_at_quantile(0.99),
        max: hist.max(),
        ack_p50: ack.value_at_quantile(0.5),
        ack_p99: ack.value_at_quantile(0.99),
    }
}
