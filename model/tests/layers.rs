//! The two index layers: a persistent layer (here the in-memory
//! `MemoryStore`) merged with novelty reads exactly like all-novelty, across
//! as_of, since and history; and replaying the log rebuilds identical values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::{Datom, Db, Error, Index, IndexStore, Layer, MemoryStore, Result, TxLog, Value};
use std::sync::Arc;

fn everything(db: &Db) -> Vec<Vec<Datom>> {
    Index::ALL.iter().map(|i| all(db, *i, &[])).collect()
}

/// A history of changes: creates, updates, retractions, retractEntity.
fn busy_db() -> (Db, Vec<u64>) {
    let mut db = social();
    let mut ts = vec![db.basis_t()];
    for i in 0..6 {
        let text = format!(
            r#"[{{:db/id "u{i}" :user/email "u{i}@x" :user/firstName "F{i}"}} {{:db/id "s{i}" :story/url "http://s/{i}" :story/title "T{i}"}}
                [:db/add "u{i}" :user/upVotes "s{i}"]]"#
        );
        db = tx(&db, &text).db_after;
        ts.push(db.basis_t());
    }
    for i in 0..6 {
        db = renamed_and_untitled(&db, i);
        ts.push(db.basis_t());
    }
    db = tx(&db, r#"[[:db/retractEntity [:user/email "u0@x"]] [:db/retractEntity [:story/url "http://s/1"]]]"#).db_after;
    ts.push(db.basis_t());
    (db, ts)
}

/// `db` after user `i` is renamed (a card-one value replaced) and story
/// `i` loses its title (a retraction).
fn renamed_and_untitled(db: &Db, i: usize) -> Db {
    let text = format!(
        r#"[[:db/add [:user/email "u{i}@x"] :user/firstName "G{i}"] [:db/retract [:story/url "http://s/{i}"] :story/title "T{i}"]]"#
    );
    tx(db, &text).db_after
}

fn assert_same_reads(a: &Db, b: &Db, ts: &[u64]) {
    assert_eq!(everything(a), everything(b), "current");
    assert_eq!(
        everything(&a.history()),
        everything(&b.history()),
        "history"
    );
    for &t in ts {
        assert_eq!(
            everything(&a.as_of(t).unwrap()),
            everything(&b.as_of(t).unwrap()),
            "as of {t}"
        );
        assert_eq!(
            everything(&a.since(t).unwrap()),
            everything(&b.since(t).unwrap()),
            "since {t}"
        );
        assert_eq!(
            everything(&a.history().as_of(t).unwrap()),
            everything(&b.history().as_of(t).unwrap()),
            "history as of {t}"
        );
    }
}

