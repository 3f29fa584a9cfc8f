//! Values as the query engine sees them: EDN constants and inputs become
//! [`Value`]s, and an entity id matches the same number given as a long
//! (as in Datomic, where both are longs).

use model::Value;
use model::edn::Edn;
use std::cmp::Ordering;
use std::hash::{BuildHasher, Hash, Hasher};

/// The value an EDN constant or input denotes, without a schema to guide
/// it: numbers stay numbers, vectors and lists become tuples. `nil`, maps
/// and sets are not values a variable can hold.
pub(crate) fn from_edn(edn: &Edn) -> Result<Value, String> {
    Ok(match edn {
        Edn::Boolean(b) => Value::Boolean(*b),
        Edn::Long(n) => Value::Long(*n),
        Edn::BigInt(n) => Value::BigInt(n.clone()),
        Edn::Double(d) => Value::Double(*d),
        Edn::BigDec(d) => Value::BigDec(d.clone()),
        Edn::Char(c) => Value::string(&c.to_string()),
        Edn::String(s) => Value::String(s.clone()),
        Edn::Keyword(k) => Value::Keyword(k.clone()),
        Edn::Symbol(s) => Value::Symbol(s.clone()),
        Edn::Inst(i) => Value::Instant(*i),
        Edn::Uuid(u) => Value::Uuid(*u),
        Edn::List(items) | Edn::Vector(items) => Value::Tuple(
            items
                .iter()
                .map(|i| match i {
                    Edn::Nil => Ok(None),
                    other => from_edn(other).map(Some),
                })
                .collect::<Result<Vec<_>, String>>()?
                .into(),
        ),
        Edn::Tagged(tag, inner) => match (tag.as_str(), &**inner) {
            ("uri", Edn::String(s)) => Value::Uri(s.clone()),
            _ => return Err(format!("{edn} is not a value a query can hold")),
        },
        Edn::Nil => return Err("nil is not a value a variable can hold".into()),
        Edn::Map(_) | Edn::Set(_) => {
            return Err(format!("{edn} is not a value a query can hold"));
        }
    })
}

/// The entity id a value names without a database: refs and
/// non-negative longs.
pub(crate) fn as_entity_id(v: &Value) -> Option<u64> {
    match v {
        Value::Ref(e) => Some(*e),
        Value::Long(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// Equality of join keys: a ref equals the same non-negative long.
pub(crate) fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Ref(x), Value::Long(y)) | (Value::Long(y), Value::Ref(x)) => {
            u64::try_from(*y).is_ok_and(|y| y == *x)
        }
        _ => a == b,
    }
}

/// Hashes a value consistently with [`key_eq`].
pub(crate) fn key_hash<H: Hasher>(v: &Value, state: &mut H) {
    match v {
        Value::Long(n) if *n >= 0 => Value::Ref(*n as u64).hash(state),
        other => other.hash(state),
    }
}

/// The hasher of every hash table of the engine (fixed seed: results and
/// plans do not depend on process randomness).
pub(crate) fn hasher() -> impl Hasher {
    foldhash::fast::FixedState::with_seed(0x5eed_acc4_e7e0_0001).build_hasher()
}

/// The hash of a key made of several values.
pub(crate) fn hash_key<'a>(values: impl IntoIterator<Item = &'a Value>) -> u64 {
    let mut h = hasher();
    for v in values {
        key_hash(v, &mut h);
    }
    h.finish()
}

/// A number as a double, for comparisons across numeric types.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Long(n) => Some(*n as f64),
        Value::Ref(n) => Some(*n as f64),
        Value::Double(d) => Some(*d),
        Value::Float(f) => Some(f64::from(*f)),
        Value::BigInt(n) => n.to_string().parse().ok(),
        Value::BigDec(d) => d.to_string().trim_end_matches('M').parse().ok(),
        _ => None,
    }
}

fn is_number(v: &Value) -> bool {
    matches!(
        v,
        Value::Long(_)
            | Value::Ref(_)
            | Value::Double(_)
            | Value::Float(_)
            | Value::BigInt(_)
            | Value::BigDec(_)
    )
}

/// The order comparison predicates use: numbers compare by magnitude
/// across numeric types (an entity id is a number), everything else by the
/// model's total order (type first, then value).
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Long(x), Value::Long(y)) => x.cmp(y),
        (Value::Ref(x), Value::Ref(y)) => x.cmp(y),
        (Value::BigInt(x), Value::BigInt(y)) => x.cmp(y),
        (Value::BigDec(x), Value::BigDec(y)) => x.cmp(y),
        _ if is_number(a) && is_number(b) => match (integer_of(a), integer_of(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (as_f64(a), as_f64(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.cmp(b),
            },
        },
        _ => a.cmp(b),
    }
}

/// Integers (refs and longs) as one wide type, so they compare exactly.
fn integer_of(v: &Value) -> Option<i128> {
    match v {
        Value::Long(n) => Some(i128::from(*n)),
        Value::Ref(n) => Some(i128::from(*n)),
        _ => None,
    }
}

/// Equality as `=` sees it: numbers of the same kind by value, entity ids
/// equal to the same long, everything else exactly.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    key_eq(a, b)
}

/// Truthiness: everything but `false` (nil never reaches a value).
pub(crate) fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Boolean(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_longs_are_the_same_key() {
        assert!(key_eq(&Value::Ref(5), &Value::Long(5)));
        assert!(!key_eq(&Value::Ref(5), &Value::Long(-5)));
        assert_eq!(hash_key([&Value::Ref(5)]), hash_key([&Value::Long(5)]));
        assert_ne!(hash_key([&Value::Long(-1)]), hash_key([&Value::Long(1)]));
    }

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(
            compare(&Value::Long(2), &Value::Double(2.5)),
            Ordering::Less
        );
        assert_eq!(compare(&Value::Ref(7), &Value::Long(7)), Ordering::Equal);
        assert_eq!(
            compare(&Value::string("a"), &Value::string("b")),
            Ordering::Less
        );
    }

    #[test]
    fn edn_constants_become_values() {
        let v = from_edn(&model::edn::parse("[1 nil :a]").unwrap()).unwrap();
        assert_eq!(
            v,
            Value::Tuple(vec![Some(Value::Long(1)), None, Some(Value::keyword(":a"))].into())
        );
        assert!(from_edn(&Edn::Nil).is_err());
        assert!(from_edn(&model::edn::parse("{:a 1}").unwrap()).is_err());
    }
}
