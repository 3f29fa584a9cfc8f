//! Positions in tx data: attributes, values, and entities (ids, idents,
//! lookup refs, tempids, `#db/id` forms, the transaction itself).

use super::forms::{Ctx, Origin, Target, Val};
use super::tempids::TempKey;
use crate::datom::{EntityId, PART_USER};
use crate::edn::Edn;
use crate::error::{Result, TxErrorKind};
use crate::schema::Attribute;
use crate::value::Value;
use std::sync::Arc;

impl Ctx<'_> {
    /// An attribute position: an ident or an attribute's id.
    pub(crate) fn attribute(&self, edn: &Edn, origin: Origin) -> Result<Arc<Attribute>> {
        let found = match edn {
            Edn::Keyword(k) => self.db.attribute_named(k),
            Edn::Long(n) if *n >= 0 => self.db.attribute(*n as u64),
            _ => None,
        };
        found.cloned().ok_or_else(|| {
            self.error(
                TxErrorKind::UnknownAttribute,
                format!("unknown attribute {edn}"),
                origin,
            )
        })
    }

    /// A value position for `attr`.
    pub(crate) fn val(&mut self, attr: &Attribute, edn: &Edn, origin: Origin) -> Result<Val> {
        if attr.is_ref() {
            return self.target(edn, origin).map(Val::Entity);
        }
        if let (Some(shape), Edn::Vector(items)) = (&attr.tuple, edn)
            && super::tuples::has_refs(shape)
        {
            return self.ref_tuple(attr, shape, items, origin);
        }
        let db = self.db;
        let resolve = |e: &Edn| match db.entid(e) {
            Ok(Some(id)) => Ok(id),
            _ => Err(format!("{e} names no entity")),
        };
        Value::from_edn(attr.value_type, attr.tuple.as_ref(), edn, &resolve)
            .map(Val::Value)
            .map_err(|m| {
                self.error(
                    TxErrorKind::WrongType,
                    format!("{m}, as {} needs", attr.ident),
                    origin,
                )
            })
    }

    /// An entity position: id, ident, lookup ref, tempid, or the tx itself.
    pub(crate) fn target(&mut self, edn: &Edn, origin: Origin) -> Result<Target> {
        match edn {
            Edn::Long(n) if *n < 0 => Ok(Target::Temp(self.temps.named(
                TempKey::Numbered(PART_USER, *n),
                PART_USER,
                true,
                origin,
            ))),
            Edn::Long(n) => self.existing(*n as u64, origin),
            Edn::String(s) if &**s == "datomic.tx" => Ok(Target::Id(self.tx)),
            Edn::String(s) => match (self.known)(s) {
                Some(e) => self.existing(e, origin),
                None => Ok(Target::Temp(self.temps.named(
                    TempKey::Named(s.clone()),
                    PART_USER,
                    false,
                    origin,
                ))),
            },
            Edn::Keyword(k) if k.as_str() == "db/current-tx" => Ok(Target::Id(self.tx)),
            Edn::Keyword(k) => match (self.db.schema().entid(k), self.new_idents.get(k)) {
                (Some(id), _) => Ok(Target::Id(id)),
                (None, Some(target)) => Ok(*target),
                (None, None) => Err(self.error(
                    TxErrorKind::UnknownEntity,
                    format!("unable to resolve entity {k}"),
                    origin,
                )),
            },
            Edn::Vector(items) if items.len() == 2 => self.lookup(&items[0], &items[1], origin),
            Edn::Tagged(tag, body) if tag.as_str() == "db/id" => self.db_id(body, origin),
            other => Err(self.error(
                TxErrorKind::UnknownEntity,
                format!("{other} is not an entity id, ident, lookup ref or tempid"),
                origin,
            )),
        }
    }

    fn existing(&self, e: EntityId, origin: Origin) -> Result<Target> {
        match self.db.is_allocated(e) || e == self.tx {
            true => Ok(Target::Id(e)),
            false => Err(self.error(
                TxErrorKind::UnknownEntity,
                format!("entity id {e} was never allocated"),
                origin,
            )),
        }
    }

    fn lookup(&self, attr: &Edn, value: &Edn, origin: Origin) -> Result<Target> {
        let failed = |m: String| self.error(TxErrorKind::UnresolvedLookupRef, m, origin);
        let attribute = self
            .db
            .lookup_attribute(attr)
            .map_err(|e| failed(format!("lookup ref [{attr} {value}]: {e}")))?;
        let v = self
            .db
            .lookup_value(&attribute, value)
            .map_err(|e| failed(e.to_string()))?;
        match self.db.current_holder(attribute.id, &v)? {
            Some(e) => Ok(Target::Id(e)),
            None => Err(failed(format!(
                "lookup ref [{attr} {value}] matches no entity"
            ))),
        }
    }

    /// `#db/id [:db.part/user]` (a fresh tempid) or `#db/id [:db.part/user -1]`.
    fn db_id(&mut self, body: &Edn, origin: Origin) -> Result<Target> {
        let bad = |ctx: &Self, m: &str| ctx.error(TxErrorKind::Tempid, m, origin);
        let (part, n) = match body.as_sequence() {
            Some([part]) => (part, None),
            Some([part, Edn::Long(n)]) if *n < 0 => (part, Some(*n)),
            _ => {
                return Err(bad(
                    self,
                    "#db/id takes [partition] or [partition negative-number]",
                ));
            }
        };
        let partition = match part {
            Edn::Keyword(k) => self
                .db
                .schema()
                .entid(k)
                .filter(|p| self.db.schema().is_partition(*p)),
            _ => None,
        };
        let Some(partition) = partition else {
            return Err(bad(self, &format!("{part} is not a partition")));
        };
        Ok(Target::Temp(match n {
            Some(n) => self
                .temps
                .named(TempKey::Numbered(partition, n), partition, true, origin),
            None => self.temps.explicit_anonymous(partition, origin),
        }))
    }
}
