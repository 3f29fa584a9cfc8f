//! Turning resolved operations into the transaction's datoms: cas,
//! retractEntity, conflicts, composite tuples, implicit retraction for
//! cardinality one, and dropping what is already true.

use super::forms::{Ctx, OpKind, Origin, RawOp, Val};
use crate::datom::{Datom, EntityId};
use crate::edn::Instant;
use crate::error::{Result, TxErrorKind};
use crate::index::Index;
use crate::schema::Attribute;
use crate::schema::bootstrap as b;
use crate::value::Value;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::BTreeSet;

/// One datom the transaction intends, before comparing with the database.
/// Its attribute is borrowed (from the op or the database): no reference
/// count is touched per datom.
pub(crate) struct Intent<'s> {
    pub(crate) e: EntityId,
    pub(crate) attr: &'s Attribute,
    pub(crate) v: Value,
    pub(crate) added: bool,
    pub(crate) origin: Origin,
}

/// The intended datoms, with what is needed to spot contradictions.
#[derive(Default)]
pub(crate) struct Intents<'s> {
    pub(crate) list: Vec<Intent<'s>>,
    facts: HashMap<(EntityId, EntityId, Value), bool>,
    one: HashMap<(EntityId, EntityId), usize>,
}

impl Intents<'_> {
    /// Room for about `n` intents without growing (most ops make one).
    fn with_capacity(n: usize) -> Self {
        Intents {
            list: Vec::with_capacity(n),
            facts: HashMap::with_capacity(n),
            one: HashMap::with_capacity(n),
        }
    }

    fn has(&self, e: EntityId, a: EntityId, v: &Value, added: bool) -> bool {
        self.facts.get(&(e, a, v.clone())) == Some(&added)
    }
}

/// The transaction's datoms and where its schema changes came from.
pub(crate) struct Built {
    pub(crate) datoms: Vec<Datom>,
    pub(crate) schema_origin: Option<Origin>,
    /// The entity specs `:db/ensure` asked for, checked after applying.
    pub(crate) ensures: Vec<super::specs::Ensure>,
}

