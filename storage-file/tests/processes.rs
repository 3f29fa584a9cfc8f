//! Several OS processes on one storage directory: an exact CAS race, a
//! writer killed with SIGKILL at random moments that must lose nothing it
//! acknowledged and never leave a torn root, and a writer frozen with
//! SIGSTOP at random moments that must hold up nobody.
//!
//! `ACCRETE_LONG=1` runs 500 crash and 200 freeze trials instead of 20;
//! `ACCRETE_SEED=N` replays a run's kill and stop timings.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_core::{CasOutcome, Revision, RootName, RootValue, SegmentId, Storage, StorageExt};
use storage_file::FileStorage;

use common::{Probe, long_mode, probe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_is_exact_across_processes() {
    const PROCESSES: u64 = 4;
    const TASKS: u64 = 2;
    const EACH: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let name = RootName::new("db/race/counter").unwrap();
    let zero = RootValue::new("0").unwrap();
    let origin = Revision::origin(zero.nonce()).get();
    storage
        .cas_root_or_conflict(&name, None, &zero)
        .await
        .unwrap();

    let path = dir.path().to_str().unwrap();
    let children: Vec<Probe> = (0..PROCESSES)
        .map(|_| {
            let (each, tasks) = (EACH.to_string(), TASKS.to_string());
            Probe::spawn(probe(&["increment", path, name.as_str(), &each, &tasks]))
        })
        .collect();
    let mut wins = BTreeMap::new();
    for child in children {
        for line in child.finish(Duration::from_secs(300)) {
            let (revision, count) = parse_win(&line);
            assert!(
                wins.insert(revision, count).is_none(),
                "revision {revision} was won by two writers"
            );
        }
    }

    let total = PROCESSES * TASKS * EACH;
    let revisions: Vec<u64> = wins.keys().copied().collect();
    assert_eq!(
        revisions,
        (origin + 1..=origin + total).collect::<Vec<_>>(),
        "revisions won"
    );
    for (revision, count) in &wins {
        assert_eq!(
            *count,
            revision - origin,
            "revision {revision}: a lost update"
        );
    }
    let last = storage.read_root(&name).await.unwrap().unwrap();
    assert_eq!(last.revision.get(), origin + total);
    assert_eq!(last.value.data().as_ref(), total.to_string().as_bytes());
}

fn seed() -> u64 {
    std::env::var("ACCRETE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>)
}

/// Increments the counter `name` in this process until a CAS wins;
/// returns the revision won and the count written.
async fn increment(storage: &FileStorage, name: &RootName) -> (u64, u64) {
    loop {
        let root = storage.read_root(name).await.unwrap().unwrap();
        let count: u64 = std::str::from_utf8(root.value.data())
            .unwrap()
            .parse()
            .unwrap();
        let next = RootValue::new((count + 1).to_string()).unwrap();
        let out = storage
            .cas_root(name, Some(root.revision), &next)
            .await
            .unwrap();
        if let CasOutcome::Applied(revision) = out {
            return (revision.get(), count + 1);
        }
    }
}

/// A writer process frozen at a random instant — maybe between reading
/// and writing a root, maybe in the middle of writing it — must not hold
/// up another process's CAS on the same root: each completes within
/// [`BOUND`] while the writer is stopped. And every win stays exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_writer_holds_up_no_other_process() {
    const BOUND: Duration = Duration::from_secs(5);
    const EACH: usize = 3;
    let trials = if long_mode() { 200 } else { 20 };
    let seed = seed();
    eprintln!("freeze test: {trials} trials, ACCRETE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let name = RootName::new("db/freeze/log").unwrap();
    let zero = RootValue::new("0").unwrap();
    let origin = Revision::origin(zero.nonce()).get();
    storage
        .cas_root_or_conflict(&name, None, &zero)
        .await
        .unwrap();
    let path = dir.path().to_str().unwrap();
    let mut child = Probe::spawn(probe(&[
        "increment",
        path,
        name.as_str(),
        "1000000000",
        "2",
    ]));
    let mut lines = child.wait_for(Duration::from_secs(60), |l| l.starts_with("WON "));

    let mut ours = Vec::new();
    let mut slowest = Duration::ZERO;
    for trial in 0..trials {
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..20_000))).await;
        child.signal("STOP");
        let started = Instant::now();
        for _ in 0..EACH {
            let won = tokio::time::timeout(BOUND, increment(&storage, &name))
                .await
                .unwrap_or_else(|_| {
                    child.signal("CONT");
                    panic!(
                        "trial {trial} (ACCRETE_SEED={seed}): a CAS waited more than {BOUND:?} on the stopped process"
                    )
                });
            ours.push(won);
        }
        slowest = slowest.max(started.elapsed());
        child.signal("CONT");
    }
    lines.extend(child.kill());
    eprintln!(
        "freeze test: {} CASes while the other writer was stopped, the slowest {EACH} took {slowest:?}",
        ours.len()
    );

    let mut wins = BTreeMap::new();
    for (revision, count) in lines.iter().map(|l| parse_win(l)).chain(ours) {
        assert!(
            wins.insert(revision, count).is_none(),
            "revision {revision} was won by two writers"
        );
        assert_eq!(
            count,
            revision - origin,
            "revision {revision}: a lost update"
        );
    }
    let last = storage.read_root(&name).await.unwrap().unwrap();
    assert!(last.revision.get() >= *wins.keys().last().unwrap());
    let count: u64 = std::str::from_utf8(last.value.data())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, last.revision.get() - origin);
}

