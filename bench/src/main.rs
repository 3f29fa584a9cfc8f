//! The project benchmark suite: `cargo run -p bench --release` runs every
//! measurement of issue 22 and prints one table, each figure beside its
//! target, then writes the same as JSON (to `ACCRETE_BENCH_JSON`, by
//! default `accrete-bench.json` in the working directory) for comparison
//! across commits. It is a binary, not a test: `cargo test` never runs it.
//!
//! - **import**: the people dataset (`import::sample`, ten datoms a
//!   person) into file storage through the import library, durable and
//!   indexed at the end: datoms/s wall clock, the process's peak memory,
//!   and the EDN parse rate alone (what bounds the rest).
//! - **commits**: 1, 64 and 512 closed-loop clients in this process on
//!   file storage, each transaction a person of nine attributes (ten datoms
//!   with `:db/txInstant`, eleven with `:tx/principal`): commits/s,
//!   datoms/s, transactions per log-root CAS, p99 latency; then 1 and 64
//!   clients with no linger (the group commit before issue 22), and 64
//!   clients of the protocol endpoint on loopback, a connection each.
//! - **queries**: selective joins over the imported people, on segments
//!   (the indexed database, read through the cache) and on novelty (the
//!   same people transacted into an in-memory value): the median of runs.
//! - **peer memory**: the imported database read whole through a cache of
//!   a tenth of its size, by a peer in a process of its own (this binary,
//!   run again): its peak resident set.
//! - **restore**: a backup of the imported database restored into a fresh
//!   storage: MB/s.
//!
//! `ACCRETE_BENCH_PEOPLE` sets the people (default 200 000: 2 million
//! datoms), `ACCRETE_BENCH_SECS` the seconds per commit measurement
//! (default 3), `ACCRETE_BENCH_ONLY` a comma list of sections
//! (`import,commits,queries,memory,restore`), and
//! `ACCRETE_BENCH_INDEX_THRESHOLD` the import's first index threshold in
//! datoms and `ACCRETE_BENCH_INDEX_GROWTH` its growth with the index
//! (defaults 524288 and 1, as `accrete import`: a background indexing job
//! each time novelty reaches the larger of the threshold and the datoms
//! indexed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use index::{SegmentCache, Segments, create_db, open_db};
use model::{Db, Index, Value};
use query::{Input, q};
use storage_core::{DbName, Registry, Storage};
use transactor::{Config, Transactor};

/// One figure of the table.
struct Figure {
    section: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    /// `(at least?, bound)`: the target, when the issue sets one.
    target: Option<(bool, f64)>,
    note: String,
}

impl Figure {
    fn met(&self) -> Option<bool> {
        self.target.map(|(at_least, bound)| match at_least {
            true => self.value >= bound,
            false => self.value <= bound,
        })
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // The peer-memory measurement runs in a process of its own (this
    // binary again), so that its peak resident set is the peer's alone.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(PEER_MEMORY_CHILD) {
        peer_memory_child(&args[2..]);
        return;
    }
    let people = env_u64("ACCRETE_BENCH_PEOPLE", 200_000);
    let secs = env_u64("ACCRETE_BENCH_SECS", 3);
    let only = std::env::var("ACCRETE_BENCH_ONLY")
        .unwrap_or_else(|_| "import,commits,queries,memory,restore".into());
    let wants = |s: &str| only.split(',').any(|w| w == s);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut figures = Vec::new();
    let dir = tempfile::tempdir().expect("a scratch directory");
    runtime.block_on(async {
        let storage = file_storage(dir.path(), "data").await;
        let db = DbName::new("people").expect("a name");
        create_db(&storage, &db).await.expect("create");
        // Everything but the commit figures reads the imported database.
        imported(&storage, &db, people, &mut figures).await;
        if wants("commits") {
            let each = Duration::from_secs(secs);
            for clients in [1, 64, 512] {
                commits(dir.path(), clients, each, None, Via::Embedded, &mut figures).await;
            }
            // The group commit before issue 22: only what is queued (at
            // one client, to show the linger costs a lone caller nothing).
            for clients in [1, 64] {
                let zero = Some(Duration::ZERO);
                commits(dir.path(), clients, each, zero, Via::Embedded, &mut figures).await;
            }
            // Clients across the protocol endpoint (loopback).
            commits(dir.path(), 64, each, None, Via::Network, &mut figures).await;
        }
        if wants("queries") {
            queries(&storage, &db, people, &mut figures).await;
        }
        if wants("memory") {
            memory(dir.path(), &db, &mut figures).await;
        }
        if wants("restore") {
            restore(dir.path(), &storage, &db, &mut figures).await;
        }
    });
    if !wants("import") {
        figures.retain(|f| f.section != "import");
    }
    print_table(&figures, people);
    write_json(&figures, people, secs);
}

