//! Datom values: the value types of the information model and their total
//! order (type first, then value), which is the order of every index.

mod coerce;

pub use coerce::{RefResolver, TupleShape};

use crate::datom::EntityId;
use crate::edn::{BigDec, BigInt, Instant, Keyword, Symbol};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use uuid::Uuid;

/// The type of an attribute's values (`:db.type/...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum ValueType {
    /// `:db.type/ref`, a reference to an entity.
    Ref,
    /// `:db.type/keyword`
    Keyword,
    /// `:db.type/long`
    Long,
    /// `:db.type/string`
    String,
    /// `:db.type/boolean`
    Boolean,
    /// `:db.type/instant`
    Instant,
    /// `:db.type/uuid`
    Uuid,
    /// `:db.type/double`
    Double,
    /// `:db.type/float`
    Float,
    /// `:db.type/bigint`
    BigInt,
    /// `:db.type/bigdec`
    BigDec,
    /// `:db.type/symbol`
    Symbol,
    /// `:db.type/uri`
    Uri,
    /// `:db.type/bytes`
    Bytes,
    /// `:db.type/tuple`
    Tuple,
}

impl ValueType {
    /// Every value type, in tag order.
    pub const ALL: [ValueType; 15] = [
        ValueType::Ref,
        ValueType::Keyword,
        ValueType::Long,
        ValueType::String,
        ValueType::Boolean,
        ValueType::Instant,
        ValueType::Uuid,
        ValueType::Double,
        ValueType::Float,
        ValueType::BigInt,
        ValueType::BigDec,
        ValueType::Symbol,
        ValueType::Uri,
        ValueType::Bytes,
        ValueType::Tuple,
    ];

    /// The type's tag: its rank in the value order and its byte in the encoding.
    pub fn tag(self) -> u8 {
        self as u8 + 1
    }

    /// The type with the given tag.
    pub fn from_tag(tag: u8) -> Option<ValueType> {
        ValueType::ALL
            .get(usize::from(tag).checked_sub(1)?)
            .copied()
    }

    /// The ident, e.g. `:db.type/string`.
    pub fn ident(self) -> Keyword {
        Keyword::new(&format!("db.type/{}", self.name()))
    }

    /// The type named by an ident such as `:db.type/long`.
    pub fn from_ident(ident: &Keyword) -> Option<ValueType> {
        if ident.namespace() != Some("db.type") {
            return None;
        }
        ValueType::ALL
            .into_iter()
            .find(|t| t.name() == ident.name())
    }

    fn name(self) -> &'static str {
        match self {
            ValueType::Ref => "ref",
            ValueType::Keyword => "keyword",
            ValueType::Long => "long",
            ValueType::String => "string",
            ValueType::Boolean => "boolean",
            ValueType::Instant => "instant",
            ValueType::Uuid => "uuid",
            ValueType::Double => "double",
            ValueType::Float => "float",
            ValueType::BigInt => "bigint",
            ValueType::BigDec => "bigdec",
            ValueType::Symbol => "symbol",
            ValueType::Uri => "uri",
            ValueType::Bytes => "bytes",
            ValueType::Tuple => "tuple",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":db.type/{}", self.name())
    }
}

/// The value of a datom. Small values are inline; strings and other large
/// values are shared (`Arc`), so cloning a value never copies its bytes.
#[derive(Clone, Debug)]
pub enum Value {
    /// An entity id.
    Ref(EntityId),
    /// A keyword.
    Keyword(Keyword),
    /// A 64-bit integer.
    Long(i64),
    /// A string.
    String(Arc<str>),
    /// A boolean.
    Boolean(bool),
    /// An instant (milliseconds since the epoch).
    Instant(Instant),
    /// A UUID.
    Uuid(Uuid),
    /// A 64-bit float.
    Double(f64),
    /// A 32-bit float.
    Float(f32),
    /// An arbitrary-precision integer.
    BigInt(Arc<BigInt>),
    /// An arbitrary-precision decimal.
    BigDec(Arc<BigDec>),
    /// A symbol.
    Symbol(Symbol),
    /// A URI (kept as its text).
    Uri(Arc<str>),
    /// A byte array.
    Bytes(Arc<[u8]>),
    /// A tuple of 2 to 8 elements; `None` is a missing (nil) element.
    Tuple(Arc<[Option<Value>]>),
}

