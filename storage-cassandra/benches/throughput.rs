//! Throughput against the simulator (3 replicas, in process): segment MB/s
//! for puts and gets of 256 KiB (one row) and 1 MiB (two chunk rows), CAS/s
//! at 1 and 8 concurrent callers on their own roots and on one shared root,
//! and the LWTs the simulator received per root change.
//!
//! `cargo bench -p storage-cassandra --bench throughput` prints a table and
//! one JSON line. `ACCRETE_BENCH_SECONDS` sets each measurement's length
//! (default 3). The simulator runs in the same process, so its work shares
//! the machine's cores with the driver's: the figures bound the backend's
//! overhead from below, they do not predict a real cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: failing loudly is right

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cql_sim::SimCluster;
use storage_cassandra::testkit::TestCluster;
use storage_cassandra::{CassandraStorage, Settings};
use storage_core::testkit::load::{bench_duration, closed_loop};
use storage_core::{CasOutcome, RootName, RootValue, SegmentId, Storage, StorageUri};

const CALLERS: [usize; 2] = [1, 8];

struct Row {
    what: String,
    callers: usize,
    rate: f64,
    unit: &'static str,
    /// LWTs received per applied root change, and per `cas_root` call.
    lwts: Option<(f64, f64)>,
}

/// Distinct segments of `size` bytes: caller and sequence in the first bytes.
fn segment(size: usize, caller: usize, n: u64) -> Bytes {
    let mut bytes = vec![0x5a; size];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[8..16].copy_from_slice(&(caller as u64).to_le_bytes());
    Bytes::from(bytes)
}

async fn segment_rows(storage: Arc<CassandraStorage>, size: usize, callers: usize) -> Vec<Row> {
    let mib = size as f64 / (1024.0 * 1024.0);
    let put_store = storage.clone();
    let written = Arc::new(AtomicU64::new(0));
    let count = written.clone();
    let puts = closed_loop(callers, move |c, n| {
        let (s, count) = (put_store.clone(), count.clone());
        async move {
            let bytes = segment(size, c, n);
            s.put_segment(SegmentId::of(&bytes), bytes).await.unwrap();
            if c == 0 {
                count.store(n + 1, Ordering::Relaxed);
            }
        }
    })
    .await;
    let ids: Arc<Vec<SegmentId>> = Arc::new(
        (0..written.load(Ordering::Relaxed).max(1))
            .map(|n| SegmentId::of(&segment(size, 0, n)))
            .collect(),
    );
    let gets = closed_loop(callers, move |_, n| {
        let (s, ids) = (storage.clone(), ids.clone());
        async move {
            let id = ids[n as usize % ids.len()];
            assert!(s.get_segment(id).await.unwrap().is_some());
        }
    })
    .await;
    let kib = size / 1024;
    vec![
        Row {
            what: format!("put {kib} KiB"),
            callers,
            rate: puts * mib,
            unit: "MB/s",
            lwts: None,
        },
        Row {
            what: format!("get {kib} KiB"),
            callers,
            rate: gets * mib,
            unit: "MB/s",
            lwts: None,
        },
    ]
}

/// Applied CAS per second, callers on their own roots (`shared` false) or
/// all on one root, and the LWTs received per applied change.
async fn cas_row(
    storage: Arc<CassandraStorage>,
    sim: &SimCluster,
    callers: usize,
    shared: bool,
) -> Row {
    let tag = if shared { "shared" } else { "own" };
    let names: Arc<Vec<RootName>> = Arc::new(
        (0..callers)
            .map(|c| {
                let c = if shared { 0 } else { c };
                RootName::new(format!("bench/{tag}/{callers}/{c}")).unwrap()
            })
            .collect(),
    );
    for name in names.iter() {
        let _ = storage
            .cas_root(name, None, &RootValue::new("0").unwrap())
            .await
            .unwrap();
    }
    sim.clear_received();
    let applied = Arc::new(AtomicU64::new(0));
    let wins = applied.clone();
    let rate = closed_loop(callers, move |c, _| {
        let (s, names, wins) = (storage.clone(), names.clone(), wins.clone());
        async move {
            let name = &names[c];
            let root = s.read_root(name).await.unwrap().unwrap();
            let value = RootValue::new(root.revision.get().to_string()).unwrap();
            if let CasOutcome::Applied(_) =
                s.cas_root(name, Some(root.revision), &value).await.unwrap()
            {
                wins.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
    .await;
    let changes = applied.load(Ordering::Relaxed);
    let lwts = sim
        .received()
        .iter()
        .filter(|r| r.query.contains("accrete_roots") && r.is_conditional())
        .count();
    let calls = rate * bench_duration().as_secs_f64();
    let plural = if shared { "" } else { "s" };
    Row {
        what: format!("CAS, {tag} root{plural} ({rate:.0} read+CAS/s)"),
        callers,
        rate: changes as f64 / bench_duration().as_secs_f64(),
        unit: "applied/s",
        lwts: Some((
            lwts as f64 / changes.max(1) as f64,
            lwts as f64 / calls.max(1.0),
        )),
    }
}

fn print(rows: &[Row]) {
    println!(
        "{:<40} {:>7} {:>10} {:<10} {:>12} {:>10}",
        "operation", "callers", "rate", "unit", "LWTs/change", "LWTs/call"
    );
    for r in rows {
        let (change, call) = r
            .lwts
            .map_or((String::from("-"), String::from("-")), |(a, b)| {
                (format!("{a:.3}"), format!("{b:.3}"))
            });
        println!(
            "{:<40} {:>7} {:>10.1} {:<10} {:>12} {:>10}",
            r.what, r.callers, r.rate, r.unit, change, call
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"operation\":\"{}\",\"callers\":{},\"rate\":{:.1},\"unit\":\"{}\",\"lwts_per_change\":{},\"lwts_per_call\":{}}}",
                r.what,
                r.callers,
                r.rate,
                r.unit,
                r.lwts.map_or(String::from("null"), |l| format!("{:.3}", l.0)),
                r.lwts.map_or(String::from("null"), |l| format!("{:.3}", l.1)),
            )
        })
        .collect();
    println!(
        "{{\"bench\":\"storage-cassandra throughput\",\"seconds_each\":{},\"rows\":[{}]}}",
        bench_duration().as_secs(),
        json.join(",")
    );
}

#[tokio::main]
async fn main() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster.scratch_uri("bench").await.unwrap();
    let settings = Settings::from_uri(&StorageUri::parse(&uri).unwrap()).unwrap();
    let storage = Arc::new(CassandraStorage::open(settings).await.unwrap());
    let sim = cluster.simulator().unwrap();
    let mut rows = Vec::new();
    for callers in CALLERS {
        rows.extend(segment_rows(storage.clone(), 256 * 1024, callers).await);
        rows.extend(segment_rows(storage.clone(), 1024 * 1024, callers).await);
    }
    for callers in CALLERS {
        rows.push(cas_row(storage.clone(), sim, callers, false).await);
    }
    rows.push(cas_row(storage.clone(), sim, 8, true).await);
    print(&rows);
}
