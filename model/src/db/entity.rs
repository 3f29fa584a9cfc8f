//! The entity API: lazy, map-like access to one entity's attributes.

use super::{Db, View};
use crate::datom::{Datom, EntityId};
use crate::edn::{Edn, Keyword};
use crate::error::Result;
use crate::index::Index;
use crate::value::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

/// An entity of a database value. Nothing is read until asked: `get` reads
/// one attribute, `touch` reads all (and recurses into components).
#[derive(Clone)]
pub struct Entity {
    db: Db,
    id: EntityId,
}

/// What an entity attribute holds.
#[derive(Clone, Debug)]
pub enum EntityValue {
    /// A scalar value (cardinality one).
    Value(Value),
    /// A referenced entity (cardinality one, or a component's reverse ref).
    Entity(Entity),
    /// The values of a cardinality-many attribute or a reverse reference.
    Many(Vec<EntityValue>),
}

impl EntityValue {
    /// The scalar value, if this is one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            EntityValue::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The entity, if this is a single reference.
    pub fn as_entity(&self) -> Option<&Entity> {
        match self {
            EntityValue::Entity(e) => Some(e),
            _ => None,
        }
    }

    /// The elements of a many-valued attribute.
    pub fn as_many(&self) -> Option<&[EntityValue]> {
        match self {
            EntityValue::Many(items) => Some(items),
            _ => None,
        }
    }
}

impl Db {
    /// The entity `e` of this value (reads are lazy). History views read as
    /// their current view: an entity has no retractions.
    pub fn entity(&self, e: EntityId) -> Entity {
        let db = Db {
            view: View {
                history: false,
                ..self.view.clone()
            },
            ..self.clone()
        };
        Entity { db, id: e }
    }
}

impl Entity {
    /// The entity id.
    pub fn id(&self) -> EntityId {
        self.id
    }

    /// The database value the entity reads from.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The value of an attribute, `:db/id`, or a reverse reference
    /// `:ns/_attr` (the entities pointing here). `None` when absent.
    pub fn get(&self, attr: &Keyword) -> Result<Option<EntityValue>> {
        if attr.as_str() == "db/id" {
            return Ok(Some(EntityValue::Value(Value::Ref(self.id))));
        }
        if let Some(attribute) = self.db.attribute_named(attr) {
            let datoms = self.attribute_datoms(attribute.id)?;
            return Ok(self.forward(attribute.is_many(), attribute.is_ref(), datoms));
        }
        match self.db.attribute_named(&attr.reversed()) {
            Some(attribute) if attr.is_reverse() && attribute.is_ref() => {
                let datoms: Vec<Datom> = self
                    .db
                    .datoms(
                        Index::Vaet,
                        &[Value::Ref(self.id), Value::Ref(attribute.id)],
                    )?
                    .collect::<Result<_>>()?;
                let mut sources = datoms
                    .iter()
                    .map(|d| EntityValue::Entity(self.db.entity(d.e())));
                Ok(match (datoms.len(), attribute.is_component) {
                    (0, _) => None,
                    (_, true) => sources.next(),
                    _ => Some(EntityValue::Many(sources.collect())),
                })
            }
            _ => Err(crate::error::Error::InvalidArgument(format!(
                "{attr} is not an attribute"
            ))),
        }
    }

    /// The attributes the entity has, as idents.
    pub fn keys(&self) -> Result<Vec<Keyword>> {
        let datoms: Vec<Datom> = self
            .db
            .datoms(Index::Eavt, &[Value::Ref(self.id)])?
            .collect::<Result<_>>()?;
        let attrs: BTreeSet<EntityId> = datoms.iter().map(Datom::a).collect();
        Ok(attrs
            .into_iter()
            .filter_map(|a| self.db.ident(a).cloned())
            .collect())
    }

    /// Every attribute as an EDN map, recursing into components; other
    /// references appear as `{:db/id n}`.
    pub fn touch(&self) -> Result<Edn> {
        self.touch_into(&mut HashSet::new())
    }

    fn touch_into(&self, seen: &mut HashSet<EntityId>) -> Result<Edn> {
        seen.insert(self.id);
        let datoms: Vec<Datom> = self
            .db
            .datoms(Index::Eavt, &[Value::Ref(self.id)])?
            .collect::<Result<_>>()?;
        let mut map = BTreeMap::new();
        map.insert(Edn::keyword("db/id"), Edn::Long(self.id as i64));
        for group in datoms.chunk_by(|x, y| x.a() == y.a()) {
            let Some(attribute) = self.db.attribute(group[0].a()).cloned() else {
                continue;
            };
            let mut values = Vec::new();
            for d in group {
                values.push(match d.v() {
                    Value::Ref(r) if attribute.is_component && !seen.contains(r) => {
                        self.db.entity(*r).touch_into(seen)?
                    }
                    Value::Ref(r) => Edn::map([(Edn::keyword("db/id"), Edn::Long(*r as i64))]),
                    v => v.to_edn(),
                });
            }
            let value = match attribute.is_many() {
                true => Edn::Set(values.into_iter().collect()),
                false => values.pop().unwrap_or(Edn::Nil),
            };
            map.insert(Edn::Keyword(attribute.ident.clone()), value);
        }
        Ok(Edn::Map(map))
    }

    fn attribute_datoms(&self, a: EntityId) -> Result<Vec<Datom>> {
        self.db
            .datoms(Index::Eavt, &[Value::Ref(self.id), Value::Ref(a)])?
            .collect()
    }

    fn forward(&self, many: bool, is_ref: bool, datoms: Vec<Datom>) -> Option<EntityValue> {
        let wrap = |d: &Datom| match (is_ref, d.v()) {
            (true, Value::Ref(r)) => EntityValue::Entity(self.db.entity(*r)),
            (_, v) => EntityValue::Value(v.clone()),
        };
        match (datoms.len(), many) {
            (0, _) => None,
            (_, true) => Some(EntityValue::Many(datoms.iter().map(wrap).collect())),
            (_, false) => datoms.last().map(wrap),
        }
    }
}

impl fmt::Display for Entity {
    /// An entity prints as `{:db/id n}` until touched, as in Datomic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{:db/id {}}}", self.id)
    }
}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
