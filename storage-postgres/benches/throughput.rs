//! Throughput against a private server: applied CAS per second and
//! segment MB/s at 1, 8 and 32 concurrent callers, beside pgbench's
//! single-row UPDATE rate on the same server as the baseline.
//!
//! `cargo bench -p storage-postgres --bench throughput` prints a table and
//! one JSON line. `ACCRETE_BENCH_SECONDS` sets each measurement's length
//! (default 3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: failing loudly is right

use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use storage_core::testkit::load::{bench_duration, closed_loop};
use storage_core::{CasOutcome, RootName, RootValue, SegmentId, Storage, StorageExt, StorageUri};
use storage_postgres::testkit::{PgServer, server_bindir};
use storage_postgres::{PostgresStorage, Settings};

const CALLERS: [usize; 3] = [1, 8, 32];
const SEGMENT_BYTES: usize = 256 * 1024;

struct Row {
    what: &'static str,
    callers: usize,
    rate: f64,
    unit: &'static str,
}

async fn cas_rate(storage: Arc<PostgresStorage>, callers: usize) -> f64 {
    let names: Arc<Vec<RootName>> = Arc::new(
        (0..callers)
            .map(|c| RootName::new(format!("bench/{callers}/{c}")).unwrap())
            .collect(),
    );
    for name in names.iter() {
        storage
            .cas_root(name, None, &RootValue::new("0").unwrap())
            .await
            .unwrap();
    }
    closed_loop(callers, move |c, _| {
        let (storage, names) = (storage.clone(), names.clone());
        async move {
            let name = &names[c];
            let root = storage.read_root(name).await.unwrap().unwrap();
            let value = RootValue::new(root.revision.get().to_string()).unwrap();
            let out = storage
                .cas_root(name, Some(root.revision), &value)
                .await
                .unwrap();
            assert!(matches!(out, CasOutcome::Applied(_)), "one writer per root");
        }
    })
    .await
}

async fn put_rate(
    storage: Arc<PostgresStorage>,
    callers: usize,
    ids: Arc<Mutex<Vec<SegmentId>>>,
) -> f64 {
    closed_loop(callers, move |c, i| {
        let (storage, ids) = (storage.clone(), ids.clone());
        async move {
            let mut bytes = vec![0u8; SEGMENT_BYTES];
            let seed = ((callers as u64) << 48) ^ ((c as u64) << 32) ^ i;
            for (k, chunk) in bytes.chunks_mut(8).enumerate() {
                chunk.copy_from_slice(
                    &(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k as u64).to_le_bytes(),
                );
            }
            let id = storage.put(Bytes::from(bytes)).await.unwrap();
            ids.lock().unwrap().push(id);
        }
    })
    .await
}

async fn get_rate(storage: Arc<PostgresStorage>, callers: usize, ids: Arc<Vec<SegmentId>>) -> f64 {
    closed_loop(callers, move |c, i| {
        let (storage, ids) = (storage.clone(), ids.clone());
        async move {
            let id = ids[(c * 7919 + i as usize) % ids.len()];
            let got = storage.get_segment(id).await.unwrap();
            assert!(got.is_some());
        }
    })
    .await
}

/// pgbench's rate for a single-row UPDATE per transaction; `own_row`: each
/// client its own row, else all on one row.
fn pgbench(server: &PgServer, callers: usize, own_row: bool) -> f64 {
    let dir = std::env::temp_dir().join(format!("accrete-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("update.sql");
    let row = if own_row { ":client_id + 1" } else { "1" };
    std::fs::write(
        &script,
        format!("UPDATE bench_rows SET v = v + 1 WHERE id = {row};\n"),
    )
    .unwrap();
    let out = Command::new(server_bindir().unwrap().join("pgbench"))
        .args(["-n", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(server.port().unwrap().to_string())
        .args([
            "-c",
            &callers.to_string(),
            "-j",
            &callers.min(2).to_string(),
        ])
        .args(["-T", &bench_duration().as_secs().to_string(), "-f"])
        .arg(&script)
        .arg("postgres")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench output: {text}"))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let server = PgServer::private()
        .await
        .expect("a private PostgreSQL server");
    let uri = StorageUri::parse(&server.uri_with("db=bench&pool_size=32")).unwrap();
    let storage = Arc::new(
        PostgresStorage::open(Settings::from_uri(&uri).unwrap())
            .await
            .unwrap(),
    );
    server
        .admin()
        .await
        .unwrap()
        .batch_execute(
            "CREATE TABLE bench_rows (id int PRIMARY KEY, v bigint NOT NULL);
             INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, 64) g;",
        )
        .await
        .unwrap();

    let mut rows = Vec::new();
    for callers in CALLERS {
        rows.push(Row {
            what: "pgbench UPDATE, own row",
            callers,
            rate: pgbench(&server, callers, true),
            unit: "tx/s",
        });
        rows.push(Row {
            what: "pgbench UPDATE, one hot row",
            callers,
            rate: pgbench(&server, callers, false),
            unit: "tx/s",
        });
        rows.push(Row {
            what: "read_root + cas_root, own root",
            callers,
            rate: cas_rate(storage.clone(), callers).await,
            unit: "CAS/s",
        });
    }
    let mut stored = Vec::new();
    for callers in CALLERS {
        let ids = Arc::new(Mutex::new(Vec::new()));
        let puts = put_rate(storage.clone(), callers, ids.clone()).await;
        rows.push(Row {
            what: "put_segment 256 KiB",
            callers,
            rate: puts * SEGMENT_BYTES as f64 / 1e6,
            unit: "MB/s",
        });
        stored.extend(ids.lock().unwrap().drain(..));
    }
    let stored = Arc::new(stored);
    for callers in CALLERS {
        let gets = get_rate(storage.clone(), callers, stored.clone()).await;
        rows.push(Row {
            what: "get_segment 256 KiB",
            callers,
            rate: gets * SEGMENT_BYTES as f64 / 1e6,
            unit: "MB/s",
        });
    }

    println!(
        "\nstorage-postgres throughput: private PostgreSQL on 127.0.0.1 (fsync on, synchronous_commit on), {} s per row, {} segments stored",
        bench_duration().as_secs(),
        stored.len()
    );
    println!("{:<34} {:>7} {:>12}", "operation", "callers", "rate");
    for r in &rows {
        println!(
            "{:<34} {:>7} {:>10.1} {}",
            r.what, r.callers, r.rate, r.unit
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"op\":\"{}\",\"callers\":{},\"rate\":{:.1},\"unit\":\"{}\"}}",
                r.what, r.callers, r.rate, r.unit
            )
        })
        .collect();
    println!("JSON [{}]", json.join(","));
}
