//! What functions and specs installed as data cost: commits/s of a plain
//! transaction, of one calling a small installed function (`:db/fn`), and
//! of one checked by a query spec (`:db/ensure`), through an embedded
//! transactor at 1 and 64 concurrent clients; and, without storage, the
//! time of one transaction of each kind (`Db::with`, the transactor's
//! apply step) and so the overhead per call in µs, with the first call of
//! a new function version (compiling it) beside the cached one.
//!
//! `cargo bench -p transactor --bench installed` prints a table and then
//! the same figures as JSON. `ACCRETE_BENCH_SECS` sets the seconds per
//! measurement (default 3), `ACCRETE_BENCH_BACKENDS` the backends
//! (`mem,file` by default: memory shows the transactor's own cost, file
//! adds fsync), `ACCRETE_BENCH_CLIENTS` the client counts (`1,64`).
//!
//! Each transaction asserts 3 attributes of a new entity; the function
//! returns exactly that map; the spec requires `:bench/a` and runs the
//! query `[:find ?e . :in $ ?e :where [?e :bench/a ?a] [(>= ?a 0)]]`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use index::{SegmentCache, Segments, create_db};
use model::Db;
use model::edn::{Edn, Instant as TxInstant};
use storage_core::{DbName, Registry};
use transactor::{Config, Transactor};

