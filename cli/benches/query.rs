//! What a one-shot `accrete q` or `accrete pull` costs end to end: process
//! start, reading the catalog and log root, the value's segments through
//! a fresh cache, the query, printing. Printed as a table and as JSON.
//!
//! The database is on file storage: ACCRETE_BENCH_USERS users (default
//! 10 000), each with two stories, written by `accrete transact` in
//! batches of 1 000 users (so one indexing job has run and the rest is
//! novelty replayed from the log, as a real database is read).
//!
//! `cargo bench -p cli --bench query` (each command runs
//! ACCRETE_BENCH_RUNS times, default 10; the median and the fastest are
//! reported).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::ok as accrete;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :story/title :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :story/author :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]"#;

const BATCH: usize = 1000;

fn main() {
    let users = env_usize("ACCRETE_BENCH_USERS", 10_000);
    let runs = env_usize("ACCRETE_BENCH_RUNS", 10).max(1);
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file://{}?db=bench", dir.path().display());
    accrete(&["create-db", &uri], "");
    accrete(&["transact", &uri], SCHEMA);
    let loaded = Instant::now();
    let mut first_t = String::new();
    for start in (0..users).step_by(BATCH) {
        let summary = accrete(&["transact", &uri], &batch(start, users.min(start + BATCH)));
        if first_t.is_empty() {
            first_t = summary.split(' ').nth(1).unwrap().to_string();
        }
    }
    let load = loaded.elapsed();
    let middle = format!(r#""u{}@x""#, users / 2);
    let lookup = format!(r#"[:user/email "u{}@x"]"#, users / 2);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "datoms --limit 1 (process + open)",
            vec!["datoms", &uri, "eavt", "--limit", "1"],
        ),
        (
            "q count of users",
            vec!["q", &uri, "[:find (count ?e) . :where [?e :user/email]]"],
        ),
        (
            "q titles by one author (:in)",
            vec![
                "q",
                &uri,
                "[:find ?t :in $ ?m :where [?a :user/email ?m] [?s :story/author ?a] [?s :story/title ?t]]",
                &middle,
            ],
        ),
        (
            "q stories per author (aggregate)",
            vec![
                "q",
                &uri,
                "[:find ?n (count ?s) :where [?s :story/author ?a] [?a :user/name ?n]]",
            ],
        ),
        (
            "q titles by one author --as-of first batch",
            vec![
                "q",
                &uri,
                "[:find ?t :in $ ?m :where [?a :user/email ?m] [?s :story/author ?a] [?s :story/title ?t]]",
                r#""u1@x""#,
                "--as-of",
                &first_t,
            ],
        ),
        (
            "pull by lookup ref, reverse ref",
            vec![
                "pull",
                &uri,
                "[:user/name {:story/_author [:story/title]}]",
                &lookup,
            ],
        ),
    ];
    println!(
        "one-shot commands on file storage, {users} users, {} stories, {} runs each, 2 cores (load: {:.1} s)",
        users * 2,
        runs,
        load.as_secs_f64()
    );
    println!(
        "{:<46} {:>10} {:>10} {:>8}",
        "command", "median ms", "min ms", "rows"
    );
    let mut json = Vec::new();
    for (name, args) in &cases {
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let started = Instant::now();
            rows = accrete(args, "").lines().count();
            times.push(started.elapsed());
        }
        times.sort();
        let (median, min) = (ms(times[runs / 2]), ms(times[0]));
        println!("{name:<46} {median:>10.1} {min:>10.1} {rows:>8}");
        json.push(format!(
            r#"{{"command":"{name}","median_ms":{median:.1},"min_ms":{min:.1},"rows":{rows}}}"#
        ));
    }
    println!(
        r#"{{"bench":"cli-query","users":{users},"runs":{runs},"results":[{}]}}"#,
        json.join(",")
    );
}

/// Users `from..to`, each with two stories.
fn batch(from: usize, to: usize) -> String {
    let mut tx = String::from("[");
    for i in from..to {
        tx.push_str(&format!(
            r#"{{:db/id "u{i}" :user/email "u{i}@x" :user/name "User {i}"}}
 {{:story/title "Story {i}a" :story/author "u{i}"}} {{:story/title "Story {i}b" :story/author "u{i}"}}
"#
        ));
    }
    tx.push(']');
    tx
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
