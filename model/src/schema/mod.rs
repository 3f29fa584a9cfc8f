//! Schema: attributes are entities described by ordinary datoms. A database
//! value caches the schema derived from those datoms here.

pub mod bootstrap;

use crate::datom::{Datom, EntityId};
use crate::edn::Keyword;
use crate::value::{TupleShape, Value, ValueType};
use bootstrap as b;
use foldhash::{HashMap, HashSet};
use std::sync::Arc;

/// `:db/cardinality`
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cardinality {
    /// One value per entity; asserting another retracts the old one.
    One,
    /// A set of values per entity.
    Many,
}

/// `:db/unique`
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Unique {
    /// `:db.unique/value`: a second entity with the value is an error.
    Value,
    /// `:db.unique/identity`: a tempid with the value resolves to its entity (upsert).
    Identity,
}

/// An installed attribute, as its schema datoms describe it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Attribute {
    /// The attribute's entity id.
    pub id: EntityId,
    /// Its current `:db/ident`.
    pub ident: Keyword,
    /// `:db/valueType`
    pub value_type: ValueType,
    /// `:db/cardinality`
    pub cardinality: Cardinality,
    /// `:db/unique`
    pub unique: Option<Unique>,
    /// `:db/isComponent`
    pub is_component: bool,
    /// `:db/index` (informational: AVET covers every attribute).
    pub index: bool,
    /// `:db/noHistory`: retracted values are not kept in history.
    pub no_history: bool,
    /// `:db/doc`
    pub doc: Option<Arc<str>>,
    /// The element types of a tuple attribute.
    pub tuple: Option<TupleShape>,
    /// `:db/tupleAttrs` of a composite tuple attribute.
    pub tuple_attrs: Option<Arc<[EntityId]>>,
}

impl Attribute {
    /// True for `:db.type/ref` attributes.
    pub fn is_ref(&self) -> bool {
        self.value_type == ValueType::Ref
    }

    /// True for `:db.cardinality/many` attributes.
    pub fn is_many(&self) -> bool {
        self.cardinality == Cardinality::Many
    }
}

/// The schema facts of one entity, read from its datoms.
#[derive(Default)]
struct Facts {
    ident: Option<Keyword>,
    value_type: Option<EntityId>,
    cardinality: Option<EntityId>,
    unique: Option<EntityId>,
    is_component: bool,
    index: bool,
    no_history: bool,
    doc: Option<Arc<str>>,
    tuple_attrs: Option<Vec<EntityId>>,
    tuple_type: Option<EntityId>,
    tuple_types: Option<Vec<EntityId>>,
}

fn tuple_refs(v: &Value) -> Option<Vec<EntityId>> {
    match v {
        Value::Tuple(items) => items
            .iter()
            .map(|i| i.as_ref().and_then(Value::as_ref_id))
            .collect(),
        _ => None,
    }
}

impl Facts {
    fn read(datoms: &[Datom]) -> Facts {
        let mut f = Facts::default();
        for d in datoms {
            let v = d.v();
            let flag = matches!(v, Value::Boolean(true));
            match d.a() {
                b::IDENT => {
                    f.ident = if let Value::Keyword(k) = v {
                        Some(k.clone())
                    } else {
                        None
                    }
                }
                b::VALUE_TYPE => f.value_type = v.as_ref_id(),
                b::CARDINALITY => f.cardinality = v.as_ref_id(),
                b::UNIQUE => f.unique = v.as_ref_id(),
                b::IS_COMPONENT => f.is_component = flag,
                b::INDEX => f.index = flag,
                b::NO_HISTORY => f.no_history = flag,
                b::DOC => f.doc = v.as_str().map(Arc::from),
                b::TUPLE_ATTRS => f.tuple_attrs = tuple_refs(v),
                b::TUPLE_TYPE => f.tuple_type = v.as_ref_id(),
                b::TUPLE_TYPES => f.tuple_types = tuple_refs(v),
                _ => {}
            }
        }
        f
    }

    /// True when the entity says anything that makes it an attribute.
    fn defines_attribute(&self) -> bool {
        self.value_type.is_some() || self.cardinality.is_some()
    }
}

