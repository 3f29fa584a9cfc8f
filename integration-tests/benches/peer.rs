//! Benchmarks of the peer, printed as a table and as JSON:
//! - **commit-to-report latency** at every peer, with 1 and with 10 peers,
//!   while 1,000 transactions per second are offered (open loop, one
//!   submitting connection) to a transactor process on file storage: from
//!   the submitter hearing "committed" to each peer's report queue handing
//!   the report out, and from submission to report;
//! - **segment cache hit rate and query latency** of point queries (an
//!   AVET lookup and an EAVT read) with a cache a quarter of the size of the
//!   database's decoded indexes, and with one that holds all of it, for
//!   uniform and skewed (90 % of queries on 10 % of entities) keys.
//!
//! `cargo bench -p integration-tests --bench peer`. `ACCRETE_BENCH_SECONDS` (default 5)
//! sets the latency runs' length, `ACCRETE_BENCH_ENTITIES` (default
//! 100_000, 3 datoms each) the query database's size.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use model::{Index, TxReport, Value};
use parking_lot::Mutex;
use peer::{Config, Connection, Peer};
use serde_json::json;

const SCHEMA: &str = r#"[
 {:db/ident :bench/seq :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :bench/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :bench/v :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :bench/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

/// A database on file storage with a transactor process serving it.
struct Stage {
    uri: String,
    transactor: Child,
    _dir: tempfile::TempDir,
}

impl Stage {
    async fn start(index_threshold: usize) -> Stage {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("file://{}?db=bench", dir.path().display());
        let (storage, parsed) = peer::builtin_registry().open(&uri).await.unwrap();
        index::create_db(&storage, parsed.require_db().unwrap())
            .await
            .unwrap();
        let transactor = Command::new(env!("CARGO_BIN_EXE_peer-node"))
            .args([
                "transactor",
                "--index-threshold",
                &index_threshold.to_string(),
                &uri,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Stage {
            uri,
            transactor,
            _dir: dir,
        }
    }

    async fn connect(&self, cache_bytes: u64) -> (Peer, Connection) {
        let peer = Peer::new(Config {
            cache_bytes,
            report_buffer: 16 * 1024,
            ..Config::default()
        })
        .unwrap();
        let conn = peer.connect(&self.uri).await.unwrap();
        (peer, conn)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        // Closing stdin stops it cleanly; kill in case it hangs.
        drop(self.transactor.stdin.take());
        std::thread::sleep(Duration::from_millis(300));
        let _ = self.transactor.kill();
        let _ = self.transactor.wait();
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

fn percentiles(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "count": h.len(),
        "p50_us": h.value_at_quantile(0.5),
        "p99_us": h.value_at_quantile(0.99),
        "max_us": h.max(),
    })
}

/// The `:bench/seq` a report's transaction asserts.
fn seq_of(report: &TxReport, attr: u64) -> Option<i64> {
    report
        .tx_data
        .iter()
        .find(|d| d.a() == attr && d.added())
        .and_then(|d| match d.v() {
            Value::Long(n) => Some(*n),
            _ => None,
        })
}

/// When each `:bench/seq` was submitted and when its commit was heard.
type Sent = Arc<Mutex<HashMap<u64, (Instant, Option<Instant>)>>>;

async fn latency(peers: usize, rate: u64, seconds: u64) -> serde_json::Value {
    let stage = Stage::start(64 * 1024).await;
    let (_submit_peer, submitter) = stage.connect(64 << 20).await;
    submitter.transact(SCHEMA).await.unwrap();
    let attr = submitter
        .db()
        .attribute_named(&model::edn::Keyword::new(":bench/seq"))
        .unwrap()
        .id;
    let total = rate * seconds;
    let warmup = rate; // the first second is not counted
    let mut consumers = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..peers {
        let (peer, conn) = stage.connect(64 << 20).await;
        conn.sync().await.unwrap();
        let mut queue = conn.tx_report_queue().unwrap();
        keep.push((peer, conn));
        consumers.push(tokio::spawn(async move {
            let mut arrivals = Vec::with_capacity(total as usize);
            while arrivals.len() < total as usize {
                let report = queue.next().await.unwrap();
                if let Some(seq) = seq_of(&report, attr) {
                    arrivals.push((seq as u64, Instant::now()));
                }
            }
            (arrivals, queue.overflows())
        }));
    }
    let sent: Sent = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut writers = Vec::with_capacity(total as usize);
    for seq in 0..total {
        tick.tick().await;
        let (submitter, sent) = (submitter.clone(), sent.clone());
        sent.lock().insert(seq, (Instant::now(), None));
        writers.push(tokio::spawn(async move {
            submitter
                .transact(&format!("[{{:bench/seq {seq}}}]"))
                .await
                .unwrap();
            if let Some(entry) = sent.lock().get_mut(&seq) {
                entry.1 = Some(Instant::now());
            }
        }));
    }
    let offered_for = started.elapsed();
    for w in writers {
        w.await.unwrap();
    }
    let committed_for = started.elapsed();
    let (mut commit, mut to_report, mut submit_to_report) = (histogram(), histogram(), histogram());
    let (mut early, mut overflows) = (0u64, 0u64);
    let sent = sent.lock().clone();
    for (seq, (at, acked)) in &sent {
        if *seq >= warmup {
            commit.record(us(acked.unwrap() - *at)).unwrap();
        }
    }
    for consumer in consumers {
        let (arrivals, overflowed) = tokio::time::timeout(Duration::from_secs(120), consumer)
            .await
            .unwrap()
            .unwrap();
        overflows += overflowed;
        for (seq, arrived) in arrivals.into_iter().filter(|(s, _)| *s >= warmup) {
            let (at, acked) = sent[&seq];
            let acked = acked.unwrap();
            if arrived < acked {
                early += 1;
            }
            to_report
                .record(us(arrived.saturating_duration_since(acked)))
                .unwrap();
            submit_to_report.record(us(arrived - at)).unwrap();
        }
    }
    drop(keep);
    json!({
        "peers": peers,
        "offered_tx_per_s": rate,
        "transactions": total,
        "achieved_tx_per_s": (total as f64 / committed_for.as_secs_f64()).round(),
        "offered_for_s": offered_for.as_secs_f64(),
        "commit_to_report": percentiles(&to_report),
        "reports_before_the_ack": early,
        "submit_to_report": percentiles(&submit_to_report),
        "submit_to_commit": percentiles(&commit),
        "queue_overflows": overflows,
    })
}

/// Loads `entities` entities (3 datoms each) in transactions of 1,000.
async fn load(conn: &Connection, entities: u64) {
    conn.transact(SCHEMA).await.unwrap();
    for start in (0..entities).step_by(1000) {
        let forms: Vec<String> = (start..(start + 1000).min(entities))
            .map(|i| {
                format!(
                    "{{:bench/id {i} :bench/v \"value {i} of the benchmark\" :bench/n {}}}",
                    i * 7
                )
            })
            .collect();
        conn.transact(&format!("[{}]", forms.join(" ")))
            .await
            .unwrap();
    }
}

/// Point queries on a blocking thread: (latencies, hit rate).
fn point_queries(db: model::Db, peer: &Peer, keys: &[u64]) -> (Histogram<u64>, f64) {
    let before = peer.cache_stats();
    let mut h = histogram();
    for key in keys {
        let started = Instant::now();
        let found = query::q(
            "[:find ?v . :in $ ?id :where [?e :bench/id ?id] [?e :bench/v ?v]]",
            &[(&db).into(), Value::Long(*key as i64).into()],
        )
        .unwrap();
        h.record(us(started.elapsed())).unwrap();
        assert_eq!(found.len(), 1, "key {key}");
    }
    let after = peer.cache_stats();
    let (hits, misses) = (after.hits - before.hits, after.misses - before.misses);
    (h, hits as f64 / (hits + misses).max(1) as f64)
}

/// Keys: uniform over all entities, or 90 % from the first 10 %.
fn keys(entities: u64, skewed: bool, n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match skewed && !x.is_multiple_of(10) {
                true => (x >> 8) % (entities / 10).max(1),
                false => (x >> 8) % entities,
            }
        })
        .collect()
}

async fn cache(entities: u64) -> Vec<serde_json::Value> {
    let stage = Stage::start(50_000).await;
    let (_loader_peer, loader) = stage.connect(256 << 20).await;
    load(&loader, entities).await;
    // Wait for the indexing the load started, then size the indexes by
    // reading them all through a cache that holds everything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (big_peer, big) = stage.connect(4 << 30).await;
    let db = big.sync().await.unwrap();
    let scanned = db.clone();
    tokio::task::spawn_blocking(move || {
        for index in [Index::Eavt, Index::Aevt, Index::Avet] {
            scanned
                .datoms(index, &[])
                .unwrap()
                .for_each(|d| drop(d.unwrap()));
        }
    })
    .await
    .unwrap();
    let size = big_peer.cache_stats().bytes;
    let indexed = db.store().basis_t();
    let novelty = db.novelty_len();
    let mut rows = Vec::new();
    for (label, capacity) in [("quarter", size / 4), ("whole", size * 2)] {
        let (peer, conn) = stage.connect(capacity.max(1)).await;
        let db = conn.sync().await.unwrap();
        for skewed in [false, true] {
            let keys = keys(entities, skewed, 5_000);
            let (warm_keys, keys) = keys.split_at(1_000);
            let (db, peer2) = (db.clone(), peer.clone());
            let (warm, measured) = (warm_keys.to_vec(), keys.to_vec());
            let (h, hit_rate) = tokio::task::spawn_blocking(move || {
                point_queries(db.clone(), &peer2, &warm);
                point_queries(db, &peer2, &measured)
            })
            .await
            .unwrap();
            rows.push(json!({
                "cache": label,
                "cache_bytes": peer.cache_stats().capacity,
                "database_index_bytes": size,
                "keys": if skewed { "skewed 90/10" } else { "uniform" },
                "queries": h.len(),
                "hit_rate": (hit_rate * 1000.0).round() / 1000.0,
                "p50_us": h.value_at_quantile(0.5),
                "p99_us": h.value_at_quantile(0.99),
                "max_us": h.max(),
                "entities": entities,
                "index_basis_t": indexed,
                "novelty_datoms": novelty,
            }));
        }
        drop(conn);
    }
    rows
}

/// Prints rows right-aligned in columns as wide as their widest cell.
fn print_table<const N: usize>(rows: impl Iterator<Item = [String; N]>) {
    let rows: Vec<[String; N]> = rows.collect();
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:>w$}"))
            .collect();
        println!("{}", cells.join("  "));
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seconds = env_u64("ACCRETE_BENCH_SECONDS", 5);
    let entities = env_u64("ACCRETE_BENCH_ENTITIES", 100_000);
    runtime.block_on(async {
        let mut latencies = Vec::new();
        for peers in [1, 10] {
            latencies.push(latency(peers, 1000, seconds).await);
        }
        println!("commit-to-report latency (1,000 tx/s offered, {seconds} s, first second not counted; µs)");
        println!("(commit = the submitter hears \"committed\"; a report that arrives before that counts as 0)");
        let table = [
            ["peers", "tx/s", "commit→report p50/p99", "before ack", "submit→report p50/p99", "submit→commit p50/p99", "overflows"]
                .map(String::from),
        ];
        let rows = latencies.iter().map(|l| {
            let pair = |k: &str| format!("{}/{}", l[k]["p50_us"], l[k]["p99_us"]);
            let share = l["reports_before_the_ack"].as_f64().unwrap()
                / l["commit_to_report"]["count"].as_f64().unwrap();
            [
                l["peers"].to_string(),
                l["achieved_tx_per_s"].to_string(),
                pair("commit_to_report"),
                format!("{:.0}%", share * 100.0),
                pair("submit_to_report"),
                pair("submit_to_commit"),
                l["queue_overflows"].to_string(),
            ]
        });
        print_table(table.into_iter().chain(rows));
        let caches = cache(entities).await;
        println!("\npoint queries ({entities} entities, 3 datoms each; µs)");
        let table = [
            ["cache", "cache bytes", "index bytes", "keys", "hit rate", "p50", "p99", "max"].map(String::from),
        ];
        let rows = caches.iter().map(|c| {
            ["cache", "cache_bytes", "database_index_bytes", "keys", "hit_rate", "p50_us", "p99_us", "max_us"]
                .map(|k| c[k].as_str().map_or_else(|| c[k].to_string(), str::to_string))
        });
        print_table(table.into_iter().chain(rows));
        println!(
            "\n{}",
            json!({ "machine": "2 cores", "storage": "file", "latency": latencies, "point_queries": caches })
        );
    });
}
