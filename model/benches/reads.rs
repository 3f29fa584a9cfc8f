//! Read-side benchmark: entity attribute reads, lookup-ref resolution,
//! current / as_of / history scans (with history in the database), reads
//! through a persistent layer, EDN parsing and the log codec. Prints a
//! table, then one JSON line. `cargo bench -p model --bench reads [-- --entities N]`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use model::codec::{decode_tx_log, encode_tx_log};
use model::edn::{self, Edn, Instant, Keyword};
use model::{Db, Index, MemoryStore, TxFunctions, TxLog, Value};
use std::sync::Arc;
use std::time::Instant as Clock;

const SCHEMA: &str = r#"[
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

fn tx_text(from: usize, to: usize, round: usize) -> String {
    let forms: Vec<String> = (from..to)
        .map(|i| {
            let friend = if i > 0 {
                format!(" :person/friend [[:person/email \"u{}@x\"]]", i - 1)
            } else {
                String::new()
            };
            let friend = if round == 1 { friend } else { String::new() };
            format!(
                "{{:person/email \"u{i}@x\" :person/name \"n{i}-{round}\" :person/age {}{friend}}}",
                (i + round) % 90
            )
        })
        .collect();
    format!("[{}]", forms.join(" "))
}

/// `entities` people, then two rounds of updates to every name and age (history).
fn build(entities: usize) -> Db {
    let fns = TxFunctions::new();
    let mut clock = 1_000_000_000_000_i64;
    let mut db = Db::new()
        .with_edn(SCHEMA, Instant(clock), &fns)
        .unwrap()
        .db_after;
    for round in 0..3 {
        for start in (0..entities).step_by(1000) {
            clock += 1;
            db = db
                .with_edn(
                    &tx_text(start, (start + 1000).min(entities), round),
                    Instant(clock),
                    &fns,
                )
                .unwrap()
                .db_after;
        }
    }
    db
}

struct Row {
    name: &'static str,
    ops: usize,
    seconds: f64,
}

fn time(name: &'static str, f: impl FnOnce() -> usize) -> Row {
    let start = Clock::now();
    let ops = f();
    Row {
        name,
        ops,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn scan(db: &Db) -> usize {
    db.datoms(Index::Eavt, &[]).unwrap().count()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let entities: usize = args
        .iter()
        .position(|a| a == "--entities")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let db = build(entities);
    let name = Keyword::new(":person/name");
    let mut rows = Vec::new();
    let people: Vec<u64> = db
        .datoms(Index::Aevt, &[Value::keyword(":person/email")])
        .unwrap()
        .map(|d| d.unwrap().e())
        .collect();
    rows.push(time("entity get (random)", || {
        let mut n = 0;
        for k in 0..200_000 {
            let e = people[(k * 7919) % people.len()];
            n += usize::from(db.entity(e).get(&name).unwrap().is_some());
        }
        n
    }));
    rows.push(time("lookup ref resolve", || {
        let mut n = 0;
        for k in 0..200_000 {
            let email = Edn::string(&format!("u{}@x", (k * 7919) % entities));
            n += usize::from(
                db.lookup_ref(&Edn::keyword("person/email"), &email)
                    .unwrap()
                    .is_some(),
            );
        }
        n
    }));
    rows.push(time("scan current eavt", || scan(&db)));
    let middle = db.as_of(db.basis_t() - (entities / 1000) as u64).unwrap();
    rows.push(time("scan as_of eavt", || scan(&middle)));
    rows.push(time("scan history eavt", || scan(&db.history())));
    let store = Arc::new(MemoryStore::index(&db, db.basis_t()).unwrap());
    let persisted = db.rebase(store).unwrap();
    rows.push(time("scan current (persistent layer)", || scan(&persisted)));
    rows.push(time("scan as_of (persistent layer)", || {
        scan(&persisted.as_of(middle.as_of_t().unwrap()).unwrap())
    }));
    let text = tx_text(0, 10_000, 0);
    rows.push(time("EDN parse (bytes)", || {
        for _ in 0..10 {
            edn::parse(&text).unwrap();
        }
        text.len() * 10
    }));
    let entries: Vec<TxLog> = db
        .tx_range(Some(1000), None)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    let datoms: usize = entries.iter().map(|e| e.data.len()).sum();
    let encoded: Vec<Vec<u8>> = entries.iter().map(encode_tx_log).collect();
    rows.push(time("codec encode (datoms)", || {
        entries
            .iter()
            .map(|e| encode_tx_log(e).len())
            .sum::<usize>();
        datoms
    }));
    rows.push(time("codec decode (datoms)", || {
        encoded
            .iter()
            .map(|b| decode_tx_log(b).unwrap().data.len())
            .sum()
    }));
    println!(
        "model reads benchmark ({entities} entities, 3 rounds of updates: {} current datoms)",
        scan(&db)
    );
    println!(
        "{:<34} {:>10} {:>9} {:>14}",
        "operation", "ops", "seconds", "ops/s"
    );
    let mut json = Vec::new();
    for r in &rows {
        let rate = r.ops as f64 / r.seconds;
        println!(
            "{:<34} {:>10} {:>9.3} {:>14.0}",
            r.name, r.ops, r.seconds, rate
        );
        json.push(format!(
            r#"{{"operation":"{}","ops":{},"seconds":{:.4},"ops_per_s":{:.0}}}"#,
            r.name, r.ops, r.seconds, rate
        ));
    }
    println!("{{\"entities\":{entities},\"reads\":[{}]}}", json.join(","));
}
