//! Covering indexes: sort orders, the persistent layer interface, the
//! in-memory novelty, and the merge of both on read.
//!
//! Every index holds each datom once in a *current* layer (datoms asserted
//! and not retracted) or a *history* layer (retracted assertions and the
//! retractions themselves), so reading the present never walks history.
//! AVET covers every attribute (as Datomic 1.0 does); VAET covers only
//! reference attributes.

mod memory;
pub(crate) mod merge;
pub(crate) mod sorted;
mod stats;
mod store;

pub use memory::MemoryStore;
pub use stats::AttrStats;
pub use store::{DatomIter, EmptyStore, IndexStore, TxLogIter};

use crate::datom::Datom;
use std::cmp::Ordering;
use std::fmt;

/// A sort order of datoms.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Index {
    /// Entity, attribute, value, tx: row-style access.
    Eavt,
    /// Attribute, entity, value, tx: column-style access.
    Aevt,
    /// Attribute, value, entity, tx: lookups by value and range scans.
    Avet,
    /// Value, attribute, entity, tx for reference values: reverse navigation.
    Vaet,
}

impl Index {
    /// Every index.
    pub const ALL: [Index; 4] = [Index::Eavt, Index::Aevt, Index::Avet, Index::Vaet];

    /// Compares two datoms in this index's order (tx, then operation, last).
    pub fn compare(self, x: &Datom, y: &Datom) -> Ordering {
        let rest = || x.tx_op().cmp(&y.tx_op());
        match self {
            Index::Eavt => x
                .e()
                .cmp(&y.e())
                .then(x.a().cmp(&y.a()))
                .then_with(|| x.v().cmp(y.v())),
            Index::Aevt => x
                .a()
                .cmp(&y.a())
                .then(x.e().cmp(&y.e()))
                .then_with(|| x.v().cmp(y.v())),
            Index::Avet => x
                .a()
                .cmp(&y.a())
                .then_with(|| x.v().cmp(y.v()))
                .then(x.e().cmp(&y.e())),
            Index::Vaet => x
                .v()
                .cmp(y.v())
                .then(x.a().cmp(&y.a()))
                .then(x.e().cmp(&y.e())),
        }
        .then_with(rest)
    }

    /// Integers that order datoms as [`Index::compare`] does, or tie
    /// them: `x < y` implies `sort_key(x) <= sort_key(y)`. A sort by the
    /// key that compares datoms only on a tie sorts as `compare` does,
    /// with most comparisons on integers held beside the positions.
    pub(crate) fn sort_key(self, d: &Datom) -> [u64; 3] {
        let v = d.v();
        let tag = u64::from(v.value_type().tag());
        let (word, exact) = v.order_word();
        // A value as one word: its type tag (under 16) above its word.
        let value = (tag << 56) | (word >> 8);
        match self {
            Index::Eavt => [d.e(), d.a(), value],
            Index::Aevt => [d.a(), d.e(), value],
            Index::Avet => [d.a(), tag, word],
            // The attribute decides only between equal values: not after
            // a word that ties different ones.
            Index::Vaet => [tag, word, if exact { d.a() } else { 0 }],
        }
    }

    /// The keyword name, e.g. `:eavt`.
    pub fn name(self) -> &'static str {
        match self {
            Index::Eavt => ":eavt",
            Index::Aevt => ":aevt",
            Index::Avet => ":avet",
            Index::Vaet => ":vaet",
        }
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The two parts of every index.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Layer {
    /// Assertions not retracted as of the basis.
    Current,
    /// Retracted assertions and the retractions.
    History,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edn::{BigInt, Instant, Keyword, Symbol};
    use crate::value::Value;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// Values of every type, drawn from small sets so that equal values,
    /// shared prefixes (over and under eight bytes), NULs, signs and
    /// float edge cases meet often.
    fn value() -> impl Strategy<Value = Value> {
        let text = prop::collection::vec(prop::sample::select(vec![0u8, b'a', b'b', 0xff]), 0..11)
            .prop_map(|bytes| bytes.into_iter().map(char::from).collect::<String>());
        let long = prop::sample::select(vec![i64::MIN, -2, -1, 0, 1, 2, 1 << 40, i64::MAX]);
        let double = prop::sample::select(vec![
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            2.5,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ]);
        prop_oneof![
            prop::sample::select(vec![0u64, 1, 255, 256, u64::MAX]).prop_map(Value::Ref),
            text.clone().prop_map(|t| Value::Keyword(Keyword::new(&t))),
            long.clone().prop_map(Value::Long),
            text.clone().prop_map(|t| Value::String(Arc::from(t))),
            any::<bool>().prop_map(Value::Boolean),
            long.prop_map(|n| Value::Instant(Instant(n))),
            any::<[u8; 2]>().prop_map(|b| {
                let mut bytes = [0u8; 16];
                bytes[7..9].copy_from_slice(&b);
                Value::Uuid(uuid::Uuid::from_bytes(bytes))
            }),
            double.clone().prop_map(Value::Double),
            double.prop_map(|d| Value::Float(d as f32)),
            (-3i64..3).prop_map(|n| Value::BigInt(Arc::new(BigInt::from(n)))),
            text.clone().prop_map(|t| Value::Symbol(Symbol::new(&t))),
            text.clone().prop_map(|t| Value::Uri(Arc::from(t))),
            text.prop_map(|t| Value::Bytes(Arc::from(t.into_bytes()))),
        ]
    }

    fn datom() -> impl Strategy<Value = Datom> {
        (0u64..3, 0u64..3, value(), 0u64..3, any::<bool>())
            .prop_map(|(e, a, v, tx, added)| Datom::new(e, a, v, tx, added))
    }

    proptest! {
        /// The sort key never contradicts the order: sorting by it, then
        /// comparing on ties, sorts as `compare` does.
        #[test]
        fn sort_keys_never_contradict_the_order(datoms in prop::collection::vec(datom(), 2..40)) {
            for index in Index::ALL {
                for x in &datoms {
                    for y in &datoms {
                        if index.compare(x, y).is_lt() {
                            prop_assert!(
                                index.sort_key(x) <= index.sort_key(y),
                                "{index}: {x:?} < {y:?} but its key is greater"
                            );
                        }
                    }
                }
                let mut by_key = datoms.clone();
                by_key.sort_by(|x, y| {
                    index.sort_key(x).cmp(&index.sort_key(y)).then_with(|| index.compare(x, y))
                });
                let mut by_order = datoms.clone();
                by_order.sort_by(|x, y| index.compare(x, y));
                prop_assert_eq!(by_key, by_order);
            }
        }
    }
}
