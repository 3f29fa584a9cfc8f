//! Large values never stop indexing (issue 14 item 2): leaves and branches
//! are split by bytes, branch keys are short separators, and any mix of
//! value sizes up to the model's limit indexes and reads back identically.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use index::TreeConfig;
use index::segment::Node;
use model::limits::{MAX_TX_BYTES, MAX_TX_DATOM_BYTES, MAX_VALUE_BYTES};
use model::{Index, Layer};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SCHEMA: &str = r#"[
 {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/one :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/blob :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]"#;

/// `len` bytes of letters and digits (no EDN escapes), seeded.
fn random_text(rng: &mut StdRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A writer over the default tree shape (the real segment limits).
fn writer(rt: &tokio::runtime::Runtime) -> (Writer, Option<tempfile::TempDir>) {
    let (storage, dir) = storage(rt, Backend::Mem);
    let seg = segments(rt, &storage, 64 << 20, TreeConfig::default());
    let mut w = Writer::create(rt, &seg, "large");
    w.tx(rt, SCHEMA);
    (w, dir)
}

/// Every index leaf of more than one datom is within the leaf limit (a
/// large datom never shares a leaf that would take it over).
fn assert_leaves_split_by_bytes(rt: &tokio::runtime::Runtime, w: &Writer, what: &str) {
    let limit = w.seg.config().index_leaf_bytes;
    let reachable = rt
        .block_on(index::reachable_segments(&w.seg, &w.root))
        .unwrap();
    for r in reachable
        .iter()
        .filter(|r| r.kind == index::segment::kind::INDEX_LEAF)
    {
        let bytes = rt
            .block_on(w.seg.storage.get_segment(r.id))
            .unwrap()
            .unwrap();
        let frame = storage_core::codec::decode(&bytes).unwrap();
        let Node::IndexLeaf(leaf) = Node::decode(frame.kind, &frame.payload).unwrap() else {
            panic!("{what}: {} is not an index leaf", r.id);
        };
        let size = model::codec::encode_datoms(&leaf.datoms).len();
        assert!(
            leaf.datoms.len() == 1 || size <= limit + 16,
            "{what}: a leaf of {} datoms and {size} bytes",
            leaf.datoms.len()
        );
    }
}

/// Indexes, then checks that the writer and a fresh reader read exactly
/// what the all-novelty reference holds.
fn index_and_compare(rt: &tokio::runtime::Runtime, w: &mut Writer, what: &str) {
    w.index(rt);
    assert_leaves_split_by_bytes(rt, w, what);
    for db in [w.db.clone(), w.reopen(rt, &w.seg)] {
        assert_eq!(everything(&db), everything(&w.reference), "{what}: current");
        assert_eq!(
            everything(&db.history()),
            everything(&w.reference.history()),
            "{what}: history"
        );
    }
}

#[test]
fn eight_transactions_of_one_megabyte_index() {
    let rt = runtime();
    let (mut w, _dir) = writer(&rt);
    let mut rng = StdRng::seed_from_u64(8);
    for i in 0..8 {
        let text = random_text(&mut rng, 1_000_000);
        w.tx(&rt, &format!(r#"[{{:p/name "n{i}" :p/blob "{text}"}}]"#));
    }
    index_and_compare(&rt, &mut w, "eight 1 MB strings");
}

#[test]
fn ten_transactions_of_eighty_40_kb_strings_index() {
    let rt = runtime();
    let (mut w, _dir) = writer(&rt);
    let mut rng = StdRng::seed_from_u64(10);
    for i in 0..10 {
        let forms: Vec<String> = (0..80)
            .map(|j| {
                let text = random_text(&mut rng, 40_000);
                format!(r#"{{:p/name "n{i}-{j}" :p/blob "{text}"}}"#)
            })
            .collect();
        w.tx(&rt, &format!("[{}]", forms.join("\n")));
    }
    index_and_compare(&rt, &mut w, "ten tx of 80 40 KB strings");
}

#[test]
fn small_strings_then_the_largest_value_index() {
    let rt = runtime();
    let (mut w, _dir) = writer(&rt);
    let forms: Vec<String> = (0..1800)
        .map(|i| format!(r#"{{:p/name "small-{i}" :p/one "s{i}"}}"#))
        .collect();
    w.tx(&rt, &format!("[{}]", forms.join("\n")));
    let mut rng = StdRng::seed_from_u64(1800);
    // The largest value a transaction may carry, sorting among the small ones.
    let text = random_text(&mut rng, MAX_VALUE_BYTES - 8);
    w.tx(
        &rt,
        &format!(r#"[{{:p/name "small-900x" :p/one "s900{text}"}}]"#),
    );
    index_and_compare(&rt, &mut w, "1,800 small strings and the largest value");
}

/// Identical large values (AVET keys cannot be shortened) and values that
/// share all but their last bytes (nor can EAVT keys): branches split by
/// bytes still fit.
#[test]
fn large_values_that_no_short_key_separates_index() {
    let rt = runtime();
    let (mut w, _dir) = writer(&rt);
    let mut rng = StdRng::seed_from_u64(3);
    let same = random_text(&mut rng, MAX_VALUE_BYTES - 16);
    for i in 0..8 {
        w.tx(
            &rt,
            &format!(r#"[{{:p/name "same-{i}" :p/blob "{same}"}} {{:p/name "prefix" :p/blob "{same}{i}"}}]"#),
        );
    }
    // And retract some, so history holds them too.
    for i in 0..3 {
        w.tx(
            &rt,
            &format!(r#"[[:db/retract [:p/name "prefix"] :p/blob "{same}{i}"]]"#),
        );
    }
    index_and_compare(&rt, &mut w, "values without short separators");
    let store = w.index(&rt).store();
    let avet = w.reference.datoms(Index::Avet, &[]).unwrap().count() as u64;
    assert_eq!(store.count(Index::Avet, Layer::Current), avet);
}

/// One value to transact: its entity, attribute and text.
#[derive(Clone, Debug)]
struct Put {
    entity: u8,
    many: bool,
    len: usize,
    shared_prefix: bool,
    seed: u64,
}

fn put() -> impl Strategy<Value = Put> {
    let len = prop_oneof![
        3 => 1usize..200,
        2 => 1_000usize..70_000,
        2 => 200_000usize..=MAX_VALUE_BYTES - 32,
    ];
    (0u8..4, any::<bool>(), len, any::<bool>(), any::<u64>()).prop_map(
        |(entity, many, len, shared_prefix, seed)| Put {
            entity,
            many,
            len,
            shared_prefix,
            seed,
        },
    )
}

impl Put {
    fn form(&self) -> String {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let text = match self.shared_prefix {
            // All-but-the-end equal: the hardest case for short keys.
            true => format!(
                "{}{}",
                "p".repeat(self.len.saturating_sub(4)),
                random_text(&mut rng, 4)
            ),
            false => random_text(&mut rng, self.len),
        };
        let attr = if self.many { ":p/blob" } else { ":p/one" };
        format!(r#"{{:p/name "n{}" {attr} "{text}"}}"#, self.entity)
    }
}

/// Transactions of the puts in order, each under the tx data limit and
/// the datom limit (counting the retraction of the value a cardinality-one
/// put replaces), with at most one cardinality-one value per entity.
fn transactions(puts: &[Put]) -> Vec<String> {
    let mut txs = Vec::new();
    let mut forms: Vec<String> = Vec::new();
    let (mut text_bytes, mut datom_bytes) = (2, 0);
    let mut ones = std::collections::HashSet::new();
    let mut current_one = std::collections::HashMap::new();
    for p in puts {
        let form = p.form();
        let replaced = match p.many {
            true => 0,
            false => current_one.get(&p.entity).copied().unwrap_or(0),
        };
        let datoms = form.len() + replaced + 64;
        let clash = !p.many && ones.contains(&p.entity);
        let full = text_bytes + form.len() + 1 > MAX_TX_BYTES
            || datom_bytes + datoms > MAX_TX_DATOM_BYTES - 4096;
        if !forms.is_empty() && (clash || full) {
            txs.push(format!("[{}]", forms.join("\n")));
            (forms, text_bytes, datom_bytes) = (Vec::new(), 2, 0);
            ones.clear();
        }
        if !p.many {
            ones.insert(p.entity);
            current_one.insert(p.entity, p.len);
        }
        text_bytes += form.len() + 1;
        datom_bytes += datoms;
        forms.push(form);
    }
    if !forms.is_empty() {
        txs.push(format!("[{}]", forms.join("\n")));
    }
    txs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if long() { 64 } else { 6 }, ..ProptestConfig::default() })]

    /// Random value sizes up to the limit, in random order, indexed now
    /// and then: indexing always succeeds and reads back the same datoms.
    #[test]
    fn any_mix_of_value_sizes_indexes(puts in prop::collection::vec(put(), 1..24), every in 1usize..4) {
        let rt = runtime();
        let (mut w, _dir) = writer(&rt);
        for (i, text) in transactions(&puts).iter().enumerate() {
            w.tx(&rt, text);
            if i % every == every - 1 {
                index_and_compare(&rt, &mut w, &format!("after tx {i}"));
            }
        }
        index_and_compare(&rt, &mut w, "at the end");
    }
}
