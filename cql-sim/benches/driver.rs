//! Throughput through the real driver: LWT round trips (INSERT … IF NOT
//! EXISTS on fresh keys, UPDATE … IF rev = ? on each caller's own row) and
//! plain QUORUM writes, at 1 and 8 concurrent callers, against a 3-replica
//! simulator in the same process.

// Benchmark setup unwraps: a failure aborts the benchmark.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cql_sim::{SimCluster, SimConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;

struct Fixture {
    _sim: SimCluster,
    session: Session,
    lwt_insert: PreparedStatement,
    lwt_update: PreparedStatement,
    write: PreparedStatement,
    next_key: AtomicU64,
}

async fn fixture() -> Arc<Fixture> {
    let sim = SimCluster::start(SimConfig::default()).await.unwrap();
    let session = SessionBuilder::new()
        .known_node_addr(sim.contact_point())
        .fetch_schema_metadata(false)
        .build()
        .await
        .unwrap();
    session.query_unpaged("CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}", ()).await.unwrap();
    session
        .query_unpaged(
            "CREATE TABLE bench.roots (name text PRIMARY KEY, rev bigint, value blob)",
            (),
        )
        .await
        .unwrap();
    session
        .query_unpaged(
            "CREATE TABLE bench.segments (id text, chunk int, data blob, PRIMARY KEY (id, chunk))",
            (),
        )
        .await
        .unwrap();
    let prepare = |cql: &'static str| {
        let session = &session;
        async move {
            let mut p = session.prepare(cql).await.unwrap();
            p.set_consistency(Consistency::Quorum);
            p
        }
    };
    let lwt_insert =
        prepare("INSERT INTO bench.roots (name, rev, value) VALUES (?, 0, 0x00) IF NOT EXISTS")
            .await;
    let lwt_update =
        prepare("UPDATE bench.roots SET rev = ?, value = 0x01 WHERE name = ? IF rev = ?").await;
    let write = prepare("INSERT INTO bench.segments (id, chunk, data) VALUES (?, 0, ?)").await;
    for caller in 0..8 {
        session
            .execute_unpaged(&lwt_insert, (format!("caller-{caller}"),))
            .await
            .unwrap();
    }
    Arc::new(Fixture {
        _sim: sim,
        session,
        lwt_insert,
        lwt_update,
        write,
        next_key: AtomicU64::new(0),
    })
}

#[derive(Clone, Copy)]
enum Workload {
    LwtInsert,
    LwtUpdate,
    QuorumWrite,
}

/// One caller's `ops` operations; UPDATE callers track their own row's revision.
async fn caller(f: Arc<Fixture>, workload: Workload, caller: usize, ops: u64, rev: Arc<AtomicU64>) {
    let payload = vec![7u8; 1024];
    for _ in 0..ops {
        let key = f.next_key.fetch_add(1, Ordering::Relaxed);
        match workload {
            Workload::LwtInsert => {
                f.session
                    .execute_unpaged(&f.lwt_insert, (format!("k{key}"),))
                    .await
                    .unwrap();
            }
            Workload::LwtUpdate => {
                let current = rev.load(Ordering::Relaxed) as i64;
                f.session
                    .execute_unpaged(
                        &f.lwt_update,
                        (current + 1, format!("caller-{caller}"), current),
                    )
                    .await
                    .unwrap();
                rev.store((current + 1) as u64, Ordering::Relaxed);
            }
            Workload::QuorumWrite => {
                f.session
                    .execute_unpaged(&f.write, (format!("s{key}"), payload.clone()))
                    .await
                    .unwrap();
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture());
    let revisions: Vec<Arc<AtomicU64>> = (0..8).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut group = c.benchmark_group("driver");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for (name, workload) in [
        ("lwt_insert", Workload::LwtInsert),
        ("lwt_update", Workload::LwtUpdate),
        ("quorum_write_1KiB", Workload::QuorumWrite),
    ] {
        for callers in [1_usize, 8] {
            group.throughput(Throughput::Elements(callers as u64));
            group.bench_function(format!("{name}/callers={callers}"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (f, revisions) = (Arc::clone(&f), revisions.clone());
                    async move {
                        let started = Instant::now();
                        let tasks: Vec<_> = (0..callers)
                            .map(|i| {
                                tokio::spawn(caller(
                                    Arc::clone(&f),
                                    workload,
                                    i,
                                    iters,
                                    Arc::clone(&revisions[i]),
                                ))
                            })
                            .collect();
                        for task in tasks {
                            task.await.unwrap();
                        }
                        started.elapsed()
                    }
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
