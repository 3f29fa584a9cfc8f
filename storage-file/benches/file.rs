//! Throughput of the file backend: segment puts and gets (64 KiB and 1 MiB,
//! one task and 8 concurrent) and root CAS (one task, 8 tasks on 8 roots,
//! 8 tasks on one root), with the cost of one fsync on this disk measured
//! first, since every put and every CAS does two of them.
//!
//! Run with `cargo bench -p storage-file --bench file`; prints a table and
//! then one JSON object per line. The storage lives in a temporary
//! directory (`TMPDIR`, else `/tmp`); gets read what the puts just wrote,
//! so they come from the page cache.

#![allow(clippy::unwrap_used)] // a benchmark: a failure aborts the run

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use storage_core::{CasOutcome, RootName, RootValue, SegmentId, Storage, StorageExt};
use storage_file::FileStorage;

/// One measured row.
struct Row {
    what: String,
    ops: u64,
    bytes: u64,
    elapsed: Duration,
    fsyncs_per_op: u32,
}

impl Row {
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        let mbs = if self.bytes > 0 {
            format!("{:>10.1}", self.mb_per_s())
        } else {
            format!("{:>10}", "-")
        };
        println!(
            "{:<40} {:>8} {:>12.0} {mbs} {:>11.3} {:>7}",
            self.what,
            self.ops,
            self.ops_per_s(),
            self.elapsed.as_secs_f64() * 1000.0 / self.ops as f64,
            self.fsyncs_per_op
        );
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "bench": self.what,
            "ops": self.ops,
            "bytes": self.bytes,
            "seconds": self.elapsed.as_secs_f64(),
            "ops_per_s": self.ops_per_s(),
            "mib_per_s": self.mb_per_s(),
            "fsyncs_per_op": self.fsyncs_per_op,
        })
    }
}

