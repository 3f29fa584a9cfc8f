//! A long fault soak (runs only with `ACCRETE_LONG=1`): writers on their
//! own roots and on one shared root, while the server is crashed,
//! restarted and has its sessions killed over and over. Nothing
//! acknowledged may be lost, no update may be lost or doubled, and no
//! call may hang.
//!
//! `ACCRETE_LONG=1 cargo test -p storage-postgres --test soak -- --nocapture`
//! (`ACCRETE_SOAK_SECONDS`, default 120).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use storage_core::{
    CasOutcome, Error, Revision, RootName, RootValue, SegmentId, Storage, StorageExt, StorageUri,
};
use storage_postgres::testkit::{PgServer, StopMode};
use storage_postgres::{PostgresStorage, Settings};

const APP: &str = "accrete_soak";

#[derive(Default, Debug)]
struct Tally {
    acked_segments: Vec<(SegmentId, Bytes)>,
    applied: u64,
    retryable: u64,
    unknown: u64,
}

/// Retries `call` until it answers without a retryable error; every
/// answer must come within 30 s.
async fn until_answered<T, F: Future<Output = storage_core::Result<T>>>(
    tally: &mut Tally,
    mut call: impl FnMut() -> F,
) -> storage_core::Result<T> {
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(30), call())
            .await
            .expect("a storage call hung for 30 s");
        match answer {
            Err(e) if e.is_retryable() => {
                tally.retryable += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Puts a segment and increments `name` until `stop`.
async fn writer(s: Arc<PostgresStorage>, name: RootName, tag: u64, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let bytes = Bytes::from(format!("writer {tag} segment {i} ").repeat(50));
        let id = until_answered(&mut tally, || s.put(bytes.clone()))
            .await
            .unwrap();
        tally.acked_segments.push((id, bytes));
        let root = until_answered(&mut tally, || s.read_root(&name))
            .await
            .unwrap()
            .unwrap();
        let count: u64 = std::str::from_utf8(root.value.data())
            .unwrap()
            .parse()
            .unwrap();
        let value = RootValue::new((count + 1).to_string()).unwrap();
        match until_answered(&mut tally, || {
            s.cas_root(&name, Some(root.revision), &value)
        })
        .await
        {
            Ok(CasOutcome::Applied(rev)) => {
                assert_eq!(rev.get(), root.revision.get() + 1);
                tally.applied += 1;
            }
            Ok(CasOutcome::Conflict(_)) => {}
            Err(Error::OutcomeUnknown { .. }) => tally.unknown += 1,
            Err(e) => panic!("cas: {e}"),
        }
    }
    tally
}

async fn chaos(server: Arc<PgServer>, stop: Arc<AtomicBool>) -> u32 {
    let mut faults = 0;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(1500 + rand::random::<u64>() % 2000)).await;
        match faults % 3 {
            0 => server.restart(StopMode::Immediate).await.unwrap(),
            1 => server.restart(StopMode::Fast).await.unwrap(),
            _ => {
                for pid in server.backend_pids(APP).await.unwrap() {
                    server.terminate_backend(pid).await.unwrap();
                }
            }
        }
        faults += 1;
    }
    faults
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: ACCRETE_LONG=1 cargo test -- --ignored"]
async fn soak_writers_through_crashes_restarts_and_killed_sessions() {
    let seconds: u64 = std::env::var("ACCRETE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let server = Arc::new(
        PgServer::private()
            .await
            .expect("a private PostgreSQL server"),
    );
    let uri = server.uri_with(&format!(
        "db=soak&application_name={APP}&connect_timeout=2&statement_timeout=5000&pool_size=8"
    ));
    let settings = Settings::from_uri(&StorageUri::parse(&uri).unwrap()).unwrap();
    let s = Arc::new(PostgresStorage::open(settings).await.unwrap());
    let shared = RootName::new("db/soak/shared").unwrap();
    let own: Vec<RootName> = (0..4)
        .map(|i| RootName::new(format!("db/soak/own{i}")).unwrap())
        .collect();
    let mut origins = std::collections::HashMap::new();
    for name in own.iter().chain([&shared]) {
        let zero = RootValue::new("0").unwrap();
        origins.insert(name.clone(), Revision::origin(zero.nonce()).get());
        s.cas_root(name, None, &zero).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (i, name) in own.iter().chain([&shared, &shared]).enumerate() {
        writers.push(tokio::spawn(writer(
            s.clone(),
            name.clone(),
            i as u64,
            stop.clone(),
        )));
    }
    let chaos = tokio::spawn(chaos(server.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::SeqCst);
    let faults = chaos.await.unwrap();
    let started = Instant::now();
    let mut tallies = Vec::new();
    for w in writers {
        tallies.push(w.await.unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "writers took long to stop"
    );

    let mut segments = 0;
    for t in &tallies {
        for (id, bytes) in &t.acked_segments {
            let got = s.get_segment(*id).await.unwrap();
            assert_eq!(got.as_ref(), Some(bytes), "acknowledged segment {id} lost");
            segments += 1;
        }
    }
    for (i, name) in own.iter().enumerate() {
        let root = s.read_root(name).await.unwrap().unwrap();
        let count: u64 = std::str::from_utf8(root.value.data())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            root.revision.get(),
            origins[name] + count,
            "{name}: an update lost or doubled"
        );
        let t = &tallies[i];
        assert!(
            (t.applied..=t.applied + t.unknown).contains(&count),
            "{name}: {count} applied, writer saw {} applied and {} unknown",
            t.applied,
            t.unknown
        );
    }
    let root = s.read_root(&shared).await.unwrap().unwrap();
    let count: u64 = std::str::from_utf8(root.value.data())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        root.revision.get(),
        origins[&shared] + count,
        "shared root: an update lost or doubled"
    );
    let retryable: u64 = tallies.iter().map(|t| t.retryable).sum();
    let unknown: u64 = tallies.iter().map(|t| t.unknown).sum();
    let applied: u64 = tallies.iter().map(|t| t.applied).sum();
    eprintln!(
        "soak: {seconds} s, {faults} faults, {segments} segments and {applied} CAS acknowledged and verified, {retryable} retryable errors, {unknown} unknown outcomes"
    );
    assert!(faults >= 3 && retryable > 0, "the faults never hit a call");
}
