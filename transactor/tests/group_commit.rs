//! Group commit grows with the load (issue 22 item 3): the callers a
//! commit answers come straight back, and the next batch waits for them
//! instead of splitting them into two cohorts that alternate. Measured by
//! batch sizes (the transactor's metrics), not by timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use test_storages::Backend;
use transactor::client::Client;
use transactor::{Config, Server, Transactor};

/// The tests that measure batch sizes under load run one at a time: each
/// loads both cores of the machine on its own, and batch sizes depend on how
/// fast callers come back, which another such test beside it slows.
static LOAD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `clients` callers in a closed loop, `each` transactions each; returns
/// the transactor's metrics since the schema.
async fn closed_loop(t: &Arc<Transactor>, clients: u64, each: u64) -> transactor::Metrics {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let t = t.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    t.transact_edn(&marked(c * 100_000 + i))
                        .await
                        .expect("commit");
                }
            })
        })
        .collect();
    for task in tasks {
        within(task).await.expect("client");
    }
    t.metrics()
}

/// That the `txs` transactions between `before` and `after`, sent by 64
/// callers (`who`), committed in rounds of nearly all of them: a largest
/// batch of at least 60 and at least 40 per log-root write.
fn assert_one_round(
    before: &transactor::Metrics,
    after: &transactor::Metrics,
    txs: u64,
    who: &str,
) {
    let commits = after.commits - before.commits;
    assert_eq!(after.transactions - before.transactions, txs);
    assert!(
        after.largest_batch >= 60,
        "the largest batch was {} of {who}",
        after.largest_batch
    );
    let per_commit = txs as f64 / commits as f64;
    assert!(
        per_commit >= 40.0,
        "{per_commit:.1} transactions per log-root write with {who} ({commits} writes)"
    );
}

async fn file_transactor(config: Config) -> (TestStorage, Arc<Transactor>) {
    let store = storage(Backend::File).await;
    let db = create(&store.storage, "load").await;
    let t = Arc::new(start(&store.storage, &db, config).await);
    within(t.transact_edn(SCHEMA)).await.expect("schema");
    (store, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_waiting_clients_commit_in_one_round() {
    let _alone = LOAD.lock().await;
    let (_store, t) = file_transactor(config()).await;
    let before = t.metrics();
    let m = closed_loop(&t, 64, 20).await;
    // Before: the batch took only what was queued when the committer
    // looked, and 64 callers split into cohorts of about 32.
    assert_one_round(&before, &m, 64 * 20, "64 callers");
    within(t.shutdown()).await.expect("shutdown");
}

/// The same over the network: 64 clients, each on its own connection to
/// the protocol endpoint, one transaction at a time. Their answers and
/// their next transactions cross a socket each way, so the next batch must
/// linger for them longer than for callers in the process: the committer
/// learns how long they take. Their way back in this test build (not
/// optimised, on two cores shared with the clients) takes several
/// milliseconds, so the longest linger allowed is raised from the default
/// 2 ms (which a release build's loopback round trips fit) to 50 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_network_clients_commit_in_one_round() {
    let _alone = LOAD.lock().await;
    let store = storage(Backend::File).await;
    let db = create(&store.storage, "network").await;
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = server.local_addr().to_string();
    let config = Config {
        endpoint: Some(endpoint.clone()),
        max_linger: Duration::from_millis(50),
        ..config()
    };
    let t = Arc::new(start(&store.storage, &db, config).await);
    server.serve(t.clone());
    let target = t.target();
    let setup = within(Client::connect(&endpoint, &target))
        .await
        .expect("connect");
    within(setup.transact(SCHEMA)).await.expect("schema");
    let before = t.metrics();
    let tasks: Vec<_> = (0..64u64)
        .map(|c| {
            let (endpoint, target) = (endpoint.clone(), target.clone());
            tokio::spawn(async move {
                let client = Client::connect(&endpoint, &target).await.expect("connect");
                for i in 0..20 {
                    client
                        .transact(&marked(c * 100_000 + i))
                        .await
                        .expect("commit");
                }
            })
        })
        .collect();
    for task in tasks {
        within(task).await.expect("client");
    }
    assert_one_round(&before, &t.metrics(), 64 * 20, "64 network clients");
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_twelve_clients_do_not_collapse() {
    let _alone = LOAD.lock().await;
    let (_store, t) = file_transactor(config()).await;
    let before = t.metrics();
    let m = closed_loop(&t, 512, 4).await;
    assert_eq!(m.transactions - before.transactions, 512 * 4);
    assert!(
        m.largest_batch >= 400,
        "the largest batch was {} of 512 callers",
        m.largest_batch
    );
    let commits = m.commits - before.commits;
    assert!(
        commits <= 24,
        "{commits} log-root writes for 2048 transactions"
    );
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_at_its_byte_budget() {
    let _alone = LOAD.lock().await;
    // Each transaction weighs about 50 bytes: a budget of 200 holds four.
    let config = Config {
        batch_bytes: 200,
        ..config()
    };
    let (_store, t) = file_transactor(config).await;
    let m = closed_loop(&t, 32, 10).await;
    assert!(
        (2..=4).contains(&m.largest_batch),
        "the largest batch was {}",
        m.largest_batch
    );
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_now_indexes_the_novelty_below_the_threshold() {
    let (_store, t) = file_transactor(config()).await;
    for n in 0..10 {
        within(t.transact_edn(&marked(n))).await.expect("commit");
    }
    let basis = t.db().basis_t();
    assert!(t.db().novelty_len() > 0);
    let indexed = within(t.index()).await.expect("index");
    assert_eq!(indexed, basis);
    assert_eq!(t.metrics().index_jobs, 1);
    assert_eq!(t.db().novelty_len(), 0, "the novelty is indexed");
    // Nothing left to index: answered at once, no second job.
    assert_eq!(within(t.index()).await.expect("index"), basis);
    assert_eq!(t.metrics().index_jobs, 1);
    within(t.shutdown()).await.expect("shutdown");
}
