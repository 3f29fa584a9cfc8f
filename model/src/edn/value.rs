//! The generic EDN data type.

use super::{BigDec, Instant, Keyword, Symbol};
use num_bigint::BigInt;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use uuid::Uuid;

/// One EDN value. Maps and sets are ordered by [`Edn`]'s total order, so two
/// equal collections print the same.
#[derive(Clone, Debug)]
pub enum Edn {
    /// `nil`
    Nil,
    /// `true` / `false`
    Boolean(bool),
    /// A 64-bit integer.
    Long(i64),
    /// An integer with the `N` suffix or too large for 64 bits.
    BigInt(Arc<BigInt>),
    /// A floating-point number (`##NaN`, `##Inf`, `##-Inf` included).
    Double(f64),
    /// A decimal with the `M` suffix.
    BigDec(Arc<BigDec>),
    /// A character such as `\a` or `\newline`.
    Char(char),
    /// A string.
    String(Arc<str>),
    /// A keyword such as `:db/ident`.
    Keyword(Keyword),
    /// A symbol such as `?e`.
    Symbol(Symbol),
    /// `( … )`
    List(Vec<Edn>),
    /// `[ … ]`
    Vector(Vec<Edn>),
    /// `{ … }`
    Map(BTreeMap<Edn, Edn>),
    /// `#{ … }`
    Set(BTreeSet<Edn>),
    /// `#inst "…"`
    Inst(Instant),
    /// `#uuid "…"`
    Uuid(Uuid),
    /// Any other tagged literal, e.g. `#db/id [:db.part/user -1]`.
    Tagged(Symbol, Box<Edn>),
}

impl Edn {
    /// A keyword value from its text (`:a/b` or `a/b`).
    pub fn keyword(text: &str) -> Edn {
        Edn::Keyword(Keyword::new(text))
    }

    /// A string value.
    pub fn string(text: &str) -> Edn {
        Edn::String(Arc::from(text))
    }

    /// A symbol value.
    pub fn symbol(text: &str) -> Edn {
        Edn::Symbol(Symbol::new(text))
    }

    /// A map from key/value pairs.
    pub fn map(pairs: impl IntoIterator<Item = (Edn, Edn)>) -> Edn {
        Edn::Map(pairs.into_iter().collect())
    }

    /// The keyword, if this is one.
    pub fn as_keyword(&self) -> Option<&Keyword> {
        match self {
            Edn::Keyword(k) => Some(k),
            _ => None,
        }
    }

    /// The elements of a list or vector.
    pub fn as_sequence(&self) -> Option<&[Edn]> {
        match self {
            Edn::List(items) | Edn::Vector(items) => Some(items),
            _ => None,
        }
    }

    /// A value of the map under `key`, if this is a map.
    pub fn get(&self, key: &Edn) -> Option<&Edn> {
        match self {
            Edn::Map(map) => map.get(key),
            _ => None,
        }
    }

    /// The position of the variant in the total order across kinds.
    fn rank(&self) -> u8 {
        match self {
            Edn::Nil => 0,
            Edn::Boolean(_) => 1,
            Edn::Long(_) => 2,
            Edn::BigInt(_) => 3,
            Edn::Double(_) => 4,
            Edn::BigDec(_) => 5,
            Edn::Char(_) => 6,
            Edn::String(_) => 7,
            Edn::Keyword(_) => 8,
            Edn::Symbol(_) => 9,
            Edn::List(_) => 10,
            Edn::Vector(_) => 11,
            Edn::Map(_) => 12,
            Edn::Set(_) => 13,
            Edn::Inst(_) => 14,
            Edn::Uuid(_) => 15,
            Edn::Tagged(..) => 16,
        }
    }
}

impl Ord for Edn {
    /// A total order: kind first, then value (doubles by `total_cmp`).
    fn cmp(&self, other: &Self) -> Ordering {
        use Edn::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Boolean(a), Boolean(b)) => a.cmp(b),
            (Long(a), Long(b)) => a.cmp(b),
            (BigInt(a), BigInt(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (BigDec(a), BigDec(b)) => a.cmp(b),
            (Char(a), Char(b)) => a.cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Keyword(a), Keyword(b)) => a.cmp(b),
            (Symbol(a), Symbol(b)) => a.cmp(b),
            (List(a), List(b)) | (Vector(a), Vector(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Set(a), Set(b)) => a.cmp(b),
            (Inst(a), Inst(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Tagged(t, a), Tagged(u, b)) => t.cmp(u).then_with(|| a.cmp(b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Edn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Edn {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Edn {}

impl Hash for Edn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Edn::Nil => {}
            Edn::Boolean(b) => b.hash(state),
            Edn::Long(n) => n.hash(state),
            Edn::BigInt(n) => n.hash(state),
            Edn::Double(d) => d.to_bits().hash(state),
            Edn::BigDec(d) => d.hash(state),
            Edn::Char(c) => c.hash(state),
            Edn::String(s) => s.hash(state),
            Edn::Keyword(k) => k.hash(state),
            Edn::Symbol(s) => s.hash(state),
            Edn::List(items) | Edn::Vector(items) => items.hash(state),
            Edn::Map(map) => map.hash(state),
            Edn::Set(set) => set.hash(state),
            Edn::Inst(i) => i.hash(state),
            Edn::Uuid(u) => u.hash(state),
            Edn::Tagged(t, v) => {
                t.hash(state);
                v.hash(state);
            }
        }
    }
}

impl From<i64> for Edn {
    fn from(n: i64) -> Self {
        Edn::Long(n)
    }
}

impl From<&str> for Edn {
    fn from(s: &str) -> Self {
        Edn::string(s)
    }
}

impl From<bool> for Edn {
    fn from(b: bool) -> Self {
        Edn::Boolean(b)
    }
}

impl From<Keyword> for Edn {
    fn from(k: Keyword) -> Self {
        Edn::Keyword(k)
    }
}

impl From<Instant> for Edn {
    fn from(i: Instant) -> Self {
        Edn::Inst(i)
    }
}
