//! A transactor process frozen (SIGSTOP) at a random instant under write
//! load — maybe in the middle of a root write on file storage — must not
//! keep its standby from taking over: the standby commits within a bound
//! while the first is still stopped, and nothing acknowledged is lost.
//! `ACCRETE_LONG=1` runs 20 trials instead of 3; `ACCRETE_SEED=N` replays.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use transactor::client::Client;

const SCHEMA: &str = r#"[{:db/ident :test/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]"#;

/// How long a standby may take to commit once the holder is frozen, with
/// `--lease-ttl 2`: the lease lapses, the standby fences and serves.
const TAKEOVER_BOUND: Duration = Duration::from_secs(15);

fn marked(n: u64) -> String {
    format!("[{{:db/id \"e\" :test/id {n}}}]")
}

/// A client of the transactor at `endpoint` once it serves `db` and its
/// lease advertises it.
async fn client_at(
    endpoint: &str,
    storage: &dyn storage_core::Storage,
    db: &storage_core::DbName,
) -> Client {
    for _ in 0..400 {
        if let Ok(client) = Client::connect_by_lease(storage, db).await
            && client.endpoint() == endpoint
        {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the transactor at {endpoint} never served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactor_frozen_under_load_never_blocks_its_standby() {
    let long = std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1");
    let trials = if long { 20 } else { 3 };
    let seed = std::env::var("ACCRETE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("freeze: {trials} trials, ACCRETE_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut slowest = Duration::ZERO;
    for trial in 0..trials {
        let dir = tempfile::tempdir().unwrap();
        let uri = file_uri(dir.path(), "frozen");
        assert_eq!(code(&accrete(&["create-db", &uri], "")), 0);
        let (storage, db) = open(&uri).await;
        let extra = ["--lease-ttl", "2"];
        let first = TransactorProcess::start(&uri, &extra);
        let client = client_at(&first.endpoint, storage.as_ref(), &db).await;
        client.transact(SCHEMA).await.unwrap();
        let standby = TransactorProcess::start(&uri, &extra);

        let acked = Arc::new(Mutex::new(Vec::new()));
        let load = {
            let acked = acked.clone();
            tokio::spawn(async move {
                for n in 1.. {
                    match client.transact(&marked(n)).await {
                        Ok(_) => acked.lock().push(n),
                        Err(_) => return,
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..400))).await;
        first.signal("-STOP");
        let frozen = Instant::now();
        let took_over = tokio::time::timeout(TAKEOVER_BOUND, async {
            loop {
                if let Ok(client) = Client::connect_by_lease(storage.as_ref(), &db).await
                    && client.endpoint() == standby.endpoint
                    && client.transact(&marked(1_000_000)).await.is_ok()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let waited = frozen.elapsed();
        first.signal("-CONT");
        load.abort();
        assert!(
            took_over.is_ok(),
            "trial {trial} (ACCRETE_SEED={seed}): the standby did not commit within {TAKEOVER_BOUND:?} of the freeze"
        );
        slowest = slowest.max(waited);

        let seg =
            index::Segments::new(storage.clone(), index::SegmentCache::new(64 << 20).unwrap());
        let value = index::open_db(&seg, &db).await.unwrap().db;
        let acked: Vec<u64> = acked.lock().clone();
        let missing = tokio::task::spawn_blocking(move || {
            use model::{Index, Value};
            acked
                .into_iter()
                .filter(|n| {
                    let key = [Value::keyword(":test/id"), Value::Long(*n as i64)];
                    value.datoms(Index::Avet, &key).unwrap().next().is_none()
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert!(
            missing.is_empty(),
            "trial {trial}: acknowledged but missing: {missing:?}"
        );
    }
    eprintln!("freeze: the slowest takeover after a freeze took {slowest:?}");
}
