//! Database values are lazy: a large indexed database reads through a small
//! cache whose byte counter stays under its bound, and indexing a small
//! change shares every untouched segment with the previous trees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use index::{TreeConfig, reachable_segments};
use model::{Index, Layer, Value};

/// Small nodes so a few thousand entities make trees of many segments.
fn config() -> TreeConfig {
    TreeConfig {
        index_leaf_bytes: 4096,
        index_branch_children: 16,
        ..TreeConfig::default()
    }
}

/// A database of `people` entities with four datoms each, indexed.
fn big(rt: &tokio::runtime::Runtime, seg: &index::Segments, people: usize) -> Writer {
    let mut w = Writer::create(rt, seg, "big");
    w.tx(rt, SCHEMA);
    for batch in 0..people / 500 {
        let forms: Vec<String> = (0..500)
            .map(|i| {
                let n = batch * 500 + i;
                format!(r#"{{:p/email "p{n}@x.org" :p/age {} :p/bio "bio number {n}" :p/tags [:t/{}]}}"#, n % 90, n % 7)
            })
            .collect();
        w.tx(rt, &format!("[{}]", forms.join(" ")));
    }
    w.index(rt);
    w
}

#[test]
fn reads_of_a_large_database_stay_within_a_small_cache() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::File);
    let writer_seg = segments(&rt, &storage, 64 << 20, config());
    let people = 5000;
    let w = big(&rt, &writer_seg, people);
    let capacity = 48 << 10;
    let reader = segments(&rt, &storage, capacity, config());
    let db = w.reopen(&rt, &reader);
    assert_eq!(
        db.novelty_len(),
        0,
        "everything is indexed: nothing held in memory"
    );
    let mut count = 0;
    let mut peak = 0;
    for d in db.datoms(Index::Eavt, &[]).unwrap() {
        d.unwrap();
        count += 1;
        if count % 97 == 0 {
            peak = peak.max(reader.cache.stats().bytes);
        }
    }
    let stats = reader.cache.stats();
    assert!(count > people * 4, "{count} datoms");
    assert!(
        peak <= capacity && stats.bytes <= capacity,
        "peak {peak}, now {}, bound {capacity}",
        stats.bytes
    );
    assert!(peak > capacity / 4, "the cache was used: peak {peak}");
    // At least one miss per 4 KiB leaf of ~20-byte datoms.
    let leaves = count * 20 / 4096;
    assert!(
        stats.misses as usize >= leaves,
        "{stats:?}: the scan went to storage for its leaves"
    );
    // Point reads hit the cache for the upper tree levels.
    let before = reader.cache.stats();
    for n in (0..people).step_by(371) {
        let email = Value::string(&format!("p{n}@x.org"));
        let found = all(&db, Index::Avet, &[Value::keyword(":p/email"), email]);
        assert_eq!(found.len(), 1);
    }
    let after = reader.cache.stats();
    assert!(after.hits > before.hits);
    assert!(after.bytes <= capacity);
    // The same reads as the all-novelty value, history included.
    assert_eq!(
        all(&db.history(), Index::Aevt, &[]),
        all(&w.reference.history(), Index::Aevt, &[])
    );
    assert!(reader.cache.stats().bytes <= capacity);
}

#[test]
fn indexing_a_small_change_shares_all_but_the_touched_paths() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 64 << 20, config());
    let mut w = big(&rt, &seg, 5000);
    let before_root = w.root.clone();
    let before_db = w.db.clone();
    let before: BTreeSet<_> = rt
        .block_on(reachable_segments(&seg, &w.root))
        .unwrap()
        .into_iter()
        .collect();
    let store = rt
        .block_on(index::DurableStore::load(
            &seg,
            w.root.index.unwrap(),
            &w.root,
        ))
        .unwrap();
    let height = store
        .index_root()
        .tree(Index::Eavt, Layer::Current)
        .unwrap()
        .height as usize;
    assert!(height >= 2, "deep enough to matter: {height}");
    w.tx(&rt, r#"[[:db/add [:p/email "p2500@x.org"] :p/age 99]]"#);
    let job = w.index(&rt);
    let after: BTreeSet<_> = rt
        .block_on(reachable_segments(&seg, &w.root))
        .unwrap()
        .into_iter()
        .collect();
    let new: Vec<_> = after.difference(&before).collect();
    let index_kinds = [
        index::segment::kind::INDEX_LEAF,
        index::segment::kind::INDEX_BRANCH,
    ];
    let new_index = new.iter().filter(|r| index_kinds.contains(&r.kind)).count();
    // The change (one retraction, one assertion, the tx instant) touches at
    // most two paths in each of six trees (VAET holds no such datom).
    assert!(
        new_index <= 6 * 2 * (height + 1),
        "{new_index} new index segments, height {height}"
    );
    assert!(
        new_index >= 6,
        "every touched tree has a new path: {new_index}"
    );
    let shared = after.intersection(&before).count();
    assert!(
        shared * 10 >= after.len() * 9,
        "{shared} of {} shared",
        after.len()
    );
    // Three datoms (retraction, assertion, tx instant) in EAVT, AEVT, AVET.
    assert_eq!(job.stats.datoms_merged, 9);
    // The old value still reads: its segments are untouched.
    assert_eq!(
        everything(&before_db),
        everything(&w.reference.as_of(before_root.basis_t).unwrap())
    );
}
