//! Write amplification of the log (issue 14 item 6): bytes stored per
//! committed datom when every commit appends one small transaction, against
//! the bytes the final log root still reaches. Segments are content
//! addressed, so what a storage holds is what was written (each distinct
//! segment once). Printed as a table and as one JSON line.
//!
//! `cargo bench -p index --bench log_amplification` (figures are byte
//! counts, the same in any profile: `cargo test -p index --bench
//! log_amplification` runs it unoptimised). ACCRETE_BENCH_COMMITS
//! overrides the number of commits (default 20,000).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use index::{LogRoot, SegmentCache, Segments, append, reachable_segments};
use model::edn::Instant;
use model::testkit::{PEOPLE_SCHEMA, People};
use model::{Db, TxFunctions};
use storage_core::{MemStorage, Storage};

fn main() {
    let commits: usize = std::env::var("ACCRETE_BENCH_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let seg = Segments::new(
        storage.clone(),
        SegmentCache::with_handle(64 << 20, rt.handle().clone()),
    );
    let schema = Db::new()
        .with_edn(PEOPLE_SCHEMA, Instant(1), &TxFunctions::new())
        .unwrap();
    let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
    root = rt
        .block_on(append(&seg, &root, &[schema.log_entry()]))
        .unwrap();
    let mut db = schema.db_after;
    let mut people = People::new(&db).unwrap();
    let (mut datoms, mut payload) = (0u64, 0u64);
    for i in 0..commits {
        // One new person, or an age change of an earlier one.
        let entry = people.tx(&db, usize::from(i % 2 == 0), usize::from(i % 2 == 1));
        datoms += entry.data.len() as u64;
        payload += model::codec::encode_tx_log(&entry).len() as u64;
        db = db.apply_tx(&entry).unwrap();
        root = rt.block_on(append(&seg, &root, &[entry])).unwrap();
    }
    let stored = rt.block_on(stored_bytes(&storage));
    let reachable: u64 = rt
        .block_on(reachable_segments(&seg, &root))
        .unwrap()
        .iter()
        .map(|r| segment_len(&rt, &storage, r.id))
        .sum();
    let per = |bytes: u64| bytes as f64 / datoms as f64;
    println!("{:<44} {:>14}", "log write amplification", "");
    println!(
        "{:<44} {:>14}",
        "commits (one small transaction each)", commits
    );
    println!("{:<44} {:>14}", "datoms committed", datoms);
    println!(
        "{:<44} {:>14}",
        "log entry bytes (encoded, uncompressed)", payload
    );
    println!("{:<44} {:>14}", "segment bytes stored (written)", stored);
    println!("{:<44} {:>14}", "segment bytes the root reaches", reachable);
    println!("{:<44} {:>14.1}", "bytes written per datom", per(stored));
    println!(
        "{:<44} {:>14.1}",
        "bytes reachable per datom",
        per(reachable)
    );
    println!(
        "{:<44} {:>14.2}",
        "written / reachable",
        stored as f64 / reachable.max(1) as f64
    );
    println!(
        "{{\"bench\":\"log_amplification\",\"commits\":{commits},\"datoms\":{datoms},\"payload_bytes\":{payload},\"stored_bytes\":{stored},\"reachable_bytes\":{reachable},\"written_per_datom\":{:.2},\"reachable_per_datom\":{:.2}}}",
        per(stored),
        per(reachable)
    );
}

/// The bytes of every segment the storage holds.
async fn stored_bytes(storage: &Arc<dyn Storage>) -> u64 {
    let mut total = 0;
    let mut from = None;
    loop {
        let page = storage.list_segments(from, 1000).await.unwrap();
        for id in &page.ids {
            total += storage
                .get_segment(*id)
                .await
                .unwrap()
                .map_or(0, |b| b.len() as u64);
        }
        match page.next {
            None => return total,
            Some(token) => from = Some(token),
        }
    }
}

fn segment_len(
    rt: &tokio::runtime::Runtime,
    storage: &Arc<dyn Storage>,
    id: storage_core::SegmentId,
) -> u64 {
    rt.block_on(storage.get_segment(id))
        .unwrap()
        .map_or(0, |b| b.len() as u64)
}
