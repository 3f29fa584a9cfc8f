//! Peers and transactors as real processes on one storage (file by
//! default, PostgreSQL and the Cassandra simulator too): scenarios §5 (the report queue watcher) and
//! §7 (read-your-writes across peers), one order of every transaction at
//! every peer, and kills of peers and of the transactor that lose and
//! duplicate nothing. `ACCRETE_LONG=1` runs a longer kill soak.
#![allow(clippy::unwrap_used)]

mod nodes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use nodes::{Node, committed_t, facts, field};
use storage_cassandra::testkit::TestCluster;

/// A database in a storage the processes share.
struct Stage {
    uri: String,
    dir: tempfile::TempDir,
    /// A CQL simulator cluster served by this process, and its runtime.
    simulator: Option<(TestCluster, tokio::runtime::Runtime)>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some((cluster, runtime)) = self.simulator.take() {
            runtime.block_on(async move { drop(cluster) });
        }
    }
}

impl Stage {
    fn file() -> Stage {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("file://{}?db=procs", dir.path().join("data").display());
        create(&uri);
        Stage {
            uri,
            dir,
            simulator: None,
        }
    }

    fn postgres() -> Stage {
        let runtime = runtime();
        let server = runtime
            .block_on(storage_postgres::testkit::PgServer::shared())
            .expect("a PostgreSQL server for the tests");
        let uri = server.scratch_uri("procs");
        drop(runtime);
        create(&uri);
        Stage {
            uri,
            dir: tempfile::tempdir().unwrap(),
            simulator: None,
        }
    }

    /// A keyspace on a CQL simulator cluster (3 replicas, Paxos roots)
    /// that this process serves on a loopback port while the stage lives.
    fn cassandra() -> Stage {
        let runtime = runtime();
        let (cluster, uri) = runtime.block_on(async {
            let cluster = TestCluster::sim().await.expect("a CQL simulator cluster");
            let uri = cluster
                .scratch_uri("procs")
                .await
                .expect("a scratch keyspace");
            (cluster, uri)
        });
        create(&uri);
        Stage {
            uri,
            dir: tempfile::tempdir().unwrap(),
            simulator: Some((cluster, runtime)),
        }
    }

    fn logs(&self) -> &Path {
        self.dir.path()
    }

    fn transactor(&self, name: &str) -> Node {
        Node::transactor(name, &self.uri, 1000, self.logs())
    }

    fn peer(&self, name: &str) -> Node {
        Node::peer(name, &self.uri, &[], self.logs())
    }

