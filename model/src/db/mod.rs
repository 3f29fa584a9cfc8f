//! Database values: immutable, cheap to clone and keep, readable as of any
//! point in time.

mod apply;
mod entity;
mod indexing;
mod read;
mod resolve;
mod upgrade;

pub use entity::{Entity, EntityValue};
pub use read::Components;

use crate::datom::{Datom, EntityId, t_to_tx, tx_to_t};
use crate::edn::{Instant, Keyword};
use crate::error::{Error, Result};
use crate::index::merge::TimeBounds;
use crate::index::sorted::IndexSets;
use crate::index::{EmptyStore, IndexStore};
use crate::schema::bootstrap::bootstrap_tx;
use crate::schema::{Attribute, Schema};
use crate::value::Value;
use std::fmt;
use std::sync::Arc;

/// A predicate that hides datoms from a filtered database value. It gets
/// the unfiltered database and the datom.
pub type DatomFilter = Arc<dyn Fn(&Db, &Datom) -> bool + Send + Sync>;

/// A point in time: a basis t, a transaction id, or a wall-clock instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimePoint {
    /// A basis t.
    T(u64),
    /// A transaction entity id.
    Tx(EntityId),
    /// The last transaction whose `:db/txInstant` is at or before this instant.
    Instant(Instant),
}

impl From<u64> for TimePoint {
    /// A number is a tx id when it carries the `:db.part/tx` partition, else a t.
    fn from(n: u64) -> Self {
        if crate::datom::partition_of(n) == crate::datom::PART_TX {
            TimePoint::Tx(n)
        } else {
            TimePoint::T(n)
        }
    }
}

impl From<Instant> for TimePoint {
    fn from(i: Instant) -> Self {
        TimePoint::Instant(i)
    }
}

/// A fact `(e, a, v)`, the key of retirements.
pub(crate) type Fact = (EntityId, EntityId, Value);

/// The in-memory part of the indexes and log: everything after the
/// persistent layer's basis. Structurally shared between database values.
#[derive(Clone, Default)]
pub(crate) struct Novelty {
    pub(crate) current: IndexSets,
    pub(crate) history: IndexSets,
    /// Facts current in the persistent layer but retracted in novelty.
    pub(crate) retired: imbl::HashSet<Fact>,
    /// The log entries after the persistent basis, encoded (about a third
    /// of the memory of decoded datoms; `tx_range` decodes on read).
    pub(crate) log: imbl::OrdMap<u64, Arc<[u8]>>,
}

#[derive(Clone)]
pub(crate) struct State {
    pub(crate) store: Arc<dyn IndexStore>,
    pub(crate) novelty: Novelty,
    pub(crate) schema: Arc<Schema>,
    pub(crate) basis_t: u64,
    pub(crate) next_t: u64,
    pub(crate) last_instant: Instant,
}

#[derive(Clone, Default)]
pub(crate) struct View {
    pub(crate) as_of: Option<u64>,
    pub(crate) since: Option<u64>,
    pub(crate) history: bool,
    pub(crate) filter: Option<DatomFilter>,
}

