//! Damaged, missing and unreadable segments give errors that name the
//! segment, never a panic; a crash or a storage failure in the middle of an
//! indexing job or an append leaves the old consistent state, and a retry
//! succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use index::segment::{IndexRoot, Node, TreeRef, kind};
use index::{Error, LogRoot, TreeConfig, db_from_root, index_db, reachable_segments};
use model::{Db, Index};
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
use storage_core::{MemStorage, SegmentId, Storage, StorageExt};

/// A database with history, indexed, and some novelty after it.
fn busy(rt: &tokio::runtime::Runtime, seg: &index::Segments) -> Writer {
    let mut w = Writer::create(rt, seg, "faulty");
    let mut generator = Generator::new(3);
    w.tx(rt, SCHEMA);
    for _ in 0..12 {
        let text = generator.tx_text(&w.db, 4, 3);
        let report = w.tx(rt, &text);
        generator.created(&report);
    }
    w.index(rt);
    for _ in 0..3 {
        let text = generator.tx_text(&w.db, 2, 3);
        let report = w.tx(rt, &text);
        generator.created(&report);
    }
    w
}

/// Scans every index of a value; the first error, if any.
fn scan(db: &Db) -> Result<usize, String> {
    let mut n = 0;
    for index in Index::ALL {
        for d in db.history().datoms(index, &[]).map_err(|e| e.to_string())? {
            d.map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}

fn first_of(rt: &tokio::runtime::Runtime, w: &Writer, wanted: u8) -> SegmentId {
    rt.block_on(reachable_segments(&w.seg, &w.root))
        .unwrap()
        .into_iter()
        .find(|r| r.kind == wanted)
        .unwrap_or_else(|| panic!("no segment of kind {wanted}"))
        .id
}

#[test]
fn corrupt_and_missing_segments_are_named() {
    let rt = runtime();
    let mem = Arc::new(MemStorage::new());
    let storage: Arc<dyn Storage> = mem.clone();
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let w = busy(&rt, &seg);
    let good = scan(&w.reopen(&rt, &segments(&rt, &storage, 1 << 20, TreeConfig::tiny()))).unwrap();
    assert!(good > 100);
    for (wanted, what) in [
        (kind::INDEX_LEAF, "index leaf"),
        (kind::INDEX_BRANCH, "index branch"),
    ] {
        let id = first_of(&rt, &w, wanted);
        let original = rt.block_on(storage.get_segment(id)).unwrap().unwrap();
        // Bytes that do not hash to the id.
        let mut damaged = original.to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        mem.corrupt_segment(id, Bytes::from(damaged));
        let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
        let err = match rt.block_on(index::open_db(&cold, &w.name)) {
            Err(e) => e.to_string(),
            Ok(open) => scan(&open.db).unwrap_err(),
        };
        assert!(
            err.contains(&id.to_string()) && err.contains("corrupt"),
            "{what}: {err}"
        );
        // Gone altogether.
        rt.block_on(storage.delete_segment(id)).unwrap();
        let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
        let err = match rt.block_on(index::open_db(&cold, &w.name)) {
            Err(e) => e.to_string(),
            Ok(open) => scan(&open.db).unwrap_err(),
        };
        assert!(
            err.contains(&id.to_string()) && err.contains(&format!("({what}) is missing")),
            "{err}"
        );
        mem.corrupt_segment(id, original);
    }
    // Missing log leaves fail the open (which replays entries after the
    // index), naming the one it needed.
    let leaves: Vec<SegmentId> = rt
        .block_on(reachable_segments(&w.seg, &w.root))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == kind::LOG_LEAF)
        .map(|r| r.id)
        .collect();
    for id in &leaves {
        rt.block_on(storage.delete_segment(*id)).unwrap();
    }
    let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    let err = rt.block_on(index::open_db(&cold, &w.name)).unwrap_err();
    let text = err.to_string();
    assert!(
        err.is_corruption() && text.contains("(log leaf) is missing"),
        "{text}"
    );
    assert!(
        leaves.iter().any(|id| text.contains(&id.to_string())),
        "{text}"
    );
}

#[test]
fn segments_of_the_wrong_kind_or_a_newer_format_are_refused() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let w = busy(&rt, &seg);
    let log_leaf = first_of(&rt, &w, kind::LOG_LEAF);
    // An index root whose EAVT tree "root" is a log leaf.
    let mut trees = [None; 8];
    trees[IndexRoot::slot(Index::Eavt, model::Layer::Current)] = Some(TreeRef {
        id: log_leaf,
        height: 0,
        count: 1,
    });
    let bogus = Node::IndexRoot(Box::new(IndexRoot {
        basis_t: 0,
        next_t: 1000,
        trees,
        excisions: vec![],
        stats: None,
    }));
    let bogus_id = rt
        .block_on(storage.put_frame(kind::INDEX_ROOT, &bogus.encode()))
        .unwrap();
    let root = LogRoot {
        index: Some(bogus_id),
        ..w.root.clone()
    };
    let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    let err = rt
        .block_on(db_from_root(&cold, &root))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&log_leaf.to_string()) && err.contains("log leaf"),
        "{err}"
    );
    // An index root written by a newer format.
    let mut payload = bogus.encode();
    payload[0] = 9;
    let newer = rt
        .block_on(storage.put_frame(kind::INDEX_ROOT, &payload))
        .unwrap();
    let root = LogRoot {
        index: Some(newer),
        ..w.root.clone()
    };
    let err = rt.block_on(db_from_root(&cold, &root)).unwrap_err();
    assert!(
        matches!(err, Error::CorruptSegment { id, .. } if id == newer),
        "{err}"
    );
    assert!(
        err.to_string().contains("version 9 is not supported"),
        "{err}"
    );
    // Not a frame at all.
    let junk = rt
        .block_on(storage.put(Bytes::from_static(b"just some bytes")))
        .unwrap();
    let root = LogRoot {
        index: Some(junk),
        ..w.root.clone()
    };
    let err = rt
        .block_on(db_from_root(&cold, &root))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&junk.to_string()) && err.contains("not an accrete segment"),
        "{err}"
    );
}