async fn file_storage(dir: &std::path::Path, sub: &str) -> Arc<dyn Storage> {
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    let uri = format!("file://{}", dir.join(sub).display());
    registry.open(&uri).await.expect("file storage").0
}

fn segments(storage: &Arc<dyn Storage>, cache: u64) -> Segments {
    Segments::new(storage.clone(), SegmentCache::new(cache).expect("a cache"))
}

/// The resident set (`VmRSS`) or its peak (`VmHWM`) in bytes (Linux).
fn memory_of(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

const MIB: f64 = 1024.0 * 1024.0;

/// Imports the people (always: the other sections read them).
async fn imported(storage: &Arc<dyn Storage>, db: &DbName, people: u64, out: &mut Vec<Figure>) {
    let text = import::sample::people_edn(people);
    let parse = {
        let started = Instant::now();
        let mut forms = model::edn::TxForms::new(&text);
        let mut n = 0u64;
        while let Some(item) = forms.next_item().expect("EDN") {
            n += u64::from(matches!(item, model::edn::TxItem::Form(_)));
        }
        assert!(n > people);
        started.elapsed()
    };
    // As `accrete import` runs it: a busy machine must not cost the lease.
    let threshold = env_u64(
        "ACCRETE_BENCH_INDEX_THRESHOLD",
        import::INDEX_THRESHOLD as u64,
    ) as usize;
    let growth = std::env::var("ACCRETE_BENCH_INDEX_GROWTH")
        .ok()
        .map_or(import::INDEX_GROWTH, |g| {
            g.parse().expect("ACCRETE_BENCH_INDEX_GROWTH: a number")
        });
    let base = Config {
        lease_ttl: Duration::from_secs(5),
        ..Config::default()
    };
    let config = import::transactor_config(base, threshold, growth);
    let transactor = Transactor::start(segments(storage, 256 << 20), db, config)
        .await
        .expect("a transactor");
    let source = import::Source {
        name: "people.edn".into(),
        text: text.into(),
        format: import::Format::Edn,
    };
    let summary = import::import(
        &transactor,
        vec![source],
        &import::Options::default(),
        &|_| {},
    )
    .await
    .expect("the import");
    let m = transactor.metrics();
    transactor.shutdown().await.expect("shutdown");
    let secs = summary.elapsed.as_secs_f64();
    out.push(Figure {
        section: "import",
        name: format!("import {} people (file, indexed at the end)", people),
        value: summary.datoms as f64 / secs,
        unit: "datoms/s",
        target: Some((true, 1_000_000.0)),
        note: format!(
            "{} datoms in {secs:.2} s, {} batches, {} index jobs ({:.2} s, {} segments), log writes {:.2} s",
            summary.datoms,
            summary.batches,
            m.index_jobs,
            m.index_time.as_secs_f64(),
            m.index_segments,
            m.commit_time.as_secs_f64()
        ),
    });
    out.push(Figure {
        section: "import",
        name: "import: peak memory of the process".into(),
        value: memory_of("VmHWM:") as f64 / MIB,
        unit: "MiB",
        target: None,
        note: "resident set high-water mark (the EDN text held whole)".into(),
    });
    out.push(Figure {
        section: "import",
        name: "import: EDN parse alone".into(),
        value: summary.bytes as f64 / MIB / parse.as_secs_f64(),
        unit: "MiB/s",
        target: None,
        note: format!(
            "{:.0} datoms/s of parse alone",
            summary.datoms as f64 / parse.as_secs_f64()
        ),
    });
}

/// A transaction of nine attributes of two new people, `n` unique (ten
/// datoms with `:db/txInstant`).
fn person_tx(n: u64) -> String {
    format!(
        "[{{:person/id {n} :person/name \"Person {n}\" :person/email \"p{n}@example.com\" :person/age {} :person/salary {} :person/dept :dept/d{}}} {{:person/id {} :person/name \"Person {n}b\" :person/email \"p{n}b@example.com\"}}]",
        18 + n % 60,
        30_000 + n % 90_000,
        n % 50,
        n | 1 << 62
    )
}

/// How the commit benchmark's clients reach the transactor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// Callers in its process.
    Embedded,
    /// Clients of its protocol endpoint on loopback, a connection each.
    Network,
}

