//! Group commit and indexing throughput of the transactor, beside the raw
//! compare-and-swap rate of each backend measured in the same run.
//!
//! `cargo bench -p transactor --bench commit` prints a table and then the
//! same figures as JSON. Per backend (file, postgres, and Cassandra as the
//! project's CQL simulator: 3 replicas with Paxos, in this process):
//! - the raw backend rate: one writer doing sequential root CASes (CAS/s),
//!   with a 256-byte value and with a 24 KiB value (the log root's average
//!   size: its inline tail of recent entries grows to 48 KiB, then moves
//!   into a log segment); the ratio uses the 24 KiB rate;
//! - for 1, 8 and 64 concurrent clients, embedded (tasks in this process)
//!   and over the network protocol (one connection per client) in three
//!   ways: `network` (plaintext, a development endpoint without
//!   credentials), `token` (plaintext, every client authenticated by a
//!   token, every request authorized against the access records as of its
//!   arrival) and `tls` (the same over TLS 1.3): commits/s, datoms/s,
//!   transactions per log-root CAS, commit latency p50/p99, the mean time
//!   to connect (TCP, TLS and the HELLO handshake), and commits/s ÷ CAS/s
//!   (what group commit buys);
//! - an indexing job over ~150 000 novelty datoms: datoms merged per second.
//!
//! Each transaction asserts 3 attributes of a new entity (4 datoms with
//! `:db/txInstant`, one more for `:tx/principal`, and over the network two
//! more for its `:tx/id` and `:tx/tempids`). `ACCRETE_BENCH_SECS` sets the seconds per measurement
//! (default 3); `ACCRETE_BENCH_BACKENDS` picks backends (`file,postgres,cql-sim`
//! by default), `ACCRETE_BENCH_MODES` the modes (`embedded,network,token,tls`)
//! and `ACCRETE_BENCH_CLIENTS` the client counts (`1,8,64`).
//! `ACCRETE_BENCH_INDEXING=0` leaves the indexing job out.
//! `ACCRETE_BENCH_LINGER_US` sets [`Config::max_linger`] in microseconds:
//! `0` commits only what is queued when the committer looks (the group
//! commit before issue 22), for a before/after comparison on one machine.
//! `ACCRETE_BENCH_METRICS=1` measures with metrics on, as `accrete
//! transactor --metrics-listen` runs: the Prometheus recorder installed and
//! every storage call recorded (`storage_core::metered`); compare a run
//! with it and one without for the cost of metrics.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use index::{SegmentCache, Segments, create_db};
use storage_core::{DbName, Registry, RootName, RootValue, Storage, StorageExt};
use transactor::client::Connector;
use transactor::{Config, Security, Server, Transactor};