impl Ctx<'_> {
    pub(crate) fn build(&self, instant: Instant) -> Result<Built> {
        let mut intents = Intents::with_capacity(self.ops.len());
        let mut ensures = Vec::new();
        for op in &self.ops {
            match op.attr.as_ref().map(|a| a.id) {
                Some(b::ENSURE) => ensures.push(self.ensure(op)?),
                _ => self.collect(op, &mut intents)?,
            }
        }
        self.maintain_composites(&mut intents)?;
        let settled = self.settle(&intents)?;
        self.check(&settled)?;
        let schema_origin = settled
            .iter()
            .find(|(d, _)| super::checks::is_schema_attribute(d.a()))
            .map(|(_, o)| *o);
        let mut datoms = Vec::with_capacity(settled.len() + 1);
        if !intents
            .list
            .iter()
            .any(|i| i.e == self.tx && i.attr.id == b::TX_INSTANT)
        {
            datoms.push(Datom::new(
                self.tx,
                b::TX_INSTANT,
                Value::Instant(instant),
                self.tx,
                true,
            ));
        }
        datoms.extend(settled.into_iter().map(|(d, _)| d));
        let instant_origin = intents
            .list
            .iter()
            .find(|i| i.e == self.tx && i.attr.id == b::TX_INSTANT)
            .map(|i| i.origin);
        self.check_tx_instant(
            &datoms,
            instant,
            instant_origin.or(self.ops.first().map(|op| op.origin)),
        )?;
        Ok(Built {
            datoms,
            schema_origin,
            ensures,
        })
    }

    fn value(&self, v: &Option<Val>) -> Value {
        v.as_ref().map_or(Value::MIN, |v| self.value_of(v))
    }

    pub(crate) fn value_of(&self, v: &Val) -> Value {
        match v {
            Val::Value(value) => value.clone(),
            Val::Entity(t) => Value::Ref(self.resolved(*t)),
            Val::Tuple(items) => Value::Tuple(
                items
                    .iter()
                    .map(|i| i.as_ref().map(|v| self.value_of(v)))
                    .collect(),
            ),
        }
    }

    fn collect<'s>(&'s self, op: &'s RawOp, intents: &mut Intents<'s>) -> Result<()> {
        let e = self.resolved(op.e);
        let origin = op.origin;
        let Some(attr) = op.attr.as_deref() else {
            let mut seen = HashSet::new();
            return self.retract_entity(e, origin, intents, &mut seen);
        };
        if attr.tuple_attrs.is_some() && !matches!(op.kind, OpKind::RetractAttr) {
            let message = format!(
                "{} is a composite tuple; the system maintains it",
                attr.ident
            );
            return Err(self.error(TxErrorKind::Schema, message, origin));
        }
        let v = self.value(&op.v);
        match &op.kind {
            OpKind::Add => self.intend(
                intents,
                Intent {
                    e,
                    attr,
                    v,
                    added: true,
                    origin,
                },
            ),
            OpKind::Retract => self.intend(
                intents,
                Intent {
                    e,
                    attr,
                    v,
                    added: false,
                    origin,
                },
            ),
            OpKind::RetractAttr => {
                for d in self.db.current_values(e, attr.id)? {
                    self.intend(
                        intents,
                        Intent {
                            e,
                            attr,
                            v: d.v().clone(),
                            added: false,
                            origin,
                        },
                    )?;
                }
                Ok(())
            }
            OpKind::Cas(old) => {
                self.compare(e, attr, old, origin)?;
                self.intend(
                    intents,
                    Intent {
                        e,
                        attr,
                        v,
                        added: true,
                        origin,
                    },
                )
            }
            OpKind::RetractEntity => unreachable!("retractEntity carries no attribute"),
        }
    }

    /// The `:db/cas` comparison against the database before the transaction.
    fn compare(
        &self,
        e: EntityId,
        attr: &Attribute,
        old: &Option<Val>,
        origin: Origin,
    ) -> Result<()> {
        if attr.is_many() {
            let message = format!(
                ":db/cas needs a cardinality-one attribute, {} is many",
                attr.ident
            );
            return Err(self.error(TxErrorKind::InvalidForm, message, origin));
        }
        let expected = old.as_ref().map(|v| self.value_of(v));
        let found = self
            .db
            .current_values(e, attr.id)?
            .pop()
            .map(|d| d.v().clone());
        if found == expected {
            return Ok(());
        }
        let show = |v: &Option<Value>| v.as_ref().map_or("nil".to_string(), Value::to_string);
        let message = format!(
            "compare failed for {} of {e}: expected {}, found {}",
            attr.ident,
            show(&expected),
            show(&found)
        );
        Err(self.error(TxErrorKind::CasFailed, message, origin))
    }

    /// Retracts every datom of `e` and every reference to it, recursing
    /// into the components `e` owns.
    fn retract_entity<'s>(
        &'s self,
        e: EntityId,
        origin: Origin,
        intents: &mut Intents<'s>,
        seen: &mut HashSet<EntityId>,
    ) -> Result<()> {
        if !seen.insert(e) {
            return Ok(());
        }
        let own = self.db.entity_datoms_current(e)?;
        let incoming: Vec<Datom> = self
            .db
            .latest()
            .datoms(Index::Vaet, &[Value::Ref(e)])?
            .collect::<Result<_>>()?;
        for d in own.iter().chain(&incoming) {
            let Some(attr) = self.db.attribute(d.a()).map(|a| &**a) else {
                continue;
            };
            let component = attr.is_component && d.e() == e;
            self.intend(
                intents,
                Intent {
                    e: d.e(),
                    attr,
                    v: d.v().clone(),
                    added: false,
                    origin,
                },
            )?;
            if let (true, Value::Ref(child)) = (component, d.v()) {
                self.retract_entity(*child, origin, intents, seen)?;
            }
        }
        Ok(())
    }

    /// Records an intended datom; contradictions are errors, repeats vanish.
    pub(crate) fn intend<'s>(&self, intents: &mut Intents<'s>, intent: Intent<'s>) -> Result<()> {
        let key = (intent.e, intent.attr.id, intent.v.clone());
        match intents.facts.get(&key) {
            Some(&added) if added == intent.added => return Ok(()),
            Some(_) => {
                let message = format!(
                    "[{} {} {}] is both asserted and retracted",
                    intent.e, intent.attr.ident, intent.v
                );
                return Err(self.error(TxErrorKind::DatomConflict, message, intent.origin));
            }
            None => {}
        }
        if intent.added && !intent.attr.is_many() {
            if let Some(&k) = intents.one.get(&(intent.e, intent.attr.id)) {
                let other = &intents.list[k].v;
                let message = format!(
                    "two values for cardinality-one {} of {}: {other} and {}",
                    intent.attr.ident, intent.e, intent.v
                );
                return Err(self.error(TxErrorKind::DatomConflict, message, intent.origin));
            }
            intents
                .one
                .insert((intent.e, intent.attr.id), intents.list.len());
        }
        intents.facts.insert(key, intent.added);
        intents.list.push(intent);
        Ok(())
    }

    /// Re-computes the composite tuples whose parts the transaction touches.
    fn maintain_composites<'s>(&'s self, intents: &mut Intents<'s>) -> Result<()> {
        let schema = self.db.schema();
        let touched: BTreeSet<(EntityId, EntityId, usize)> = intents
            .list
            .iter()
            .enumerate()
            .flat_map(|(k, i)| {
                schema
                    .composites_of(i.attr.id)
                    .iter()
                    .map(move |c| (i.e, *c, k))
            })
            .collect();
        let mut done = HashSet::new();
        for (e, c, k) in touched {
            if !done.insert((e, c)) {
                continue;
            }
            let Some(attr) = schema.attribute(c).map(|a| &**a) else {
                continue;
            };
            let origin = intents.list[k].origin;
            let parts = attr.tuple_attrs.clone().unwrap_or_default();
            let mut values = Vec::with_capacity(parts.len());
            for part in parts.iter() {
                values.push(self.part_after(intents, e, *part)?);
            }
            if values.iter().all(Option::is_none) {
                for d in self.db.current_values(e, c)? {
                    self.intend(
                        intents,
                        Intent {
                            e,
                            attr,
                            v: d.v().clone(),
                            added: false,
                            origin,
                        },
                    )?;
                }
            } else {
                let v = Value::Tuple(values.into());
                self.intend(
                    intents,
                    Intent {
                        e,
                        attr,
                        v,
                        added: true,
                        origin,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// The value a cardinality-one attribute will have after the transaction.
    fn part_after(&self, intents: &Intents, e: EntityId, a: EntityId) -> Result<Option<Value>> {
        if let Some(&k) = intents.one.get(&(e, a)) {
            return Ok(Some(intents.list[k].v.clone()));
        }
        let current = self.db.current_values(e, a)?.pop().map(|d| d.v().clone());
        Ok(current.filter(|v| !intents.has(e, a, v, false)))
    }

    /// Compares the intents with the database: drops what is already true
    /// (or already absent) and adds implicit cardinality-one retractions.
    fn settle(&self, intents: &Intents) -> Result<Vec<(Datom, Origin)>> {
        let fresh = &self.temps.fresh;
        let mut out = Vec::with_capacity(intents.list.len());
        for i in &intents.list {
            let datom = |v: &Value, added| {
                (
                    Datom::new(i.e, i.attr.id, v.clone(), self.tx, added),
                    i.origin,
                )
            };
            if fresh.contains(&i.e) {
                if i.added {
                    out.push(datom(&i.v, true));
                }
                continue;
            }
            if !i.added {
                if self.is_current(i.e, i.attr.id, &i.v)? {
                    out.push(datom(&i.v, false));
                }
                continue;
            }
            if i.attr.is_many() {
                if !self.is_current(i.e, i.attr.id, &i.v)? {
                    out.push(datom(&i.v, true));
                }
                continue;
            }
            let current = self.db.current_values(i.e, i.attr.id)?;
            if current.iter().any(|d| d.v() == &i.v) {
                continue;
            }
            for old in current
                .iter()
                .filter(|d| !intents.has(i.e, i.attr.id, d.v(), false))
            {
                out.push(datom(old.v(), false));
            }
            out.push(datom(&i.v, true));
        }
        Ok(out)
    }

    fn is_current(&self, e: EntityId, a: EntityId, v: &Value) -> Result<bool> {
        let mut found = self
            .db
            .datoms(Index::Eavt, &[Value::Ref(e), Value::Ref(a), v.clone()])?;
        Ok(found.next().transpose()?.is_some())
    }

    fn check_tx_instant(
        &self,
        datoms: &[Datom],
        supplied: Instant,
        origin: Option<Origin>,
    ) -> Result<()> {
        let Some(d) = datoms
            .iter()
            .find(|d| d.e() == self.tx && d.a() == b::TX_INSTANT && d.added())
        else {
            return Ok(());
        };
        let Value::Instant(instant) = d.v() else {
            return Ok(());
        };
        let last = self.db.last_tx_instant();
        let fail = |message: String| match origin {
            Some(o) => self.error(TxErrorKind::TxInstant, message, o),
            None => crate::error::Error::tx(TxErrorKind::TxInstant, message, "[]"),
        };
        if *instant <= last {
            return Err(fail(format!(
                "tx instant {instant} is not after the previous transaction's {last}"
            )));
        }
        if *instant > supplied {
            return Err(fail(format!(
                "tx instant {instant} is later than the transactor's clock {supplied}"
            )));
        }
        Ok(())
    }
}