/// The index root swap fails at the log-root write itself: refused before
/// it reached storage (the old index stays), or carried out with its answer
/// lost (the new index is in place). Either way a fresh reader sees one
/// whole state with every commit, and the restarted writer carries on.
fn a_crash_at_the_index_root_swap_leaves_the_old_or_the_new_index_whole(backend: Backend) {
    for fault in [Fault::FailBefore, Fault::FailAfter] {
        let rt = runtime();
        let (inner, _dir) = storage(&rt, backend);
        let plan = FaultPlan::seeded(5);
        let storage: Arc<dyn Storage> = Arc::new(FaultyStorage::new(inner, plan.clone()));
        let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
        let mut w = busy(&rt, &seg);
        let (old_index, old_basis) = (w.root.index, w.db.store().basis_t());
        let job = rt.block_on(index_db(&seg, &w.db, &w.root)).unwrap();
        assert!(job.stats.written.segments > 0);
        let next = rt.block_on(job.next_root(&seg, &w.root)).unwrap();
        plan.inject_times(Op::Cas, fault, 1);
        let swap = rt.block_on(storage.cas_root(
            &index::log_root_name(&w.name),
            Some(w.revision),
            &next.to_root_value().unwrap(),
        ));
        assert!(swap.is_err(), "{backend:?} {fault:?}: the injected fault");
        plan.clear();
        let what = format!("{backend:?}, {fault:?} at the swap");
        let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
        let opened = rt.block_on(index::open_db(&cold, &w.name)).unwrap();
        let (index, basis) = match fault {
            Fault::FailBefore => (old_index, old_basis),
            _ => (next.index, Some(job.basis_t)),
        };
        assert_ne!(old_basis, Some(job.basis_t), "{what}: the job indexed more");
        assert_eq!(opened.db.store().basis_t(), basis, "{what}: index basis");
        assert_eq!(
            opened.root.index, index,
            "{what}: the index the log root names"
        );
        assert_same_reads(&opened.db, &w.reference, &w.ts, &what);
        // The restarted writer carries on from what storage holds.
        w.db = opened.db;
        w.root = opened.root;
        w.revision = opened.revision;
        w.tx(&rt, r#"[{:p/email "after@crash" :p/age 1}]"#);
        w.index(&rt);
        let what = format!("{what}, after the retry");
        assert_same_reads(&w.reopen(&rt, &cold), &w.reference, &w.ts, &what);
    }
}

storage_core::per_backend! {
    #[test]
    fn a_crash_at_the_index_root_swap_leaves_the_old_or_the_new_index_whole for Backend {
        mem = Mem, file = File
    }
}

#[test]
fn storage_failures_during_a_job_or_an_append_change_nothing_and_retries_succeed() {
    let rt = runtime();
    let plan = FaultPlan::seeded(17);
    let storage: Arc<dyn Storage> = Arc::new(FaultyStorage::new(
        Arc::new(MemStorage::new()),
        plan.clone(),
    ));
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let mut w = busy(&rt, &seg);
    let before = w.root.clone();
    plan.inject(Op::Put, Fault::FailBefore, 0.2);
    let err = rt.block_on(index_db(&seg, &w.db, &w.root)).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // An append that has to write log segments fails the same way.
    let big: Vec<model::TxLog> = {
        let mut db = w.db.clone();
        let mut entries = Vec::new();
        for i in 0..5 {
            let report = db
                .with_edn(
                    &format!(r#"[{{:p/email "bulk{i}@x" :p/bio "{}"}}]"#, "b".repeat(200)),
                    model::edn::Instant(w.clock() + 1 + i),
                    &model::TxFunctions::new(),
                )
                .unwrap();
            entries.push(report.log_entry());
            db = report.db_after;
        }
        entries
    };
    plan.inject(Op::Put, Fault::FailBefore, 1.0);
    let err = rt.block_on(index::append(&seg, &w.root, &big)).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    plan.clear();
    let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    // What storage holds, not the writer's own copy: the same log root at
    // the same revision.
    let stored = rt.block_on(index::open_db(&cold, &w.name)).unwrap();
    assert_eq!(stored.root, before, "the failures changed the log root");
    assert_eq!(stored.revision, w.revision);
    assert_same_reads(
        &w.reopen(&rt, &cold),
        &w.reference,
        &w.ts,
        "after the failures",
    );
    // Lost responses: the puts happened, the job still fails, a retry works.
    plan.inject(Op::Put, Fault::FailAfter, 0.3);
    assert!(rt.block_on(index_db(&seg, &w.db, &w.root)).is_err());
    plan.clear();
    w.index(&rt);
    w.commit(&rt, &big);
    w.db = big
        .iter()
        .fold(w.db.clone(), |db, e| db.apply_tx(e).unwrap());
    w.index(&rt);
    let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    assert_same_reads(
        &w.reopen(&rt, &cold),
        &w.reference,
        &w.ts,
        "after the retries",
    );
}

/// One seed by default, twelve with `ACCRETE_LONG=1`.
#[test]
fn random_put_and_get_faults_never_lose_or_corrupt_commits() {
    let seeds = if long() { 0..12 } else { 0..1 };
    for seed in seeds {
        let rt = runtime();
        let plan = FaultPlan::seeded(seed);
        let storage: Arc<dyn Storage> = Arc::new(FaultyStorage::new(
            Arc::new(MemStorage::new()),
            plan.clone(),
        ));
        let seg = segments(&rt, &storage, 256 << 10, TreeConfig::tiny());
        let mut w = Writer::create(&rt, &seg, "soak");
        let mut generator = Generator::new(seed);
        w.tx(&rt, SCHEMA);
        let (mut failed_appends, mut failed_jobs) = (0, 0);
        for step in 0..40 {
            let text = generator.tx_text(&w.db, 3, 3);
            let report =
                w.db.with_edn(
                    &text,
                    model::edn::Instant(w.clock() + 1 + step),
                    &model::TxFunctions::new(),
                )
                .unwrap();
            plan.inject(Op::Put, Fault::FailBefore, 0.15);
            plan.inject(Op::Get, Fault::FailBefore, 0.05);
            let appended = rt.block_on(index::append(&seg, &w.root, &[report.log_entry()]));
            let job = (step % 5 == 4).then(|| rt.block_on(index_db(&seg, &w.db, &w.root)));
            plan.clear();
            match appended {
                Ok(next) => {
                    w.cas(&rt, next);
                    w.reference = w.reference.apply_tx(&report.log_entry()).unwrap();
                    w.ts.push(report.t());
                    w.db = report.db_after.clone();
                    generator.created(&report);
                }
                Err(e) => {
                    assert!(e.is_retryable(), "{e}");
                    failed_appends += 1;
                }
            }
            match job {
                Some(Ok(job)) => {
                    let next = rt.block_on(job.next_root(&seg, &w.root)).unwrap();
                    w.cas(&rt, next);
                    w.db = job.rebase(&w.db).unwrap();
                }
                Some(Err(e)) => {
                    assert!(e.is_retryable(), "{e}");
                    failed_jobs += 1;
                }
                None => {}
            }
            let cold = segments(&rt, &storage, 256 << 10, TreeConfig::tiny());
            assert_same_reads(
                &w.reopen(&rt, &cold),
                &w.reference,
                &w.ts,
                &format!("seed {seed} step {step}"),
            );
        }
        assert!(
            failed_appends + failed_jobs > 0,
            "seed {seed}: faults were injected"
        );
    }
}
