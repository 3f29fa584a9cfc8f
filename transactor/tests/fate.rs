//! Every transaction's fate is knowable: a commit whose log-root write is
//! ambiguous is never answered "not committed" while its entries are in the
//! log.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use cql_sim::{Accepted, Fault, FaultKind, Phase};
use transactor::{Config, TxStatus};
use uuid::Uuid;

/// The store's own root update (`UPDATE … IF rev = ?`).
const ROOT_UPDATE: &str = "IF rev = ?";

/// The interleaving of issue 15 on the CQL simulator: the commit's log-root
/// proposal is accepted by replica 0 only and its answer lost (a CAS write
/// timeout), again and again, while every Paxos prepare on the roots table
/// misses replica 0 — so every re-read shows the old root. Then the blind
/// spot heals and the next Paxos round on the log root finishes the
/// stranded proposal. The caller must hear "committed" (or "unknown"), never
/// "fenced"/"not committed": the entries are in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranded_log_root_proposal_finished_later_is_never_reported_not_committed() {
    let store = storage(Backend::Cassandra).await;
    let db = create(&store.storage, "fate").await;
    let config = Config {
        // No lease renewal inside the window: only the commit touches roots.
        lease_ttl: Duration::from_secs(60),
        ..config()
    };
    let t = start(&store.storage, &db, config).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let sim = store.cluster.as_ref().unwrap().simulator().unwrap();
    // Nine proposals (three attempts of three settling rounds) stranded on
    // replica 0 with the answer lost...
    sim.faults().inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne))
            .times(9)
            .when_query_contains(ROOT_UPDATE),
    );
    // ...while the prepares of those rounds and of every re-read in between
    // (24 in all) miss replica 0, so every re-read shows the old root. The
    // round after that reaches replica 0 and finishes the last proposal.
    sim.faults().inject(
        Fault::new(FaultKind::DropMessage(Phase::Prepare))
            .on_replicas(&[0])
            .times(24)
            .when_query_contains("accrete_roots"),
    );
    let answer = within(t.transact_edn(&marked(7))).await;
    sim.faults().clear();
    let value = reopen(&store.storage, &db).await;
    let parts = blocking(move || parts_of(&value, 7)).await;
    let fired = sim.faults().log().len();
    match &answer {
        Ok(_) => assert_eq!(parts, 3, "acknowledged but absent"),
        Err(e) if e.not_committed() => assert_eq!(
            parts, 0,
            "answered `{e}` (not committed) but the transaction is in the log ({fired} faults fired)"
        ),
        Err(e) => assert!(parts == 0 || parts == 3, "{e}: half there"),
    }
    assert_eq!(parts, 3, "the stranded proposal was finished: {answer:?}");
    let timeouts = sim
        .faults()
        .log()
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::CasWriteTimeout(_)))
        .count();
    assert_eq!(timeouts, 9, "the interleaving happened");
    assert!(answer.is_ok(), "settled as committed: {answer:?}");
    t.shutdown().await.ok();
}

/// Transaction `n` without a unique attribute: a second commit of it would
/// be a second entity, so commits can be counted.
fn counted(n: u64) -> String {
    format!("[{{:db/id \"e\" :test/a {n} :test/b {n}}}]")
}

/// How many times transaction `counted(n)` committed in `db`.
fn commits_of(db: &model::Db, n: u64) -> usize {
    use model::{Index, Value};
    db.datoms(
        Index::Avet,
        &[Value::keyword(":test/a"), Value::Long(n as i64)],
    )
    .expect("read")
    .count()
}