impl Value {
    /// The smallest value of all; index seeks start from it.
    pub const MIN: Value = Value::Ref(0);

    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Ref(_) => ValueType::Ref,
            Value::Keyword(_) => ValueType::Keyword,
            Value::Long(_) => ValueType::Long,
            Value::String(_) => ValueType::String,
            Value::Boolean(_) => ValueType::Boolean,
            Value::Instant(_) => ValueType::Instant,
            Value::Uuid(_) => ValueType::Uuid,
            Value::Double(_) => ValueType::Double,
            Value::Float(_) => ValueType::Float,
            Value::BigInt(_) => ValueType::BigInt,
            Value::BigDec(_) => ValueType::BigDec,
            Value::Symbol(_) => ValueType::Symbol,
            Value::Uri(_) => ValueType::Uri,
            Value::Bytes(_) => ValueType::Bytes,
            Value::Tuple(_) => ValueType::Tuple,
        }
    }

    /// A string value.
    pub fn string(text: &str) -> Value {
        Value::String(Arc::from(text))
    }

    /// A keyword value.
    pub fn keyword(text: &str) -> Value {
        Value::Keyword(Keyword::new(text))
    }

    /// The entity id, if this is a reference.
    pub fn as_ref_id(&self) -> Option<EntityId> {
        match self {
            Value::Ref(e) => Some(*e),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A word that orders values of one type as [`Ord`] does, or ties
    /// them: for `x < y` of the same type, `x.order_word().0 <=
    /// y.order_word().0`. The flag is true when the word is also
    /// one-to-one (equal words, equal values): the fixed-width types.
    /// Sorting by such words first, and by [`Ord`] only on a tie, keeps
    /// the order while most comparisons stay on integers.
    pub(crate) fn order_word(&self) -> (u64, bool) {
        /// The first eight bytes, big-endian, zero-padded: a shorter text
        /// that is a prefix of a longer one is at most its word.
        fn leading(bytes: &[u8]) -> u64 {
            let mut word = [0u8; 8];
            let n = bytes.len().min(8);
            word[..n].copy_from_slice(&bytes[..n]);
            u64::from_be_bytes(word)
        }
        /// `f64::total_cmp`'s order as an unsigned word.
        fn total(bits: i64) -> u64 {
            ((bits ^ ((((bits >> 63) as u64) >> 1) as i64)) as u64) ^ SIGN
        }
        const SIGN: u64 = 1 << 63;
        match self {
            Value::Ref(e) => (*e, true),
            Value::Long(n) | Value::Instant(Instant(n)) => ((*n as u64) ^ SIGN, true),
            Value::Boolean(b) => (u64::from(*b), true),
            Value::Double(d) => (total(d.to_bits() as i64), true),
            Value::Float(f) => (total(i64::from(f.to_bits() as i32)), true),
            Value::Keyword(k) => (leading(k.as_str().as_bytes()), false),
            Value::Symbol(s) => (leading(s.as_str().as_bytes()), false),
            Value::String(s) | Value::Uri(s) => (leading(s.as_bytes()), false),
            Value::Bytes(b) => (leading(b), false),
            Value::Uuid(u) => (leading(u.as_bytes()), false),
            Value::BigInt(_) | Value::BigDec(_) | Value::Tuple(_) => (0, false),
        }
    }
}

impl Ord for Value {
    /// Type tag first, then the value; floats by `total_cmp`.
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Ref(a), Ref(b)) => a.cmp(b),
            (Keyword(a), Keyword(b)) => a.cmp(b),
            (Long(a), Long(b)) => a.cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Boolean(a), Boolean(b)) => a.cmp(b),
            (Instant(a), Instant(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (BigInt(a), BigInt(b)) => a.cmp(b),
            (BigDec(a), BigDec(b)) => a.cmp(b),
            (Symbol(a), Symbol(b)) => a.cmp(b),
            (Uri(a), Uri(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Tuple(a), Tuple(b)) => a.cmp(b),
            _ => self.value_type().tag().cmp(&other.value_type().tag()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value_type().tag().hash(state);
        match self {
            Value::Ref(e) => e.hash(state),
            Value::Keyword(k) => k.hash(state),
            Value::Long(n) => n.hash(state),
            Value::String(s) | Value::Uri(s) => s.hash(state),
            Value::Boolean(b) => b.hash(state),
            Value::Instant(i) => i.hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Double(d) => d.to_bits().hash(state),
            Value::Float(d) => d.to_bits().hash(state),
            Value::BigInt(n) => n.hash(state),
            Value::BigDec(d) => d.hash(state),
            Value::Symbol(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Tuple(t) => t.hash(state),
        }
    }
}

impl fmt::Display for Value {
    /// Prints the value as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_edn())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Long(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<Keyword> for Value {
    fn from(k: Keyword) -> Self {
        Value::Keyword(k)
    }
}

impl From<Instant> for Value {
    fn from(i: Instant) -> Self {
        Value::Instant(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_type_first_then_value() {
        assert!(Value::Ref(99) < Value::keyword(":a"));
        assert!(Value::Long(5) < Value::string("a"));
        assert!(Value::Long(-1) < Value::Long(1));
        assert!(Value::Double(f64::NEG_INFINITY) < Value::Double(-0.0));
        assert!(Value::Double(-0.0) < Value::Double(0.0));
        assert!(Value::MIN <= Value::Ref(0));
        let t = |xs: Vec<Option<Value>>| Value::Tuple(xs.into());
        assert!(t(vec![None, Some(Value::Long(1))]) < t(vec![Some(Value::Long(0)), None]));
    }

    #[test]
    fn value_type_idents_round_trip() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::from_ident(&t.ident()), Some(t));
            assert_eq!(ValueType::from_tag(t.tag()), Some(t));
        }
        assert_eq!(ValueType::from_ident(&Keyword::new(":db.type/nope")), None);
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
