//! The log in storage: a small tail rides in the log root, older entries
//! move into log leaves and a tree that changes only on its right spine;
//! every range reads back; bad appends are refused. And the catalog.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use index::{Error, LogRoot, TreeConfig, append, reachable_segments, read_log};
use model::{Datom, TxLog, Value, t_to_tx};
use storage_core::DbName;

fn entry(t: u64, payload: usize) -> TxLog {
    let tx = t_to_tx(t);
    let data = vec![
        Datom::new(
            tx,
            26,
            Value::Instant(model::edn::Instant(t as i64)),
            tx,
            true,
        ),
        Datom::new(
            model::entity_id(model::PART_USER, t),
            10,
            Value::string(&"x".repeat(payload)),
            tx,
            true,
        ),
    ];
    TxLog {
        t,
        data: data.into(),
    }
}

fn ids(
    rt: &tokio::runtime::Runtime,
    seg: &index::Segments,
    root: &LogRoot,
) -> BTreeSet<storage_core::SegmentId> {
    rt.block_on(reachable_segments(seg, root))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn small_commits_write_no_segments_and_large_ones_grow_the_tree_on_the_right(backend: Backend) {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, backend);
    let seg = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
    root.tail.clear(); // start from an empty log for exact counts
    root.tail.push(entry(0, 1));
    let mut all = root.tail.clone();
    // Entries of ~60 bytes: a 300-byte tail holds a few.
    root = rt
        .block_on(append(&seg, &root, &[entry(1000, 10)]))
        .unwrap();
    all.push(entry(1000, 10));
    assert_eq!(
        segment_count(&rt, &storage),
        0,
        "{backend:?}: a small commit writes nothing"
    );
    assert!(root.log.is_none() && root.tail.len() == 2);
    assert_eq!((root.basis_t, root.next_t), (1000, 1001));
    let mut spine_changes = Vec::new();
    for t in 1001..1200 {
        let before = ids(&rt, &seg, &root);
        root = rt.block_on(append(&seg, &root, &[entry(t, 40)])).unwrap();
        all.push(entry(t, 40));
        let after = ids(&rt, &seg, &root);
        spine_changes.push(after.difference(&before).count());
        assert!(root.tail_bytes() <= TreeConfig::tiny().tail_bytes);
        // Only the right spine and new leaves are new; nothing else changes.
        let height = root.log.map_or(0, |l| l.height as usize);
        assert!(
            spine_changes.last().unwrap() <= &(height + 2),
            "{backend:?}: t {t}"
        );
        assert!(
            before.difference(&after).count() <= height + 1,
            "{backend:?}: t {t}"
        );
    }
    let tree = root.log.unwrap();
    assert!(tree.height >= 2, "{tree:?}");
    assert_eq!(root.basis_t, 1199);
    assert_eq!(root.next_t, 1200);
    let read = rt.block_on(read_log(&seg, &root, 0, None)).unwrap();
    assert_eq!(read, all, "{backend:?}");
    for (from, until) in [
        (1000, Some(1001)),
        (1050, Some(1077)),
        (1190, None),
        (1300, None),
        (5, Some(1000)),
    ] {
        let expected: Vec<TxLog> = all
            .iter()
            .filter(|e| e.t >= from && until.is_none_or(|u| e.t < u))
            .cloned()
            .collect();
        assert_eq!(
            rt.block_on(read_log(&seg, &root, from, until)).unwrap(),
            expected,
            "{from}..{until:?}"
        );
    }
    // A fresh reader with a cold cache reads the same.
    let cold = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    assert_eq!(rt.block_on(read_log(&cold, &root, 0, None)).unwrap(), all);
}

storage_core::per_backend! {
    #[test]
    fn small_commits_write_no_segments_and_large_ones_grow_the_tree_on_the_right for Backend {
        mem = Mem, file = File
    }
}

#[test]
fn batches_bigger_than_a_leaf_span_several_leaves() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    let root = LogRoot::genesis(uuid::Uuid::new_v4());
    let batch: Vec<TxLog> = (1000..1040).map(|t| entry(t, 100)).collect();
    let root = rt.block_on(append(&seg, &root, &batch)).unwrap();
    assert!(root.tail.is_empty());
    assert!(root.log.unwrap().height >= 1);
    let read = rt.block_on(read_log(&seg, &root, 1000, None)).unwrap();
    assert_eq!(read, batch);
    // An entry bigger than a leaf gets a leaf of its own.
    let big = entry(2000, 5000);
    let root = rt
        .block_on(append(&seg, &root, std::slice::from_ref(&big)))
        .unwrap();
    assert_eq!(
        rt.block_on(read_log(&seg, &root, 2000, None)).unwrap(),
        vec![big]
    );
}

