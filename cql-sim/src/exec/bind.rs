//! Turning statement terms into typed values: literals are converted to the
//! column's type, bind markers are decoded from the client's values.

use std::collections::{BTreeMap, BTreeSet};

use crate::cql::ast::{Literal, Rhs, Term};
use crate::error::CqlError;
use crate::protocol::{BoundValue, ColumnSpec};
use crate::types::{CqlType, Double, Value};

/// A term's value: a value, `null`, or "not set" (leave the column alone).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bound {
    Value(Value),
    Null,
    Unset,
}

/// The client's values for a statement's bind markers.
pub(crate) struct Bindings<'a> {
    values: &'a [BoundValue],
}

impl<'a> Bindings<'a> {
    /// Checks that there is one value per marker.
    pub(crate) fn new(
        values: &'a [BoundValue],
        markers: &[ColumnSpec],
    ) -> Result<Bindings<'a>, CqlError> {
        if values.len() != markers.len() {
            return Err(CqlError::invalid(format!(
                "Invalid amount of bind variables: expected {}, got {}",
                markers.len(),
                values.len()
            )));
        }
        Ok(Bindings { values })
    }

    /// The value of `term` as `ty`, for `column` (named in errors).
    pub(crate) fn bound(&self, term: &Term, ty: &CqlType, column: &str) -> Result<Bound, CqlError> {
        match term {
            Term::Marker { index, .. } => match self.values.get(*index) {
                Some(BoundValue::Bytes(bytes)) => ty.decode(bytes).map(Bound::Value).map_err(|e| {
                    CqlError::invalid(format!("Invalid value for {column} of type {ty}: {e}"))
                }),
                Some(BoundValue::Null) => Ok(Bound::Null),
                Some(BoundValue::Unset) => Ok(Bound::Unset),
                None => Err(CqlError::invalid(format!(
                    "No value bound for marker {index} ({column})"
                ))),
            },
            Term::Literal(Literal::Null) => Ok(Bound::Null),
            Term::Literal(literal) => self.literal(literal, ty, column).map(Bound::Value),
        }
    }

    /// The value of `term`, which must be neither null nor unset.
    pub(crate) fn value(&self, term: &Term, ty: &CqlType, column: &str) -> Result<Value, CqlError> {
        match self.bound(term, ty, column)? {
            Bound::Value(v) => Ok(v),
            Bound::Null => Err(CqlError::invalid(format!(
                "Invalid null value for {column}"
            ))),
            Bound::Unset => Err(CqlError::invalid(format!(
                "Invalid unset value for {column}"
            ))),
        }
    }

    /// The values a relation's right-hand side stands for (`IN` gives
    /// several; `null` items are kept as `None`).
    pub(crate) fn values(
        &self,
        rhs: &Rhs,
        ty: &CqlType,
        column: &str,
    ) -> Result<Vec<Option<Value>>, CqlError> {
        let single = |b: Bound| match b {
            Bound::Value(v) => Ok(Some(v)),
            Bound::Null => Ok(None),
            Bound::Unset => Err(CqlError::invalid(format!(
                "Invalid unset value for {column}"
            ))),
        };
        match rhs {
            Rhs::Term(term) => Ok(vec![single(self.bound(term, ty, column)?)?]),
            Rhs::List(terms) => terms
                .iter()
                .map(|t| single(self.bound(t, ty, column)?))
                .collect(),
            Rhs::ListMarker(term) => {
                match self.bound(term, &CqlType::List(Box::new(ty.clone())), column)? {
                    Bound::Value(Value::List(items)) => Ok(items.into_iter().map(Some).collect()),
                    _ => Err(CqlError::invalid(format!(
                        "Invalid null or unset list for IN on {column}"
                    ))),
                }
            }
        }
    }

    fn literal(&self, literal: &Literal, ty: &CqlType, column: &str) -> Result<Value, CqlError> {
        let mismatch = || {
            CqlError::invalid(format!(
                "Invalid {} constant ({}) for \"{column}\" of type {ty}",
                literal_kind(literal),
                literal_text(literal)
            ))
        };
        let value = match (literal, ty) {
            (Literal::Str(s), CqlType::Text) => Value::Text(s.clone()),
            (Literal::Str(s), CqlType::Ascii) if s.is_ascii() => Value::Text(s.clone()),
            (Literal::Str(s), CqlType::Inet) => Value::Inet(s.parse().map_err(|_| mismatch())?),
            (Literal::Number(n), CqlType::Int) => Value::Int(n.parse().map_err(|_| mismatch())?),
            (Literal::Number(n), CqlType::BigInt | CqlType::Timestamp) => {
                Value::BigInt(n.parse().map_err(|_| mismatch())?)
            }
            (Literal::Number(n), CqlType::Double) => {
                Value::Double(Double(n.parse().map_err(|_| mismatch())?))
            }
            (Literal::Bool(b), CqlType::Boolean) => Value::Boolean(*b),
            (Literal::Blob(b), CqlType::Blob) => Value::Blob(b.clone()),
            (Literal::Uuid(u), CqlType::Uuid) => Value::Uuid(*u),
            (Literal::List(items), CqlType::List(element)) => {
                Value::List(self.items(items, element, column)?)
            }
            (Literal::Set(items), CqlType::Set(element)) => Value::Set(
                self.items(items, element, column)?
                    .into_iter()
                    .collect::<BTreeSet<_>>(),
            ),
            (Literal::Set(items), CqlType::Map(..)) if items.is_empty() => {
                Value::Map(BTreeMap::new())
            }
            (Literal::Map(entries), CqlType::Map(key, value)) => {
                let mut map = BTreeMap::new();
                for (k, v) in entries {
                    map.insert(self.value(k, key, column)?, self.value(v, value, column)?);
                }
                Value::Map(map)
            }
            _ => return Err(mismatch()),
        };
        Ok(value)
    }

    fn items(
        &self,
        items: &[Term],
        element: &CqlType,
        column: &str,
    ) -> Result<Vec<Value>, CqlError> {
        items
            .iter()
            .map(|t| self.value(t, element, column))
            .collect()
    }
}

