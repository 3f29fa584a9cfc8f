//! Garbage collection and excision cost, printed as a table and as JSON:
//! - a database of about 300k datoms (ACCRETE_BENCH_DATOMS) with its
//!   history on file storage, written and indexed as a transactor would
//!   (every indexing job leaves old segments behind);
//! - the cost of excising one entity: the segments and bytes its indexing
//!   job writes, against the database's total;
//! - `gc_storage` with a zero grace: segments marked per second, segments
//!   and bytes reclaimed, peak resident memory of the process during the
//!   run (Linux: VmHWM reset before the run).
//!
//! `cargo bench -p backup --bench gc`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use backup::gc::{GcOptions, gc_storage};
use index::{SegmentCache, Segments, reachable_segments};
use model::edn::Instant;
use model::{Index, TxFunctions, Value};
use storage_core::Storage;
use writer::Writer;

mod writer;

struct Row {
    name: &'static str,
    value: f64,
    unit: &'static str,
    note: String,
}

/// Peak resident memory since the last reset, in bytes (Linux only).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak to the current resident size (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    let datoms: usize = std::env::var("ACCRETE_BENCH_DATOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let live: Arc<dyn Storage> = Arc::new(
        rt.block_on(storage_file::FileStorage::open(dir.path()))
            .unwrap(),
    );
    let seg =
        rt.block_on(async { Segments::new(live.clone(), SegmentCache::new(256 << 20).unwrap()) });
    let mut writer = Writer::create(&rt, &seg);
    let written = writer.write(&rt, datoms);
    writer.index(&rt);
    let reachable = rt
        .block_on(reachable_segments(&seg, &writer.root))
        .unwrap()
        .len();
    let mut rows = Vec::new();

    // One entity excised: what its indexing job writes.
    let victim = writer
        .db
        .datoms(Index::Aevt, &[Value::keyword(":p/email")])
        .unwrap()
        .map(|d| d.unwrap().e())
        .nth(written / 20)
        .unwrap();
    let report = writer
        .db
        .with_edn(
            &format!("[{{:db/excise {victim}}}]"),
            Instant(2_000_000_000_000),
            &TxFunctions::new(),
        )
        .unwrap();
    writer.commit(&rt, report.log_entry());
    let job = writer.index(&rt);
    let total_bytes = directory_bytes(dir.path());
    rows.push(Row {
        name: "single-entity excision: segments written",
        value: job.written.segments as f64,
        unit: "segments",
        note: format!("of {reachable} the database reaches"),
    });
    rows.push(Row {
        name: "single-entity excision: bytes written",
        value: job.written.bytes as f64,
        unit: "bytes",
        note: format!("of {total_bytes} bytes stored"),
    });

    let reset = reset_peak_rss();
    let before = peak_rss();
    let options = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    };
    let gc = rt.block_on(gc_storage(&live, &options)).unwrap();
    let peak = peak_rss();
    rows.push(Row {
        name: "gc: segments marked per second",
        value: gc.marked as f64 / gc.mark_elapsed.as_secs_f64(),
        unit: "segments/s",
        note: format!(
            "{} marked in {:.2}s; run {:.2}s",
            gc.marked,
            gc.mark_elapsed.as_secs_f64(),
            gc.elapsed.as_secs_f64()
        ),
    });
    rows.push(Row {
        name: "gc: segments reclaimed",
        value: gc.deleted.len() as f64,
        unit: "segments",
        note: format!("of {} stored", gc.listed),
    });
    rows.push(Row {
        name: "gc: bytes reclaimed",
        value: gc.deleted_bytes as f64,
        unit: "bytes",
        note: format!("of {} stored", gc.listed_bytes),
    });
    rows.push(Row {
        name: "gc: peak resident memory",
        value: peak.unwrap_or(0) as f64 / 1e6,
        unit: "MB",
        note: match (reset, before) {
            (true, Some(b)) => format!("process, reset to {:.0} MB before the run", b as f64 / 1e6),
            _ => "process peak (could not reset it)".into(),
        },
    });

    println!("gc of a {written}-datom database with its history on file storage");
    println!("{:<45} {:>14} {:<11} note", "measure", "value", "unit");
    for r in &rows {
        println!("{:<45} {:>14.1} {:<11} {}", r.name, r.value, r.unit, r.note);
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                r#"{{"name":"{}","value":{:.3},"unit":"{}","note":"{}"}}"#,
                r.name, r.value, r.unit, r.note
            )
        })
        .collect();
    println!("{{\"datoms\":{written},\"results\":[{}]}}", json.join(","));
}

fn directory_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            match path.is_dir() {
                true => directory_bytes(&path),
                false => std::fs::metadata(&path).map_or(0, |m| m.len()),
            }
        })
        .sum()
}
