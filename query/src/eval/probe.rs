//! One index lookup of a data pattern: the positions known from constants
//! and bound variables, the index they select, and the check of each datom.

use super::pattern::{A, Compiled, E, OP, Slot, TX, V};
use crate::value::key_eq;
use model::{Datom, Db, Index, Value};

/// The known positions of one index lookup.
pub(super) struct Probe {
    e: Option<u64>,
    a: Option<u64>,
    v: Option<Value>,
    tx: Option<u64>,
    op: Option<bool>,
}

impl Probe {
    /// The constants of `c`, plus the key values of one group.
    pub(super) fn of(c: &Compiled<'_>, key: &[Value]) -> Probe {
        let known = |pos: usize| match &c.slots[pos] {
            Slot::Const(v) => Some(v.clone()),
            Slot::Key(k) => key.get(*k).cloned(),
            _ => None,
        };
        let id = |pos: usize| known(pos).and_then(|v| crate::value::as_entity_id(&v));
        Probe {
            e: id(E),
            a: id(A),
            v: known(V),
            tx: id(TX),
            op: match known(OP) {
                Some(Value::Boolean(b)) => Some(b),
                _ => None,
            },
        }
    }

    /// True when the lookup reads less than a whole index.
    pub(super) fn selective(&self) -> bool {
        self.e.is_some() || self.a.is_some() || matches!(self.v, Some(Value::Ref(_)))
    }

    /// The index for the known positions and the prefix it seeks.
    fn lookup(&self) -> (Index, Vec<Value>) {
        let r = |e: u64| Value::Ref(e);
        match (self.e, self.a, &self.v) {
            (Some(e), Some(a), Some(v)) => (Index::Eavt, vec![r(e), r(a), v.clone()]),
            (Some(e), Some(a), None) => (Index::Eavt, vec![r(e), r(a)]),
            (Some(e), None, _) => (Index::Eavt, vec![r(e)]),
            (None, Some(a), Some(v)) => (Index::Avet, vec![r(a), v.clone()]),
            (None, Some(a), None) => (Index::Aevt, vec![r(a)]),
            (None, None, Some(v @ Value::Ref(_))) => (Index::Vaet, vec![v.clone()]),
            _ => (Index::Eavt, vec![]),
        }
    }

    /// The datoms of the best index for the known positions (a superset:
    /// check [`Probe::admits`]).
    pub(super) fn datoms<'d>(&self, db: &'d Db) -> model::Result<model::DatomIter<'d>> {
        let (index, prefix) = self.lookup();
        db.datoms(index, &prefix)
    }

    /// The index and the positions it seeks by, e.g. `:avet [a v]`.
    pub(super) fn describe(&self) -> String {
        let (index, prefix) = self.lookup();
        let names: [&str; 4] = match index {
            Index::Eavt => ["e", "a", "v", "tx"],
            Index::Aevt => ["a", "e", "v", "tx"],
            Index::Avet => ["a", "v", "e", "tx"],
            Index::Vaet => ["v", "a", "e", "tx"],
        };
        format!("{index} [{}]", names[..prefix.len()].join(" "))
    }

    /// How many datoms the lookup selects, from the attribute statistics
    /// (`None` when they do not tell: no attribute, an entity known, or no
    /// statistics kept).
    pub(super) fn selects(&self, db: &Db) -> Option<u64> {
        if self.e.is_some() {
            return None;
        }
        let stats = db.attribute_stats(self.a?)?;
        Some(match self.v {
            None => stats.datoms,
            Some(_) => stats.datoms_per_value().ceil() as u64,
        })
    }

    /// True when the datom has every known position.
    pub(super) fn admits(&self, d: &Datom) -> bool {
        self.e.is_none_or(|e| d.e() == e)
            && self.a.is_none_or(|a| d.a() == a)
            && self.v.as_ref().is_none_or(|v| key_eq(d.v(), v))
            && self.tx.is_none_or(|tx| d.tx() == tx)
            && self.op.is_none_or(|op| d.added() == op)
    }
}
