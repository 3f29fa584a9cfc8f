//! Tempids: upsert through unique identities, unification, and allocation
//! of new entity ids.

use super::forms::{Ctx, OpKind, Origin, Target, Val};
use crate::datom::{EntityId, PART_DB, entity_id};
use crate::error::{Result, TxErrorKind};
use crate::schema::Unique;
use crate::value::Value;
use foldhash::{HashMap, HashMapExt, HashSet};
use std::sync::Arc;

/// How a tempid was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TempKey {
    /// A string tempid.
    Named(Arc<str>),
    /// `#db/id [partition n]` or a bare negative number.
    Numbered(EntityId, i64),
}

#[derive(Debug)]
pub(crate) struct Temp {
    key: Option<TempKey>,
    partition: EntityId,
    /// The partition was written (`#db/id`), not implied.
    explicit: bool,
    origin: Origin,
    /// The tempid is the entity of some assertion.
    is_entity: bool,
    /// The tempid names an entity that gets a `:db/valueType`.
    defines_attribute: bool,
    resolved: Option<EntityId>,
    /// Another tempid this one was unified with.
    alias: Option<usize>,
}

/// The tempids of one transaction.
#[derive(Default, Debug)]
pub(crate) struct Temps {
    list: Vec<Temp>,
    by_key: HashMap<TempKey, usize>,
    /// Ids allocated by this transaction (they have no datoms yet).
    pub(crate) fresh: HashSet<EntityId>,
}

impl Temps {
    fn add(
        &mut self,
        key: Option<TempKey>,
        partition: EntityId,
        explicit: bool,
        origin: Origin,
    ) -> usize {
        let temp = Temp {
            key,
            partition,
            explicit,
            origin,
            is_entity: false,
            defines_attribute: false,
            resolved: None,
            alias: None,
        };
        self.list.push(temp);
        self.list.len() - 1
    }

    /// The tempid written as `key` (the same one each time it appears).
    pub(crate) fn named(
        &mut self,
        key: TempKey,
        partition: EntityId,
        explicit: bool,
        origin: Origin,
    ) -> usize {
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        let i = self.add(Some(key.clone()), partition, explicit, origin);
        self.by_key.insert(key, i);
        i
    }

    /// A new tempid for a map without `:db/id`.
    pub(crate) fn anonymous(&mut self, partition: EntityId, origin: Origin) -> usize {
        self.add(None, partition, false, origin)
    }

    /// A new tempid from `#db/id [partition]`.
    pub(crate) fn explicit_anonymous(&mut self, partition: EntityId, origin: Origin) -> usize {
        self.add(None, partition, true, origin)
    }

    pub(crate) fn mark_entity(&mut self, i: usize, defines_attribute: bool) {
        self.list[i].is_entity = true;
        self.list[i].defines_attribute |= defines_attribute;
    }

    /// The tempid names a partition or attribute being installed: it lives in `:db.part/db`.
    pub(crate) fn mark_entity_in_db(&mut self, i: usize) {
        self.list[i].defines_attribute = true;
    }

    pub(crate) fn partition(&self, i: usize) -> EntityId {
        self.list[i].partition
    }

    /// The id a tempid resolved to, following unifications.
    fn resolution(&self, i: usize) -> Option<EntityId> {
        self.list[self.root(i)].resolved
    }

    /// The tempid that stands for `i` and all tempids unified with it.
    fn root(&self, mut i: usize) -> usize {
        while let Some(j) = self.list[i].alias {
            i = j;
        }
        i
    }

    /// Makes `i` and `j` one entity (union by root, so no cycles); the
    /// root kept is one with an entity already, if either has one. `Ok(true)`
    /// when a group without an entity got one; `Err` with the two entities
    /// when both groups have different ones.
    fn unite(&mut self, i: usize, j: usize) -> std::result::Result<bool, (EntityId, EntityId)> {
        let (ri, rj) = (self.root(i), self.root(j));
        if ri == rj {
            return Ok(false);
        }
        match (self.list[ri].resolved, self.list[rj].resolved) {
            (Some(a), Some(b)) if a != b => Err((a, b)),
            (Some(_), None) => {
                self.list[rj].alias = Some(ri);
                Ok(true)
            }
            (None, Some(_)) => {
                self.list[ri].alias = Some(rj);
                Ok(true)
            }
            _ => {
                self.list[ri].alias = Some(rj);
                Ok(false)
            }
        }
    }
}

