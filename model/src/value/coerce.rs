//! Conversions between EDN and datom values.

use super::{Value, ValueType};
use crate::datom::EntityId;
use crate::edn::{Edn, Symbol};
use std::sync::Arc;

/// The element types of a tuple attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TupleShape {
    /// `:db/tupleType`: 2 to 8 elements of one type.
    Homogeneous(ValueType),
    /// `:db/tupleTypes`: one type per position.
    Heterogeneous(Arc<[ValueType]>),
    /// `:db/tupleAttrs`: the types of the component attributes.
    Composite(Arc<[ValueType]>),
}

/// Resolves an entity reference written in EDN (id, ident, …) to an id.
pub type RefResolver<'a> = dyn Fn(&Edn) -> Result<EntityId, String> + 'a;

/// Tuples hold 2 to 8 elements, as in Datomic.
const TUPLE_SIZES: std::ops::RangeInclusive<usize> = 2..=8;

impl Value {
    /// Converts EDN to a value of type `ty`. `shape` describes tuple
    /// elements; `resolve` turns entity references into ids.
    pub fn from_edn(
        ty: ValueType,
        shape: Option<&TupleShape>,
        edn: &Edn,
        resolve: &RefResolver<'_>,
    ) -> Result<Value, String> {
        let wrong = || format!("{edn} is not a {ty}");
        let value = match (ty, edn) {
            (ValueType::Ref, e) => Value::Ref(resolve(e)?),
            (ValueType::Keyword, Edn::Keyword(k)) => Value::Keyword(k.clone()),
            (ValueType::Long, Edn::Long(n)) => Value::Long(*n),
            (ValueType::String, Edn::String(s)) => Value::String(s.clone()),
            (ValueType::Boolean, Edn::Boolean(b)) => Value::Boolean(*b),
            (ValueType::Instant, Edn::Inst(i)) => Value::Instant(*i),
            (ValueType::Uuid, Edn::Uuid(u)) => Value::Uuid(*u),
            (ValueType::Double, Edn::Double(d)) => Value::Double(*d),
            (ValueType::Float, Edn::Double(d)) => Value::Float(*d as f32),
            (ValueType::BigInt, Edn::BigInt(n)) => Value::BigInt(n.clone()),
            (ValueType::BigInt, Edn::Long(n)) => Value::BigInt(Arc::new((*n).into())),
            (ValueType::BigDec, Edn::BigDec(d)) => Value::BigDec(d.clone()),
            (ValueType::Symbol, Edn::Symbol(s)) => Value::Symbol(s.clone()),
            (ValueType::Uri, Edn::String(s)) => uri(s)?,
            (ValueType::Uri, Edn::Tagged(tag, inner)) if tag.as_str() == "uri" => match &**inner {
                Edn::String(s) => uri(s)?,
                _ => return Err(wrong()),
            },
            (ValueType::Bytes, Edn::Tagged(tag, inner)) if tag.as_str() == "bytes" => {
                match &**inner {
                    Edn::String(s) => Value::Bytes(
                        hex::decode(&**s)
                            .map_err(|e| format!("{edn} is not hex bytes: {e}"))?
                            .into(),
                    ),
                    _ => return Err(wrong()),
                }
            }
            (ValueType::Tuple, Edn::Vector(items)) => tuple(shape, items, resolve)?,
            _ => return Err(wrong()),
        };
        Ok(value)
    }

    /// The value as EDN (refs become longs, URIs `#uri "…"`, bytes `#bytes "hex"`).
    pub fn to_edn(&self) -> Edn {
        match self {
            Value::Ref(e) => Edn::Long(*e as i64),
            Value::Keyword(k) => Edn::Keyword(k.clone()),
            Value::Long(n) => Edn::Long(*n),
            Value::String(s) => Edn::String(s.clone()),
            Value::Boolean(b) => Edn::Boolean(*b),
            Value::Instant(i) => Edn::Inst(*i),
            Value::Uuid(u) => Edn::Uuid(*u),
            Value::Double(d) => Edn::Double(*d),
            Value::Float(d) => Edn::Double(f64::from(*d)),
            Value::BigInt(n) => Edn::BigInt(n.clone()),
            Value::BigDec(d) => Edn::BigDec(d.clone()),
            Value::Symbol(s) => Edn::Symbol(s.clone()),
            Value::Uri(s) => Edn::Tagged(Symbol::new("uri"), Box::new(Edn::String(s.clone()))),
            Value::Bytes(b) => Edn::Tagged(
                Symbol::new("bytes"),
                Box::new(Edn::String(Arc::from(hex::encode(b)))),
            ),
            Value::Tuple(items) => Edn::Vector(
                items
                    .iter()
                    .map(|v| v.as_ref().map_or(Edn::Nil, Value::to_edn))
                    .collect(),
            ),
        }
    }
}

/// A URI needs a scheme: letters, digits, `+`, `-`, `.`, then `:`.
fn uri(text: &str) -> Result<Value, String> {
    let scheme = text.split_once(':').map(|(s, _)| s).unwrap_or("");
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid || text.chars().any(char::is_whitespace) {
        return Err(format!("\"{text}\" is not a URI"));
    }
    Ok(Value::Uri(Arc::from(text)))
}

fn tuple(
    shape: Option<&TupleShape>,
    items: &[Edn],
    resolve: &RefResolver<'_>,
) -> Result<Value, String> {
    let shape = shape.ok_or("a tuple attribute without tuple types")?;
    let types: Vec<ValueType> = match shape {
        TupleShape::Homogeneous(t) => {
            if !TUPLE_SIZES.contains(&items.len()) {
                return Err(format!("a tuple has 2 to 8 elements, not {}", items.len()));
            }
            vec![*t; items.len()]
        }
        TupleShape::Heterogeneous(ts) | TupleShape::Composite(ts) => ts.to_vec(),
    };
    if types.len() != items.len() {
        return Err(format!(
            "the tuple needs {} elements, got {}",
            types.len(),
            items.len()
        ));
    }
    let elements = items
        .iter()
        .zip(types)
        .map(|(item, t)| match item {
            Edn::Nil => Ok(None),
            _ => Value::from_edn(t, None, item, resolve).map(Some),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Value::Tuple(elements.into()))
}
