//! Races, restarts and killed connections against a real server: nothing
//! acknowledged is lost, every ambiguous root write resolves to what the
//! server really did, and no call hangs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use storage_core::{
    CasOutcome, Error, Revision, RootName, RootValue, Storage, StorageExt, StorageUri,
};
use storage_postgres::testkit::{PgServer, StopMode, scratch_schema};
use storage_postgres::{PostgresStorage, Settings};

async fn open(uri: &str) -> PostgresStorage {
    let settings = Settings::from_uri(&StorageUri::parse(uri).unwrap()).unwrap();
    PostgresStorage::open(settings).await.unwrap()
}

fn counter(root: &storage_core::Root) -> u64 {
    std::str::from_utf8(root.value.data())
        .unwrap()
        .parse()
        .unwrap()
}

/// Increments `name` `n` times, retrying conflicts and retryable errors;
/// returns the (revision, count) of every applied write.
async fn increment(s: &dyn Storage, name: &RootName, n: usize) -> Vec<(u64, u64)> {
    let mut wins = Vec::new();
    while wins.len() < n {
        let root = s.read_root(name).await.unwrap().unwrap();
        let next = counter(&root) + 1;
        let value = RootValue::new(next.to_string()).unwrap();
        match s.cas_root(name, Some(root.revision), &value).await {
            Ok(CasOutcome::Applied(rev)) => wins.push((rev.get(), next)),
            Ok(CasOutcome::Conflict(_)) => {}
            Err(e) => panic!("cas: {e}"),
        }
    }
    wins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cas_race_from_many_connections_has_one_winner_per_revision() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let uri = server.uri_with(&format!("db=race&schema={}&pool_size=4", scratch_schema()));
    // Four pools of four connections, eight writers each: 32 callers.
    let mut storages = Vec::new();
    for _ in 0..4 {
        storages.push(Arc::new(open(&uri).await));
    }
    let name = RootName::new("db/race/log").unwrap();
    let zero = RootValue::new("0").unwrap();
    let o = Revision::origin(zero.nonce()).get();
    storages[0].cas_root(&name, None, &zero).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (s, name) = (storages[i % 4].clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            increment(s.as_ref(), &name, 10).await
        }));
    }
    let mut wins = Vec::new();
    for t in tasks {
        wins.extend(t.await.unwrap());
    }
    let revisions: BTreeSet<u64> = wins.iter().map(|w| w.0).collect();
    assert_eq!(wins.len(), 320);
    assert_eq!(
        revisions,
        (o + 1..=o + 320).collect(),
        "each revision won exactly once"
    );
    assert!(
        wins.iter().all(|(rev, count)| *count == rev - o),
        "no lost update"
    );
    let last = storages[3].read_root(&name).await.unwrap().unwrap();
    assert_eq!((last.revision.get(), counter(&last)), (o + 320, 320));
}

/// One write step of the restart test: a segment and a counter increment.
struct Writer {
    storage: PostgresStorage,
    name: RootName,
    acked_segments: Vec<(storage_core::SegmentId, Bytes)>,
    acked_counts: Vec<u64>,
    retryable_errors: usize,
    unknown_outcomes: usize,
}

impl Writer {
    async fn step(&mut self, i: u64) {
        let bytes = Bytes::from(format!("segment {i} ").repeat(100));
        loop {
            match self.bounded(self.storage.put(bytes.clone())).await {
                Ok(id) => {
                    self.acked_segments.push((id, bytes));
                    break;
                }
                Err(e) => self.expect_retryable(e).await,
            }
        }
        loop {
            let root = match self.bounded(self.storage.read_root(&self.name)).await {
                Ok(root) => root.unwrap(),
                Err(e) => {
                    self.expect_retryable(e).await;
                    continue;
                }
            };
            let next = counter(&root) + 1;
            let value = RootValue::new(next.to_string()).unwrap();
            match self
                .bounded(
                    self.storage
                        .cas_root(&self.name, Some(root.revision), &value),
                )
                .await
            {
                Ok(CasOutcome::Applied(_)) => {
                    self.acked_counts.push(next);
                    return;
                }
                Ok(CasOutcome::Conflict(_)) => panic!("the only writer lost a CAS"),
                Err(Error::OutcomeUnknown { .. }) => self.unknown_outcomes += 1,
                Err(e) => self.expect_retryable(e).await,
            }
        }
    }

