//! Query benchmark: 20,000 generated people (name, email, age, a city
//! shared by about 200 people, five friends, and follows forming a DAG),
//! eight queries — a point lookup, a 2-clause join, a 5-clause join, 3-hop
//! friends-of-friends, a recursive rule, a grouped aggregate, and two
//! selective joins (a city's people and four of their attributes; their
//! friends' attributes) — with p50/p99 latency per query, single
//! threaded. Each query runs against the database straight after the
//! transactions (in-memory novelty), against the same database indexed
//! into model's in-memory persistent layer, and against it indexed by the
//! indexing job into segment trees in mem storage (read through the
//! segment cache and the merge, as peers read). The model floor measures
//! a scan and single point probes (EAVT `[e a]`, AVET `[a v]`) on each.
//! Prints a table, then one JSON line.
//!
//! `cargo bench -p query --bench queries [-- --people N --dump PATH]`;
//! `--only NAME` runs the queries whose name contains NAME; `--no-floor`
//! skips the model floor calibration; `--explain` prints each query's plan; `--dump` writes the generated people
//! as JSON for the Datascript side
//! (`benches/datascript/run.mjs` runs both and prints them side by side).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use model::edn::{Edn, Instant, Keyword};
use model::{Db, Index, MemoryStore, TxFunctions, Value};
use query::{Input, Options, Query, Rules};
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

const SCHEMA: &str = r#"[
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/city :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :person/follows :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

/// The benchmark's queries; Datascript runs the same text (`bench.mjs`).
pub const QUERIES: [(&str, &str); 8] = [
    (
        "point lookup",
        "[:find ?e . :in $ ?email :where [?e :person/email ?email]]",
    ),
    (
        "2-clause join",
        "[:find ?e ?name :in $ ?age :where [?e :person/age ?age] [?e :person/name ?name]]",
    ),
    (
        "5-clause join",
        "[:find ?gname ?gage :in $ ?email :where [?p :person/email ?email] [?p :person/friend ?f] [?f :person/follows ?g] [?g :person/name ?gname] [?g :person/age ?gage]]",
    ),
    (
        "3-hop friends",
        "[:find ?f3 :in $ ?email :where [?p :person/email ?email] [?p :person/friend ?f1] [?f1 :person/friend ?f2] [?f2 :person/friend ?f3]]",
    ),
    (
        "recursive rule",
        "[:find ?x :in $ % ?email :where [?p :person/email ?email] (follows* ?p ?x)]",
    ),
    (
        "aggregate",
        "[:find ?age (count ?e) :where [?e :person/age ?age]]",
    ),
    (
        "selective join",
        "[:find ?e ?name ?email ?age :in $ ?city :where [?e :person/city ?city] [?e :person/name ?name] [?e :person/email ?email] [?e :person/age ?age]]",
    ),
    (
        "selective 2-hop",
        "[:find ?f ?fname ?fage :in $ ?city :where [?e :person/city ?city] [?e :person/friend ?f] [?f :person/name ?fname] [?f :person/age ?fage]]",
    ),
];

const RULES: &str = "[[(follows* ?a ?b) [?a :person/follows ?b]] [(follows* ?a ?b) [?a :person/follows ?c] (follows* ?c ?b)]]";

const FRIENDS: usize = 5;

/// People per city on average.
const PER_CITY: usize = 200;

/// How many cities `n` people live in.
fn cities(n: usize) -> usize {
    (n / PER_CITY).max(1)
}

/// A deterministic generator (splitmix64), the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Person {
    name: String,
    email: String,
    age: i64,
    /// One of `n / PER_CITY` cities: a non-unique value that binds a few
    /// hundred people (the selective-join queries start from it).
    city: i64,
    friends: Vec<usize>,
    follows: Vec<usize>,
}

