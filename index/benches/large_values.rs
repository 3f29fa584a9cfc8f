//! Indexing large values (issue 14 item 2): ACCRETE_BENCH_MB megabytes of
//! random strings (40 KB to 1 MiB each, in transactions of at most the tx
//! data limit) committed to file storage, then one indexing job; prints
//! the time of each phase as a table and a JSON line. Run it under
//! `/usr/bin/time -v` for the peak memory.
//!
//! `cargo bench -p index --bench large_values` (or `cargo test -p index
//! --bench large_values` unoptimised); ACCRETE_BENCH_MB defaults to 10.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant as Clock;

use index::{LogRoot, SegmentCache, Segments, append, index_db};
use model::edn::Instant;
use model::limits::{MAX_TX_BYTES, MAX_VALUE_BYTES};
use model::{Db, TxFunctions};
use storage_core::Storage;

const SCHEMA: &str =
    r#"[{:db/ident :x/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]"#;

/// xorshift64: random letters without a dependency.
struct Letters(u64);

impl Letters {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| (b'a' + (self.next() % 26) as u8) as char)
            .collect()
    }
}

fn main() {
    let mb: usize = std::env::var("ACCRETE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(
        rt.block_on(storage_file::FileStorage::open(dir.path()))
            .unwrap(),
    );
    let seg = Segments::new(
        storage,
        SegmentCache::with_handle(64 << 20, rt.handle().clone()),
    );
    let mut clock = 1_700_000_000_000;
    let mut letters = Letters(0x9e37_79b9_7f4a_7c15);
    let report = Db::new()
        .with_edn(SCHEMA, Instant(clock), &TxFunctions::new())
        .unwrap();
    let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
    root = rt
        .block_on(append(&seg, &root, &[report.log_entry()]))
        .unwrap();
    let mut db = report.db_after;
    let started = Clock::now();
    let (mut written, mut txs) = (0, 0);
    while written < mb * 1_000_000 {
        let mut text = String::from("[");
        loop {
            let len = 40_000 + (letters.next() as usize) % (MAX_VALUE_BYTES - 40_000 - 64);
            if text.len() + len + 64 > MAX_TX_BYTES {
                break;
            }
            let value = letters.text(len);
            text.push_str(&format!(r#"[:db/add "e" :x/s "{value}"] "#));
            written += len;
        }
        text.push(']');
        clock += 1;
        let report = db
            .with_edn(&text, Instant(clock), &TxFunctions::new())
            .unwrap();
        root = rt
            .block_on(append(&seg, &root, &[report.log_entry()]))
            .unwrap();
        db = report.db_after;
        txs += 1;
    }
    let committed = started.elapsed();
    let started = Clock::now();
    let outcome = rt.block_on(index_db(&seg, &db, &root));
    let indexed = started.elapsed();
    let status = match &outcome {
        Ok(job) => format!("indexed {} datoms", job.stats.datoms_merged),
        Err(e) => format!("FAILED: {e}"),
    };
    println!("{:<36} {:>12}", "large values", format!("{mb} MB"));
    println!("{:<36} {:>12}", "transactions", txs);
    println!(
        "{:<36} {:>12.2}",
        "commit time (s)",
        committed.as_secs_f64()
    );
    println!(
        "{:<36} {:>12.2}",
        "indexing time (s)",
        indexed.as_secs_f64()
    );
    println!("{:<36} {:>12}", "outcome", status);
    println!(
        "{{\"bench\":\"large_values\",\"mb\":{mb},\"txs\":{txs},\"commit_s\":{:.2},\"index_s\":{:.2},\"ok\":{}}}",
        committed.as_secs_f64(),
        indexed.as_secs_f64(),
        outcome.is_ok()
    );
}