#[test]
fn bad_appends_are_refused_and_change_nothing() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 1 << 20, TreeConfig::default());
    let root = LogRoot::genesis(uuid::Uuid::new_v4());
    let root = rt.block_on(append(&seg, &root, &[entry(1000, 1)])).unwrap();
    for bad in [
        vec![entry(1000, 1)],
        vec![entry(999, 1)],
        vec![entry(1002, 1), entry(1001, 1)],
    ] {
        let err = rt.block_on(append(&seg, &root, &bad)).unwrap_err();
        assert!(
            matches!(err, Error::Invalid(_)) && err.to_string().contains("does not follow"),
            "{err}"
        );
    }
    // A transaction too large for any segment (incompressible bytes).
    let mut noise = vec![0u8; 5 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let tx = t_to_tx(1001);
    let huge = TxLog {
        t: 1001,
        data: vec![Datom::new(5, 10, Value::Bytes(noise.into()), tx, true)].into(),
    };
    let err = rt
        .block_on(append(&seg, &root, &[huge]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("over the segment limit"), "{err}");
    assert_eq!(segment_count(&rt, &storage), 0);
}

#[test]
fn the_catalog_creates_lists_deletes_and_recreates() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::File);
    let seg = segments(&rt, &storage, 1 << 20, TreeConfig::default());
    let a = DbName::new("alpha").unwrap();
    let b = DbName::new("beta").unwrap();
    let first = rt.block_on(index::create_db(&storage, &a)).unwrap();
    rt.block_on(index::create_db(&storage, &b)).unwrap();
    let err = rt.block_on(index::create_db(&storage, &a)).unwrap_err();
    assert!(matches!(err, Error::DbExists(_)), "{err}");
    let names: Vec<String> = rt
        .block_on(index::list_dbs(&storage))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    let opened = rt.block_on(index::open_db(&seg, &a)).unwrap();
    assert_eq!(opened.root.db_uuid, first.uuid);
    assert_eq!(opened.db.basis_t(), 0);
    rt.block_on(index::delete_db(&storage, &a)).unwrap();
    let err = rt.block_on(index::open_db(&seg, &a)).unwrap_err();
    assert!(matches!(err, Error::DbNotFound(_)), "{err}");
    let err = rt.block_on(index::delete_db(&storage, &a)).unwrap_err();
    assert!(matches!(err, Error::DbNotFound(_)), "{err}");
    let names: Vec<String> = rt
        .block_on(index::list_dbs(&storage))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["beta"]);
    let again = rt.block_on(index::create_db(&storage, &a)).unwrap();
    assert_ne!(again.uuid, first.uuid);
    let reopened = rt.block_on(index::open_db(&seg, &a)).unwrap();
    assert_eq!(reopened.root.db_uuid, again.uuid);
    assert_eq!(
        reopened.root.epoch, 3,
        "the old log root's writer is fenced by the delete, by the delete run again (which finishes a delete that died before its fence) and by the new genesis"
    );
}

/// Every segment the storage holds, with its kind.
fn stored(
    rt: &tokio::runtime::Runtime,
    storage: &std::sync::Arc<dyn storage_core::Storage>,
) -> Vec<(storage_core::SegmentId, u8, usize)> {
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let page = rt.block_on(storage.list_segments(from, 1000)).unwrap();
        for id in page.ids {
            let bytes = rt.block_on(storage.get_segment(id)).unwrap().unwrap();
            let kind = storage_core::codec::decode(&bytes).unwrap().kind;
            out.push((id, kind, bytes.len()));
        }
        match page.next {
            None => return out,
            Some(token) => from = Some(token),
        }
    }
}

/// Issue 14 item 6: appending never rewrites a log leaf, so every leaf
/// written stays reachable and the log writes little more than it keeps
/// (it wrote about five times as much when the rightmost leaf was
/// rewritten with each tail).
#[test]
fn appending_writes_each_entry_once() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 1 << 20, TreeConfig::default());
    let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
    for t in 1000..4000 {
        root = rt.block_on(append(&seg, &root, &[entry(t, 200)])).unwrap();
    }
    let reachable = ids(&rt, &seg, &root);
    let stored = stored(&rt, &storage);
    let leaves: Vec<_> = stored
        .iter()
        .filter(|(_, kind, _)| *kind == index::segment::kind::LOG_LEAF)
        .collect();
    assert!(leaves.len() > 5, "{} leaves", leaves.len());
    for (id, _, _) in &leaves {
        assert!(
            reachable.contains(id),
            "log leaf {id} was written and dropped"
        );
    }
    let written: usize = stored.iter().map(|(_, _, len)| len).sum();
    let kept: usize = stored
        .iter()
        .filter(|(id, _, _)| reachable.contains(id))
        .map(|(_, _, len)| len)
        .sum();
    assert!(
        written as f64 <= kept as f64 * 1.2,
        "wrote {written} bytes to keep {kept}"
    );
    let read = rt.block_on(read_log(&seg, &root, 1000, None)).unwrap();
    assert_eq!(read.len(), 3000);
}