    fn watcher(&self, name: &str, attr: &str) -> Node {
        let mut node = self.peer(name);
        assert_eq!(node.ask(&format!("watch {attr}")), "watching");
        node
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Creates the database `uri` names (the shared PostgreSQL server lives on
/// in its own watchdog, not in this runtime).
fn create(uri: &str) {
    runtime().block_on(async {
        let (storage, parsed) = peer::builtin_registry().open(uri).await.unwrap();
        index::create_db(&storage, parsed.require_db().unwrap())
            .await
            .unwrap();
    });
}

const SCHEMA: &str = r#"transact [{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity} {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one} {:db/ident :load/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one} {:db/ident :test/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;

const WAIT: Duration = Duration::from_secs(60);

/// The tempid `name` of a `committed T a=1 b=2` answer.
fn tempid(answer: &str, name: &str) -> u64 {
    answer
        .split(' ')
        .find_map(|part| part.strip_prefix(&format!("{name}=")))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no tempid {name} in {answer}"))
}

#[test]
fn scenario_5_a_watcher_queries_every_report() {
    let stage = Stage::file();
    let _transactor = stage.transactor("transactor");
    let mut watcher = stage.watcher("watcher", ":user/name");
    let mut writer = stage.peer("writer");
    let schema = committed_t(&writer.ask(SCHEMA));
    let people = writer.ask(
        r#"transact [{:db/id "ed" :user/email "ed@x" :user/name "Ed"} {:db/id "jo" :user/email "jo@x" :user/name "Jo"}]"#,
    );
    let (ed, jo) = (tempid(&people, "ed"), tempid(&people, "jo"));
    let renamed = writer.ask(r#"transact [{:db/id [:user/email "ed@x"] :user/name "Edward"}]"#);
    let unnamed = writer.ask(r#"transact [{:db/id "x" :user/email "x@x"}]"#);
    watcher.wait_reports(4, WAIT);
    let r = &watcher.reports;
    assert_eq!(
        watcher.report_ts(),
        [
            schema,
            committed_t(&people),
            committed_t(&renamed),
            committed_t(&unnamed)
        ]
    );
    assert_eq!(facts(&r[0]), []);
    assert_eq!(
        facts(&r[1]),
        [(ed, "\"Ed\"".to_string()), (jo, "\"Jo\"".to_string())]
    );
    assert_eq!(facts(&r[2]), [(ed, "\"Edward\"".to_string())], "{}", r[2]);
    assert_eq!(facts(&r[3]), []);
    // db before and db after are full values: count the named entities.
    let counts: Vec<(&str, &str)> = r
        .iter()
        .map(|line| (field(line, "before_count"), field(line, "after_count")))
        .collect();
    assert_eq!(counts, [("0", "0"), ("0", "2"), ("2", "2"), ("2", "2")]);
    assert_eq!(field(&r[1], "before"), schema.to_string());
}

#[test]
fn scenario_7_read_your_writes_across_peers() {
    let stage = Stage::file();
    let _transactor = stage.transactor("transactor");
    let mut a = stage.peer("a");
    let mut b = stage.peer("b");
    a.ask(SCHEMA);
    for i in 0..20 {
        let answer = a.ask(&format!(r#"transact [{{:db/id "n" :test/id {i}}}]"#));
        // The message from A to B carries the basis t.
        let t = committed_t(&answer);
        let synced = b.ask(&format!("sync {t}"));
        let basis: u64 = synced.strip_prefix("synced ").unwrap().parse().unwrap();
        assert!(basis >= t, "{synced} for t {t}");
        let found = b.ask(&format!("q [:find ?e . :where [?e :test/id {i}]]"));
        assert_eq!(found, format!("result {}", tempid(&answer, "n")));
    }
    // sync() waits for everything acknowledged when it was called.
    let answer = a.ask(r#"transact [{:db/id "n" :test/id 100}]"#);
    let synced = b.ask("sync");
    let basis: u64 = synced.strip_prefix("synced ").unwrap().parse().unwrap();
    assert!(basis >= committed_t(&answer), "{synced}");
    let found = b.ask("q [:find ?e . :where [?e :test/id 100]]");
    assert_eq!(found, format!("result {}", tempid(&answer, "n")));
}

/// Sends `rounds` transactions from each peer, one in flight per peer at a
/// time, and returns the answers by `:load/id`.
fn load(peers: &mut [&mut Node], first_id: u64, rounds: u64) -> BTreeMap<u64, String> {
    let mut answers = BTreeMap::new();
    for round in 0..rounds {
        let ids: Vec<u64> = (0..peers.len() as u64)
            .map(|p| first_id + round * peers.len() as u64 + p)
            .collect();
        for (peer, id) in peers.iter_mut().zip(&ids) {
            peer.send(&format!("transact [{{:load/id {id}}}]"));
        }
        for (peer, id) in peers.iter_mut().zip(&ids) {
            answers.insert(*id, peer.answer());
        }
    }
    answers
}

fn three_peers_see_every_transaction_in_one_order(stage: &Stage) {
    let _transactor = stage.transactor("transactor");
    let mut p1 = stage.watcher("p1", ":load/id");
    let mut p2 = stage.watcher("p2", ":load/id");
    let mut p3 = stage.watcher("p3", ":load/id");
    p1.ask(SCHEMA);
    let answers = load(&mut [&mut p1, &mut p2, &mut p3], 0, 25);
    assert!(
        answers.values().all(|a| a.starts_with("committed ")),
        "{answers:?}"
    );
    for p in [&mut p1, &mut p2, &mut p3] {
        p.wait_reports(76, WAIT);
    }
    assert_same(&p1.reports, &p2.reports);
    assert_same(&p1.reports, &p3.reports);
    let committed: BTreeSet<u64> = answers.values().map(|a| committed_t(a)).collect();
    let seen: BTreeSet<u64> = p1.report_ts().into_iter().skip(1).collect();
    assert_eq!(seen, committed);
    let ids = ids_seen(&p1.reports);
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        (0..75).collect::<Vec<_>>()
    );
    assert!(ids.values().all(|n| *n == 1));
}

#[test]
fn three_peers_see_every_transaction_in_one_order_on_file_storage() {
    three_peers_see_every_transaction_in_one_order(&Stage::file());
}

#[test]
fn three_peers_see_every_transaction_in_one_order_on_postgres() {
    three_peers_see_every_transaction_in_one_order(&Stage::postgres());
}

#[test]
fn three_peers_see_every_transaction_in_one_order_on_cassandra() {
    three_peers_see_every_transaction_in_one_order(&Stage::cassandra());
}

/// Two peers' report lines are the same; else the first difference.
fn assert_same(a: &[String], b: &[String]) {
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    if let Some(i) = first {
        panic!("reports differ at {i}:\n  {}\n  {}", a[i], b[i]);
    }
    assert_eq!(
        a.len(),
        b.len(),
        "one peer has more reports: {:?} / {:?}",
        a.last(),
        b.last()
    );
}

/// How often each `:load/id` appears in report lines.
fn ids_seen(reports: &[String]) -> BTreeMap<u64, usize> {
    let mut ids = BTreeMap::new();
    for line in reports.iter().filter(|l| l.starts_with("report ")) {
        for (_, v) in facts(line) {
            *ids.entry(v.parse::<u64>().unwrap()).or_default() += 1;
        }
    }
    ids
}

/// What a round of load left: acknowledged ids, and ids whose outcome the
/// peer could not know (its connection broke with the transaction sent).
#[derive(Default)]
struct Outcomes {
    committed: BTreeSet<u64>,
    maybe: BTreeSet<u64>,
}

impl Outcomes {
    fn add(&mut self, answers: BTreeMap<u64, String>) {
        for (id, answer) in answers {
            if answer.starts_with("committed ") {
                self.committed.insert(id);
            } else if answer.contains("committed=maybe") {
                self.maybe.insert(id);
            } else {
                panic!("transaction of id {id} failed: {answer}");
            }
        }
    }
}

/// Kills peers and transactors between rounds of load; every peer's
/// reports are one sequence, every acknowledged transaction is in it once,
/// and nothing is in it twice.
fn kills_lose_and_duplicate_nothing(stage: &Stage, cycles: u64, rounds: u64) {
    let mut transactor = stage.transactor("transactor-0");
    let mut p1 = stage.watcher("p1", ":load/id");
    let mut p2 = stage.watcher("p2", ":load/id");
    let mut p3 = stage.watcher("p3-0", ":load/id");
    p1.ask(SCHEMA);
    let mut outcomes = Outcomes::default();
    let mut next_id = 0;
    let mut p3_runs: Vec<Vec<String>> = Vec::new();
    for cycle in 0..cycles {
        outcomes.add(load(&mut [&mut p1, &mut p2, &mut p3], next_id, rounds));
        next_id += 3 * rounds;

        // A peer dies with a transaction in flight and comes back.
        p3.send(&format!("transact [{{:load/id {next_id}}}]"));
        outcomes.maybe.insert(next_id);
        next_id += 1;
        p3.kill();
        p3_runs.push(std::mem::take(&mut p3.reports));
        p3 = stage.watcher(&format!("p3-{}", cycle + 1), ":load/id");
        outcomes.add(load(&mut [&mut p1, &mut p2, &mut p3], next_id, rounds));
        next_id += 3 * rounds;

        // The transactor dies with transactions in flight; the standby
        // takes over once the lease lapses.
        let before = epoch(&mut p1);
        let standby = stage.transactor(&format!("transactor-{}", cycle + 1));
        p1.send(&format!("transact [{{:load/id {next_id}}}]"));
        p2.send(&format!("transact [{{:load/id {}}}]", next_id + 1));
        transactor.kill();
        transactor = standby;
        outcomes.add(BTreeMap::from([
            (next_id, p1.answer()),
            (next_id + 1, p2.answer()),
        ]));
        next_id += 2;
        outcomes.add(load(&mut [&mut p1, &mut p2, &mut p3], next_id, rounds));
        next_id += 3 * rounds;
        for p in [&mut p1, &mut p2, &mut p3] {
            assert!(epoch(p) > before, "{} follows the new transactor", p.name);
        }
    }
    eprintln!(
        "{cycles} cycles: {} acknowledged, {} of unknown outcome",
        outcomes.committed.len(),
        outcomes.maybe.len()
    );
    for p in [&mut p1, &mut p2, &mut p3] {
        let synced = p.ask("sync");
        assert!(synced.starts_with("synced "), "{synced}");
    }
    let last_t: u64 = p1
        .ask("basis")
        .strip_prefix("basis ")
        .unwrap()
        .parse()
        .unwrap();
    for p in [&mut p1, &mut p2, &mut p3] {
        p.wait_report_t(last_t, WAIT);
    }
    assert_same(&p1.reports, &p2.reports);

    let ids = ids_seen(&p1.reports);
    assert!(
        ids.values().all(|n| *n == 1),
        "an id reported twice: {ids:?}"
    );
    for id in &outcomes.committed {
        assert!(ids.contains_key(id), "acknowledged id {id} missing");
    }
    for id in ids.keys() {
        assert!(
            outcomes.committed.contains(id) || outcomes.maybe.contains(id),
            "id {id} was never sent"
        );
    }
    // Each run of the killed peer saw a stretch of the same sequence.
    p3_runs.push(p3.reports.clone());
    for run in p3_runs.iter().filter(|r| !r.is_empty()) {
        let start = p1.reports.iter().position(|l| *l == run[0]).unwrap();
        assert_same(run, &p1.reports[start..start + run.len()]);
    }
    // The database holds each id once.
    let count = p3.ask("q [:find (count ?e) . :where [?e :load/id]]");
    assert_eq!(count, format!("result {}", ids.len()));
}

/// The epoch of the transactor a peer talks to now.
fn epoch(peer: &mut Node) -> u64 {
    let answer = peer.ask("transactor");
    let epoch = answer.rsplit(' ').next().and_then(|e| e.parse().ok());
    epoch.unwrap_or_else(|| panic!("{}: {answer}", peer.name))
}

#[test]
fn killing_peers_and_the_transactor_loses_and_duplicates_nothing() {
    kills_lose_and_duplicate_nothing(&Stage::file(), 1, 5);
}

#[test]
fn killing_peers_and_the_transactor_on_postgres() {
    kills_lose_and_duplicate_nothing(&Stage::postgres(), 1, 3);
}

#[test]
fn killing_peers_and_the_transactor_on_cassandra() {
    kills_lose_and_duplicate_nothing(&Stage::cassandra(), 1, 3);
}

#[test]
#[ignore = "long: ACCRETE_LONG=1 cargo test -- --ignored"]
fn long_kill_soak() {
    kills_lose_and_duplicate_nothing(&Stage::file(), 6, 20);
    kills_lose_and_duplicate_nothing(&Stage::postgres(), 3, 20);
    kills_lose_and_duplicate_nothing(&Stage::cassandra(), 3, 20);
}