/// People `i`: five random friends; follows `(i-1)/2` and `(i-1)/3`, so
/// everyone reaches person 0 in a few steps.
fn people(n: usize) -> Vec<Person> {
    let mut rng = SplitMix(42);
    (0..n)
        .map(|i| {
            let mut friends = Vec::with_capacity(FRIENDS);
            while friends.len() < FRIENDS.min(n - 1) {
                let f = rng.below(n);
                if f != i && !friends.contains(&f) {
                    friends.push(f);
                }
            }
            let mut follows = Vec::new();
            if i > 0 {
                follows.push((i - 1) / 2);
                if (i - 1) / 3 != (i - 1) / 2 {
                    follows.push((i - 1) / 3);
                }
            }
            Person {
                name: format!("name-{i}"),
                email: format!("user-{i}@example.com"),
                age: 18 + rng.below(63) as i64,
                city: ((i * 7919 + 17) % cities(n)) as i64,
                friends,
                follows,
            }
        })
        .collect()
}

/// People per transaction while loading (a transaction has a size limit).
const CHUNK: usize = 5_000;

/// Loads the people in transactions of [`CHUNK`]: first their scalar
/// attributes (the reports name each person's entity), then their
/// friends and follows by entity id. Returns the database and the log.
fn load(people: &[Person]) -> (Db, Vec<model::TxLog>) {
    let fns = TxFunctions::new();
    let report = Db::new().with_edn(SCHEMA, Instant(1), &fns).unwrap();
    let mut log = vec![report.log_entry()];
    let mut db = report.db_after;
    let k = |s: &str| Edn::Keyword(Keyword::new(s));
    let mut ids = Vec::with_capacity(people.len());
    let mut t = 2;
    for chunk in people.chunks(CHUNK) {
        let tx: Vec<Edn> = chunk
            .iter()
            .enumerate()
            .map(|(j, p)| {
                Edn::map([
                    (k(":db/id"), Edn::string(&format!("p{j}"))),
                    (k(":person/name"), Edn::string(&p.name)),
                    (k(":person/email"), Edn::string(&p.email)),
                    (k(":person/age"), Edn::Long(p.age)),
                    (k(":person/city"), Edn::Long(p.city)),
                ])
            })
            .collect();
        let report = db.with(&tx, Instant(t), &fns).unwrap();
        t += 1;
        ids.extend((0..chunk.len()).map(|j| report.tempid(&format!("p{j}")).unwrap()));
        log.push(report.log_entry());
        db = report.db_after;
    }
    let id = |i: usize| Edn::Long(ids[i] as i64);
    for (c, chunk) in people.chunks(CHUNK).enumerate() {
        let mut tx = Vec::new();
        for (j, p) in chunk.iter().enumerate() {
            let e = id(c * CHUNK + j);
            for (attr, targets) in [
                (":person/friend", &p.friends),
                (":person/follows", &p.follows),
            ] {
                for f in targets {
                    tx.push(Edn::Vector(vec![k(":db/add"), e.clone(), k(attr), id(*f)]));
                }
            }
        }
        let report = db.with(&tx, Instant(t), &fns).unwrap();
        t += 1;
        log.push(report.log_entry());
        db = report.db_after;
    }
    (db, log)
}

/// The same database with everything in the persistent layer.
fn indexed(db: &Db) -> Db {
    let store = MemoryStore::index(db, db.basis_t()).unwrap();
    Db::from_store(Arc::new(store), []).unwrap()
}

/// The same database indexed into segment trees by the indexing job, in
/// mem storage, read through a segment cache that holds all of it (as a
/// warm peer reads).
fn on_segments(log: &[model::TxLog]) -> Db {
    use index::{LogRoot, SegmentCache, Segments, append, db_from_root, index_db};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let storage: Arc<dyn storage_core::Storage> = Arc::new(storage_core::MemStorage::new());
    let seg = Segments::new(
        storage,
        SegmentCache::with_handle(4 << 30, rt.handle().clone()),
    );
    let db = rt.block_on(async {
        let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
        for entry in log {
            root = append(&seg, &root, std::slice::from_ref(entry))
                .await
                .unwrap();
        }
        let db = db_from_root(&seg, &root).await.unwrap();
        let job = index_db(&seg, &db, &root).await.unwrap();
        let root = job.next_root(&seg, &root).await.unwrap();
        db_from_root(&seg, &root).await.unwrap()
    });
    // The runtime serves the cache's fetches; it lives as long as the bench.
    Box::leak(Box::new(rt));
    db
}

