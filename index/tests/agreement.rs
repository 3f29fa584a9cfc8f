//! The durable store agrees with model's all-novelty database value and with
//! `MemoryStore` on every index, layer, time view and log range, for seeded
//! random transactions over several indexing rounds, on mem and file
//! storage, read by the writer and by fresh readers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use index::TreeConfig;
use model::{Datom, Index, IndexStore, Layer, MemoryStore, Value};

/// Every datom of one layer of a persistent store.
fn layer(store: &dyn IndexStore, index: Index, layer: Layer) -> Vec<Datom> {
    let from = Datom::new(0, 0, Value::MIN, 0, false);
    store
        .seek(index, layer, &from)
        .unwrap()
        .map(|d| d.unwrap())
        .collect()
}

fn run(backend: Backend, seed: u64, rounds: usize, txs_per_round: usize, config: TreeConfig) {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, backend);
    let seg = segments(&rt, &storage, 64 << 20, config);
    let mut w = Writer::create(&rt, &seg, "agree");
    let mut generator = Generator::new(seed);
    w.tx(&rt, SCHEMA);
    let mut last = None;
    for round in 0..rounds {
        for _ in 0..txs_per_round {
            let text = generator.tx_text(&w.db, 3, 4);
            let report = w.tx(&rt, &text);
            generator.created(&report);
        }
        let what = format!("{backend:?} seed {seed} round {round}");
        // Index only some rounds, so novelty spans index jobs too.
        if round % 3 != 2 {
            let job = w.index(&rt);
            assert_eq!(job.basis_t, w.reference.basis_t());
            let store = job.store();
            let memory = MemoryStore::index(&w.reference, job.basis_t).unwrap();
            for index in Index::ALL {
                for l in [Layer::Current, Layer::History] {
                    assert_eq!(
                        layer(store.as_ref(), index, l),
                        layer(&memory, index, l),
                        "{what}: {index} {l:?}"
                    );
                    assert_eq!(
                        store.count(index, l),
                        memory.len(index, l) as u64,
                        "{what}: count of {index} {l:?}"
                    );
                }
            }
            assert_eq!(store.next_t(), memory.next_t(), "{what}: next t");
            // Attribute statistics kept incrementally by the jobs equal the
            // exact counts of the whole current AVET layer.
            let mut attrs: Vec<u64> = layer(&memory, Index::Aevt, Layer::Current)
                .iter()
                .map(|d| d.a())
                .collect();
            attrs.extend(store.index_root().stats.iter().flatten().map(|s| s.attr));
            attrs.sort_unstable();
            attrs.dedup();
            for a in attrs {
                assert_eq!(
                    store.attribute_stats(a),
                    memory.attribute_stats(a),
                    "{what}: statistics of attribute {a}"
                );
            }
            last = Some(store);
        }
        assert_same_reads(&w.db, &w.reference, &w.ts, &format!("{what}, writer"));
        // A fresh reader with a small cache of its own.
        let reader = segments(&rt, &storage, 256 << 10, config);
        let opened = w.reopen(&rt, &reader);
        assert_same_reads(&opened, &w.reference, &w.ts, &format!("{what}, reader"));
    }
    // The run exercised what it claims to: history, and deep trees when tiny.
    let store = last.expect("at least one indexing round");
    assert!(store.count(Index::Eavt, Layer::History) > 0);
    assert!(store.count(Index::Vaet, Layer::Current) > 0);
    if config == TreeConfig::tiny() {
        let eavt = store
            .index_root()
            .tree(Index::Eavt, Layer::Current)
            .unwrap();
        assert!(eavt.height >= 2, "height {}", eavt.height);
        assert!(
            w.root.log.is_some_and(|l| l.height >= 1),
            "{:?}",
            w.root.log
        );
    }
}

fn random_rounds_agree_on_mem_and_file_with_deep_trees(backend: Backend) {
    run(backend, 7, 6, 8, TreeConfig::tiny());
}

storage_core::per_backend! {
    #[test]
    fn random_rounds_agree_on_mem_and_file_with_deep_trees for Backend { mem = Mem, file = File }
}

#[test]
fn random_rounds_agree_with_default_tree_shape() {
    run(Backend::Mem, 11, 4, 10, TreeConfig::default());
}

#[test]
#[ignore = "long: ACCRETE_LONG=1 cargo test -- --ignored"]
fn many_seeds_agree() {
    for seed in 100..130 {
        for backend in BACKENDS {
            run(backend, seed, 10, 12, TreeConfig::tiny());
        }
    }
}

#[test]
fn trees_shrink_and_lose_levels_when_their_datoms_go() {
    let rt = runtime();
    let (storage, _dir) = storage(&rt, Backend::Mem);
    let seg = segments(&rt, &storage, 8 << 20, TreeConfig::tiny());
    let mut w = Writer::create(&rt, &seg, "shrink");
    w.tx(&rt, SCHEMA);
    let mut people = Vec::new();
    for batch in 0..6 {
        let forms: Vec<String> = (0..40)
            .map(|i| format!(r#"{{:db/id "p{i}" :p/email "s{batch}-{i}@x" :p/age {i}}}"#))
            .collect();
        let report = w.tx(&rt, &format!("[{}]", forms.join(" ")));
        people.extend(report.tempids.values().copied());
    }
    let tall = w.index(&rt).store();
    let height = |s: &index::DurableStore| {
        s.index_root()
            .tree(Index::Aevt, Layer::Current)
            .map(|t| t.height)
    };
    let before = height(&tall).unwrap();
    assert!(before >= 3, "{before}");
    for chunk in people[1..].chunks(60) {
        let forms: Vec<String> = chunk
            .iter()
            .map(|e| format!("[:db/retractEntity {e}]"))
            .collect();
        w.tx(&rt, &format!("[{}]", forms.join(" ")));
    }
    let small = w.index(&rt).store();
    let after = height(&small).unwrap();
    assert!(after < before, "{after} < {before}");
    assert_same_reads(&w.db, &w.reference, &w.ts, "shrunk");
    let reader = segments(&rt, &storage, 1 << 20, TreeConfig::tiny());
    assert_same_reads(
        &w.reopen(&rt, &reader),
        &w.reference,
        &w.ts,
        "shrunk, reader",
    );
}
