//! Transact benchmark: 1,000,000 datoms in transactions of 10 datoms and in
//! batches of 10,000; datoms/s, resident memory per million datoms, and the
//! `datoms(:eavt)` scan rate. Each mode runs in its own process so resident
//! memory is measured cleanly. Prints a table, then one JSON line.
//!
//! `cargo bench -p model --bench transact` (add `-- --datoms N` to change
//! the size). `benches/datascript/run.mjs` runs this and Datascript side by side.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use model::edn::{Edn, Instant, Keyword};
use model::{Db, Index, TxFunctions};
use std::process::Command;
use std::time::Instant as Clock;

/// Five attributes per entity, as the Datascript side uses.
const SCHEMA: &str = r#"[
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/city :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/score :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

const ATTRS_PER_ENTITY: usize = 5;

/// User plus system CPU seconds of this process (from /proc, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kb * 1024
}

/// The map form of entity `i` with tempid `-(slot + 1)`.
fn entity(keys: &[Edn; 6], i: usize, slot: usize) -> Edn {
    Edn::Map(
        [
            (keys[0].clone(), Edn::Long(-(slot as i64) - 1)),
            (keys[1].clone(), Edn::string(&format!("name-{i}"))),
            (keys[2].clone(), Edn::Long((i % 100) as i64)),
            (
                keys[3].clone(),
                Edn::string(&format!("user-{i}@example.com")),
            ),
            (keys[4].clone(), Edn::string(&format!("city-{}", i % 1000))),
            (keys[5].clone(), Edn::Long((i * 7 % 100_000) as i64)),
        ]
        .into_iter()
        .collect(),
    )
}

fn transactions(datoms: usize, per_tx: usize) -> Vec<Vec<Edn>> {
    let names = [
        ":db/id",
        ":person/name",
        ":person/age",
        ":person/email",
        ":person/city",
        ":person/score",
    ];
    let keys = names.map(|n| Edn::Keyword(Keyword::new(n)));
    let entities = datoms / ATTRS_PER_ENTITY;
    let per_tx_entities = (per_tx / ATTRS_PER_ENTITY).max(1);
    (0..entities)
        .collect::<Vec<_>>()
        .chunks(per_tx_entities)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(slot, i)| entity(&keys, *i, slot))
                .collect()
        })
        .collect()
}

fn load(per_tx: usize, datoms: usize) -> (Db, f64, f64, u64, usize) {
    let fns = TxFunctions::new();
    let mut clock = 1_000_000_000_000;
    let mut db = Db::new()
        .with_edn(SCHEMA, Instant(clock), &fns)
        .unwrap()
        .db_after;
    let txs = transactions(datoms, per_tx);
    let before = rss_bytes();
    let cpu = cpu_seconds();
    let start = Clock::now();
    for tx in &txs {
        clock += 1;
        db = db.with(tx, Instant(clock), &fns).unwrap().db_after;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    drop(txs);
    let rss = rss_bytes().saturating_sub(before);
    let user_datoms = txs_datoms(&db);
    (db, seconds, cpu, rss, user_datoms)
}

/// Datoms of the user attributes (the tx instants come on top).
fn txs_datoms(db: &Db) -> usize {
    db.datoms(Index::Eavt, &[])
        .unwrap()
        .filter(|d| d.as_ref().is_ok_and(|d| d.a() > 100))
        .count()
}

fn run_mode(mode: &str, datoms: usize) -> String {
    let per_tx = if mode == "tx10" { 10 } else { 10_000 };
    let (db, seconds, cpu, rss, loaded) = load(per_tx, datoms);
    assert_eq!(loaded, datoms / ATTRS_PER_ENTITY * ATTRS_PER_ENTITY);
    let mut json = format!(
        r#"{{"mode":"{mode}","datoms":{loaded},"seconds":{seconds:.3},"cpu_seconds":{cpu:.2},"datoms_per_s":{:.0},"datoms_per_cpu_s":{:.0},"rss_bytes":{rss},"rss_mib_per_million":{:.1}"#,
        loaded as f64 / seconds,
        loaded as f64 / cpu.max(0.01),
        rss as f64 / (1 << 20) as f64 / (loaded as f64 / 1e6)
    );
    if mode == "batch10k" {
        let start = Clock::now();
        let scanned = db.datoms(Index::Eavt, &[]).unwrap().count();
        let scan = start.elapsed().as_secs_f64();
        json.push_str(&format!(
            r#","scan_datoms":{scanned},"scan_seconds":{scan:.3},"scan_datoms_per_s":{:.0}"#,
            scanned as f64 / scan
        ));
    }
    json.push('}');
    json
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let datoms: usize = arg("--datoms")
        .and_then(|d| d.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(mode) = arg("--mode") {
        println!("{}", run_mode(&mode, datoms));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut results = Vec::new();
    for mode in ["tx10", "batch10k"] {
        let out = Command::new(&exe)
            .args(["--mode", mode, "--datoms", &datoms.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        results.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    println!(
        "model transact benchmark ({datoms} datoms, 5 attributes per entity, one unique identity; 1 process per mode)"
    );
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>11} {:>13} {:>10}",
        "mode", "datoms", "wall s", "cpu s", "datoms/s", "datoms/cpu-s", "MiB/M"
    );
    for r in &results {
        let field = |k: &str| {
            r.split(&format!("\"{k}\":"))
                .nth(1)
                .map(|s| {
                    s.split([',', '}'])
                        .next()
                        .unwrap_or("")
                        .trim_matches('"')
                        .to_string()
                })
                .unwrap_or_default()
        };
        println!(
            "{:<10} {:>10} {:>9} {:>9} {:>11} {:>13} {:>10}",
            field("mode"),
            field("datoms"),
            field("seconds"),
            field("cpu_seconds"),
            field("datoms_per_s"),
            field("datoms_per_cpu_s"),
            field("rss_mib_per_million")
        );
        if !field("scan_datoms_per_s").is_empty() {
            println!(
                "{:<10} {:>10} {:>9} {:>9} {:>11}",
                "scan eavt",
                field("scan_datoms"),
                field("scan_seconds"),
                "",
                field("scan_datoms_per_s")
            );
        }
    }
    println!("{{\"model\":[{}]}}", results.join(","));
}
