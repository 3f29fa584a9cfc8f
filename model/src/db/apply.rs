//! Applying a transaction's resolved datoms to a database value. Both
//! `transact` and log replay go through here, so they build identical values.

use super::{Db, State};
use crate::datom::{Datom, EntityId, counter_of};
use crate::error::{Error, Result};
use crate::index::sorted::RUN_MIN;
use crate::index::{Index, Layer};
use crate::log::TxLog;
use crate::schema::bootstrap as b;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Attributes whose datoms change what the schema cache says.
fn is_schema_attribute(a: EntityId) -> bool {
    a == b::IDENT || (b::VALUE_TYPE..=b::TUPLE_TYPES).contains(&a)
}

impl Db {
    /// Applies an already-resolved transaction (from the log or a peer's tx
    /// report) to this value. The result equals the value the transactor
    /// built when it ran the transaction.
    pub fn apply_tx(&self, entry: &TxLog) -> Result<Db> {
        self.apply(entry, true)
    }

    /// Applies an entry this value's database applied before, onto a newer
    /// persistent layer (a rebase after an indexing job): as
    /// [`Db::apply_tx`], but its assertions were checked when it was first
    /// applied and are not checked again. A retraction of a fact that is
    /// not current is still refused (excision may have removed it).
    pub fn reapply_tx(&self, entry: &TxLog) -> Result<Db> {
        self.apply(entry, false)
    }

    /// Applies `entry`; `check` verifies each datom against the indexes (for
    /// replays of data from outside).
    pub(crate) fn apply(&self, entry: &TxLog, check: bool) -> Result<Db> {
        let fail = |message: String| Error::Replay {
            t: entry.t,
            message,
        };
        let fresh = self.state.novelty.log.is_empty() && self.state.store.is_empty();
        if !fresh && entry.t < self.state.next_t {
            return Err(fail(format!(
                "t must be at least the next t {}",
                self.state.next_t
            )));
        }
        let mut state: State = (*self.state).clone();
        let mut touched = BTreeSet::new();
        // A large transaction of assertions only (an import's batch) goes
        // into novelty as one sorted run; any other datom by datom.
        let bulk = entry.data.len() >= RUN_MIN && entry.data.iter().all(Datom::added);
        let mut one_by_one = !bulk;
        if bulk {
            for d in entry.data.iter() {
                check_assertion(&state, d, check).map_err(fail)?;
            }
            let schema = state.schema.clone();
            let is_ref = |a| schema.attribute(a).is_some_and(|at| at.is_ref());
            // A fact stated twice: the datom-by-datom path says what it does.
            one_by_one = state
                .novelty
                .current
                .insert_run(entry.data.clone(), &is_ref)
                .is_err();
        }
        for d in entry.data.iter() {
            if one_by_one {
                apply_datom(&mut state, d, check).map_err(fail)?;
            }
            if is_schema_attribute(d.a()) {
                touched.insert(d.e());
            }
            if let (b::INSTALL_PARTITION, Some(p)) = (d.a(), d.v().as_ref_id()) {
                Arc::make_mut(&mut state.schema).set_partition(p, d.added());
            }
            if let (true, crate::value::Value::Instant(i)) = (
                d.e() == entry.tx() && d.a() == b::TX_INSTANT && d.added(),
                d.v(),
            ) {
                state.last_instant = *i;
            }
            state.next_t = state.next_t.max(counter_of(d.e()) + 1);
        }
        state.basis_t = entry.t;
        state.next_t = state.next_t.max(entry.t + 1);
        let encoded = crate::codec::encode_tx_log(entry);
        state.novelty.log.insert(entry.t, encoded.into());
        let mut db = Db {
            state: Arc::new(state),
            view: Default::default(),
        };
        db.refresh_schema(&touched).map_err(fail)?;
        Ok(db)
    }