/// The inputs of query `q` for iteration `i` (a different person each time).
fn inputs(q: usize, i: usize, db: &Db, rules: &Arc<Rules>, n: usize) -> Vec<Input> {
    let person = (i * 7919 + 13) % n;
    let email = Input::Value(Value::string(&format!("user-{person}@example.com")));
    match q {
        0 | 2 | 3 => vec![Input::Db(db.clone()), email],
        1 => vec![
            Input::Db(db.clone()),
            Input::Value(Value::Long(18 + (i % 63) as i64)),
        ],
        4 => vec![Input::Db(db.clone()), Input::Rules(rules.clone()), email],
        6 | 7 => vec![
            Input::Db(db.clone()),
            Input::Value(Value::Long((person % cities(n)) as i64)),
        ],
        _ => vec![Input::Db(db.clone())],
    }
}

struct Measured {
    p50_us: f64,
    p99_us: f64,
    runs: usize,
    rows: f64,
}

/// Runs `once` until the time budget is spent (20 to 20,000 runs), after a warm-up.
fn measure(mut once: impl FnMut(usize) -> usize, budget: Duration) -> Measured {
    for i in 0..10 {
        once(i);
    }
    let mut samples = Vec::new();
    let mut rows = 0;
    let start = Clock::now();
    while samples.len() < 20 || (start.elapsed() < budget && samples.len() < 20_000) {
        let t = Clock::now();
        rows += once(samples.len());
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    Measured {
        p50_us: at(0.5),
        p99_us: at(0.99),
        runs: samples.len(),
        rows: rows as f64 / samples.len() as f64,
    }
}

/// Result sizes of the first iterations, compared with Datascript's.
const CHECKS: usize = 20;

/// How many probes the calibration makes (about the 2-clause join's).
const PROBES: usize = 320;

/// What the model's index reads cost by themselves, the floors under the
/// queries: a scan of one attribute, and point probes (EAVT `[e a]` and
/// AVET `[a v]`, each yielding one datom) per probe.
struct Floor {
    scan_age_us: f64,
    eavt_probe_us: f64,
    avet_probe_us: f64,
}

fn calibrate(db: &Db, n: usize, budget: Duration) -> Floor {
    let age = Value::keyword(":person/age");
    let name = Value::keyword(":person/name");
    let email = Value::keyword(":person/email");
    let scan = measure(
        |_| {
            db.datoms(Index::Aevt, std::slice::from_ref(&age))
                .unwrap()
                .count()
        },
        budget,
    );
    let first = db
        .datoms(Index::Aevt, std::slice::from_ref(&name))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .e();
    let eavt = measure(
        |i| {
            (0..PROBES as u64)
                .map(|k| {
                    // Spread over the database (not neighbours in cache).
                    let e = Value::Ref(first + (k * 7919 + i as u64 * 104_729) % n as u64);
                    db.datoms(Index::Eavt, &[e, name.clone()]).unwrap().count()
                })
                .sum()
        },
        budget,
    );
    let avet = measure(
        |i| {
            (0..PROBES)
                .map(|k| {
                    let v = Value::string(&format!(
                        "user-{}@example.com",
                        (k * 7919 + i * 104_729) % n
                    ));
                    db.datoms(Index::Avet, &[email.clone(), v]).unwrap().count()
                })
                .sum()
        },
        budget,
    );
    Floor {
        scan_age_us: scan.p50_us,
        eavt_probe_us: eavt.p50_us / PROBES as f64,
        avet_probe_us: avet.p50_us / PROBES as f64,
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn dump(path: &str, people: &[Person]) {
    let json: Vec<serde_json::Value> = people
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name, "email": p.email, "age": p.age, "city": p.city,
                "friends": p.friends, "follows": p.follows,
            })
        })
        .collect();
    std::fs::write(path, serde_json::to_string(&json).unwrap()).unwrap();
}