/// An immutable database value.
///
/// Cloning is O(1); values before and after any number of transactions
/// share their structure. Views (`as_of`, `since`, `history`, `filter`)
/// are database values too.
#[derive(Clone)]
pub struct Db {
    pub(crate) state: Arc<State>,
    pub(crate) view: View,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("basis_t", &self.state.basis_t)
            .field("next_t", &self.state.next_t)
            .field("as_of", &self.view.as_of)
            .field("since", &self.view.since)
            .field("history", &self.view.history)
            .field("filtered", &self.view.filter.is_some())
            .finish()
    }
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    /// A new, empty database: only the built-in schema (t = 0).
    pub fn new() -> Db {
        let bootstrap = bootstrap_tx();
        let state = State {
            store: Arc::new(EmptyStore),
            novelty: Novelty::default(),
            schema: Arc::new(Schema::bootstrap(&bootstrap)),
            basis_t: 0,
            next_t: 0,
            last_instant: Instant(i64::MIN),
        };
        let empty = Db {
            state: Arc::new(state),
            view: View::default(),
        };
        // The bootstrap transaction is fixed data that always applies.
        let mut db = match empty.apply_tx(&bootstrap) {
            Ok(db) => db,
            Err(e) => unreachable!("the bootstrap transaction is valid: {e}"),
        };
        Arc::make_mut(&mut db.state).next_t = crate::schema::bootstrap::FIRST_USER_T;
        db
    }

    /// The t of the last transaction in this value.
    pub fn basis_t(&self) -> u64 {
        self.state.basis_t
    }

    /// The t the next transaction will get (also the next entity counter).
    pub fn next_t(&self) -> u64 {
        self.state.next_t
    }

    /// The `:db/txInstant` of the last transaction.
    pub fn last_tx_instant(&self) -> Instant {
        self.state.last_instant
    }

    /// The t this value is limited to by `as_of`, if any.
    pub fn as_of_t(&self) -> Option<u64> {
        self.view.as_of
    }

    /// The t this value starts after by `since`, if any.
    pub fn since_t(&self) -> Option<u64> {
        self.view.since
    }

    /// True for a history view (retractions included).
    pub fn is_history(&self) -> bool {
        self.view.history
    }

    /// True when a filter predicate hides some datoms.
    pub fn is_filtered(&self) -> bool {
        self.view.filter.is_some()
    }

    /// The value as of a point in time: only transactions up to it.
    pub fn as_of(&self, point: impl Into<TimePoint>) -> Result<Db> {
        let t = self.resolve_point(point.into())?;
        Ok(Db {
            view: View {
                as_of: Some(t),
                ..self.view.clone()
            },
            ..self.clone()
        })
    }

    /// The value since a point in time: only datoms of later transactions.
    pub fn since(&self, point: impl Into<TimePoint>) -> Result<Db> {
        let t = self.resolve_point(point.into())?;
        Ok(Db {
            view: View {
                since: Some(t),
                ..self.view.clone()
            },
            ..self.clone()
        })
    }

    /// The history view: every assertion and retraction, with `added`.
    pub fn history(&self) -> Db {
        Db {
            view: View {
                history: true,
                ..self.view.clone()
            },
            ..self.clone()
        }
    }

    /// The value with only the datoms `keep` accepts (filters compose).
    pub fn filter(&self, keep: DatomFilter) -> Db {
        let combined: DatomFilter = match &self.view.filter {
            None => keep,
            Some(prev) => {
                let prev = prev.clone();
                Arc::new(move |db: &Db, d: &Datom| prev(db, d) && keep(db, d))
            }
        };
        Db {
            view: View {
                filter: Some(combined),
                ..self.view.clone()
            },
            ..self.clone()
        }
    }

    /// The same database at its latest basis, without views.
    pub fn latest(&self) -> Db {
        Db {
            state: self.state.clone(),
            view: View::default(),
        }
    }

    /// The schema this value knows.
    pub fn schema(&self) -> &Schema {
        &self.state.schema
    }

    /// The attribute with this id.
    pub fn attribute(&self, a: EntityId) -> Option<&Arc<Attribute>> {
        self.state.schema.attribute(a)
    }

    /// The attribute an ident names.
    pub fn attribute_named(&self, ident: &Keyword) -> Option<&Arc<Attribute>> {
        self.state.schema.attribute_named(ident)
    }

    /// The current ident of an entity.
    pub fn ident(&self, e: EntityId) -> Option<&Keyword> {
        self.state.schema.ident(e)
    }

    /// How many datoms the novelty holds (current and history layers): what
    /// the next indexing job would merge into the persistent layer.
    pub fn novelty_len(&self) -> usize {
        self.state.novelty.current.len() + self.state.novelty.history.len()
    }

    /// About how many datoms the persistent layer holds (0 when it does
    /// not say): with [`Db::novelty_len`], what indexing schedules by.
    pub fn indexed_len(&self) -> u64 {
        self.state.store.datom_count()
    }

    /// The statistics of attribute `a` at the latest basis: the persistent
    /// layer's (exact, kept by the indexing job) plus the novelty's datoms.
    /// Distinct values of novelty datoms are estimated: all distinct for a
    /// unique attribute, else in the persistent layer's proportion, else
    /// all distinct (an upper bound). Retractions of persistent datoms in
    /// novelty are not subtracted. `None` when the persistent layer keeps
    /// no statistics (an index written before they existed).
    /// Time views (`as_of`, `since`, `history`, filters) see the same
    /// numbers: they are sizes for planning, not results.
    pub fn attribute_stats(&self, a: EntityId) -> Option<crate::AttrStats> {
        let stored = self.state.store.attribute_stats(a)?;
        let fresh = self.state.novelty.current.attribute_len(a);
        let unique = self.attribute(a).is_some_and(|at| at.unique.is_some());
        let fresh_values = match (unique, stored.datoms) {
            (false, d) if d > 0 => (fresh as f64 * stored.values as f64 / d as f64).ceil() as u64,
            _ => fresh,
        };
        Some(crate::AttrStats {
            attr: a,
            datoms: stored.datoms + fresh,
            values: stored.values + fresh_values,
        })
    }

    /// The persistent layer under this value.
    pub fn store(&self) -> &Arc<dyn IndexStore> {
        &self.state.store
    }

    /// The time bounds of the view, as transaction ids.
    pub(crate) fn bounds(&self) -> TimeBounds {
        TimeBounds {
            as_of: self
                .view
                .as_of
                .filter(|t| *t < self.state.basis_t)
                .map(t_to_tx),
            since: self.view.since.map(t_to_tx),
        }
    }

    fn resolve_point(&self, point: TimePoint) -> Result<u64> {
        match point {
            TimePoint::T(t) => Ok(t),
            TimePoint::Tx(tx) => Ok(tx_to_t(tx)),
            TimePoint::Instant(i) => self.t_at_instant(i),
        }
    }

    /// The t of the last transaction at or before `instant` (0 if none).
    fn t_at_instant(&self, instant: Instant) -> Result<u64> {
        let latest = self.latest();
        let txs = latest.index_range(
            &Value::Ref(crate::schema::bootstrap::TX_INSTANT),
            None,
            Some(&Value::Instant(Instant(instant.0.saturating_add(1)))),
        )?;
        let mut t = 0;
        for d in txs {
            t = t.max(d?.t());
        }
        Ok(t)
    }

    /// The entity counter after transaction `t`: the t of the next
    /// transaction, or this value's `next_t` when `t` is the last.
    pub fn next_t_at(&self, t: u64) -> Result<u64> {
        match self.latest().tx_range(Some(t + 1), None)?.next() {
            Some(entry) => Ok(entry?.t),
            None => Ok(self.state.next_t),
        }
    }

    /// The log entries with `start <= t < end` (open bounds for `None`).
    pub fn tx_range(
        &self,
        start: Option<u64>,
        end: Option<u64>,
    ) -> Result<crate::index::TxLogIter<'_>> {
        let from = start.unwrap_or(0);
        let novelty_from = self.state.store.basis_t().map_or(0, |b| b + 1).max(from);
        let persisted = self.state.store.tx_range(from, end)?;
        let novelty = self
            .state
            .novelty
            .log
            .range(novelty_from..)
            .take_while(move |(t, _)| end.is_none_or(|e| **t < e))
            .map(|(_, bytes)| crate::codec::decode_tx_log(bytes));
        Ok(Box::new(persisted.chain(novelty)))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }
}