const SCHEMA: &str = r#"[{:db/ident :bench/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :bench/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
  {:db/ident :bench/b :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#;

const FUNCTION: &str = r#"fn main(db, n) { [#{ "db/id": "e", "bench/id": n, "bench/a": n, "bench/b": `value ${n}` }] }"#;

fn install() -> String {
    format!(
        r#"[{{:db/ident :bench/put :db/fn {}}}
            {{:db/ident :bench.pred/non-negative
              :db.pred/query "[:find ?e . :in $ ?e :where [?e :bench/a ?a] [(>= ?a 0)]]"}}
            {{:db/ident :bench/valid :db.entity/attrs [:bench/a] :db.entity/preds [:bench.pred/non-negative]}}]"#,
        Edn::String(FUNCTION.into())
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    Function,
    Spec,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Plain, Kind::Function, Kind::Spec];

    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Function => "function",
            Kind::Spec => "query spec",
        }
    }

    fn tx(self, n: u64) -> String {
        match self {
            Kind::Plain => {
                format!("[{{:db/id \"e\" :bench/id {n} :bench/a {n} :bench/b \"value {n}\"}}]")
            }
            Kind::Function => format!("[[:bench/put {n}]]"),
            Kind::Spec => format!(
                "[{{:db/id \"e\" :bench/id {n} :bench/a {n} :bench/b \"value {n}\" :db/ensure :bench/valid}}]"
            ),
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct Row {
    backend: &'static str,
    kind: Kind,
    clients: usize,
    commits_per_s: f64,
}

#[derive(Debug)]
struct Apply {
    kind: &'static str,
    us_per_tx: f64,
    overhead_us: f64,
}

fn main() {
    let secs: u64 = std::env::var("ACCRETE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let each = Duration::from_secs(secs);
    let apply = apply_costs(each);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(commits_all(each));
    print_table(&rows, &apply, secs);
    print_json(&rows, &apply, secs);
}

/// The time of one transaction of each kind against the same value, in
/// this thread, and of the first call of a new function version.
fn apply_costs(each: Duration) -> Vec<Apply> {
    let fns = txfn::tx_functions();
    let next = |db: &Db| TxInstant(db.last_tx_instant().0 + 1);
    let db = Db::new();
    let db = db.with_edn(SCHEMA, next(&db), &fns).unwrap().db_after;
    let db = db.with_edn(&install(), next(&db), &fns).unwrap().db_after;
    let mut out = Vec::new();
    let mut plain = 0.0;
    for kind in Kind::ALL {
        let forms = parsed(&kind.tx(7));
        let instant = next(&db);
        let us = per_call(each, || {
            db.with(&forms, instant, &fns).unwrap();
        });
        if kind == Kind::Plain {
            plain = us;
        }
        out.push(Apply {
            kind: kind.name(),
            us_per_tx: us,
            overhead_us: us - plain,
        });
    }
    // New versions: each value has its own code, compiled on first call.
    let versions: Vec<Db> = (0..300)
        .map(|i| {
            let code = format!("// version {i}\n{FUNCTION}");
            let text = format!(
                "[{{:db/ident :bench/put :db/fn {}}}]",
                Edn::String(code.into())
            );
            db.with_edn(&text, next(&db), &fns).unwrap().db_after
        })
        .collect();
    let forms = parsed(&Kind::Function.tx(7));
    let started = Instant::now();
    for v in &versions {
        v.with(&forms, next(v), &fns).unwrap();
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / versions.len() as f64;
    out.push(Apply {
        kind: "function, first call of a version",
        us_per_tx: us,
        overhead_us: us - plain,
    });
    out
}

fn parsed(text: &str) -> Vec<Edn> {
    match model::edn::parse(text).unwrap() {
        Edn::Vector(forms) => forms,
        other => panic!("{other}"),
    }
}

/// Mean µs of `f` over `each` (after a warm-up).
fn per_call(each: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < each {
        for _ in 0..50 {
            f();
        }
        n += 50;
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

async fn commits_all(each: Duration) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let wanted = std::env::var("ACCRETE_BENCH_BACKENDS").unwrap_or_else(|_| "mem,file".to_string());
    let counts: Vec<usize> = std::env::var("ACCRETE_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,64".to_string())
        .split(',')
        .map(|c| c.parse().expect("ACCRETE_BENCH_CLIENTS: numbers"))
        .collect();
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    let mut rows = Vec::new();
    for backend in ["mem", "file"] {
        if !wanted.split(',').any(|w| w == backend) {
            continue;
        }
        let uri = match backend {
            "mem" => "mem://installed-bench".to_string(),
            _ => format!("file://{}", dir.path().display()),
        };
        let (storage, _) = registry.open(&uri).await.unwrap();
        let seg = Segments::new(storage.clone(), SegmentCache::new(256 << 20).unwrap());
        let db = DbName::new("installed").unwrap();
        create_db(&storage, &db).await.unwrap();
        let t = Arc::new(
            Transactor::start(seg, &db, Config::default())
                .await
                .unwrap(),
        );
        t.transact_edn(SCHEMA).await.unwrap();
        t.transact_edn(&install()).await.unwrap();
        for kind in Kind::ALL {
            for &clients in &counts {
                let row = commits(backend, kind, &t, clients, each).await;
                eprintln!("{row:?}");
                rows.push(row);
            }
        }
        Arc::try_unwrap(t).ok().unwrap().shutdown().await.unwrap();
    }
    rows
}

async fn commits(
    backend: &'static str,
    kind: Kind,
    t: &Arc<Transactor>,
    clients: usize,
    each: Duration,
) -> Row {
    let deadline = Instant::now() + each;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    t.transact_edn(&kind.tx(n)).await.expect("commit");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    Row {
        backend,
        kind,
        clients,
        commits_per_s: total as f64 / started.elapsed().as_secs_f64(),
    }
}

fn print_table(rows: &[Row], apply: &[Apply], secs: u64) {
    println!("\ninstalled functions and specs: {secs} s per measurement, embedded transactor");
    println!(
        "{:<8} {:<11} {:>7} {:>12}",
        "backend", "kind", "clients", "commits/s"
    );
    for r in rows {
        println!(
            "{:<8} {:<11} {:>7} {:>12.0}",
            r.backend,
            r.kind.name(),
            r.clients,
            r.commits_per_s
        );
    }
    println!("\none transaction applied (Db::with, no storage), same value each time");
    println!("{:<36} {:>10} {:>14}", "kind", "µs/tx", "overhead µs");
    for a in apply {
        println!(
            "{:<36} {:>10.1} {:>14.1}",
            a.kind, a.us_per_tx, a.overhead_us
        );
    }
}

fn print_json(rows: &[Row], apply: &[Apply], secs: u64) {
    let commits: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "backend": r.backend,
                "kind": r.kind.name(),
                "clients": r.clients,
                "commits_per_s": r.commits_per_s.round(),
            })
        })
        .collect();
    let apply: Vec<serde_json::Value> = apply
        .iter()
        .map(|a| {
            serde_json::json!({
                "kind": a.kind,
                "us_per_tx": (a.us_per_tx * 10.0).round() / 10.0,
                "overhead_us": (a.overhead_us * 10.0).round() / 10.0,
            })
        })
        .collect();
    let out = serde_json::json!({ "seconds_each": secs, "commits": commits, "apply": apply });
    println!("{out}");
}