/// The mean time of a 4 KiB write + fdatasync, and of a directory fsync
/// after a rename into it, on the disk holding `dir`.
fn measure_fsync(dir: &Path) -> (Row, Row) {
    const N: u64 = 300;
    let path = dir.join("fsync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    let block = [7u8; 4096];
    let started = Instant::now();
    for _ in 0..N {
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
    }
    let data = Row {
        what: "fsync: 4 KiB write + fdatasync".into(),
        ops: N,
        bytes: 0,
        elapsed: started.elapsed(),
        fsyncs_per_op: 1,
    };
    let target = dir.join("fsync-target");
    let mut elapsed = Duration::ZERO;
    for i in 0..N {
        let tmp = dir.join(format!("fsync-{i}"));
        fs::write(&tmp, b"x").unwrap();
        fs::rename(&tmp, &target).unwrap();
        let started = Instant::now();
        File::open(dir).unwrap().sync_all().unwrap();
        elapsed += started.elapsed();
    }
    let directory = Row {
        what: "fsync: directory after a rename".into(),
        ops: N,
        bytes: 0,
        elapsed,
        fsyncs_per_op: 1,
    };
    (data, directory)
}

fn segments(count: usize, size: usize, seed: u64) -> Vec<Bytes> {
    (0..count)
        .map(|i| {
            let mut bytes = vec![0u8; size];
            let mut state = (seed + i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for chunk in bytes.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let n = chunk.len();
                chunk.copy_from_slice(&state.to_le_bytes()[..n]);
            }
            Bytes::from(bytes)
        })
        .collect()
}

/// Runs `op` on every item with `tasks` concurrent tasks.
async fn run<T, F, Fut>(items: Vec<T>, tasks: usize, op: F) -> Duration
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let queue = Arc::new(std::sync::Mutex::new(items));
    let op = Arc::new(op);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (queue, op) = (queue.clone(), op.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                match next {
                    Some(item) => op(item).await,
                    None => return,
                }
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

async fn bench_segments(storage: &FileStorage, rows: &mut Vec<Row>) {
    for (size, count) in [(64 * 1024, 2000), (1024 * 1024, 200)] {
        for tasks in [1, 8] {
            let items = segments(count, size, (size * tasks) as u64);
            let ids: Vec<SegmentId> = items.iter().map(|b| SegmentId::of(b)).collect();
            let s = storage.clone();
            let elapsed = run(items, tasks, move |bytes| {
                let s = s.clone();
                async move {
                    s.put(bytes).await.unwrap();
                }
            })
            .await;
            let label = format!("{} KiB", size / 1024);
            rows.push(Row {
                what: format!("put {label}, {tasks} task(s)"),
                ops: count as u64,
                bytes: (count * size) as u64,
                elapsed,
                fsyncs_per_op: 2,
            });
            let s = storage.clone();
            let elapsed = run(ids, tasks, move |id| {
                let s = s.clone();
                async move {
                    s.get_segment(id).await.unwrap().unwrap();
                }
            })
            .await;
            rows.push(Row {
                what: format!("get {label}, {tasks} task(s), page cache"),
                ops: count as u64,
                bytes: (count * size) as u64,
                elapsed,
                fsyncs_per_op: 0,
            });
        }
    }
}

/// `tasks` tasks each increment root `names[task % names.len()]` until
/// `total` CASes applied; returns the time and the conflicts seen.
async fn bench_cas(
    storage: &FileStorage,
    names: Vec<RootName>,
    tasks: usize,
    total: u64,
) -> (Duration, u64) {
    let applied = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let s = storage.clone();
        let name = names[task % names.len()].clone();
        let (applied, conflicts) = (applied.clone(), conflicts.clone());
        handles.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering::SeqCst;
            while applied.load(SeqCst) < total {
                let current = s.read_root(&name).await.unwrap();
                let expected = current.map(|r| r.revision);
                let value =
                    RootValue::new(&b"a root of about forty bytes: an index head"[..]).unwrap();
                match s.cas_root(&name, expected, &value).await.unwrap() {
                    CasOutcome::Applied(_) => applied.fetch_add(1, SeqCst),
                    CasOutcome::Conflict(_) => conflicts.fetch_add(1, SeqCst),
                };
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let conflicts = conflicts.load(std::sync::atomic::Ordering::SeqCst);
    (started.elapsed(), conflicts)
}

async fn bench_roots(storage: &FileStorage, rows: &mut Vec<Row>) {
    const TOTAL: u64 = 2000;
    let root = |n: usize| RootName::new(format!("db/bench/root-{n}")).unwrap();
    let cases = [
        ("cas (read + CAS), 1 task, 1 root", 1, vec![root(0)]),
        (
            "cas (read + CAS), 8 tasks, 8 roots",
            8,
            (1..9).map(root).collect(),
        ),
        ("cas (read + CAS), 8 tasks, 1 root", 8, vec![root(9)]),
    ];
    for (what, tasks, names) in cases {
        let (elapsed, conflicts) = bench_cas(storage, names, tasks, TOTAL).await;
        let what = if conflicts > 0 {
            format!("{what} ({conflicts} conflicts)")
        } else {
            what.to_string()
        };
        rows.push(Row {
            what,
            ops: TOTAL,
            bytes: 0,
            elapsed,
            fsyncs_per_op: 2,
        });
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (data, directory) = measure_fsync(dir.path());
    let storage = FileStorage::open(dir.path().join("store")).await.unwrap();
    let mut rows = vec![data, directory];
    bench_segments(&storage, &mut rows).await;
    bench_roots(&storage, &mut rows).await;

    println!(
        "file backend, {} cores, storage in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display()
    );
    println!(
        "{:<40} {:>8} {:>12} {:>10} {:>11} {:>7}",
        "operation", "ops", "ops/s", "MiB/s", "wall ms/op", "fsyncs"
    );
    for row in &rows {
        row.print();
    }
    for row in &rows {
        println!("{}", row.json());
    }
}
