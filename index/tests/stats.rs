//! Attribute statistics in the index root: kept by jobs, absent from roots
//! written before them (those still open, reads and queries fall back to
//! estimates) and counted by the first job on such a root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use index::segment::{Node, kind};
use model::{AttrStats, IndexStore, MemoryStore};
use storage_core::StorageExt;

#[test]
fn a_root_without_statistics_opens_and_the_next_job_counts_them() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 64 << 20, index::TreeConfig::default());
    let mut w = Writer::create(&rt, &seg, "stats");
    let mut generator = Generator::new(7);
    w.tx(&rt, SCHEMA);
    for _ in 0..5 {
        let text = generator.tx_text(&w.db, 20, 10);
        let report = w.tx(&rt, &text);
        generator.created(&report);
    }
    let job = w.index(&rt);
    let age =
        w.db.attribute_named(&model::edn::Keyword::new(":p/age"))
            .unwrap()
            .id;
    let exact = MemoryStore::index(&w.reference, job.basis_t).unwrap();
    assert_eq!(job.store().attribute_stats(age), exact.attribute_stats(age));
    assert!(exact.attribute_stats(age).unwrap().datoms >= 50);

    // The same index root as an older version wrote it: no statistics.
    let mut old = job.store().index_root().clone();
    old.stats = None;
    let old_id = rt
        .block_on(storage.put_frame(kind::INDEX_ROOT, &Node::IndexRoot(Box::new(old)).encode()))
        .unwrap();
    let mut root = w.root.clone();
    root.index = Some(old_id);
    w.cas(&rt, root);
    let reader = w.reopen(&rt, &seg);
    assert_eq!(reader.store().attribute_stats(age), None);
    assert_eq!(
        reader.attribute_stats(age),
        None,
        "no statistics: planners estimate"
    );
    let found = query_count(&reader, age);
    assert_eq!(found, exact.attribute_stats(age).unwrap().datoms as usize);

    // The next job on that root counts the statistics once.
    w.db = reader;
    let text = generator.tx_text(&w.db, 5, 5);
    let report = w.tx(&rt, &text);
    generator.created(&report);
    let job = w.index(&rt);
    let exact = MemoryStore::index(&w.reference, job.basis_t).unwrap();
    let counted: Option<AttrStats> = job.store().attribute_stats(age);
    assert_eq!(counted, exact.attribute_stats(age));
    assert!(
        job.store()
            .index_root()
            .stats
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    );
}

/// The datoms of attribute `a`, read through the merge.
fn query_count(db: &model::Db, a: u64) -> usize {
    db.datoms(model::Index::Aevt, &[model::Value::Ref(a)])
        .unwrap()
        .count()
}
