//! How long failover takes: from `kill -9` of the active `accrete
//! transactor` to the first commit through its standby, as a client sees
//! it (a new client sends a transaction right after the kill, through
//! `Client::transact_by_lease`, which follows the lease). Three writers
//! keep committing throughout, so each kill lands in a busy transactor;
//! the killed one comes back as the new standby. Per backend (file,
//! PostgreSQL on a private server, the Cassandra simulator in this
//! process), with the default lease ttl and with the previous default,
//! `--lease-ttl 10`. At the end the log is checked: every acknowledged
//! transaction exactly once, none refused.
//!
//! Printed as a table and as JSON.
//!
//! `cargo bench -p cli --bench failover`; ACCRETE_BENCH_KILLS (default 50)
//! kills per backend at the default ttl, ACCRETE_BENCH_OLD_KILLS (default
//! 5) at the old one, ACCRETE_BENCH_BACKENDS (default
//! `file,postgres,cassandra`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::failover::{Checked, Pair, Writers, check, kill_rounds, percentile};

/// One measured setting on one backend.
struct Row {
    backend: String,
    setting: String,
    times: Vec<Duration>,
    checked: Checked,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let kills = env_usize("ACCRETE_BENCH_KILLS", 50);
    let old_kills = env_usize("ACCRETE_BENCH_OLD_KILLS", 5);
    let backends = std::env::var("ACCRETE_BENCH_BACKENDS")
        .unwrap_or_else(|_| "file,postgres,cassandra".to_string());
    let default_ttl = transactor::lease::DEFAULT_TTL.as_secs_f64();
    let settings: Vec<(String, Vec<&str>, usize)> = vec![
        (format!("default (ttl {default_ttl} s)"), vec![], kills),
        (
            "--lease-ttl 10 (before)".to_string(),
            vec!["--lease-ttl", "10"],
            old_kills,
        ),
    ];
    let started = Instant::now();
    let mut rows = Vec::new();
    for backend in backends.split(',') {
        for (setting, extra, kills) in &settings {
            if *kills == 0 {
                continue;
            }
            let row = measure(backend, setting, extra, *kills).await;
            eprintln!(
                "{backend} {setting}: {kills} kills done at {:.0} s",
                started.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    println!(
        "failover: kill -9 of the active transactor to the first commit through the standby, as a client sees it; {} cores, {:.0} s in all",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<10} {:<26} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7}  lost/duplicated",
        "backend", "setting", "kills", "p50 ms", "p99 ms", "max ms", "min ms", "acked"
    );
    let json: Vec<String> = rows.iter().map(print_row).collect();
    println!(r#"{{"bench":"failover","results":[{}]}}"#, json.join(","));
}

/// Prints one table row and returns its JSON.
fn print_row(row: &Row) -> String {
    let mut sorted = row.times.clone();
    sorted.sort();
    let [p50, p99, max, min] = [50.0, 99.0, 100.0, 0.0].map(|p| ms(percentile(&sorted, p)));
    // `check` panics on a lost or duplicated transaction: a row means none.
    println!(
        "{:<10} {:<26} {:>6} {p50:>8.0} {p99:>8.0} {max:>8.0} {min:>8.0} {:>7}  0/0",
        row.backend,
        row.setting,
        sorted.len(),
        row.checked.acked,
    );
    format!(
        r#"{{"backend":"{}","setting":"{}","kills":{},"p50_ms":{p50:.0},"p99_ms":{p99:.0},"max_ms":{max:.0},"min_ms":{min:.0},"acked":{},"lost":0,"duplicated":0}}"#,
        row.backend,
        row.setting,
        sorted.len(),
        row.checked.acked
    )
}

async fn measure(backend: &str, setting: &str, extra: &[&str], kills: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = None;
    let uri = match backend {
        "file" => common::file_uri(dir.path(), "failover"),
        "postgres" => common::postgres_uri("failover").await,
        "cassandra" => {
            let sim = storage_cassandra::testkit::TestCluster::sim()
                .await
                .unwrap();
            let uri = sim.scratch_uri("failover").await.unwrap();
            cluster = Some(sim);
            uri
        }
        other => panic!("unknown backend {other} (file, postgres, cassandra)"),
    };
    let mut pair = Pair::start(&uri, extra).await;
    let writers = Writers::start(&pair, 3);
    // The standby is up and has read the lease well before the next kill.
    let settle = Duration::from_millis(500);
    let times = kill_rounds(&mut pair, &writers, kills, settle, 23).await;
    let fates = writers.stop().await;
    let checked = check(&pair.storage, &pair.db, &fates).await;
    assert_eq!(
        checked.refused + checked.unknown,
        0,
        "every writer got an answer"
    );
    drop(pair);
    drop(cluster);
    Row {
        backend: backend.to_string(),
        setting: setting.to_string(),
        times,
        checked,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