fn literal_kind(literal: &Literal) -> &'static str {
    match literal {
        Literal::Str(_) => "STRING",
        Literal::Number(_) => "INTEGER",
        Literal::Bool(_) => "BOOLEAN",
        Literal::Blob(_) => "HEX",
        Literal::Uuid(_) => "UUID",
        Literal::Null => "NULL",
        Literal::List(_) => "LIST",
        Literal::Set(_) => "SET",
        Literal::Map(_) => "MAP",
    }
}

fn literal_text(literal: &Literal) -> String {
    match literal {
        Literal::Str(s) | Literal::Number(s) => s.clone(),
        Literal::Bool(b) => b.to_string(),
        _ => literal_kind(literal).to_ascii_lowercase(),
    }
}

/// Collects the type and name of every bind marker while a statement is
/// planned, for PREPARE metadata and for decoding values.
#[derive(Default)]
pub(crate) struct Markers {
    specs: Vec<Option<ColumnSpec>>,
}

impl Markers {
    /// Records the spec of `term` if it is a marker (a named marker reports its own name).
    pub(crate) fn note(&mut self, term: &Term, mut spec: ColumnSpec) {
        if let Term::Marker { index, name } = term {
            if let Some(name) = name {
                spec.name = name.clone();
            }
            if self.specs.len() <= *index {
                self.specs.resize(*index + 1, None);
            }
            self.specs[*index] = Some(spec);
        }
    }

    /// Records the markers of a relation's right-hand side.
    pub(crate) fn note_rhs(&mut self, rhs: &Rhs, spec: &ColumnSpec) {
        match rhs {
            Rhs::Term(term) => self.note(term, spec.clone()),
            Rhs::List(terms) => terms.iter().for_each(|t| self.note(t, spec.clone())),
            Rhs::ListMarker(term) => self.note(
                term,
                ColumnSpec {
                    name: format!("in({})", spec.name),
                    ty: CqlType::List(Box::new(spec.ty.clone())),
                    ..spec.clone()
                },
            ),
        }
    }

    /// The specs in marker order; every marker must have been typed.
    pub(crate) fn finish(self) -> Result<Vec<ColumnSpec>, CqlError> {
        self.specs
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                s.ok_or_else(|| {
                    CqlError::invalid(format!(
                        "Bind marker {i} is in a position the simulator cannot type"
                    ))
                })
            })
            .collect()
    }
}
