//! What recording costs: the metric calls one commit of the transactor
//! makes (its commit series, plus the storage wrapper's calls for a log
//! write and a root compare-and-swap), timed with the Prometheus recorder
//! installed and without any recorder.
//!
//! `cargo bench -p ops --bench record` prints a table and then JSON:
//! nanoseconds per commit's worth of records. Divide by the time of one
//! commit (`cargo bench -p transactor --bench commit`: at 64 clients on
//! file, one log-root CAS per ~10 ms) for the share metrics take.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

const ROUNDS: u32 = 200_000;

/// One commit's records: the committer's series (3 counters, 2
/// histograms, a gauge) and, for its segment write and root CAS, the
/// storage wrapper's (2 histograms, 3 counters), with the same labels.
fn one_commit(commits: &metrics::Counter, batch: &metrics::Histogram, backlog: &metrics::Gauge) {
    commits.increment(1);
    batch.record(34.0);
    backlog.set(1234.0);
    metrics::counter!("bench_transactions_total", "db" => "shop").increment(34);
    metrics::histogram!("bench_commit_duration_seconds", "db" => "shop").record(0.004);
    metrics::histogram!("bench_segment_write_duration_seconds", "backend" => "file").record(0.001);
    metrics::counter!("bench_segment_writes_total", "backend" => "file").increment(1);
    metrics::counter!("bench_segment_write_bytes_total", "backend" => "file").increment(4096);
    metrics::histogram!("bench_root_cas_duration_seconds", "backend" => "file", "outcome" => "applied")
        .record(0.002);
    metrics::counter!("bench_root_cas_total", "backend" => "file", "outcome" => "applied")
        .increment(1);
}

fn time() -> Duration {
    let commits = metrics::counter!("bench_commits_total", "db" => "shop");
    let batch = metrics::histogram!("bench_commit_batch_transactions", "db" => "shop");
    let backlog = metrics::gauge!("bench_backlog", "db" => "shop");
    for _ in 0..ROUNDS / 10 {
        one_commit(&commits, &batch, &backlog);
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        one_commit(&commits, &batch, &backlog);
    }
    started.elapsed() / ROUNDS
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let without = time();
    let handle = ops::metrics::install().unwrap();
    let with = time();
    let rendered = handle.render().len();
    println!("{:<24} {:>14}", "recorder", "ns per commit");
    println!("{:<24} {:>14}", "none", without.as_nanos());
    println!("{:<24} {:>14}", "prometheus", with.as_nanos());
    println!(
        "{{\"rounds\": {ROUNDS}, \"none_ns\": {}, \"prometheus_ns\": {}, \"rendered_bytes\": {rendered}}}",
        without.as_nanos(),
        with.as_nanos()
    );
}