    /// Re-derives the schema of the entities whose schema datoms changed.
    /// Composite tuples are refreshed last: they read their parts' types.
    pub(crate) fn refresh_schema(&mut self, touched: &BTreeSet<EntityId>) -> Result<(), String> {
        if touched.is_empty() {
            return Ok(());
        }
        let mut updates = Vec::new();
        for &e in touched {
            let datoms = self
                .entity_datoms_current(e)
                .map_err(|err| err.to_string())?;
            let composite = datoms.iter().any(|d| d.a() == b::TUPLE_ATTRS);
            updates.push((composite, e, datoms));
        }
        updates.sort_by_key(|(composite, e, _)| (*composite, *e));
        let mut schema = (*self.state.schema).clone();
        for (_, e, datoms) in updates {
            schema.refresh(e, &datoms)?;
        }
        Arc::make_mut(&mut self.state).schema = Arc::new(schema);
        Ok(())
    }

    /// All current datoms of `e` at the latest basis.
    pub(crate) fn entity_datoms_current(&self, e: EntityId) -> Result<Vec<Datom>> {
        let from = Datom::new(e, 0, crate::value::Value::MIN, 0, false);
        self.latest()
            .scan(Index::Eavt, &from)?
            .take_while(|r| r.as_ref().map_or(true, |d| d.e() == e))
            .collect()
    }
}

/// The attribute of `d`, and, when `check`ing an assertion, that its fact
/// is not already current.
fn check_assertion<'s>(
    state: &'s State,
    d: &Datom,
    check: bool,
) -> Result<&'s Arc<crate::schema::Attribute>, String> {
    let attr = state
        .schema
        .attribute(d.a())
        .ok_or_else(|| format!("{} is not an attribute", d.a()))?;
    if d.added() && check && is_current(state, d)? {
        return Err(format!("{d} asserts a fact that is already current"));
    }
    Ok(attr)
}

/// Puts one datom into the novelty of `state`.
fn apply_datom(state: &mut State, d: &Datom, check: bool) -> Result<(), String> {
    let is_ref = check_assertion(state, d, check)?.is_ref();
    if d.added() {
        state.novelty.current.insert(Arc::new(d.clone()), is_ref);
        return Ok(());
    }
    let novelty = &mut state.novelty;
    if let Some(asserted) = novelty.current.find_fact(d).cloned() {
        novelty.current.remove(&asserted, is_ref);
        let asserted = Arc::new(asserted);
        // `:db/noHistory` datoms stay in novelty so that indexing at any
        // earlier t is exact; reads hide them and indexing drops them.
        novelty.history.insert(asserted, is_ref);
        novelty.history.insert(Arc::new(d.clone()), is_ref);
        return Ok(());
    }
    if !persisted_current(state, d)? {
        return Err(format!("{d} retracts a fact that is not current"));
    }
    // The assertion lives in the persistent layer: hide it there and keep the
    // retraction so time views see when it ended.
    let novelty = &mut state.novelty;
    novelty.retired.insert((d.e(), d.a(), d.v().clone()));
    novelty.history.insert(Arc::new(d.clone()), is_ref);
    Ok(())
}

fn is_current(state: &State, d: &Datom) -> Result<bool, String> {
    if state.novelty.current.find_fact(d).is_some() {
        return Ok(true);
    }
    persisted_current(state, d)
}

/// True when the fact is current in the persistent layer and not retired.
fn persisted_current(state: &State, d: &Datom) -> Result<bool, String> {
    // Every entity of the persistent layer was made before its basis, so
    // its counter is under the layer's next t: a later one (a new entity,
    // the transaction itself) has nothing there, and needs no seek.
    if state.store.is_empty()
        || counter_of(d.e()) >= state.store.next_t()
        || state
            .novelty
            .retired
            .contains(&(d.e(), d.a(), d.v().clone()))
    {
        return Ok(false);
    }
    let from = d.with_op(0, false);
    let mut found = state
        .store
        .seek(Index::Eavt, Layer::Current, &from)
        .map_err(|e| e.to_string())?;
    match found.next() {
        Some(Ok(x)) => Ok(x.same_fact(d)),
        Some(Err(e)) => Err(e.to_string()),
        None => Ok(false),
    }
}
