//! Tuple values with reference elements in tx data: the elements may name
//! entities of the same transaction (e.g. `:db/tupleAttrs` listing
//! attributes defined alongside), so they resolve with the tempids.

use super::forms::{Ctx, Origin, Val};
use crate::edn::Edn;
use crate::error::{Error, Result, TxErrorKind};
use crate::schema::Attribute;
use crate::value::{TupleShape, Value, ValueType};

/// True when some element of the tuple is a reference.
pub(crate) fn has_refs(shape: &TupleShape) -> bool {
    match shape {
        TupleShape::Homogeneous(t) => *t == ValueType::Ref,
        TupleShape::Heterogeneous(ts) | TupleShape::Composite(ts) => ts.contains(&ValueType::Ref),
    }
}

impl Ctx<'_> {
    fn tuple_error(&self, attr: &Attribute, message: String, origin: Origin) -> Error {
        self.error(
            TxErrorKind::WrongType,
            format!("{message}, as {} needs", attr.ident),
            origin,
        )
    }

    /// Parses a tuple value whose reference elements are entity positions.
    pub(crate) fn ref_tuple(
        &mut self,
        attr: &Attribute,
        shape: &TupleShape,
        items: &[Edn],
        origin: Origin,
    ) -> Result<Val> {
        let types: Vec<ValueType> = match shape {
            TupleShape::Homogeneous(t) if (2..=8).contains(&items.len()) => vec![*t; items.len()],
            TupleShape::Homogeneous(_) => {
                let message = format!("a tuple has 2 to 8 elements, not {}", items.len());
                return Err(self.tuple_error(attr, message, origin));
            }
            TupleShape::Heterogeneous(ts) | TupleShape::Composite(ts) => ts.to_vec(),
        };
        if types.len() != items.len() {
            let message = format!(
                "the tuple needs {} elements, got {}",
                types.len(),
                items.len()
            );
            return Err(self.tuple_error(attr, message, origin));
        }
        let mut elements = Vec::with_capacity(items.len());
        for (item, ty) in items.iter().zip(types) {
            elements.push(match (item, ty) {
                (Edn::Nil, _) => None,
                (item, ValueType::Ref) => Some(Val::Entity(self.target(item, origin)?)),
                (item, ty) => {
                    let no_refs = |e: &Edn| Err(format!("{e} is not a value"));
                    let value = Value::from_edn(ty, None, item, &no_refs);
                    Some(Val::Value(
                        value.map_err(|m| self.tuple_error(attr, m, origin))?,
                    ))
                }
            });
        }
        Ok(Val::Tuple(elements))
    }
}