fn parse_win(line: &str) -> (u64, u64) {
    let fields: Vec<&str> = line.split(' ').collect();
    match fields.as_slice() {
        ["WON", revision, count] => (revision.parse().unwrap(), count.parse().unwrap()),
        _ => panic!("unexpected probe output {line:?}"),
    }
}

/// What the children acknowledged, over all trials.
#[derive(Default)]
struct Acknowledged {
    segments: BTreeSet<SegmentId>,
    roots: BTreeMap<String, u64>,
}

impl Acknowledged {
    /// Records `lines`, returning the segments acknowledged by them.
    fn record(&mut self, lines: &[String]) -> Vec<SegmentId> {
        let mut fresh = Vec::new();
        for line in lines {
            let fields: Vec<&str> = line.split(' ').collect();
            match fields.as_slice() {
                ["READY"] => {}
                ["PUT", id] => {
                    let id: SegmentId = id.parse().unwrap();
                    self.segments.insert(id);
                    fresh.push(id);
                }
                ["CAS", root, revision] => {
                    let revision: u64 = revision.parse().unwrap();
                    let known = self.roots.entry(root.to_string()).or_default();
                    *known = (*known).max(revision);
                }
                _ => panic!("unexpected probe output {line:?}"),
            }
        }
        fresh
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_writer_loses_nothing_it_acknowledged() {
    let trials = if long_mode() { 500 } else { 20 };
    let seed = seed();
    eprintln!("crash test: {trials} trials, ACCRETE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    FileStorage::open(&path).await.unwrap();

    let mut acked = Acknowledged::default();
    for trial in 0..trials {
        let child_seed = rng.random::<u64>().to_string();
        let mut child = Probe::spawn(probe(&["churn", &path, &child_seed]));
        // The first CAS proves that no lock was left behind by the last kill.
        let mut lines = child.wait_for(Duration::from_secs(60), |l| l.starts_with("CAS "));
        std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
        lines.extend(child.kill());
        let fresh = acked.record(&lines);
        // A new handle, as a restarted process would open it.
        let storage = FileStorage::open(&path).await.unwrap();
        check(&storage, &fresh, &acked)
            .await
            .unwrap_or_else(|e| panic!("trial {trial} (ACCRETE_SEED={seed}): {e}"));
    }

    let storage = FileStorage::open(&path).await.unwrap();
    let all: Vec<SegmentId> = acked.segments.iter().copied().collect();
    check(&storage, &all, &acked).await.unwrap();
    let listed = check_listing(&storage).await;
    assert!(
        acked.segments.is_subset(&listed),
        "the listing misses acknowledged segments"
    );
    let leftovers = storage.sweep_temp_files(Duration::ZERO).await.unwrap();
    eprintln!(
        "crash test: {} segments and {:?} root revisions acknowledged, {} listed, {leftovers} temporary files left by kills and swept",
        acked.segments.len(),
        acked.roots,
        listed.len()
    );
    let tmp_entries = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(tmp_entries, 0, "the sweep left temporary files");
}

/// Every acknowledged segment in `fresh` reads back verified; every root
/// is whole (it holds its own revision) and at or past what was
/// acknowledged.
async fn check(
    storage: &FileStorage,
    fresh: &[SegmentId],
    acked: &Acknowledged,
) -> Result<(), String> {
    for id in fresh {
        match storage.get_segment(*id).await {
            Ok(Some(_)) => {}
            other => return Err(format!("acknowledged segment {id}: {other:?}")),
        }
    }
    for (root, revision) in &acked.roots {
        let name = RootName::new(root.as_str()).unwrap();
        let current = storage
            .read_root(&name)
            .await
            .map_err(|e| format!("root {root}: {e}"))?
            .ok_or_else(|| format!("acknowledged root {root} is missing"))?;
        if current.revision < Revision::new(*revision).unwrap() {
            return Err(format!(
                "root {root} is at revision {}, but revision {revision} was acknowledged",
                current.revision
            ));
        }
        if current.value.data().as_ref() != current.revision.to_string().as_bytes() {
            return Err(format!(
                "root {root} at revision {} holds {:?}",
                current.revision,
                current.value.data()
            ));
        }
    }
    Ok(())
}

/// Lists every segment and reads each: nothing torn is ever listed.
async fn check_listing(storage: &FileStorage) -> BTreeSet<SegmentId> {
    let mut listed = BTreeSet::new();
    let mut token = None;
    loop {
        let page = storage.list_segments(token, 500).await.unwrap();
        for id in page.ids {
            let bytes = storage.require_segment(id).await.unwrap();
            assert_eq!(SegmentId::of(&bytes), id);
            assert!(listed.insert(id), "{id} listed twice");
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return listed,
        }
    }
}

/// The probe ([`common::probe`]): a child process of this file's tests.
#[test]
#[ignore = "the probe: a child process of this file's tests"]
fn probe_process() {
    common::probe::run_from_env();
}
