//! Shutting a transactor down ends within a bounded time in every state:
//! idle, busy, over the novelty cap with back-pressure `wait`, standing by
//! for a lease, and while a storage call hangs. Nothing it answers "not
//! committed" is in the database.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use storage_core::testkit::faults::{Fault, Op};
use tokio_util::sync::CancellationToken;
use transactor::lease::{Patience, read_lease};
use transactor::{BackPressure, Config, ErrorKind, Server, Transactor, serve_databases};

/// A short commit patience keeps the bound of a stop short.
fn quick() -> Config {
    Config {
        commit_patience: Duration::from_millis(300),
        ..config()
    }
}

/// `shutdown()`'s outcome and how long it took, failing after `limit`.
async fn timed_shutdown(t: &Transactor, limit: Duration) -> (transactor::Result<()>, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, t.shutdown())
        .await
        .unwrap_or_else(|_| panic!("shutdown did not finish within {limit:?}"));
    (outcome, started.elapsed())
}

async fn released(storage: &Arc<dyn storage_core::Storage>, db: &storage_core::DbName) -> bool {
    let lease = read_lease(storage.as_ref(), db).await.unwrap().unwrap();
    lease.holder.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_transactor_stops_at_once() {
    let storage = mem();
    let db = create(&storage, "idle").await;
    let t = start(&storage, &db, quick()).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let (outcome, took) = timed_shutdown(&t, Duration::from_secs(5)).await;
    outcome.unwrap();
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(released(&storage, &db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_transactor_stops_and_every_answer_holds() {
    let storage = mem();
    let db = create(&storage, "busy").await;
    let t = Arc::new(start(&storage, &db, quick()).await);
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let clients: Vec<_> = (0..6u64)
        .map(|c| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in 0..10_000 {
                    let n = c * 100_000 + i;
                    let outcome = t.transact_edn(&marked(n)).await;
                    let stop = outcome.is_err();
                    answers.push((n, outcome.map_err(|e| e.kind())));
                    if stop {
                        break;
                    }
                }
                answers
            })
        })
        .collect();
    while t.metrics().transactions < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (outcome, took) = timed_shutdown(&t, Duration::from_secs(5)).await;
    outcome.unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(within(client).await.unwrap());
    }
    let value = reopen(&storage, &db).await;
    let checked = blocking(move || {
        for (n, answer) in &answers {
            let expected = match answer {
                Ok(_) => 3,
                Err(kind) => {
                    assert!(kind.not_committed(), "{n}: {kind}");
                    0
                }
            };
            assert_eq!(
                parts_of(&value, *n),
                expected,
                "transaction {n}: {answer:?}"
            );
        }
        answers.len()
    })
    .await;
    assert!(checked > 200);
    assert!(released(&storage, &db).await);
}

/// Over its novelty cap with back-pressure `wait` (indexing jobs keep
/// failing to write), the committer leaves the queue unread; the stop is read
/// all the same, and the waiting transactions are refused, not committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactor_over_its_novelty_cap_stops() {
    let storage = mem();
    let db = create(&storage, "capped").await;
    let (slow, plan) = faulty(&storage, 5);
    let config = Config {
        index_threshold: 40,
        novelty_cap: 80,
        back_pressure: BackPressure::Wait,
        ..quick()
    };
    let t = Arc::new(start(&slow, &db, config).await);
    within(t.transact_edn(SCHEMA)).await.unwrap();
    // The schema's indexing job; the next ones fail (indexing jobs write
    // segments, commits of small transactions do not).
    while t.metrics().index_jobs == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    plan.inject(Op::Put, Fault::FailBefore, 1.0);
    let mut pending = Vec::new();
    for n in 0..60u64 {
        let t = t.clone();
        pending.push(tokio::spawn(async move {
            (n, t.transact_edn(&marked(n)).await)
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = pending.iter().filter(|p| !p.is_finished()).count();
    assert!(waiting > 10, "back-pressure holds transactions: {waiting}");

    let (outcome, took) = timed_shutdown(&t, Duration::from_secs(10)).await;
    outcome.unwrap();
    assert!(took < Duration::from_secs(3), "{took:?}");
    let mut answers = Vec::new();
    for p in pending {
        answers.push(within(p).await.unwrap());
    }
    plan.clear();
    let value = reopen(&storage, &db).await;
    blocking(move || {
        for (n, answer) in &answers {
            match answer {
                Ok(_) => assert_eq!(parts_of(&value, *n), 3, "{n}"),
                Err(e) => {
                    assert!(e.not_committed(), "{n}: {e}");
                    assert_eq!(parts_of(&value, *n), 0, "{n}: {e}");
                }
            }
        }
    })
    .await;
    assert!(released(&storage, &db).await);
}

/// A standalone process standing by for a lease another transactor keeps
/// stops as soon as it is told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_stops_at_once() {
    let storage = mem();
    let db = create(&storage, "standby").await;
    let active = start(&storage, &db, quick()).await;
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        patience: Patience::Forever,
        ..quick()
    };
    let stop = CancellationToken::new();
    let standby = {
        let (storage, db, stop) = (storage.clone(), db.clone(), stop.clone());
        tokio::spawn(async move {
            serve_databases(&server, vec![(segments(&storage), db)], config, stop).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!standby.is_finished(), "it stands by");
    let started = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), standby)
        .await
        .expect("the standby stops within 2 s")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    within(active.shutdown()).await.unwrap();
}

/// A storage call that never returns: shutdown gives up on the committer
/// after its grace, and the transaction in flight is "outcome unknown",
/// never "not committed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactor_whose_storage_hangs_stops_within_its_grace() {
    let storage = mem();
    let db = create(&storage, "hung").await;
    let (hung, plan) = faulty(&storage, 7);
    let config = quick();
    let grace = config.commit_patience * 3 + config.lease_ttl;
    let t = Arc::new(start(&hung, &db, config).await);
    within(t.transact_edn(SCHEMA)).await.unwrap();
    plan.pause();
    let in_flight = {
        let t = t.clone();
        tokio::spawn(async move { t.transact_edn(&marked(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (outcome, took) = timed_shutdown(&t, grace + Duration::from_secs(3)).await;
    let err = outcome.expect_err("the committer was abandoned");
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert!(took <= grace + Duration::from_millis(500), "{took:?}");
    let err = within(in_flight).await.unwrap().expect_err("not answered");
    assert!(!err.not_committed(), "{err}");
    plan.resume();
}