    /// Every call answers within 15 s: an error, never a hang.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = storage_core::Result<T>>,
    ) -> storage_core::Result<T> {
        tokio::time::timeout(Duration::from_secs(15), call)
            .await
            .expect("a storage call hung for 15 s")
    }

    async fn expect_retryable(&mut self, e: Error) {
        assert!(e.is_retryable(), "not retryable: {e}");
        self.retryable_errors += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_restarts_mid_write_loop_lose_nothing_acknowledged() {
    let server = Arc::new(
        PgServer::private()
            .await
            .expect("a private PostgreSQL server"),
    );
    let uri = server.uri_with("db=restart&connect_timeout=2&statement_timeout=3000&pool_size=4");
    let storage = open(&uri).await;
    let name = RootName::new("db/restart/log").unwrap();
    let zero = RootValue::new("0").unwrap();
    let origin = Revision::origin(zero.nonce()).get();
    storage.cas_root(&name, None, &zero).await.unwrap();
    let progress = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let progress = progress.clone();
        async move {
            let mut w = Writer {
                storage,
                name,
                acked_segments: Vec::new(),
                acked_counts: Vec::new(),
                retryable_errors: 0,
                unknown_outcomes: 0,
            };
            for i in 0..400 {
                w.step(i).await;
                progress.store(i as usize + 1, Ordering::SeqCst);
            }
            w
        }
    });
    let wait_for = |n: usize| {
        let progress = progress.clone();
        async move {
            let start = Instant::now();
            while progress.load(Ordering::SeqCst) < n {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "writer stuck before {n}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(50).await;
    server.stop(StopMode::Immediate).await.unwrap();
    let down_at = progress.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        progress.load(Ordering::SeqCst),
        down_at,
        "writes were acknowledged while the server was down"
    );
    server.start().await.unwrap();
    wait_for(200).await;
    server.restart(StopMode::Fast).await.unwrap();
    let w = writer.await.unwrap();

    assert!(
        w.retryable_errors > 0,
        "the restarts never hit an in-flight call"
    );
    let check = open(&uri).await;
    for (id, bytes) in &w.acked_segments {
        let got = check.get_segment(*id).await.unwrap();
        assert_eq!(got.as_ref(), Some(bytes), "acknowledged segment {id} lost");
    }
    let root = check
        .read_root(&RootName::new("db/restart/log").unwrap())
        .await
        .unwrap()
        .unwrap();
    let count = counter(&root);
    assert_eq!(
        root.revision.get(),
        origin + count,
        "every applied write added exactly one"
    );
    assert_eq!(
        *w.acked_counts.last().unwrap(),
        count,
        "the last acknowledged count is current"
    );
    assert!(
        w.acked_counts.windows(2).all(|p| p[0] < p[1]),
        "acknowledged counts only grow"
    );
    assert_eq!(
        w.acked_counts.len() + w.unknown_outcomes,
        400 + w.unknown_outcomes
    );
}

/// Waits until the session of application `app` shows `wait_event`.
async fn session_waiting(server: &PgServer, app: &str, wait_event: &str) -> i32 {
    let admin = server.admin().await.unwrap();
    let start = Instant::now();
    loop {
        let rows = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event = $2",
                &[&app, &wait_event],
            )
            .await
            .unwrap();
        if let Some(row) = rows.first() {
            return row.get(0);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no session of {app} waited on {wait_event}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_killed_while_cas_blocks_retries_and_applies_once() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let schema = scratch_schema();
    let app = format!("kill_{schema}");
    let uri = server.uri_with(&format!(
        "db=kill&schema={schema}&application_name={app}&pool_size=1"
    ));
    let storage = Arc::new(open(&uri).await);
    let name = RootName::new("db/kill/log").unwrap();
    let first = RootValue::new("1").unwrap();
    let origin = Revision::origin(first.nonce());
    storage.cas_root(&name, None, &first).await.unwrap();

    // Another session holds the row lock, so our UPDATE is sent and blocks.
    let mut locker = server.admin().await.unwrap();
    let tx = locker.transaction().await.unwrap();
    tx.execute(
        &format!("SELECT 1 FROM \"{schema}\".roots WHERE name = $1 FOR UPDATE"),
        &[&name.as_str()],
    )
    .await
    .unwrap();
    let ours = RootValue::new("2").unwrap();
    let cas = tokio::spawn({
        let (storage, name, ours) = (storage.clone(), name.clone(), ours.clone());
        async move { storage.cas_root(&name, Some(origin), &ours).await }
    });
    let pid = session_waiting(server, &app, "transactionid").await;
    assert!(server.terminate_backend(pid).await.unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.rollback().await.unwrap();

    let outcome = tokio::time::timeout(Duration::from_secs(20), cas)
        .await
        .expect("the CAS hung")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, CasOutcome::Applied(origin.next().unwrap()));
    let root = storage.read_root(&name).await.unwrap().unwrap();
    assert_eq!(
        (root.revision, root.value.nonce()),
        (origin.next().unwrap(), ours.nonce())
    );
    let pids = server.backend_pids(&app).await.unwrap();
    assert!(!pids.contains(&pid), "the killed session is still there");
}

async fn set_and_reload(admin: &tokio_postgres::Client, alter: &str) {
    admin.batch_execute(alter).await.unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_killed_after_commit_resolves_to_applied() {
    // A synchronous standby that never comes: COMMIT is written locally and
    // then waits, so killing the session loses the answer to a write that
    // did happen.
    let server = PgServer::private()
        .await
        .expect("a private PostgreSQL server");
    let app = "accrete_sync_rep_kill";
    let uri = server.uri_with(&format!("db=syncrep&application_name={app}&pool_size=2"));
    let storage = Arc::new(open(&uri).await);
    let name = RootName::new("db/syncrep/log").unwrap();
    let first = RootValue::new("1").unwrap();
    let origin = Revision::origin(first.nonce());
    storage.cas_root(&name, None, &first).await.unwrap();
    let admin = server.admin().await.unwrap();
    set_and_reload(
        &admin,
        "ALTER SYSTEM SET synchronous_standby_names = 'accrete_ghost_standby'",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let ours = RootValue::new("2").unwrap();
    let cas = tokio::spawn({
        let (storage, name, ours) = (storage.clone(), name.clone(), ours.clone());
        async move { storage.cas_root(&name, Some(origin), &ours).await }
    });
    let pid = session_waiting(&server, app, "SyncRep").await;
    let seen: i64 = admin
        .query_one(
            "SELECT rev FROM accrete.roots WHERE name = $1",
            &[&name.as_str()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        seen as u64,
        origin.get(),
        "the commit is not visible while it waits"
    );
    assert!(server.terminate_backend(pid).await.unwrap());

    let outcome = tokio::time::timeout(Duration::from_secs(20), cas)
        .await
        .expect("the CAS hung")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, CasOutcome::Applied(origin.next().unwrap()));
    let root = storage.read_root(&name).await.unwrap().unwrap();
    assert_eq!(
        (root.revision, root.value.nonce()),
        (origin.next().unwrap(), ours.nonce()),
        "applied once"
    );

    set_and_reload(&admin, "ALTER SYSTEM RESET synchronous_standby_names").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = storage
        .cas_root(&name, Some(root.revision), &RootValue::new("3").unwrap())
        .await
        .unwrap();
    assert_eq!(next, CasOutcome::Applied(root.revision.next().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_cas_times_out_with_a_retryable_error_and_changes_nothing() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let schema = scratch_schema();
    let uri = server.uri_with(&format!("db=slow&schema={schema}&statement_timeout=300"));
    let storage = open(&uri).await;
    let name = RootName::new("db/slow/log").unwrap();
    let first = RootValue::new("1").unwrap();
    let origin = Revision::origin(first.nonce());
    storage.cas_root(&name, None, &first).await.unwrap();
    let mut locker = server.admin().await.unwrap();
    let tx = locker.transaction().await.unwrap();
    tx.execute(
        &format!("SELECT 1 FROM \"{schema}\".roots WHERE name = $1 FOR UPDATE"),
        &[&name.as_str()],
    )
    .await
    .unwrap();

    let started = Instant::now();
    let err = storage
        .cas_root(&name, Some(origin), &RootValue::new("2").unwrap())
        .await
        .unwrap_err();
    // The server cancels the statement: a definite, retryable timeout.
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        err.is_retryable() && err.to_string().contains("57014"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // Reads do not wait for the lock, and nothing was written.
    let root = storage.read_root(&name).await.unwrap().unwrap();
    assert_eq!(root.revision, origin);
    tx.rollback().await.unwrap();
    let applied = storage
        .cas_root(&name, Some(origin), &RootValue::new("2").unwrap())
        .await
        .unwrap();
    assert!(applied.is_applied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_to_a_stopped_server_fail_fast_and_recover_after_start() {
    let server = PgServer::private()
        .await
        .expect("a private PostgreSQL server");
    let storage = open(&server.uri_with("db=down&connect_timeout=2")).await;
    let id = storage.put(Bytes::from_static(b"before")).await.unwrap();
    server.stop(StopMode::Fast).await.unwrap();
    let started = Instant::now();
    for err in [
        storage.get_segment(id).await.unwrap_err(),
        storage
            .put(Bytes::from_static(b"during"))
            .await
            .unwrap_err(),
        storage
            .cas_root(
                &RootName::new("r").unwrap(),
                None,
                &RootValue::new("x").unwrap(),
            )
            .await
            .unwrap_err(),
    ] {
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().contains("postgres unavailable"), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    server.start().await.unwrap();
    assert!(storage.get_segment(id).await.unwrap().is_some());
}
