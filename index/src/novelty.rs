//! The edits an indexing job makes to each tree: the novelty of a database
//! value merged, fact by fact, with what the old trees hold about the fact.

use model::{Datom, Db, Index, Layer, Value};

use crate::error::Result;
use crate::store::DurableStore;
use crate::tree::{Cursor, Edit};

/// The edits of one index's current and history trees.
pub(crate) struct IndexEdits {
    pub(crate) current: Vec<Edit>,
    pub(crate) history: Vec<Edit>,
    /// How many novelty datoms were merged.
    pub(crate) merged: u64,
}

/// What the old trees hold about one fact, read by cursors that only move
/// forward (facts come in index order).
struct OldFacts<'a> {
    store: Option<&'a DurableStore>,
    index: Index,
    current: Option<Cursor>,
    history: Option<Cursor>,
    /// The entity-id counter after the old trees: an entity counted from
    /// here on was allocated after them, so they hold nothing about it.
    fresh_from: u64,
}

impl<'a> OldFacts<'a> {
    fn new(store: Option<&'a DurableStore>, index: Index) -> Result<Self> {
        let start = Datom::new(0, 0, Value::MIN, 0, false);
        let cursor = |layer| store.map(|s| s.cursor(index, layer, &start)).transpose();
        Ok(OldFacts {
            store,
            index,
            current: cursor(Layer::Current)?,
            history: cursor(Layer::History)?,
            fresh_from: store.map_or(0, |s| s.index_root().next_t),
        })
    }

    /// True when the old trees may hold datoms of `entity`'s facts.
    fn may_hold(&self, entity: u64) -> bool {
        self.store.is_some() && model::counter_of(entity) < self.fresh_from
    }

    /// The old datoms of the fact `key` in one layer.
    fn of(&mut self, layer: Layer, key: &Datom) -> Result<Vec<Datom>> {
        let Some(store) = self.store else {
            return Ok(Vec::new());
        };
        let cursor = match layer {
            Layer::Current => self.current.as_mut(),
            Layer::History => self.history.as_mut(),
        };
        let Some(cursor) = cursor else {
            return Ok(Vec::new());
        };
        cursor.advance_to(store.index_root().tree(self.index, layer), key)?;
        let mut found = Vec::new();
        while let Some(d) = cursor.peek()? {
            if !d.same_fact(key) {
                break;
            }
            found.push(d.clone());
            cursor.step();
        }
        Ok(found)
    }
}

/// The edits that merge `db`'s novelty up to `until_t` into the trees of
/// `index` in `old` (`None`: no trees yet).
pub(crate) fn index_edits(
    db: &Db,
    old: Option<&DurableStore>,
    index: Index,
    until_t: u64,
) -> Result<IndexEdits> {
    let mut facts = OldFacts::new(old, index)?;
    let mut edits = IndexEdits {
        current: Vec::new(),
        history: Vec::new(),
        merged: 0,
    };
    let mut group: Vec<Datom> = Vec::new();
    for d in db.novelty_datoms(index, until_t) {
        let d = d?;
        edits.merged += 1;
        if group.first().is_some_and(|g| !g.same_fact(&d)) {
            fact_edits(db, index, &mut facts, &mut group, &mut edits)?;
        }
        group.push(d);
    }
    if !group.is_empty() {
        fact_edits(db, index, &mut facts, &mut group, &mut edits)?;
    }
    Ok(edits)
}

/// The edits for one fact: the old datoms and the novelty together, split
/// into the current assertion and the history, as a full rebuild would.
/// Takes the fact's novelty out of `novelty` (a buffer kept for the next
/// fact).
fn fact_edits(
    db: &Db,
    index: Index,
    facts: &mut OldFacts<'_>,
    novelty: &mut Vec<Datom>,
    edits: &mut IndexEdits,
) -> Result<()> {
    // Facts of entities newer than the old trees (an import's, mostly)
    // need no look at them: the cursors move on at the next old entity.
    let (old_current, old_history) = match facts.may_hold(novelty[0].e()) {
        false => (Vec::new(), Vec::new()),
        true => {
            let key = novelty[0].with_op(0, false);
            (
                facts.of(Layer::Current, &key)?,
                facts.of(Layer::History, &key)?,
            )
        }
    };
    let no_history = db.attribute(novelty[0].a()).is_some_and(|a| a.no_history);
    if old_current.is_empty() && old_history.is_empty() {
        // Nothing old about the fact (the common case of new data): its
        // novelty, in order and distinct already, is all there is, and
        // every datom is a put.
        let current = match novelty.last() {
            Some(d) if d.added() => novelty.pop(),
            _ => None,
        };
        edits.current.extend(current.map(Edit::Put));
        match no_history {
            true => novelty.clear(),
            false => edits.history.extend(novelty.drain(..).map(Edit::Put)),
        }
        return Ok(());
    }
    let mut all = old_current.clone();
    all.extend(old_history.iter().cloned());
    all.append(novelty);
    all.sort_by(|x, y| index.compare(x, y));
    all.dedup();
    let current: Vec<Datom> = match all.last() {
        Some(d) if d.added() => all.pop().into_iter().collect(),
        _ => Vec::new(),
    };
    let history = if no_history { Vec::new() } else { all };
    diff(index, &old_current, &current, &mut edits.current);
    diff(index, &old_history, &history, &mut edits.history);
    Ok(())
}

/// Appends the edits that turn sorted `old` into sorted `new`, in order.
fn diff(index: Index, old: &[Datom], new: &[Datom], out: &mut Vec<Edit>) {
    let start = out.len();
    out.extend(
        old.iter()
            .filter(|d| !new.contains(d))
            .cloned()
            .map(Edit::Delete),
    );
    out.extend(
        new.iter()
            .filter(|d| !old.contains(d))
            .cloned()
            .map(Edit::Put),
    );
    out[start..].sort_by(|x, y| index.compare(x.datom(), y.datom()));
}
