//! Backup, restore and verify throughput, printed as a table and as JSON:
//! - a database of about 1M datoms (ACCRETE_BENCH_DATOMS) on file storage,
//!   written and indexed as a transactor would;
//! - backup file → PostgreSQL (MB/s, segments/s), an unchanged second
//!   backup, restore PostgreSQL → the Cassandra simulator (cql-sim, three
//!   replicas in this process) and PostgreSQL → file, verify of the backup;
//! - incremental backups after 1% new datoms, before and after the
//!   indexing job that merges them: segments copied of all.
//!
//! `cargo bench -p backup --bench copy` (ACCRETE_BENCH_PARALLEL sets the
//! segments in flight, default 16).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant as Clock;

use backup::{
    Access, BackupLocation, CopyOptions, CopyStats, RestoreOptions, backup_db, restore_db,
    verify_backup,
};
use index::{SegmentCache, Segments};
use storage_core::{Registry, Storage};
use writer::Writer;

mod writer;

struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    note: String,
}

fn copy_rows(rows: &mut Vec<Row>, what: &str, c: &CopyStats) {
    let secs = c.elapsed.as_secs_f64();
    rows.push(Row {
        name: format!("{what} MB/s"),
        value: c.bytes as f64 / 1e6 / secs,
        unit: "MB/s",
        note: format!(
            "{} segments, {:.1} MB in {secs:.2}s ({} present)",
            c.copied,
            c.bytes as f64 / 1e6,
            c.present
        ),
    });
    rows.push(Row {
        name: format!("{what} segments/s"),
        value: c.copied as f64 / secs,
        unit: "segments/s",
        note: String::new(),
    });
}

fn registry() -> Registry {
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    storage_postgres::register(&mut registry);
    storage_cassandra::register(&mut registry);
    registry
}

fn main() {
    let datoms: usize = std::env::var("ACCRETE_BENCH_DATOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let parallel: usize = std::env::var("ACCRETE_BENCH_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = CopyOptions {
        parallel,
        ..CopyOptions::default()
    };
    let mut rows = Vec::new();

    let live_dir = tempfile::tempdir().unwrap();
    let live: Arc<dyn Storage> = Arc::new(
        rt.block_on(storage_file::FileStorage::open(live_dir.path()))
            .unwrap(),
    );
    let seg =
        rt.block_on(async { Segments::new(live.clone(), SegmentCache::new(256 << 20).unwrap()) });
    let mut writer = Writer::create(&rt, &seg);
    let started = Clock::now();
    let written = writer.write(&rt, datoms);
    eprintln!(
        "wrote {written} datoms in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let server = rt
        .block_on(storage_postgres::testkit::PgServer::shared())
        .expect("a PostgreSQL server");
    let location_uri = server.scratch_uri("bench-backups");
    let location = rt
        .block_on(BackupLocation::open(
            &registry(),
            &location_uri,
            Access::Create,
        ))
        .unwrap();

    let first = rt
        .block_on(backup_db(&writer.seg, &writer.name, &location, &options))
        .unwrap();
    copy_rows(&mut rows, "backup file → postgres", &first.copy);
    let total = first.manifest.segments;
    let again = rt
        .block_on(backup_db(&writer.seg, &writer.name, &location, &options))
        .unwrap();
    rows.push(Row {
        name: "unchanged backup: segments copied".into(),
        value: again.copy.copied as f64,
        unit: "segments",
        note: format!(
            "of {total}, in {:.2}s (listing the location)",
            again.copy.elapsed.as_secs_f64()
        ),
    });

    let added = writer.write(&rt, written / 100);
    let unindexed = rt
        .block_on(backup_db(&writer.seg, &writer.name, &location, &options))
        .unwrap();
    rows.push(Row {
        name: "incremental backup, 1% new datoms not yet indexed".into(),
        value: unindexed.copy.copied as f64,
        unit: "segments",
        note: format!(
            "{added} new datoms in the log only; {} of {} segments, {:.1} MB, {:.2}s",
            unindexed.copy.copied,
            unindexed.manifest.segments,
            unindexed.copy.bytes as f64 / 1e6,
            unindexed.copy.elapsed.as_secs_f64()
        ),
    });
    writer.index(&rt);
    let third = rt
        .block_on(backup_db(&writer.seg, &writer.name, &location, &options))
        .unwrap();
    rows.push(Row {
        name: "incremental backup, 1% new datoms indexed".into(),
        value: third.copy.copied as f64,
        unit: "segments",
        note: format!(
            "{added} new datoms; {} of {} segments ({:.1}%), {:.1} MB, {:.2}s",
            third.copy.copied,
            third.manifest.segments,
            100.0 * third.copy.copied as f64 / third.manifest.segments as f64,
            third.copy.bytes as f64 / 1e6,
            third.copy.elapsed.as_secs_f64()
        ),
    });

    let restore = RestoreOptions {
        copy: options.clone(),
        ..RestoreOptions::default()
    };
    let cluster = rt
        .block_on(storage_cassandra::testkit::TestCluster::sim())
        .expect("a CQL simulator");
    let sim_uri = rt.block_on(cluster.scratch_uri("bench")).unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let file_uri = format!("file://{}?db=bench", target_dir.path().display());
    for (what, uri) in [
        ("restore postgres → simulator", sim_uri),
        ("restore postgres → file", file_uri),
    ] {
        let (target, _) = rt.block_on(registry().open(&uri)).unwrap();
        let target_seg =
            rt.block_on(async { Segments::new(target, SegmentCache::new(256 << 20).unwrap()) });
        let restored = rt
            .block_on(restore_db(&location, &target_seg, &writer.name, &restore))
            .unwrap();
        copy_rows(&mut rows, what, &restored.copy);
    }

    let started = Clock::now();
    let verified = rt.block_on(verify_backup(&location, &options)).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(verified.is_ok(), "{:?}", verified.problems);
    rows.push(Row {
        name: "verify-backup postgres MB/s".into(),
        value: verified.bytes as f64 / 1e6 / secs,
        unit: "MB/s",
        note: format!(
            "{} segments of 4 points, {:.1} MB in {secs:.2}s, decoded",
            verified.segments,
            verified.bytes as f64 / 1e6
        ),
    });

    println!(
        "backup bench: {written} datoms (+{added}), {total} segments, {parallel} in flight, 2 cores"
    );
    println!("{:<62} {:>12} {:<11} note", "measure", "value", "unit");
    for r in &rows {
        println!("{:<62} {:>12.1} {:<11} {}", r.name, r.value, r.unit, r.note);
    }
    for r in &rows {
        let json = serde_json::json!({"bench": "backup", "name": r.name, "value": r.value, "unit": r.unit, "note": r.note, "datoms": written, "parallel": parallel});
        println!("{json}");
    }
}