fn main() {
    let n: usize = arg("--people")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let budget = Duration::from_millis(
        arg("--budget-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    );
    let people = people(n);
    if let Some(path) = arg("--dump") {
        dump(&path, &people);
    }
    let start = Clock::now();
    let (novelty, log) = load(&people);
    let load_s = start.elapsed().as_secs_f64();
    let persistent = indexed(&novelty);
    let segments = on_segments(&log);
    drop(log);
    let rules = Arc::new(Rules::parse(RULES).unwrap());
    let options = Options::default();
    println!(
        "{n} people, {} datoms per person on average; loaded in {load_s:.2}s; 1 thread",
        3 + FRIENDS + 2
    );
    println!(
        "{:<16} {:>12} {:>12} {:>14} {:>14} {:>14} {:>8}",
        "query", "p50 µs", "p99 µs", "indexed p50", "segments p50", "parse+run p50", "rows"
    );
    let mut json = Vec::new();
    let only = arg("--only");
    for (q, (name, text)) in QUERIES.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let parsed = Query::parse(text).unwrap();
        let run = |db: &Db| {
            let parsed = &parsed;
            let rules = &rules;
            let options = &options;
            let db = db.clone();
            move |i: usize| {
                parsed
                    .run(&inputs(q, i, &db, rules, n), options)
                    .unwrap()
                    .len()
            }
        };
        if std::env::args().any(|a| a == "--explain") {
            for (layer, db) in [("novelty", &novelty), ("segments", &segments)] {
                let plan = query::explain(*text, &inputs(q, 0, db, &rules, n)).unwrap();
                println!("{layer}: {plan}");
            }
        }
        let mut check = run(&novelty);
        let check_rows: Vec<usize> = (0..CHECKS).map(&mut check).collect();
        let plain = measure(run(&novelty), budget);
        let on_store = measure(run(&persistent), budget);
        let on_segments = measure(run(&segments), budget);
        let with_parse = measure(
            |i| {
                query::q(*text, &inputs(q, i, &novelty, &rules, n))
                    .unwrap()
                    .len()
            },
            budget,
        );
        println!(
            "{:<16} {:>12.1} {:>12.1} {:>14.1} {:>14.1} {:>14.1} {:>8.1}",
            name,
            plain.p50_us,
            plain.p99_us,
            on_store.p50_us,
            on_segments.p50_us,
            with_parse.p50_us,
            plain.rows
        );
        json.push(serde_json::json!({
            "query": name, "text": text, "p50_us": plain.p50_us, "p99_us": plain.p99_us,
            "runs": plain.runs, "rows_avg": plain.rows,
            "indexed_p50_us": on_store.p50_us, "indexed_p99_us": on_store.p99_us,
            "segments_p50_us": on_segments.p50_us, "segments_p99_us": on_segments.p99_us,
            "parse_and_run_p50_us": with_parse.p50_us, "check_rows": check_rows,
        }));
    }
    let mut floors = serde_json::Map::new();
    let layers = [
        ("novelty", &novelty),
        ("indexed", &persistent),
        ("segments", &segments),
    ];
    let skip_floor = std::env::args().any(|a| a == "--no-floor");
    for (layer, db) in layers.into_iter().filter(|_| !skip_floor) {
        let f = calibrate(db, n, budget);
        println!(
            "model floor ({layer}): scan of the {n} :person/age datoms p50 {:.1} µs; one EAVT [e a] probe {:.2} µs; one AVET [a v] probe {:.2} µs",
            f.scan_age_us, f.eavt_probe_us, f.avet_probe_us
        );
        floors.insert(
            layer.into(),
            serde_json::json!({ "scan_age_p50_us": f.scan_age_us, "eavt_probe_us": f.eavt_probe_us,
                "avet_probe_us": f.avet_probe_us, "probes": PROBES }),
        );
    }
    println!(
        "{}",
        serde_json::json!({ "accrete": { "people": n, "queries": json, "floor": floors } })
    );
}