/// [`busy_db`] with large transactions among the small ones: their
/// assertions go into novelty as sorted runs (which merge), and later
/// small transactions retract and replace datoms of those runs.
fn busy_bulk_db() -> (Db, Vec<u64>) {
    let mut db = social();
    let mut ts = vec![db.basis_t()];
    let bulk = |from: usize, to: usize| {
        let mut text = String::from("[");
        for i in from..to {
            text.push_str(&format!(
                r#"{{:db/id "u{i}" :user/email "u{i}@x" :user/firstName "F{i}"}} {{:db/id "s{i}" :story/url "http://s/{i}" :story/title "T{i}"}} [:db/add "u{i}" :user/upVotes "s{i}"]"#
            ));
            if i > from {
                text.push_str(&format!(r#" [:db/add "u{i}" :user/upVotes "s{}"]"#, i - 1));
            }
        }
        text.push(']');
        text
    };
    // 100 people make about 600 datoms: each of these is a run.
    for (from, to) in [(0, 100), (100, 220), (220, 320)] {
        let report = tx(&db, &bulk(from, to));
        assert!(
            report.tx_data.len() >= 512,
            "a run: {}",
            report.tx_data.len()
        );
        db = report.db_after;
        ts.push(db.basis_t());
    }
    for i in [0, 5, 150, 299] {
        db = renamed_and_untitled(&db, i);
        ts.push(db.basis_t());
    }
    db = tx(&db, r#"[[:db/retractEntity [:user/email "u1@x"]] [:db/retractEntity [:story/url "http://s/200"]]]"#).db_after;
    ts.push(db.basis_t());
    // A retracted fact asserted again, in a run of its own.
    let mut again = bulk(320, 420);
    again.insert_str(
        1,
        r#"[:db/add [:story/url "http://s/5"] :story/title "T5"] "#,
    );
    db = tx(&db, &again).db_after;
    ts.push(db.basis_t());
    (db, ts)
}

#[test]
fn indexing_at_every_point_reads_the_same() {
    let (db, ts) = busy_db();
    reads_the_same_indexed_at_every_point(&db, &ts);
}

#[test]
fn large_transactions_read_the_same_indexed_at_every_point() {
    let (db, ts) = busy_bulk_db();
    reads_the_same_indexed_at_every_point(&db, &ts);
    let upvotes = all(&db, Index::Vaet, &[]).len();
    assert!(upvotes >= 500, "refs of runs are in VAET: {upvotes}");
}

fn reads_the_same_indexed_at_every_point(db: &Db, ts: &[u64]) {
    let db = db.clone();
    for &split in ts {
        let store = Arc::new(MemoryStore::index(&db, split).unwrap());
        assert_eq!(store.basis_t(), Some(split));
        let rebased = db.rebase(store.clone()).unwrap();
        assert!(
            rebased.novelty_len() < db.novelty_len()
                || split == *ts.last().unwrap()
                || split == ts[0]
        );
        assert_same_reads(&db, &rebased, ts);
        assert_eq!(rebased.next_t(), db.next_t());
        assert_eq!(
            rebased.schema().attributes().count(),
            db.schema().attributes().count()
        );
        // Transactions on the rebased value behave the same as on the original.
        let text = r#"[[:db/add [:user/email "u2@x"] :user/firstName "H"] {:db/id "n" :user/email "new@x"}]"#;
        let (a, b) = (tx(&db, text), tx(&rebased, text));
        assert_eq!(a.tx_data, b.tx_data, "split at {split}");
        assert_same_reads(&a.db_after, &b.db_after, ts);
    }
}

#[test]
fn the_persistent_layer_splits_current_and_history() {
    let (db, ts) = busy_db();
    let store = MemoryStore::index(&db, *ts.last().unwrap()).unwrap();
    let current = store.len(Index::Eavt, Layer::Current);
    let history = store.len(Index::Eavt, Layer::History);
    assert_eq!(current, all(&db, Index::Eavt, &[]).len());
    assert_eq!(
        current + history,
        all(&db.history(), Index::Eavt, &[]).len()
    );
    assert!(
        store.len(Index::Vaet, Layer::Current) < current,
        "VAET holds refs only"
    );
    // Once indexed, reads come from the persistent layer alone.
    let rebased = db.rebase(Arc::new(store)).unwrap();
    assert_eq!(rebased.novelty_len(), 0);
    assert_eq!(everything(&rebased), everything(&db));
}

#[test]
fn indexing_twice_merges_old_layer_and_novelty() {
    let (db, ts) = busy_db();
    let first = Arc::new(MemoryStore::index(&db, ts[4]).unwrap());
    let mid = db.rebase(first).unwrap();
    let second = Arc::new(MemoryStore::index(&mid, ts[9]).unwrap());
    let late = mid.rebase(second).unwrap();
    assert_same_reads(&db, &late, &ts);
    let novelty: Vec<Datom> = late
        .novelty_datoms(Index::Eavt, u64::MAX >> 2)
        .map(|d| d.unwrap())
        .collect();
    assert!(novelty.iter().all(|d| d.t() > ts[9]));
    assert!(!novelty.is_empty());
}

#[test]
fn no_history_attributes_leave_history_when_indexed() {
    let db = tx(&Db::new(), r#"[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}]"#).db_after;
    let r = tx(&db, r#"[{:db/id "x" :c/n 1}]"#);
    let x = r.tempid("x").unwrap();
    let db = tx(&r.db_after, &format!("[[:db/add {x} :c/n 2]]")).db_after;
    let hist = all(&db.history(), Index::Eavt, &[Value::Ref(x)]);
    assert_eq!(hist.len(), 1, "only the current value: {hist:?}");
    let store = MemoryStore::index(&db, db.basis_t()).unwrap();
    assert_eq!(
        store.len(Index::Aevt, Layer::History),
        all(&db.history(), Index::Aevt, &[]).len() - all(&db, Index::Aevt, &[]).len()
    );
    // The log keeps everything.
    let log: Vec<TxLog> = db
        .tx_range(None, None)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert!(
        log.iter()
            .flat_map(|e| e.data.iter())
            .any(|d| d.e() == x && !d.added())
    );
}

#[test]
fn replaying_the_log_rebuilds_an_identical_value() {
    let (db, ts) = busy_db();
    let mut replayed = Db::new();
    for entry in db.tx_range(Some(1), None).unwrap() {
        replayed = replayed.apply_tx(&entry.unwrap()).unwrap();
    }
    assert_same_reads(&db, &replayed, &ts);
    assert_eq!(replayed.next_t(), db.next_t());
    assert_eq!(replayed.basis_t(), db.basis_t());
    assert_eq!(replayed.last_tx_instant(), db.last_tx_instant());
    // Replaying on a rebased value too (a peer that loaded an index).
    let store = Arc::new(MemoryStore::index(&db, ts[5]).unwrap());
    let later: Vec<TxLog> = db
        .tx_range(Some(ts[5] + 1), None)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    let peer = Db::from_store(store, later).unwrap();
    assert_same_reads(&db, &peer, &ts);
}

#[test]
fn replay_refuses_entries_that_do_not_fit() {
    let (db, _) = busy_db();
    let last = db
        .tx_range(Some(db.basis_t()), None)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let err = db.apply_tx(&last).unwrap_err();
    assert!(matches!(err, Error::Replay { .. }), "{err}");
    let retract_missing = TxLog {
        t: db.next_t(),
        data: vec![Datom::new(
            1,
            10,
            Value::keyword(":nope"),
            model::t_to_tx(db.next_t()),
            false,
        )]
        .into(),
    };
    let err = db.apply_tx(&retract_missing).unwrap_err();
    assert!(
        err.to_string()
            .contains("retracts a fact that is not current"),
        "{err}"
    );
}

/// A persistent layer whose reads fail, as a storage outage would.
#[derive(Debug)]
struct Failing(MemoryStore);

impl IndexStore for Failing {
    fn basis_t(&self) -> Option<u64> {
        self.0.basis_t()
    }
    fn next_t(&self) -> u64 {
        self.0.next_t()
    }
    fn seek(&self, index: Index, layer: Layer, from: &Datom) -> Result<model::DatomIter<'_>> {
        let inner = self.0.seek(index, layer, from)?;
        let failure = std::iter::once(Err(Error::Storage {
            operation: "fetching a segment".into(),
            source: "disk on fire".into(),
        }));
        Ok(Box::new(inner.take(1).chain(failure)))
    }
    fn tx_range(&self, from_t: u64, until_t: Option<u64>) -> Result<model::TxLogIter<'_>> {
        self.0.tx_range(from_t, until_t)
    }
}

#[test]
fn storage_failures_surface_as_errors() {
    let (db, _) = busy_db();
    let store = MemoryStore::index(&db, db.basis_t()).unwrap();
    let failing = Db::from_store(Arc::new(Failing(store.clone())), vec![]);
    // Loading the schema reads the layer, so the failure shows at once.
    let err = failing.unwrap_err();
    assert!(err.is_storage(), "{err}");
    assert!(err.to_string().contains("disk on fire"));
    let good = db.rebase(Arc::new(store)).unwrap();
    let results: Vec<_> = good.datoms(Index::Eavt, &[]).unwrap().collect();
    assert!(results.iter().all(|r| r.is_ok()));
}

#[test]
fn no_history_retractions_of_indexed_datoms_hide_them_in_every_view() {
    let db = tx(&Db::new(), r#"[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}]"#).db_after;
    let r = tx(&db, r#"[{:db/id "x" :c/n 1}]"#);
    let x = r.tempid("x").unwrap();
    let indexed = r
        .db_after
        .rebase(Arc::new(MemoryStore::index(&r.db_after, r.t()).unwrap()))
        .unwrap();
    let db = tx(&indexed, &format!("[[:db/retract {x} :c/n 1]]")).db_after;
    for view in [
        db.clone(),
        db.history(),
        db.as_of(db.basis_t()).unwrap(),
        db.as_of(r.t()).unwrap(),
    ] {
        assert!(
            all(&view, Index::Eavt, &[Value::Ref(x)]).is_empty(),
            "{view:?}"
        );
    }
}