const SCHEMA: &str = r#"[{:db/ident :bench/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :bench/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
  {:db/ident :bench/b :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#;

fn tx(n: u64) -> String {
    format!("[{{:db/id \"e\" :bench/id {n} :bench/a {n} :bench/b \"value {n}\"}}]")
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct Row {
    backend: &'static str,
    mode: &'static str,
    clients: usize,
    commits_per_s: f64,
    datoms_per_s: f64,
    txs_per_cas: f64,
    p50_ms: f64,
    p99_ms: f64,
    cas_per_s: f64,
    small_cas_per_s: f64,
    connect_ms: f64,
}

#[derive(Debug)]
struct IndexRow {
    backend: &'static str,
    datoms_merged: u64,
    seconds: f64,
    segments: u64,
}

fn main() {
    let secs: u64 = std::env::var("ACCRETE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = std::env::var("ACCRETE_BENCH_METRICS").is_ok_and(|v| v == "1");
    if metrics {
        let _guard = runtime.enter();
        ops::metrics::install().expect("the Prometheus recorder");
    }
    eprintln!("metrics: {}", if metrics { "on" } else { "off" });
    let (rows, indexing) = runtime.block_on(run(Duration::from_secs(secs)));
    runtime.shutdown_timeout(Duration::from_secs(5));
    print_table(&rows, &indexing, secs);
    print_json(&rows, &indexing, secs);
}

async fn run(each: Duration) -> (Vec<Row>, Vec<IndexRow>) {
    let mut rows = Vec::new();
    let mut indexing = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let wanted = std::env::var("ACCRETE_BENCH_BACKENDS")
        .unwrap_or_else(|_| "file,postgres,cql-sim".to_string());
    let wants = |backend: &str| wanted.split(',').any(|w| w == backend);
    let mut backends: Vec<(&'static str, String)> = Vec::new();
    // Memory: no disk in the loop, so what the transactor itself costs
    // (metrics on or off, say) is not drowned by fsync latency. Only when
    // asked for.
    if wants("mem") {
        backends.push(("mem", "mem://commit-bench".to_string()));
    }
    if wants("file") {
        backends.push(("file", format!("file://{}", dir.path().display())));
    }
    if wants("postgres") {
        let pg = storage_postgres::testkit::PgServer::shared()
            .await
            .expect("PostgreSQL for the bench");
        backends.push(("postgres", pg.scratch_uri("bench")));
    }
    // The simulator runs in this process: its replicas share the 2 cores.
    let sim = match wants("cql-sim") {
        true => Some(
            storage_cassandra::testkit::TestCluster::sim()
                .await
                .expect("the CQL simulator"),
        ),
        false => None,
    };
    if let Some(sim) = &sim {
        let uri = sim.scratch_uri("bench").await.expect("a scratch keyspace");
        backends.push(("cql-sim", uri));
    }
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    storage_postgres::register(&mut registry);
    storage_cassandra::register(&mut registry);
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = access::testkit::Pki::new(pki_dir.path());
    let modes = std::env::var("ACCRETE_BENCH_MODES")
        .unwrap_or_else(|_| "embedded,network,token,tls".to_string());
    let modes: Vec<&'static str> = ["embedded", "network", "token", "tls"]
        .into_iter()
        .filter(|m| modes.split(',').any(|w| w == *m))
        .collect();
    let counts: Vec<usize> = std::env::var("ACCRETE_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,8,64".to_string())
        .split(',')
        .map(|c| c.parse().expect("ACCRETE_BENCH_CLIENTS: numbers"))
        .collect();
    let metered = std::env::var("ACCRETE_BENCH_METRICS").is_ok_and(|v| v == "1");
    for (backend, uri) in backends {
        let (storage, _) = registry.open(&uri).await.unwrap();
        let storage = match metered {
            true => storage_core::metered(storage),
            false => storage,
        };
        let small = raw_cas_rate(storage.as_ref(), each, 256).await;
        let cas_per_s = raw_cas_rate(storage.as_ref(), each, 24 * 1024).await;
        eprintln!("{backend}: raw CAS {small:.0}/s (256 B), {cas_per_s:.0}/s (24 KiB)");
        for &mode in &modes {
            for &clients in &counts {
                let cas = (small, cas_per_s);
                let row = commits(backend, mode, &storage, &pki, clients, each, cas).await;
                eprintln!("{row:?}");
                rows.push(row);
            }
        }
        if std::env::var("ACCRETE_BENCH_INDEXING").map_or(true, |v| v != "0") {
            indexing.push(index_job(backend, &storage).await);
        }
    }
    (rows, indexing)
}

/// Sequential compare-and-swaps of one root by one writer, of `size`-byte
/// values.
async fn raw_cas_rate(storage: &dyn Storage, each: Duration, size: usize) -> f64 {
    let name = RootName::new(format!(
        "bench/raw-cas-{}",
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    ))
    .unwrap();
    let mut revision = None;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < each {
        let value = RootValue::new(vec![n as u8; size]).unwrap();
        revision = Some(
            storage
                .cas_root_or_conflict(&name, revision, &value)
                .await
                .unwrap(),
        );
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn segments(storage: &Arc<dyn Storage>) -> Segments {
    Segments::new(storage.clone(), SegmentCache::new(256 << 20).unwrap())
}

async fn fresh_db(storage: &Arc<dyn Storage>) -> DbName {
    let name = DbName::new(format!("bench-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))).unwrap();
    create_db(storage, &name).await.unwrap();
    name
}

/// One commit-throughput measurement.
/// The endpoint's security and the clients' credentials of `mode`.
async fn secured(
    mode: &str,
    storage: &Arc<dyn Storage>,
    pki: &access::testkit::Pki,
) -> (Security, Connector) {
    if mode == "network" || mode == "embedded" {
        return (Security::default(), Connector::default());
    }
    let principal = access::Principal::token_name("bench").unwrap();
    let token = access::create_token(storage, &principal).await.unwrap();
    access::update_access(storage, |r| {
        Ok(r.set_grant(&principal, access::ALL_DATABASES, Some(access::Role::Write)))
    })
    .await
    .unwrap();
    let gate = Arc::new(access::Gate::new(
        storage.clone(),
        access::Admission::Authenticated,
    ));
    let tls = mode == "tls";
    let server_tls = access::tls::ServerTlsFiles {
        cert: pki.server_cert.clone(),
        key: pki.server_key.clone(),
        client_ca: None,
    };
    let client_tls = access::tls::ClientTlsFiles {
        ca: pki.ca.clone(),
        identity: None,
    };
    let security = Security {
        tls: tls.then(|| server_tls.load().unwrap()),
        gate: Some(gate),
        insecure_plaintext: false,
    };
    let connector = Connector {
        token: Some(token.secret),
        tls: tls.then(|| client_tls.load().unwrap()),
    };
    (security, connector)
}

async fn commits(
    backend: &'static str,
    mode: &'static str,
    storage: &Arc<dyn Storage>,
    pki: &access::testkit::Pki,
    clients: usize,
    each: Duration,
    (small_cas_per_s, cas_per_s): (f64, f64),
) -> Row {
    let db = fresh_db(storage).await;
    let (security, connector) = secured(mode, storage, pki).await;
    let server = Server::bind_with("127.0.0.1:0", security).await.unwrap();
    let linger = std::env::var("ACCRETE_BENCH_LINGER_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Config::default().max_linger, Duration::from_micros);
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        max_linger: linger,
        ..Config::default()
    };
    let transactor = Arc::new(
        Transactor::start(segments(storage), &db, config)
            .await
            .unwrap(),
    );
    server.serve(transactor.clone());
    transactor.transact_edn(SCHEMA).await.unwrap();
    let before = transactor.metrics();
    let endpoint = server.local_addr().to_string();
    let connector = Arc::new(connector);
    let connects = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (transactor, endpoint) = (transactor.clone(), endpoint.clone());
            let (connector, connects) = (connector.clone(), connects.clone());
            let target = transactor.target();
            tokio::spawn(async move {
                let client = match mode {
                    "embedded" => None,
                    _ => {
                        let t0 = Instant::now();
                        let client = connector.connect(&endpoint, &target).await.unwrap();
                        connects.lock().push(t0.elapsed().as_secs_f64() * 1000.0);
                        Some(client)
                    }
                };
                let mut latencies = Histogram::<u64>::new(3).unwrap();
                let mut i = 0u64;
                while started.elapsed() < each {
                    let n = (c as u64) << 32 | i;
                    let t0 = Instant::now();
                    match &client {
                        Some(client) => drop(client.transact(&tx(n)).await.unwrap()),
                        None => drop(transactor.transact_edn(&tx(n)).await.unwrap()),
                    }
                    latencies.record(t0.elapsed().as_micros() as u64).unwrap();
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        latencies.add(task.await.unwrap()).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = transactor.metrics();
    transactor.shutdown().await.unwrap();
    let txs = after.transactions - before.transactions;
    let cases = after.commits - before.commits;
    Row {
        backend,
        mode,
        clients,
        commits_per_s: txs as f64 / elapsed,
        datoms_per_s: (after.datoms - before.datoms) as f64 / elapsed,
        txs_per_cas: txs as f64 / cases.max(1) as f64,
        p50_ms: latencies.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: latencies.value_at_quantile(0.99) as f64 / 1000.0,
        cas_per_s,
        small_cas_per_s,
        connect_ms: {
            let connects = connects.lock();
            connects.iter().sum::<f64>() / connects.len().max(1) as f64
        },
    }
}

/// One indexing job over novelty built by large transactions.
async fn index_job(backend: &'static str, storage: &Arc<dyn Storage>) -> IndexRow {
    let db = fresh_db(storage).await;
    let config = Config {
        index_threshold: 140_000,
        novelty_cap: 10_000_000,
        ..Config::default()
    };
    let transactor = Transactor::start(segments(storage), &db, config)
        .await
        .unwrap();
    transactor.transact_edn(SCHEMA).await.unwrap();
    for batch in 0..100u64 {
        let mut text = String::from("[");
        for i in 0..500 {
            let n = batch * 1000 + i;
            write!(
                text,
                "{{:db/id \"e{i}\" :bench/id {n} :bench/a {n} :bench/b \"value {n}\"}}"
            )
            .unwrap();
        }
        text.push(']');
        transactor.transact_edn(&text).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while transactor.metrics().index_jobs == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = transactor.metrics();
    transactor.shutdown().await.unwrap();
    IndexRow {
        backend,
        datoms_merged: m.indexed_datoms,
        seconds: m.index_time.as_secs_f64(),
        segments: m.index_segments,
    }
}

fn print_table(rows: &[Row], indexing: &[IndexRow], secs: u64) {
    println!(
        "\ntransactor group commit — 2 cores, {secs} s per row, 3 attributes per transaction\n"
    );
    println!(
        "{:<9} {:<9} {:>7} {:>10} {:>11} {:>8} {:>8} {:>8} {:>10} {:>11} {:>11} {:>13}",
        "backend",
        "mode",
        "clients",
        "commits/s",
        "datoms/s",
        "tx/CAS",
        "p50 ms",
        "p99 ms",
        "connect ms",
        "CAS/s 256B",
        "CAS/s 24K",
        "commits÷CAS"
    );
    for r in rows {
        println!(
            "{:<9} {:<9} {:>7} {:>10.0} {:>11.0} {:>8.1} {:>8.2} {:>8.2} {:>10.2} {:>11.0} {:>11.0} {:>13.1}",
            r.backend,
            r.mode,
            r.clients,
            r.commits_per_s,
            r.datoms_per_s,
            r.txs_per_cas,
            r.p50_ms,
            r.p99_ms,
            r.connect_ms,
            r.small_cas_per_s,
            r.cas_per_s,
            r.commits_per_s / r.cas_per_s
        );
    }
    println!(
        "\nindexing job (novelty of ~150 000 datoms; merged datoms summed over the 4 indexes)\n"
    );
    println!(
        "{:<9} {:>14} {:>9} {:>16} {:>9}",
        "backend", "datoms merged", "seconds", "merged datoms/s", "segments"
    );
    for r in indexing {
        println!(
            "{:<9} {:>14} {:>9.2} {:>16.0} {:>9}",
            r.backend,
            r.datoms_merged,
            r.seconds,
            r.datoms_merged as f64 / r.seconds.max(1e-9),
            r.segments
        );
    }
}

fn print_json(rows: &[Row], indexing: &[IndexRow], secs: u64) {
    let commits: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "backend": r.backend, "mode": r.mode, "clients": r.clients,
                "commits_per_s": r.commits_per_s, "datoms_per_s": r.datoms_per_s,
                "transactions_per_cas": r.txs_per_cas, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "connect_ms": r.connect_ms,
                "raw_cas_per_s_24k": r.cas_per_s, "raw_cas_per_s_256b": r.small_cas_per_s,
                "commits_per_raw_cas": r.commits_per_s / r.cas_per_s,
            })
        })
        .collect();
    let jobs: Vec<serde_json::Value> = indexing
        .iter()
        .map(|r| {
            serde_json::json!({
                "backend": r.backend, "datoms_merged": r.datoms_merged, "seconds": r.seconds,
                "merged_datoms_per_s": r.datoms_merged as f64 / r.seconds.max(1e-9), "segments": r.segments,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "bench": "transactor/commit", "cores": 2, "seconds_per_row": secs,
        "attributes_per_transaction": 3, "commits": commits, "indexing": jobs,
    });
    println!("\n{doc}");
}
