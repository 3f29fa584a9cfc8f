//! Carrying out a pull pattern against a database value.

use super::{AttrSpec, Nested, PullMap, PullPattern, Pulled, Spec};
use crate::error::{Error, ErrorKind, Result};
use model::edn::Edn;
use model::{Attribute, Datom, Db, EntityId, Index, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One pull (over one or many entities): the database and the recursion state.
pub(super) struct Puller<'a> {
    db: &'a Db,
    /// Printed root pattern, for errors.
    at: String,
    /// `[*]`, for components reached without a nested pattern.
    wildcard: Arc<PullPattern>,
    /// Entities on the path from the root, to stop cycles.
    path: Vec<EntityId>,
    /// Levels left per recursion point (keyed by the spec's address).
    depth: HashMap<usize, usize>,
}

impl<'a> Puller<'a> {
    pub(super) fn new(db: &'a Db, root: &PullPattern) -> Result<Puller<'a>> {
        if db.is_history() {
            return Err(Error::new(
                ErrorKind::Source,
                "pull reads entities and does not work on a history database",
                root,
            ));
        }
        Ok(Puller {
            db,
            at: root.to_string(),
            wildcard: Arc::new(PullPattern::parse("[*]")?),
            path: Vec::new(),
            depth: HashMap::new(),
        })
    }

    fn fail(&self, e: model::Error) -> Error {
        Error::model(e, &self.at)
    }

    /// The entity a value names, if any.
    pub(super) fn resolve(&self, entity: &Value) -> Result<Option<EntityId>> {
        crate::resolve::entity(self.db, entity).map_err(|e| self.fail(e))
    }

    /// Pulls `pattern` from entity `e`.
    pub(super) fn entity(&mut self, pattern: &PullPattern, e: EntityId) -> Result<PullMap> {
        self.path.push(e);
        let result = self.fill(pattern, e);
        self.path.pop();
        result
    }

    fn fill(&mut self, pattern: &PullPattern, e: EntityId) -> Result<PullMap> {
        let mut map = PullMap::default();
        for spec in &pattern.specs {
            if let Spec::Attr(a) = spec {
                self.attr(pattern, a, e, &mut map)?;
            }
        }
        if pattern.specs.iter().any(|s| matches!(s, Spec::Wildcard)) {
            self.wildcard(pattern, e, &mut map)?;
        }
        Ok(map)
    }

    fn datoms(&self, index: Index, components: &[Value]) -> Result<Vec<Datom>> {
        self.db
            .datoms(index, components)
            .and_then(|it| it.collect::<model::Result<Vec<_>>>())
            .map_err(|e| self.fail(e))
    }

    /// Every attribute the pattern does not name explicitly, plus `:db/id`.
    fn wildcard(&mut self, pattern: &PullPattern, e: EntityId, map: &mut PullMap) -> Result<()> {
        let datoms = self.datoms(Index::Eavt, &[Value::Ref(e)])?;
        let explicit: HashSet<&model::edn::Keyword> = pattern
            .specs
            .iter()
            .filter_map(|s| match s {
                Spec::Attr(a) => Some(&a.name),
                Spec::Wildcard => None,
            })
            .collect();
        map.insert(Edn::keyword("db/id"), Pulled::Value(Value::Ref(e)));
        for group in datoms.chunk_by(|x, y| x.a() == y.a()) {
            let Some(attribute) = self.db.attribute(group[0].a()).cloned() else {
                continue;
            };
            if explicit.contains(&attribute.ident) {
                continue;
            }
            let values = group
                .iter()
                .map(|d| self.value(&attribute, d.v(), None))
                .collect::<Result<Vec<_>>>()?;
            map.insert(
                Edn::Keyword(attribute.ident.clone()),
                shape(&attribute, values),
            );
        }
        Ok(())
    }

    fn attr(
        &mut self,
        pattern: &PullPattern,
        spec: &AttrSpec,
        e: EntityId,
        map: &mut PullMap,
    ) -> Result<()> {
        if spec.name.as_str() == "db/id" {
            map.insert(spec.key.clone(), Pulled::Value(Value::Ref(e)));
            return Ok(());
        }
        let Some(levels) = self.enter(spec) else {
            return Ok(());
        };
        let pulled = match self.db.attribute_named(&spec.name).cloned() {
            Some(attribute) => self.forward(pattern, spec, &attribute, e),
            None => self.reverse(pattern, spec, e),
        };
        self.leave(spec, levels);
        match pulled? {
            Some(value) => map.insert(spec.key.clone(), value),
            None => {
                if let Some(default) = &spec.default
                    && !map.contains(&spec.key)
                {
                    map.insert(spec.key.clone(), Pulled::Value(default.clone()));
                }
            }
        }
        Ok(())
    }

    /// Enters a recursion point: `None` when its depth is used up (the
    /// attribute is left out), else the levels it had before.
    fn enter(&mut self, spec: &AttrSpec) -> Option<Option<usize>> {
        let Some(Nested::Recurse { depth }) = &spec.nested else {
            return Some(None);
        };
        let key = std::ptr::from_ref(spec) as usize;
        let left = self.depth.get(&key).copied().or(*depth);
        match left {
            Some(0) => None,
            Some(n) => {
                self.depth.insert(key, n - 1);
                Some(Some(n))
            }
            None => Some(None),
        }
    }

    fn leave(&mut self, spec: &AttrSpec, levels: Option<usize>) {
        if let Some(n) = levels {
            self.depth.insert(std::ptr::from_ref(spec) as usize, n);
        }
    }

    fn forward(
        &mut self,
        pattern: &PullPattern,
        spec: &AttrSpec,
        attribute: &Arc<Attribute>,
        e: EntityId,
    ) -> Result<Option<Pulled>> {
        let mut datoms = self.datoms(Index::Eavt, &[Value::Ref(e), Value::Ref(attribute.id)])?;
        if attribute.is_many()
            && let Some(limit) = spec.limit
        {
            datoms.truncate(limit);
        }
        let mut values = Vec::with_capacity(datoms.len());
        for d in &datoms {
            values.push(self.value(attribute, d.v(), Some((pattern, spec)))?);
        }
        Ok(match values.is_empty() {
            true => None,
            false => Some(shape(attribute, values)),
        })
    }

    fn reverse(
        &mut self,
        pattern: &PullPattern,
        spec: &AttrSpec,
        e: EntityId,
    ) -> Result<Option<Pulled>> {
        let forward = spec.name.reversed();
        let attribute = match self.db.attribute_named(&forward) {
            Some(a) if spec.name.is_reverse() && a.is_ref() => a.clone(),
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownAttribute,
                    format!("{} is not an attribute or a reverse reference", spec.name),
                    &self.at,
                ));
            }
        };
        let mut datoms = self.datoms(Index::Vaet, &[Value::Ref(e), Value::Ref(attribute.id)])?;
        if let Some(limit) = spec.limit {
            datoms.truncate(limit);
        }
        let mut sources = Vec::with_capacity(datoms.len());
        for d in &datoms {
            sources.push(self.reference(d.e(), attribute.is_component, Some((pattern, spec)))?);
        }
        Ok(match (sources.is_empty(), attribute.is_component) {
            (true, _) => None,
            (false, true) => sources.into_iter().next(),
            (false, false) => Some(Pulled::Many(sources)),
        })
    }

    /// One value of an attribute: scalars as they are, references by the
    /// nested pattern, the component rule, or as `{:db/id n}`.
    fn value(
        &mut self,
        attribute: &Attribute,
        v: &Value,
        nested: Option<(&PullPattern, &AttrSpec)>,
    ) -> Result<Pulled> {
        match (attribute.is_ref(), v) {
            (true, Value::Ref(target)) => self.reference(*target, attribute.is_component, nested),
            _ => Ok(Pulled::Value(v.clone())),
        }
    }

    fn reference(
        &mut self,
        target: EntityId,
        component: bool,
        nested: Option<(&PullPattern, &AttrSpec)>,
    ) -> Result<Pulled> {
        let spec_nested = nested.and_then(|(p, s)| s.nested.as_ref().map(|n| (p, n)));
        let on_path = self.path.contains(&target);
        let map = match spec_nested {
            Some((_, Nested::Pattern(p))) => self.entity(p, target)?,
            Some((enclosing, Nested::Recurse { .. })) if !on_path => {
                self.entity(enclosing, target)?
            }
            None if component && !on_path => {
                let wildcard = self.wildcard.clone();
                self.entity(&wildcard, target)?
            }
            _ => id_map(target),
        };
        Ok(Pulled::Map(map))
    }
}

fn id_map(e: EntityId) -> PullMap {
    let mut map = PullMap::default();
    map.insert(Edn::keyword("db/id"), Pulled::Value(Value::Ref(e)));
    map
}

/// A single value for cardinality one, all of them for many.
fn shape(attribute: &Attribute, mut values: Vec<Pulled>) -> Pulled {
    match attribute.is_many() {
        true => Pulled::Many(values),
        false => values.pop().unwrap_or(Pulled::Many(Vec::new())),
    }
}
