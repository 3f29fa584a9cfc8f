//! Resolving entity references written as data: ids, idents, lookup refs.

use super::Db;
use crate::datom::{EntityId, counter_of, partition_of};
use crate::edn::Edn;
use crate::error::Result;
use crate::index::Index;
use crate::schema::Attribute;
use crate::value::Value;
use std::sync::Arc;

impl Db {
    /// Resolves an entity reference: an id (`Long`), an ident (`Keyword`)
    /// or a lookup ref `[:attr value]`. `Ok(None)` when nothing matches;
    /// an error when the reference is malformed.
    pub fn entid(&self, reference: &Edn) -> Result<Option<EntityId>> {
        match reference {
            Edn::Long(n) if *n >= 0 => Ok(Some(*n as u64).filter(|e| self.is_allocated(*e))),
            Edn::Keyword(k) => Ok(self.schema().entid(k)),
            Edn::Vector(items) if items.len() == 2 => self.lookup_ref(&items[0], &items[1]),
            other => Err(Db::invalid(format!(
                "{other} is not an entity id, ident or lookup ref"
            ))),
        }
    }

    /// Resolves the lookup ref `[attr value]`: the entity holding `value`
    /// for the unique attribute `attr` in this value.
    pub fn lookup_ref(&self, attr: &Edn, value: &Edn) -> Result<Option<EntityId>> {
        let attribute = self.lookup_attribute(attr)?;
        let value = self.lookup_value(&attribute, value)?;
        let db = Db {
            view: super::View {
                history: false,
                ..self.view.clone()
            },
            ..self.clone()
        };
        let mut found = db.datoms(Index::Avet, &[Value::Ref(attribute.id), value])?;
        found.next().transpose().map(|d| d.map(|d| d.e()))
    }

    /// The unique attribute a lookup ref names.
    pub(crate) fn lookup_attribute(&self, attr: &Edn) -> Result<Arc<Attribute>> {
        let attribute = match attr {
            Edn::Keyword(k) => self.attribute_named(k),
            Edn::Long(n) if *n >= 0 => self.attribute(*n as u64),
            _ => None,
        }
        .ok_or_else(|| Db::invalid(format!("{attr} is not an attribute")))?;
        if attribute.unique.is_none() {
            return Err(Db::invalid(format!(
                "{} is not a unique attribute",
                attribute.ident
            )));
        }
        Ok(attribute.clone())
    }

    /// Converts a lookup ref's value to the attribute's type.
    pub(crate) fn lookup_value(&self, attribute: &Attribute, value: &Edn) -> Result<Value> {
        let resolve = |e: &Edn| match self.entid(e) {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(format!("{e} names no entity")),
            Err(err) => Err(err.to_string()),
        };
        Value::from_edn(
            attribute.value_type,
            attribute.tuple.as_ref(),
            value,
            &resolve,
        )
        .map_err(|m| Db::invalid(format!("lookup ref [{} {value}]: {m}", attribute.ident)))
    }

    /// True when `e` is an id this database has handed out: its partition
    /// exists and its counter is below the next counter.
    pub fn is_allocated(&self, e: EntityId) -> bool {
        let partition = partition_of(e);
        let known = partition == crate::datom::PART_TX || self.schema().is_partition(partition);
        known && counter_of(e) < self.next_t()
    }
}