/// One commit client: the transactor itself, or a connection to it.
enum Client {
    Embedded(Arc<Transactor>),
    Network(transactor::client::Client),
}

impl Client {
    async fn transact(&self, text: &str) {
        match self {
            Client::Embedded(t) => {
                t.transact_edn(text).await.expect("commit");
            }
            Client::Network(c) => {
                c.transact(text).await.expect("commit");
            }
        }
    }
}

async fn commits(
    dir: &std::path::Path,
    clients: u64,
    each: Duration,
    linger: Option<Duration>,
    via: Via,
    out: &mut Vec<Figure>,
) {
    let storage = file_storage(dir, &format!("commits-{clients}-{linger:?}-{via:?}")).await;
    let db = DbName::new("commits").expect("a name");
    create_db(&storage, &db).await.expect("create");
    let server = match via {
        Via::Embedded => None,
        Via::Network => Some(transactor::Server::bind("127.0.0.1:0").await.expect("bind")),
    };
    let endpoint = server.as_ref().map(|s| s.local_addr().to_string());
    let config = Config {
        max_linger: linger.unwrap_or(Config::default().max_linger),
        lease_ttl: Duration::from_secs(5),
        endpoint: endpoint.clone(),
        ..Config::default()
    };
    let transactor = Arc::new(
        Transactor::start(segments(&storage, 64 << 20), &db, config)
            .await
            .expect("a transactor"),
    );
    if let Some(server) = &server {
        server.serve(transactor.clone());
    }
    let target = transactor.target();
    transactor
        .transact_edn(import::sample::SCHEMA)
        .await
        .expect("schema");
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(match &endpoint {
            None => Client::Embedded(transactor.clone()),
            Some(endpoint) => Client::Network(
                transactor::client::Client::connect(endpoint, &target)
                    .await
                    .expect("connect"),
            ),
        });
    }
    let before = transactor.metrics();
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let c = c as u64;
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new(3).expect("histogram");
                let mut i = 0u64;
                while started.elapsed() < each {
                    let t0 = Instant::now();
                    client.transact(&person_tx(1_000_000 + (c << 24 | i))).await;
                    let _ = latencies.record(t0.elapsed().as_micros() as u64);
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    for task in tasks {
        let _ = latencies.add(task.await.expect("client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let m = transactor.metrics();
    transactor.shutdown().await.expect("shutdown");
    let txs = m.transactions - before.transactions;
    let datoms = (m.datoms - before.datoms) as f64;
    let per_cas = txs as f64 / (m.commits - before.commits).max(1) as f64;
    let note = format!(
        "{:.0} commits/s, {per_cas:.1} tx/CAS (largest {}), p50 {:.2} ms, p99 {:.2} ms",
        txs as f64 / elapsed,
        m.largest_batch,
        latencies.value_at_quantile(0.5) as f64 / 1000.0,
        latencies.value_at_quantile(0.99) as f64 / 1000.0
    );
    let target = match (clients, linger, via) {
        (1, _, _) | (_, Some(_), _) | (_, _, Via::Network) => None,
        // 512 must not collapse: at least what 64 must reach.
        _ => Some((true, 50_000.0)),
    };
    let how = match linger {
        Some(_) => ", no linger (as before)",
        None => "",
    };
    let place = match via {
        Via::Embedded => "embedded",
        Via::Network => "network",
    };
    out.push(Figure {
        section: "commits",
        name: format!("commits, {clients} clients (file, {place}{how})"),
        value: datoms / elapsed,
        unit: "datoms/s",
        target,
        note,
    });
}

/// The selective joins: (name, query, inputs after `$`).
fn query_set() -> Vec<(&'static str, &'static str, Vec<Value>)> {
    vec![
        (
            "join: age+dept → 3 attributes (~1/300 of people)",
            "[:find ?name ?email ?salary :in $ ?age ?dept :where [?p :person/age ?age] [?p :person/dept ?dept] [?p :person/name ?name] [?p :person/email ?email] [?p :person/salary ?salary]]",
            vec![Value::Long(30), Value::keyword(":dept/d12")],
        ),
        (
            "join: manager's reports' names (10 people)",
            "[:find ?name :in $ ?m :where [?b :person/id ?m] [?p :person/manager ?b] [?p :person/name ?name]]",
            vec![Value::Long(1234)],
        ),
        (
            "join: friends of one person, their emails",
            "[:find ?email :in $ ?id :where [?p :person/id ?id] [?p :person/friends ?f] [?f :person/email ?email]]",
            vec![Value::Long(4321)],
        ),
    ]
}

/// The median time of `runs` runs of `query` over `db`.
fn time_query(db: &Db, query: &str, args: &[Value], runs: usize) -> (Duration, usize) {
    let mut inputs = vec![Input::Db(db.clone())];
    inputs.extend(args.iter().cloned().map(Input::Value));
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let found = q(query, &inputs).expect("the query");
        times.push(started.elapsed());
        rows = found.len();
    }
    times.sort();
    (times[times.len() / 2], rows)
}

async fn queries(storage: &Arc<dyn Storage>, db: &DbName, people: u64, out: &mut Vec<Figure>) {
    let on_segments = open_db(&segments(storage, 512 << 20), db)
        .await
        .expect("open")
        .db;
    let novelty = tokio::task::spawn_blocking(move || novelty_db(people))
        .await
        .expect("novelty");
    for (layer, db) in [("segments", on_segments), ("novelty", novelty)] {
        let timed = tokio::task::spawn_blocking(move || {
            query_set()
                .into_iter()
                .map(|(name, query, args)| {
                    // A first run warms the cache.
                    let _ = time_query(&db, query, &args, 1);
                    let (median, rows) = time_query(&db, query, &args, 9);
                    (name, median, rows)
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("queries");
        for (name, median, rows) in timed {
            out.push(Figure {
                section: "queries",
                name: format!("{name}, {people} people on {layer}"),
                value: median.as_secs_f64() * 1000.0,
                unit: "ms",
                target: None,
                note: format!("{rows} rows, median of 9"),
            });
        }
    }
}

/// The people transacted into an in-memory value: all novelty.
fn novelty_db(people: u64) -> Db {
    let fns = model::TxFunctions::new();
    let mut db = Db::new()
        .with_edn(import::sample::SCHEMA, model::edn::Instant(1), &fns)
        .expect("schema")
        .db_after;
    let mut ids: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut t = 2;
    let mut start = 0;
    while start < people {
        let end = (start + 5_000).min(people);
        let mut text = String::from("[");
        for i in start..end {
            let mut one = String::new();
            import::sample::person(i, &mut one);
            // Earlier batches' people by their entity ids.
            text.push_str(&resolve(&one, start, &ids));
        }
        text.push(']');
        let report = db
            .with_edn(&text, model::edn::Instant(t), &fns)
            .expect("people");
        for (tempid, e) in &report.tempids {
            if let Some(n) = tempid.strip_prefix('p').and_then(|n| n.parse().ok()) {
                ids.insert(n, *e);
            }
        }
        db = report.db_after;
        t += 1;
        start = end;
    }
    db
}

/// `form` with the tempids of people before `start` written as their
/// entity ids.
fn resolve(form: &str, start: u64, ids: &std::collections::HashMap<u64, u64>) -> String {
    let mut out = String::with_capacity(form.len());
    let mut rest = form;
    while let Some(i) = rest.find("\"p") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('"').unwrap_or(after.len());
        match after[..end].parse::<u64>() {
            Ok(n) if n < start => {
                out.push_str(&ids[&n].to_string());
            }
            _ => out.push_str(&rest[i..i + 3 + end]),
        }
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// The argument that makes this binary the peer-memory child.
const PEER_MEMORY_CHILD: &str = "--peer-memory-child";

/// The imported database read whole through a cache of a tenth of its
/// size, by a peer in a process of its own: that process's peak resident
/// set, beside the cache's size.
async fn memory(dir: &std::path::Path, db: &DbName, out: &mut Vec<Figure>) {
    let bytes = dir_bytes(&dir.join("data"));
    let cache = (bytes / 10).max(1 << 20);
    let exe = std::env::current_exe().expect("this binary's path");
    let child = tokio::process::Command::new(exe)
        .arg(PEER_MEMORY_CHILD)
        .arg(dir)
        .arg(db.as_str())
        .arg(cache.to_string())
        .output()
        .await
        .expect("the peer-memory process runs");
    let text = String::from_utf8_lossy(&child.stdout);
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the peer-memory process said no {name}: {text}; {}",
                    String::from_utf8_lossy(&child.stderr)
                )
            })
    };
    let (datoms, peak, base) = (field("datoms="), field("peak="), field("base="));
    let grew = peak.saturating_sub(base) as f64 / MIB;
    out.push(Figure {
        section: "memory",
        name: "peer: read a database 10× its cache".into(),
        value: grew,
        unit: "MiB",
        // The issue sets no bound: the figure is the peer's memory beyond
        // an idle process while it reads all of a database ten times its
        // cache, beside the sizes that matter.
        target: None,
        note: format!(
            "a peer process reading {datoms} datoms of EAVT+AEVT: peak RSS {:.1} MiB, {grew:.1} MiB of it above the process before it opened the database; {:.1} MiB of segments on disk, cache {:.1} MiB",
            peak as f64 / MIB,
            bytes as f64 / MIB,
            cache as f64 / MIB
        ),
    });
}

/// The peer-memory child: opens database `args[1]` of the file storage in
/// `args[0]/data` through a cache of `args[2]` bytes, reads EAVT and AEVT
/// whole, and prints `datoms=N peak=BYTES base=BYTES` (peak: `VmHWM`; base:
/// `VmRSS` before opening).
fn peer_memory_child(args: &[String]) {
    let [dir, db, cache] = args else {
        panic!("usage: {PEER_MEMORY_CHILD} DIR DB CACHE_BYTES");
    };
    let dir = std::path::PathBuf::from(dir);
    let db = DbName::new(db).expect("a database name");
    let cache: u64 = cache.parse().expect("a cache size in bytes");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let storage = file_storage(&dir, "data").await;
        let base = memory_of("VmRSS:");
        let value = open_db(&segments(&storage, cache), &db)
            .await
            .expect("open")
            .db;
        let datoms = tokio::task::spawn_blocking(move || {
            let mut n = 0u64;
            for index in [Index::Eavt, Index::Aevt] {
                for d in value.datoms(index, &[]).expect("datoms") {
                    d.expect("a datom");
                    n += 1;
                }
            }
            n
        })
        .await
        .expect("the scan");
        println!("datoms={datoms} peak={} base={base}", memory_of("VmHWM:"));
    });
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

async fn restore(
    dir: &std::path::Path,
    storage: &Arc<dyn Storage>,
    db: &DbName,
    out: &mut Vec<Figure>,
) {
    let backups = file_storage(dir, "backups").await;
    let set = DbName::new("bench").expect("a name");
    let location = backup::BackupLocation::new(backups, "bench backups", &set).expect("a location");
    backup::backup_db(
        &segments(storage, 64 << 20),
        db,
        &location,
        &backup::CopyOptions::default(),
    )
    .await
    .expect("the backup");
    let target = file_storage(dir, "restored").await;
    let report = backup::restore_db(
        &location,
        &segments(&target, 64 << 20),
        db,
        &backup::RestoreOptions::default(),
    )
    .await
    .expect("the restore");
    let secs = report.copy.elapsed.as_secs_f64();
    out.push(Figure {
        section: "restore",
        name: "restore into fresh file storage".into(),
        value: report.copy.bytes as f64 / MIB / secs.max(1e-9),
        unit: "MB/s",
        target: None,
        note: format!(
            "{:.1} MiB, {} segments in {secs:.2} s",
            report.copy.bytes as f64 / MIB,
            report.copy.copied
        ),
    });
}

fn print_table(figures: &[Figure], people: u64) {
    println!(
        "\naccrete benchmark suite — {people} people, {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<58} {:>14} {:<9} {:>16} {:<5} note",
        "figure", "value", "unit", "target", "met"
    );
    for f in figures {
        let target = match f.target {
            Some((true, b)) => format!("≥ {b:.0}"),
            Some((false, b)) => format!("≤ {b:.1}"),
            None => "—".into(),
        };
        let met = match f.met() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "{:<58} {:>14.2} {:<9} {:>16} {:<5} {}",
            f.name, f.value, f.unit, target, met, f.note
        );
    }
}

fn write_json(figures: &[Figure], people: u64, secs: u64) {
    let rows: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "section": f.section, "name": f.name, "value": f.value, "unit": f.unit,
                "target": f.target.map(|(at_least, b)| serde_json::json!({"at_least": at_least, "bound": b})),
                "met": f.met(), "note": f.note,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "suite": "accrete-bench", "people": people, "commit_seconds": secs,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "figures": rows,
    });
    let path = std::env::var("ACCRETE_BENCH_JSON").unwrap_or_else(|_| "accrete-bench.json".into());
    match std::fs::write(&path, format!("{doc:#}\n")) {
        Ok(()) => println!("\nJSON written to {path}"),
        Err(e) => eprintln!("writing {path}: {e}"),
    }
}
