//! Pull: a declarative, hierarchical read of one entity (or many) as
//! nested maps, by pattern.
//!
//! ```
//! use model::{Db, TxFunctions, Value, edn::Instant};
//! let db = Db::new()
//!     .with_edn(r#"[{:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
//!                  {:db/ident :user/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#,
//!               Instant(1), &TxFunctions::new()).unwrap().db_after;
//! let report = db.with_edn(r#"[{:db/id "u" :user/name "Ann"}]"#, Instant(2), &TxFunctions::new()).unwrap();
//! let ann = report.tempid("u").unwrap();
//! let pattern = query::PullPattern::parse("[:user/name [:user/age :default 0]]").unwrap();
//! let map = query::pull(&report.db_after, &pattern, &Value::Ref(ann)).unwrap();
//! assert_eq!(map.to_string(), r#"{:user/age 0, :user/name "Ann"}"#);
//! ```

mod eval;
mod pattern;

pub(crate) use pattern::{AttrSpec, Nested, Spec};
pub use pattern::{DEFAULT_LIMIT, PullPattern};

use crate::error::Result;
use model::edn::Edn;
use model::{Db, EntityId, Value};
use std::collections::BTreeMap;
use std::fmt;

/// What pull returns for one attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pulled {
    /// A scalar value (or a default).
    Value(Value),
    /// A referenced entity, as a map (just `{:db/id n}` unless a nested
    /// pattern or a component pulls more).
    Map(PullMap),
    /// The values of a many-valued attribute or a reverse reference.
    Many(Vec<Pulled>),
}

/// One pulled entity: result keys (the attributes, or their `:as` names)
/// to values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullMap(BTreeMap<Edn, Pulled>);

impl PullMap {
    /// The value under a keyword key such as `:user/email`.
    pub fn get(&self, key: &str) -> Option<&Pulled> {
        self.0.get(&Edn::keyword(key))
    }

    /// The value under any key (`:as` may name keys with strings or symbols).
    pub fn get_key(&self, key: &Edn) -> Option<&Pulled> {
        self.0.get(key)
    }

    /// The entries, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&Edn, &Pulled)> {
        self.0.iter()
    }

    /// How many keys the map has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was pulled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `:db/id`, when it was pulled.
    pub fn id(&self) -> Option<EntityId> {
        match self.get(":db/id") {
            Some(Pulled::Value(Value::Ref(e))) => Some(*e),
            _ => None,
        }
    }

    /// The map as EDN.
    pub fn to_edn(&self) -> Edn {
        Edn::Map(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_edn()))
                .collect(),
        )
    }

    pub(crate) fn insert(&mut self, key: Edn, value: Pulled) {
        self.0.insert(key, value);
    }

    pub(crate) fn contains(&self, key: &Edn) -> bool {
        self.0.contains_key(key)
    }
}

impl Pulled {
    /// The value as EDN (references print as `{:db/id n}` maps).
    pub fn to_edn(&self) -> Edn {
        match self {
            Pulled::Value(v) => v.to_edn(),
            Pulled::Map(m) => m.to_edn(),
            Pulled::Many(items) => Edn::Vector(items.iter().map(Pulled::to_edn).collect()),
        }
    }

    /// The scalar value, if this is one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Pulled::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The entity map, if this is one.
    pub fn as_map(&self) -> Option<&PullMap> {
        match self {
            Pulled::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if this is a many-valued result.
    pub fn as_many(&self) -> Option<&[Pulled]> {
        match self {
            Pulled::Many(items) => Some(items),
            _ => None,
        }
    }
}

impl fmt::Display for PullMap {
    /// Prints the map as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_edn())
    }
}

impl fmt::Display for Pulled {
    /// Prints the value as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_edn())
    }
}

/// Pulls `pattern` from one entity, named by id (`Ref` or `Long`), ident
/// (`Keyword`) or lookup ref (a tuple `[:attr value]`). An entity without
/// any of the pattern's attributes gives an empty map (or `{:db/id n}`
/// when the pattern asks for the id).
pub fn pull(db: &Db, pattern: &PullPattern, entity: &Value) -> Result<PullMap> {
    let mut puller = eval::Puller::new(db, pattern)?;
    match puller.resolve(entity)? {
        Some(e) => puller.entity(pattern, e),
        None => Ok(PullMap::default()),
    }
}

/// [`pull`] for many entities, in order.
pub fn pull_many(db: &Db, pattern: &PullPattern, entities: &[Value]) -> Result<Vec<PullMap>> {
    let mut puller = eval::Puller::new(db, pattern)?;
    entities
        .iter()
        .map(|entity| match puller.resolve(entity)? {
            Some(e) => puller.entity(pattern, e),
            None => Ok(PullMap::default()),
        })
        .collect()
}
