//! Query results: rows of found values in the shape `:find` asked for,
//! printable as EDN.

use crate::parse::Shape;
use crate::pull::PullMap;
use model::edn::Edn;
use model::{EntityId, Value};
use std::fmt;

/// One cell of a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// A variable's value or an aggregate's result.
    Value(Value),
    /// A pull expression's result.
    Pulled(PullMap),
    /// An aggregate returning several values in order (`min n`, `max n`,
    /// `rand n`, `sample n`).
    List(Vec<Value>),
    /// An aggregate returning a set (`distinct`).
    Set(Vec<Value>),
}

impl Found {
    /// The value, if this cell holds one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Found::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The entity id, if this cell holds a reference (or a non-negative long).
    pub fn as_entity(&self) -> Option<EntityId> {
        self.as_value().and_then(crate::value::as_entity_id)
    }

    /// The long, if this cell holds one.
    pub fn as_long(&self) -> Option<i64> {
        match self {
            Found::Value(Value::Long(n)) => Some(*n),
            _ => None,
        }
    }

    /// The cell as EDN.
    pub fn to_edn(&self) -> Edn {
        match self {
            Found::Value(v) => v.to_edn(),
            Found::Pulled(m) => m.to_edn(),
            Found::List(items) => Edn::Vector(items.iter().map(Value::to_edn).collect()),
            Found::Set(items) => Edn::Set(items.iter().map(Value::to_edn).collect()),
        }
    }
}

impl fmt::Display for Found {
    /// Prints the cell as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_edn())
    }
}

/// The result of a query.
///
/// Rows are in no particular order (a relation is a set unless `:with` or
/// aggregates make it a list). `Display` prints what Datomic returns:
/// `#{[…] …}` for a relation, `[[…] …]` with aggregates or `:with`,
/// `[{…} …]` for return maps, `[…]` for a collection or tuple, a value or
/// `nil` for a scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    pub(crate) shape: Shape,
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<Found>>,
    pub(crate) keys: Option<Vec<Edn>>,
    /// True when the rows form a list (aggregates, `:with`), not a set.
    pub(crate) list: bool,
}

impl QueryResult {
    /// The shape `:find` asked for.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The `:find` elements as written, one per column.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Every row (for a scalar or tuple find, at most one).
    pub fn rows(&self) -> &[Vec<Found>] {
        &self.rows
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The first column of every row: the result of `[?x ...]`, or one
    /// column of a relation.
    pub fn column(&self, i: usize) -> Vec<&Found> {
        self.rows.iter().filter_map(|r| r.get(i)).collect()
    }

    /// The value of a scalar find (`?x .`), or the first cell found.
    pub fn scalar(&self) -> Option<&Found> {
        self.rows.first().and_then(|r| r.first())
    }

    /// The rows as return maps, when `:keys`, `:strs` or `:syms` was given.
    pub fn maps(&self) -> Option<Vec<Edn>> {
        let keys = self.keys.as_ref()?;
        Some(
            self.rows
                .iter()
                .map(|row| Edn::map(keys.iter().cloned().zip(row.iter().map(Found::to_edn))))
                .collect(),
        )
    }

    /// The result as EDN, shaped as [`QueryResult`]'s `Display` describes.
    pub fn to_edn(&self) -> Edn {
        let row = |r: &Vec<Found>| Edn::Vector(r.iter().map(Found::to_edn).collect());
        match self.shape {
            Shape::Scalar => self.scalar().map_or(Edn::Nil, Found::to_edn),
            Shape::Tuple => self.rows.first().map_or(Edn::Nil, row),
            Shape::Collection => {
                Edn::Vector(self.column(0).into_iter().map(Found::to_edn).collect())
            }
            Shape::Relation => match (self.maps(), self.list) {
                (Some(maps), _) => Edn::Vector(maps),
                (None, true) => Edn::Vector(self.rows.iter().map(row).collect()),
                (None, false) => Edn::Set(self.rows.iter().map(row).collect()),
            },
        }
    }
}

impl fmt::Display for QueryResult {
    /// Prints the result as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_edn())
    }
}