impl Ctx<'_> {
    /// Resolves every tempid: upserts (repeated while resolving one lets
    /// another resolve) and unification of tempids claiming the same
    /// identity value, until neither resolves anything more (a tempid may
    /// reach an existing entity only through another tempid it shares a
    /// new identity value with), then allocation in each tempid's partition.
    pub(crate) fn resolve_tempids(&mut self) -> Result<()> {
        loop {
            while self.upsert_round()? {}
            if !self.unify()? {
                break;
            }
        }
        self.allocate()
    }

    /// The id of a target, once tempids are resolved.
    pub(crate) fn resolved(&self, target: Target) -> EntityId {
        match target {
            Target::Id(e) => e,
            // After `resolve_tempids` every tempid has an id.
            Target::Temp(i) => self.temps.resolution(i).unwrap_or(0),
        }
    }

    /// The value of an identity assertion, when it is known already.
    fn known_value(&self, v: &Val) -> Option<Value> {
        match v {
            Val::Value(value) => Some(value.clone()),
            Val::Entity(Target::Id(e)) => Some(Value::Ref(*e)),
            Val::Entity(Target::Temp(j)) => self.temps.resolution(*j).map(Value::Ref),
            Val::Tuple(items) => {
                let known = items.iter().map(|i| match i {
                    None => Some(None),
                    Some(v) => self.known_value(v).map(Some),
                });
                Some(Value::Tuple(known.collect::<Option<Vec<_>>>()?.into()))
            }
        }
    }

    /// One pass of upserts; true when some tempid resolved.
    fn upsert_round(&mut self) -> Result<bool> {
        let mut progress = false;
        for k in 0..self.ops.len() {
            let op = &self.ops[k];
            let (Target::Temp(i), OpKind::Add, Some(attr), Some(v)) =
                (op.e, &op.kind, &op.attr, &op.v)
            else {
                continue;
            };
            if attr.unique != Some(Unique::Identity) {
                continue;
            }
            let Some(value) = self.known_value(v) else {
                continue;
            };
            if let Some(existing) = self.db.current_holder(attr.id, &value)? {
                progress |= self.temps.resolution(i).is_none();
                self.bind(i, existing, op.origin)?;
            }
        }
        Ok(progress)
    }

    fn bind(&mut self, i: usize, e: EntityId, origin: Origin) -> Result<()> {
        match self.temps.resolution(i) {
            Some(other) if other != e => Err(self.error(
                TxErrorKind::Tempid,
                format!("a tempid upserts to two entities, {other} and {e}"),
                origin,
            )),
            _ => {
                let root = self.temps.root(i);
                self.temps.list[root].resolved = Some(e);
                Ok(())
            }
        }
    }

    /// Tempids asserting the same value of an identity attribute are one
    /// entity, also when one of them upserted already (the others then are
    /// that entity). True when a tempid got an entity this way.
    fn unify(&mut self) -> Result<bool> {
        let mut claims: HashMap<(EntityId, Value), usize> = HashMap::new();
        let mut progress = false;
        for k in 0..self.ops.len() {
            let op = &self.ops[k];
            let (Target::Temp(i), OpKind::Add, Some(attr), Some(v)) =
                (op.e, &op.kind, &op.attr, &op.v)
            else {
                continue;
            };
            if attr.unique != Some(Unique::Identity) {
                continue;
            }
            let origin = op.origin;
            let Some(value) = self.known_value(v) else {
                continue;
            };
            match claims.get(&(attr.id, value.clone())) {
                Some(&j) => match self.temps.unite(i, j) {
                    Ok(resolved) => progress |= resolved,
                    Err((a, b)) => {
                        return Err(self.error(
                            TxErrorKind::Tempid,
                            format!(
                                "tempids that assert one identity value upsert to two entities, {a} and {b}"
                            ),
                            origin,
                        ));
                    }
                },
                None => {
                    claims.insert((attr.id, value), i);
                }
            }
        }
        Ok(progress)
    }

    fn allocate(&mut self) -> Result<()> {
        let mut counter = self.db.next_t() + 1;
        // A root is an entity when any tempid unified with it is one.
        let entity_roots: HashSet<usize> = (0..self.temps.list.len())
            .filter(|&t| self.temps.list[t].is_entity)
            .map(|t| self.temps.root(t))
            .collect();
        for i in 0..self.temps.list.len() {
            let temp = &self.temps.list[i];
            if temp.resolved.is_some() || temp.alias.is_some() {
                continue;
            }
            if !entity_roots.contains(&i) {
                let name = temp
                    .key
                    .as_ref()
                    .map_or("an anonymous tempid".to_string(), |k| {
                        format!("tempid {}", key_text(self, k))
                    });
                return Err(self.error(
                    TxErrorKind::Tempid,
                    format!("{name} is used only as a value, never as an entity"),
                    temp.origin,
                ));
            }
            let partition = if temp.defines_attribute && !temp.explicit {
                PART_DB
            } else {
                temp.partition
            };
            let id = entity_id(partition, counter);
            counter += 1;
            self.temps.list[i].resolved = Some(id);
            self.temps.fresh.insert(id);
        }
        Ok(())
    }

    /// Resolved named tempids, for the report.
    pub(crate) fn tempid_report(&self) -> std::collections::HashMap<String, EntityId> {
        self.temps
            .by_key
            .iter()
            .filter_map(|(key, &i)| Some((key_text(self, key), self.temps.resolution(i)?)))
            .collect()
    }
}

/// How a tempid is named in the report and in errors.
fn key_text(ctx: &Ctx<'_>, key: &TempKey) -> String {
    match key {
        TempKey::Named(s) => s.to_string(),
        TempKey::Numbered(part, n) => {
            let part = ctx
                .db
                .ident(*part)
                .map_or(part.to_string(), |k| k.to_string());
            format!("#db/id [{part} {n}]")
        }
    }
}