fn tx_id(n: u64) -> Uuid {
    Uuid::from_u128(0xacc7_0000_0000_0000_0000_0000_0000_0000 | u128::from(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_id_returns_the_first_result_and_commits_nothing() {
    let storage = mem();
    let db = create(&storage, "ids").await;
    let first = start(&storage, &db, config()).await;
    within(first.transact_edn(SCHEMA)).await.unwrap();
    let forms = transactor::parse_tx(&counted(1)).unwrap();
    let id = tx_id(1);
    let report = within(first.transact_with_id(forms.clone(), Some(id)))
        .await
        .unwrap();
    let again = within(first.transact_with_id(forms.clone(), Some(id)))
        .await
        .unwrap();
    assert_eq!(again.t(), report.t());
    assert_eq!(again.tempids, report.tempids);
    assert_eq!(again.db_after.basis_t(), report.t(), "nothing committed");
    assert_eq!(
        within(first.tx_status(id)).await.unwrap(),
        TxStatus::Committed { t: report.t() }
    );
    assert_eq!(
        within(first.tx_status(tx_id(99))).await.unwrap(),
        TxStatus::NotCommitted
    );
    // The same id twice in one batch: one commit, both answered with it.
    let (a, b) = tokio::join!(
        first.transact_with_id(transactor::parse_tx(&counted(2)).unwrap(), Some(tx_id(2))),
        first.transact_with_id(transactor::parse_tx(&counted(2)).unwrap(), Some(tx_id(2))),
    );
    assert_eq!(a.unwrap().t(), b.unwrap().t());
    within(first.shutdown()).await.unwrap();
    // Across a restart: the id is data in the database.
    let second = start(&storage, &db, config()).await;
    let again = within(second.transact_with_id(forms, Some(id)))
        .await
        .unwrap();
    assert_eq!((again.t(), &again.tempids), (report.t(), &report.tempids));
    let value = second.db();
    assert_eq!(blocking(move || commits_of(&value, 1)).await, 1);
    let value = second.db();
    assert_eq!(blocking(move || commits_of(&value, 2)).await, 1);
    // The id is queryable data of the reified transaction.
    let value = second.db();
    let t = blocking(move || {
        use model::{Index, Value};
        let d = value
            .datoms(Index::Avet, &[Value::keyword(":tx/id"), Value::Uuid(id)])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        model::tx_to_t(d.e())
    })
    .await;
    assert_eq!(t, report.t());
    within(second.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_transactor_does_not_claim_not_committed() {
    let storage = mem();
    let db = create(&storage, "deposed").await;
    let (paused, plan) = faulty(&storage, 5);
    let old = start(&paused, &db, config()).await;
    within(old.transact_edn(SCHEMA)).await.unwrap();
    plan.pause();
    let new = start(&storage, &db, config()).await;
    let id = tx_id(3);
    let forms = transactor::parse_tx(&counted(3)).unwrap();
    let report = within(new.transact_with_id(forms, Some(id))).await.unwrap();
    plan.resume();
    let status = within(old.tx_status(id)).await.unwrap();
    assert!(matches!(status, TxStatus::Unknown(_)), "{status:?}");
    assert_eq!(
        within(new.tx_status(id)).await.unwrap(),
        TxStatus::Committed { t: report.t() }
    );
    within(new.shutdown()).await.unwrap();
}

/// What a client heard about one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    Committed,
    NotCommitted,
    Unknown,
}

/// One randomized fault schedule: stranded proposals, blind reads, lost
/// answers and refusals on a memory storage while three clients commit
/// under ids; then the faults stop, the next transactor takes over, and
/// every answer is checked: acknowledged present exactly once, "not
/// committed" absent, unknown resolved by `tx_status` (and a resubmission
/// under the same id commits nothing more).
async fn schedule(seed: u64) -> [usize; 3] {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let storage = mem();
    let db = create(&storage, "sched").await;
    let (faulty_storage, plan) = faulty(&storage, seed);
    let config = Config {
        lease_ttl: Duration::from_millis(150),
        commit_patience: Duration::from_millis(rng.random_range(20..300)),
        ..config()
    };
    let t = std::sync::Arc::new(start(&faulty_storage, &db, config.clone()).await);
    within(t.transact_edn(SCHEMA)).await.unwrap();
    use storage_core::testkit::faults::{Fault, Op};
    // Half the schedules keep stranded proposals out of sight for long.
    let blind = match rng.random_bool(0.5) {
        true => rng.random_range(0.6..0.95),
        false => rng.random_range(0.0..0.25),
    };
    let mut p = || rng.random_range(0.0..0.25);
    plan.inject(Op::Cas, Fault::Strand, p() * 2.0);
    plan.inject(Op::Cas, Fault::Blind, blind);
    plan.inject(Op::ReadRoot, Fault::Blind, blind);
    plan.inject(Op::Cas, Fault::FailAfter, p());
    plan.inject(Op::Cas, Fault::FailBefore, p());
    plan.inject(Op::ReadRoot, Fault::FailBefore, p() / 2.0);
    plan.inject(Op::Put, Fault::FailBefore, p() / 4.0);
    let clients = (0..3u64).map(|c| {
        let t = t.clone();
        tokio::spawn(async move {
            let mut heard = Vec::new();
            for i in 0..6 {
                let n = seed * 100 + c * 10 + i;
                let forms = transactor::parse_tx(&counted(n)).unwrap();
                let answer = match t.transact_with_id(forms, Some(tx_id(n))).await {
                    Ok(_) => Heard::Committed,
                    Err(e) if e.not_committed() => Heard::NotCommitted,
                    Err(_) => Heard::Unknown,
                };
                heard.push((n, answer));
            }
            heard
        })
    });
    let mut heard = Vec::new();
    for client in clients.collect::<Vec<_>>() {
        heard.extend(within(client).await.unwrap());
    }
    plan.clear();
    within(t.shutdown()).await.ok();
    // The next holder: its fencing settles every earlier proposal.
    let next = start(&storage, &db, config).await;
    let mut counts = [0; 3];
    for (n, answer) in heard {
        let value = next.db();
        let commits = blocking(move || commits_of(&value, n)).await;
        let status = within(next.tx_status(tx_id(n))).await.unwrap();
        match answer {
            Heard::Committed => assert_eq!(commits, 1, "seed {seed}: acknowledged {n}"),
            Heard::NotCommitted => assert_eq!(commits, 0, "seed {seed}: {n} said not committed"),
            Heard::Unknown => {}
        }
        match status {
            TxStatus::Committed { .. } => assert_eq!(commits, 1, "seed {seed}: {n}"),
            TxStatus::NotCommitted => assert_eq!(commits, 0, "seed {seed}: {n}"),
            TxStatus::Unknown(why) => panic!("seed {seed}: {n} still unknown: {why}"),
        }
        // A resubmission under the same id commits nothing more.
        let forms = transactor::parse_tx(&counted(n)).unwrap();
        within(next.transact_with_id(forms, Some(tx_id(n))))
            .await
            .unwrap();
        let value = next.db();
        assert_eq!(
            blocking(move || commits_of(&value, n)).await,
            1,
            "seed {seed}: {n}"
        );
        counts[answer as usize] += 1;
    }
    within(next.shutdown()).await.unwrap();
    counts
}

fn schedules() -> u64 {
    match std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1") {
        true => 2_000,
        false => 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fate_checker_over_randomized_fault_schedules() {
    let mut total = [0; 3];
    for seed in 0..schedules() {
        let counts = schedule(seed).await;
        for (sum, n) in total.iter_mut().zip(counts) {
            *sum += n;
        }
    }
    eprintln!(
        "{} schedules: {} acknowledged, {} not committed, {} unknown (all resolved)",
        schedules(),
        total[0],
        total[1],
        total[2]
    );
    assert!(total[0] > 0 && total[2] > 0, "the faults bit: {total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_ids_and_tx_status_over_the_protocol() {
    use transactor::client::Client;
    let storage = mem();
    let db = create(&storage, "wire").await;
    let server = transactor::Server::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..config()
    };
    let t = std::sync::Arc::new(start(&storage, &db, config).await);
    server.serve(t.clone());
    let client = within(Client::connect_by_lease(storage.as_ref(), &db))
        .await
        .unwrap();
    within(client.transact(SCHEMA)).await.unwrap();
    let id = tx_id(11);
    let first = within(client.transact_with_id(&counted(11), id))
        .await
        .unwrap();
    let again = within(client.transact_with_id(&counted(11), id))
        .await
        .unwrap();
    assert_eq!(again, first, "the first commit's answer, nothing new");
    assert_eq!(
        within(client.tx_status(id)).await.unwrap(),
        TxStatus::Committed { t: first.t() }
    );
    assert_eq!(
        within(client.tx_status(tx_id(12))).await.unwrap(),
        TxStatus::NotCommitted
    );
    let value = t.db();
    assert_eq!(blocking(move || commits_of(&value, 11)).await, 1);
    within(t.shutdown()).await.unwrap();
}

/// Issue 15 item 4: the client library survives a failover. Clients keep
/// committing under ids while the serving transactor is frozen and a
/// standby takes over; every transaction commits exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resubmit_after_failover_and_commit_exactly_once() {
    use transactor::client::Client;
    let storage = mem();
    let db = create(&storage, "failover").await;
    let (frozen, plan) = faulty(&storage, 9);
    let serve = |storage: std::sync::Arc<dyn storage_core::Storage>| {
        let db = db.clone();
        async move {
            let server = transactor::Server::bind("127.0.0.1:0").await.unwrap();
            let config = Config {
                endpoint: Some(server.local_addr().to_string()),
                patience: transactor::lease::Patience::Forever,
                ..config()
            };
            let t = std::sync::Arc::new(start(&storage, &db, config).await);
            // Read before serving: once served, clients may commit
            // everything before this task runs again.
            let at_start = t.db().basis_t();
            server.serve(t.clone());
            (server, t, at_start)
        }
    };
    let (_first_server, first, _) = serve(frozen.clone()).await;
    let schema_t = within(first.transact_edn(SCHEMA)).await.unwrap().t();
    let standby = tokio::spawn(serve(storage.clone()));
    let clients = (0..3u64).map(|c| {
        let storage = storage.clone();
        let db = db.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                let n = 500 + c * 100 + i;
                let patience = Duration::from_secs(30);
                Client::transact_by_lease(storage.as_ref(), &db, &counted(n), tx_id(n), patience)
                    .await
                    .unwrap_or_else(|e| panic!("{n}: {e}"));
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    // The active transactor freezes mid-flight: once the clients' first
    // commit landed (not after a fixed time, in which a fast machine
    // commits them all).
    within(first.subscribe(schema_t + 1).next()).await.unwrap();
    plan.pause();
    let (_second_server, second, at_takeover) = within(standby).await.unwrap();
    for client in clients {
        within(client).await.unwrap();
    }
    assert!(second.epoch() > first.epoch());
    assert!(
        second.db().basis_t() > at_takeover,
        "clients went on committing through the new transactor"
    );
    plan.resume();
    let value = second.db();
    let counts = blocking(move || {
        (0..3u64)
            .flat_map(|c| (0..20).map(move |i| 500 + c * 100 + i))
            .map(|n| commits_of(&value, n))
            .collect::<Vec<_>>()
    })
    .await;
    assert!(counts.iter().all(|&n| n == 1), "{counts:?}");
    within(second.shutdown()).await.unwrap();
}