/// A tuple attribute's element types and, for composites, its parts.
type TupleDefinition = (Option<TupleShape>, Option<Arc<[EntityId]>>);

/// Why an entity's schema datoms do not describe a valid attribute.
pub(crate) type SchemaProblem = String;

/// The schema of a database value: attributes, idents and partitions.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    attrs: HashMap<EntityId, Arc<Attribute>>,
    idents: HashMap<Keyword, EntityId>,
    names: HashMap<EntityId, Keyword>,
    partitions: HashSet<EntityId>,
    /// Component attribute → composite tuple attributes built from it.
    composites: HashMap<EntityId, Vec<EntityId>>,
    /// Attributes with `:db/noHistory`.
    no_history: HashSet<EntityId>,
}

impl Schema {
    /// The attribute with this entity id.
    pub fn attribute(&self, a: EntityId) -> Option<&Arc<Attribute>> {
        self.attrs.get(&a)
    }

    /// The entity an ident names (current idents and old aliases).
    pub fn entid(&self, ident: &Keyword) -> Option<EntityId> {
        self.idents.get(ident).copied()
    }

    /// The current ident of an entity.
    pub fn ident(&self, e: EntityId) -> Option<&Keyword> {
        self.names.get(&e)
    }

    /// The attribute an ident names.
    pub fn attribute_named(&self, ident: &Keyword) -> Option<&Arc<Attribute>> {
        self.entid(ident).and_then(|a| self.attribute(a))
    }

    /// True when `p` is an installed partition.
    pub fn is_partition(&self, p: EntityId) -> bool {
        self.partitions.contains(&p)
    }

    /// Every attribute.
    pub fn attributes(&self) -> impl Iterator<Item = &Arc<Attribute>> {
        self.attrs.values()
    }

    /// The attributes with `:db/noHistory`.
    pub(crate) fn no_history_attributes(&self) -> &HashSet<EntityId> {
        &self.no_history
    }

    /// The composite tuple attributes that include attribute `a`.
    pub(crate) fn composites_of(&self, a: EntityId) -> &[EntityId] {
        self.composites.get(&a).map_or(&[], Vec::as_slice)
    }

    /// Records a partition installed with `:db.install/partition`.
    pub(crate) fn set_partition(&mut self, p: EntityId, installed: bool) {
        if installed {
            self.partitions.insert(p);
        } else {
            self.partitions.remove(&p);
        }
    }

    /// The schema the bootstrap transaction describes, so that it can be
    /// applied (its datoms use the attributes they define).
    pub(crate) fn bootstrap(entry: &crate::log::TxLog) -> Schema {
        let mut schema = Schema::default();
        let mut by_entity: std::collections::BTreeMap<EntityId, Vec<Datom>> = Default::default();
        for d in entry.data.iter() {
            by_entity.entry(d.e()).or_default().push(d.clone());
        }
        for (e, datoms) in by_entity {
            // The built-in definitions are fixed data and always valid.
            let _ = schema.refresh(e, &datoms);
        }
        schema
    }

    /// Re-derives what entity `e` contributes to the schema from its
    /// current datoms (all of `e`'s datoms, EAVT order).
    pub(crate) fn refresh(&mut self, e: EntityId, datoms: &[Datom]) -> Result<(), SchemaProblem> {
        let facts = Facts::read(datoms);
        self.refresh_ident(e, facts.ident.clone());
        self.remove_attribute(e);
        if !facts.defines_attribute() {
            return Ok(());
        }
        let attribute = self.build(e, facts)?;
        if let Some(parts) = &attribute.tuple_attrs {
            for part in parts.iter() {
                self.composites.entry(*part).or_default().push(e);
            }
        }
        if attribute.no_history {
            self.no_history.insert(e);
        }
        self.attrs.insert(e, Arc::new(attribute));
        Ok(())
    }

    fn refresh_ident(&mut self, e: EntityId, ident: Option<Keyword>) {
        match ident {
            Some(ident) => {
                self.idents.insert(ident.clone(), e);
                self.names.insert(e, ident);
            }
            None => {
                if self.names.remove(&e).is_some() {
                    self.idents.retain(|_, id| *id != e);
                }
            }
        }
    }

