//! Benchmarks of the durable layout, printed as a table and as JSON:
//! - indexing job throughput: datoms merged per second and bytes written,
//!   for about 1M datoms indexed in rounds (new entities and updates of old
//!   ones), on file storage and mem;
//! - `datoms(:eavt)` scan rate through the segment cache, cold and warm, and
//!   through a cache far smaller than the database;
//! - log append cost: commits that stay in the tail and the ones that move
//!   it into segments.
//!
//! `cargo bench -p index --bench index` (ACCRETE_BENCH_DATOMS overrides the
//! total, default 1_000_000).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use index::{LogRoot, SegmentCache, Segments, append, db_from_root, index_db};
use model::edn::Instant;
use model::testkit::{PEOPLE_SCHEMA, People};
use model::{Db, Index, TxFunctions, TxLog};
use storage_core::{MemStorage, Storage};
use tokio::runtime::Runtime;

struct Data {
    db: Db,
    root: LogRoot,
    people: People,
}

impl Data {
    /// One transaction: `new` people with 4 datoms each and `updates` age
    /// changes of old people (a retraction and an assertion each).
    fn tx(&mut self, new: usize, updates: usize) -> TxLog {
        self.people.tx(&self.db, new, updates)
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn seg(rt: &Runtime, storage: &Arc<dyn Storage>, cache: u64) -> Segments {
    Segments::new(
        storage.clone(),
        SegmentCache::with_handle(cache, rt.handle().clone()),
    )
}

fn start(rt: &Runtime, seg: &Segments) -> Data {
    let db = Db::new();
    let report = db
        .with_edn(PEOPLE_SCHEMA, Instant(1), &TxFunctions::new())
        .unwrap();
    let root = LogRoot::genesis(uuid::Uuid::new_v4());
    let root = rt
        .block_on(append(seg, &root, &[report.log_entry()]))
        .unwrap();
    let db = report.db_after;
    let people = People::new(&db).unwrap();
    Data { db, root, people }
}

struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    note: String,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Indexes about `total` datoms in `rounds`; returns the data and the rows.
fn indexing(
    rt: &Runtime,
    backend: &str,
    storage: Arc<dyn Storage>,
    total: usize,
    rounds: usize,
    rows: &mut Vec<Row>,
) -> (Segments, Data) {
    let seg = seg(rt, &storage, 256 << 20);
    let mut data = start(rt, &seg);
    let per_round = total / rounds;
    let mut merged_total = 0;
    let mut written_total = 0;
    let mut time_total = Duration::ZERO;
    for round in 0..rounds {
        let mut datoms = 0;
        while datoms < per_round {
            let updates = if round == 0 { 0 } else { 200 };
            let entry = data.tx(1000, updates);
            datoms += entry.data.len();
            data.db = data.db.apply_tx(&entry).unwrap();
            data.root = rt.block_on(append(&seg, &data.root, &[entry])).unwrap();
        }
        let started = Clock::now();
        let job = rt.block_on(index_db(&seg, &data.db, &data.root)).unwrap();
        let took = started.elapsed();
        data.root = rt.block_on(job.next_root(&seg, &data.root)).unwrap();
        data.db = job.rebase(&data.db).unwrap();
        // Novelty datoms, counted once (the job merges each into 3-4 indexes).
        let merged = datoms as u64;
        merged_total += merged;
        written_total += job.stats.written.bytes;
        time_total += took;
        rows.push(Row {
            name: format!("index job {backend} round {round}"),
            value: merged as f64 / took.as_secs_f64(),
            unit: "datoms/s",
            note: format!(
                "{merged} novelty datoms in {:.2}s, {} segments, {:.1} MB written",
                took.as_secs_f64(),
                job.stats.written.segments,
                mb(job.stats.written.bytes)
            ),
        });
    }
    rows.push(Row {
        name: format!("index job {backend} total"),
        value: merged_total as f64 / time_total.as_secs_f64(),
        unit: "datoms/s",
        note: format!(
            "{merged_total} datoms in {rounds} rounds, {:.1} MB written, {:.2}s",
            mb(written_total),
            time_total.as_secs_f64()
        ),
    });
    (seg, data)
}

fn scans(rt: &Runtime, storage: &Arc<dyn Storage>, data: &Data, rows: &mut Vec<Row>) {
    for (label, cache) in [("large cache", 512u64 << 20), ("8 MiB cache", 8 << 20)] {
        let reader = seg(rt, storage, cache);
        let db = rt.block_on(db_from_root(&reader, &data.root)).unwrap();
        for pass in ["cold", "warm"] {
            let started = Clock::now();
            let n = db
                .datoms(Index::Eavt, &[])
                .unwrap()
                .try_fold(0usize, |n, d| d.map(|_| n + 1))
                .unwrap();
            let took = started.elapsed();
            let stats = reader.cache.stats();
            rows.push(Row {
                name: format!("scan :eavt {label} {pass}"),
                value: n as f64 / took.as_secs_f64(),
                unit: "datoms/s",
                note: format!(
                    "{n} datoms in {:.2}s; cache {:.1} MB of {:.0} MB, {} misses",
                    took.as_secs_f64(),
                    mb(stats.bytes),
                    mb(stats.capacity),
                    stats.misses
                ),
            });
        }
    }
}

fn appends(rt: &Runtime, backend: &str, storage: Arc<dyn Storage>, rows: &mut Vec<Row>) {
    let seg = seg(rt, &storage, 64 << 20);
    let mut data = start(rt, &seg);
    let n = 3000;
    let mut inline = Duration::ZERO;
    let mut flushing = Duration::ZERO;
    let mut flushes = 0;
    let mut bytes = 0;
    for _ in 0..n {
        let entry = data.tx(2, 0);
        bytes += model::codec::encode_tx_log(&entry).len();
        data.db = data.db.apply_tx(&entry).unwrap();
        let started = Clock::now();
        let next = rt.block_on(append(&seg, &data.root, &[entry])).unwrap();
        let took = started.elapsed();
        if next.tail.is_empty() {
            flushes += 1;
            flushing += took;
        } else {
            inline += took;
        }
        data.root = next;
    }
    let inline_n = n - flushes;
    rows.push(Row {
        name: format!("log append {backend} inline"),
        value: inline.as_secs_f64() * 1e6 / inline_n.max(1) as f64,
        unit: "us/commit",
        note: format!(
            "{inline_n} commits of ~{} bytes riding in the root tail, no segment writes",
            bytes / n
        ),
    });
    rows.push(Row {
        name: format!("log append {backend} moving the tail"),
        value: flushing.as_secs_f64() * 1e6 / flushes.max(1) as f64,
        unit: "us/commit",
        note: format!("{flushes} commits that wrote the tail into a log leaf and the right spine"),
    });
}

fn main() {
    let total: usize = std::env::var("ACCRETE_BENCH_DATOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = runtime();
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let file: Arc<dyn Storage> = Arc::new(
        rt.block_on(storage_file::FileStorage::open(dir.path()))
            .unwrap(),
    );
    let (_, data) = indexing(&rt, "file", file.clone(), total, 5, &mut rows);
    scans(&rt, &file, &data, &mut rows);
    drop(data);
    let mem: Arc<dyn Storage> = Arc::new(MemStorage::new());
    indexing(&rt, "mem", mem, total / 2, 5, &mut rows);
    let dir2 = tempfile::tempdir().unwrap();
    let file2: Arc<dyn Storage> = Arc::new(
        rt.block_on(storage_file::FileStorage::open(dir2.path()))
            .unwrap(),
    );
    appends(&rt, "file", file2, &mut rows);
    appends(&rt, "mem", Arc::new(MemStorage::new()), &mut rows);
    println!("{:<40} {:>14} {:<10} note", "benchmark", "value", "unit");
    for r in &rows {
        println!("{:<40} {:>14.1} {:<10} {}", r.name, r.value, r.unit, r.note);
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                r#"{{"name":"{}","value":{:.1},"unit":"{}","note":"{}"}}"#,
                r.name,
                r.value,
                r.unit,
                r.note.replace('"', "'")
            )
        })
        .collect();
    println!("JSON [{}]", json.join(","));
}
