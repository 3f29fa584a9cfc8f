//! Datoms and entity ids.
//!
//! An entity id carries its partition in the bits above bit 42 and a counter
//! below, as in Datomic: `:db.part/db` is partition 0, `:db.part/tx` 3,
//! `:db.part/user` 4. Transactions are entities of `:db.part/tx` whose
//! counter is their `t`, so `tx = t_to_tx(t)` and `t = tx_to_t(tx)`. One
//! counter serves t values and new entity ids alike.

use crate::value::Value;
use std::fmt;

/// An entity id (`e`, `a`, `tx` and ref values are all entity ids).
pub type EntityId = u64;

/// Bits of an entity id below the partition.
pub const PARTITION_SHIFT: u32 = 42;
const COUNTER_MASK: u64 = (1 << PARTITION_SHIFT) - 1;

/// The partition of schema and built-in entities.
pub const PART_DB: EntityId = 0;
/// The partition of transaction entities.
pub const PART_TX: EntityId = 3;
/// The default partition of user entities.
pub const PART_USER: EntityId = 4;

/// The entity id with the given partition (a partition entity's id) and counter.
pub fn entity_id(partition: EntityId, counter: u64) -> EntityId {
    (partition << PARTITION_SHIFT) | (counter & COUNTER_MASK)
}

/// The partition (the partition entity's id) of an entity id.
pub fn partition_of(e: EntityId) -> EntityId {
    e >> PARTITION_SHIFT
}

/// The counter part of an entity id.
pub fn counter_of(e: EntityId) -> u64 {
    e & COUNTER_MASK
}

/// The transaction entity id of basis `t`.
pub fn t_to_tx(t: u64) -> EntityId {
    entity_id(PART_TX, t)
}

/// The basis `t` of a transaction entity id.
pub fn tx_to_t(tx: EntityId) -> u64 {
    counter_of(tx)
}

/// One fact: entity `e` has value `v` for attribute `a`, asserted (`added`)
/// or retracted by transaction `tx`.
///
/// 48 bytes: `tx` and `added` share one word.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Datom {
    e: EntityId,
    a: EntityId,
    v: Value,
    /// `tx << 1 | added`, so it sorts by tx, then retractions before assertions.
    tx_op: u64,
}

impl Datom {
    /// A datom.
    pub fn new(e: EntityId, a: EntityId, v: Value, tx: EntityId, added: bool) -> Datom {
        Datom {
            e,
            a,
            v,
            tx_op: (tx << 1) | u64::from(added),
        }
    }

    /// The entity.
    pub fn e(&self) -> EntityId {
        self.e
    }

    /// The attribute (an entity id).
    pub fn a(&self) -> EntityId {
        self.a
    }

    /// The value.
    pub fn v(&self) -> &Value {
        &self.v
    }

    /// The transaction entity id.
    pub fn tx(&self) -> EntityId {
        self.tx_op >> 1
    }

    /// The basis t of the transaction.
    pub fn t(&self) -> u64 {
        tx_to_t(self.tx())
    }

    /// True for an assertion, false for a retraction.
    pub fn added(&self) -> bool {
        self.tx_op & 1 == 1
    }

    /// The same fact with another transaction and operation.
    pub fn with_op(&self, tx: EntityId, added: bool) -> Datom {
        Datom::new(self.e, self.a, self.v.clone(), tx, added)
    }

    /// The packed tx and operation (tx first), as indexes sort them.
    pub(crate) fn tx_op(&self) -> u64 {
        self.tx_op
    }

    /// True when both datoms state the same fact `(e, a, v)`.
    pub fn same_fact(&self, other: &Datom) -> bool {
        self.e == other.e && self.a == other.a && self.v == other.v
    }
}

impl fmt::Debug for Datom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#datom [{} {} {} {} {}]",
            self.e,
            self.a,
            self.v,
            self.tx(),
            self.added()
        )
    }
}

impl fmt::Display for Datom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_and_tx_convert_both_ways() {
        assert_eq!(t_to_tx(1007), 13_194_139_534_319);
        assert_eq!(tx_to_t(13_194_139_534_319), 1007);
        assert_eq!(entity_id(PART_USER, 1009), 17_592_186_045_425);
        assert_eq!(partition_of(17_592_186_045_425), PART_USER);
        assert_eq!(counter_of(17_592_186_045_425), 1009);
    }

    #[test]
    fn datom_packs_tx_and_op() {
        let d = Datom::new(1, 2, Value::Long(3), t_to_tx(1000), true);
        assert_eq!(
            (d.e(), d.a(), d.tx(), d.t(), d.added()),
            (1, 2, t_to_tx(1000), 1000, true)
        );
        let r = d.with_op(t_to_tx(1001), false);
        assert!(!r.added() && r.same_fact(&d) && r.tx() == t_to_tx(1001));
        assert_eq!(std::mem::size_of::<Datom>(), 48);
        assert_eq!(
            format!("{d}"),
            format!("#datom [1 2 3 {} true]", t_to_tx(1000))
        );
    }
}
