//! Storage faults under load: failed, slow and answer-less storage calls
//! while clients commit and indexing jobs run. Every acknowledged
//! transaction is present, every one reported "not committed" is absent,
//! none is half there. `ACCRETE_LONG=1` runs many more rounds.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use parking_lot::Mutex;
use storage_core::testkit::faults::{Fault, FaultPlan, Op};
use transactor::{BackPressure, Config};

#[derive(Default)]
struct Ledger {
    acked: Vec<u64>,
    not_committed: Vec<u64>,
    unknown: Vec<u64>,
}

fn inject(plan: &FaultPlan) {
    for op in [Op::Put, Op::Get, Op::ReadRoot, Op::Cas] {
        plan.inject(op, Fault::FailBefore, 0.15);
        plan.inject(op, Fault::FailAfter, 0.15);
        plan.inject(op, Fault::Delay(Duration::from_millis(3)), 0.05);
    }
}

async fn soak(backend: Backend, rounds: u64, seed: u64) {
    let store = storage(backend).await;
    let (storage, plan) = faulty(&store.storage, seed);
    let db = create(&store.storage, "faults").await;
    let config = Config {
        index_threshold: 400,
        novelty_cap: 1_000_000,
        back_pressure: BackPressure::Wait,
        commit_patience: Duration::from_millis(20),
        ..config()
    };
    let setup = start(&store.storage, &db, config.clone()).await;
    within(setup.transact_edn(SCHEMA)).await.unwrap();
    within(setup.shutdown()).await.unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut restarts = 0;
    for round in 0..rounds {
        plan.clear();
        // A stopped transactor (outcome unknown) left its lease to lapse.
        let t = Arc::new(start(&storage, &db, config.clone()).await);
        inject(&plan);
        let clients = (0..6u64).map(|c| {
            let (t, ledger) = (t.clone(), ledger.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let n = round * 1_000_000 + c * 1000 + i;
                    match t.transact_edn(&marked(n)).await {
                        Ok(_) => ledger.lock().acked.push(n),
                        Err(e) if e.not_committed() => ledger.lock().not_committed.push(n),
                        Err(_) => ledger.lock().unknown.push(n),
                    }
                }
            })
        });
        for client in clients.collect::<Vec<_>>() {
            within(client).await.unwrap();
        }
        restarts += u64::from(t.stopped().is_some());
        plan.clear();
        within(t.shutdown()).await.ok();
    }
    plan.clear();
    let ledger = std::mem::take(&mut *ledger.lock());
    let value = reopen(&store.storage, &db).await;
    let (acked, refused, unknown) = (
        ledger.acked.len(),
        ledger.not_committed.len(),
        ledger.unknown.len(),
    );
    blocking(move || {
        for n in &ledger.acked {
            assert_eq!(parts_of(&value, *n), 3, "acknowledged {n} is missing");
        }
        for n in &ledger.not_committed {
            assert_eq!(
                parts_of(&value, *n),
                0,
                "{n} was reported not committed but is there"
            );
        }
        for n in &ledger.unknown {
            let parts = parts_of(&value, *n);
            assert!(parts == 0 || parts == 3, "{n} is half there");
        }
    })
    .await;
    assert!(acked > 0, "{backend:?}: nothing committed under faults");
    eprintln!(
        "{backend:?}: {rounds} rounds, {acked} acknowledged, {refused} not committed, {unknown} unknown, {restarts} transactors stopped by faults"
    );
}

fn rounds() -> u64 {
    match std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1") {
        true => 40,
        false => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_faults_never_lose_or_invent_a_commit() {
    for (i, backend) in ALL.into_iter().enumerate() {
        soak(backend, rounds(), 100 + i as u64).await;
    }
}