    fn remove_attribute(&mut self, e: EntityId) {
        self.no_history.remove(&e);
        if let Some(old) = self.attrs.remove(&e) {
            for part in old.tuple_attrs.iter().flat_map(|p| p.iter()) {
                if let Some(list) = self.composites.get_mut(part) {
                    list.retain(|t| *t != e);
                }
            }
        }
    }

    fn build(&self, e: EntityId, f: Facts) -> Result<Attribute, SchemaProblem> {
        let ident = f.ident.clone().ok_or("an attribute needs :db/ident")?;
        let value_type = f
            .value_type
            .and_then(b::entity_type)
            .ok_or_else(|| format!("attribute {ident} needs a :db/valueType of :db.type/..."))?;
        let cardinality = match f.cardinality {
            Some(b::CARDINALITY_ONE) => Cardinality::One,
            Some(b::CARDINALITY_MANY) => Cardinality::Many,
            _ => {
                return Err(format!(
                    "attribute {ident} needs :db/cardinality :db.cardinality/one or many"
                ));
            }
        };
        let unique = match f.unique {
            None => None,
            Some(b::UNIQUE_VALUE) => Some(Unique::Value),
            Some(b::UNIQUE_IDENTITY) => Some(Unique::Identity),
            Some(_) => {
                return Err(format!(
                    "attribute {ident}: :db/unique must be :db.unique/value or identity"
                ));
            }
        };
        if f.is_component && value_type != ValueType::Ref {
            return Err(format!(
                "attribute {ident}: only ref attributes can be components"
            ));
        }
        let (tuple, tuple_attrs) = self.tuple_shape(&ident, value_type, cardinality, &f)?;
        Ok(Attribute {
            id: e,
            ident,
            value_type,
            cardinality,
            unique,
            is_component: f.is_component,
            index: f.index,
            no_history: f.no_history,
            doc: f.doc.clone(),
            tuple,
            tuple_attrs,
        })
    }

    fn tuple_shape(
        &self,
        ident: &Keyword,
        value_type: ValueType,
        cardinality: Cardinality,
        f: &Facts,
    ) -> Result<TupleDefinition, SchemaProblem> {
        let given = [
            f.tuple_attrs.is_some(),
            f.tuple_type.is_some(),
            f.tuple_types.is_some(),
        ];
        let count = given.iter().filter(|g| **g).count();
        if value_type != ValueType::Tuple {
            return match count {
                0 => Ok((None, None)),
                _ => Err(format!(
                    "attribute {ident}: tuple types need :db/valueType :db.type/tuple"
                )),
            };
        }
        if count != 1 {
            return Err(format!(
                "tuple attribute {ident} needs exactly one of :db/tupleAttrs, :db/tupleType, :db/tupleTypes"
            ));
        }
        let element = |e: &EntityId| {
            b::entity_type(*e)
                .filter(|t| *t != ValueType::Tuple)
                .ok_or_else(|| format!("tuple attribute {ident}: {e} is not a scalar :db.type/..."))
        };
        if let Some(t) = &f.tuple_type {
            return Ok((Some(TupleShape::Homogeneous(element(t)?)), None));
        }
        if let Some(ts) = &f.tuple_types {
            let types = ts.iter().map(element).collect::<Result<Vec<_>, _>>()?;
            return Ok((Some(TupleShape::Heterogeneous(types.into())), None));
        }
        let parts = f.tuple_attrs.clone().unwrap_or_default();
        if cardinality == Cardinality::Many {
            return Err(format!(
                "composite tuple attribute {ident} must be cardinality one"
            ));
        }
        let types = parts
            .iter()
            .map(|p| match self.attribute(*p) {
                Some(a) if !a.is_many() && a.value_type != ValueType::Tuple => Ok(a.value_type),
                Some(a) => Err(format!(
                    "composite tuple {ident} cannot include {} (many or tuple)",
                    a.ident
                )),
                None => Err(format!("composite tuple {ident}: {p} is not an attribute")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            Some(TupleShape::Composite(types.into())),
            Some(parts.into()),
        ))
    }
}
