//! Reading a database value's indexes: `datoms`, `seek_datoms`, `index_range`.

use super::Db;
use crate::datom::{Datom, EntityId};
use crate::edn::Keyword;
use crate::error::Result;
use crate::index::merge::{Merge, time_view};
use crate::index::{DatomIter, Index, Layer};
use crate::value::Value;

/// Index components given as a prefix, resolved to ids and values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Components {
    /// The entity.
    pub e: Option<EntityId>,
    /// The attribute.
    pub a: Option<EntityId>,
    /// The value.
    pub v: Option<Value>,
    /// The transaction.
    pub tx: Option<EntityId>,
}

impl Components {
    /// The smallest datom at or after which every matching datom sorts.
    fn lower_bound(&self) -> Datom {
        let v = self.v.clone().unwrap_or(Value::MIN);
        Datom::new(
            self.e.unwrap_or(0),
            self.a.unwrap_or(0),
            v,
            self.tx.unwrap_or(0),
            false,
        )
    }

    /// True when the datom has every given component.
    fn matches(&self, d: &Datom) -> bool {
        self.e.is_none_or(|e| d.e() == e)
            && self.a.is_none_or(|a| d.a() == a)
            && self.v.as_ref().is_none_or(|v| d.v() == v)
            && self.tx.is_none_or(|tx| d.tx() == tx)
    }
}

/// Stops at the first datom that fails `keep` (datoms are sorted, so none
/// after it can match); errors pass through.
fn take_matching<'a>(
    source: DatomIter<'a>,
    keep: impl Fn(&Datom) -> bool + Send + 'a,
) -> DatomIter<'a> {
    Box::new(source.take_while(move |r| r.as_ref().map_or(true, &keep)))
}

impl Db {
    /// The datoms of `index` whose leading components equal `components`
    /// (given in the index's order: EAVT `[e a v tx]`, AEVT `[a e v tx]`,
    /// AVET `[a v e tx]`, VAET `[v a e tx]`; any prefix). Entity positions
    /// accept ids (`Ref` or `Long`) and idents (`Keyword`); a ref value may
    /// be given as an ident too.
    pub fn datoms(&self, index: Index, components: &[Value]) -> Result<DatomIter<'_>> {
        let prefix = self.components(index, components)?;
        let from = prefix.lower_bound();
        let source = self.scan(index, &from)?;
        Ok(take_matching(source, move |d| prefix.matches(d)))
    }

    /// Every datom of `index` from the position `components` on, to the end
    /// of the index.
    pub fn seek_datoms(&self, index: Index, components: &[Value]) -> Result<DatomIter<'_>> {
        let prefix = self.components(index, components)?;
        self.scan(index, &prefix.lower_bound())
    }

    /// The AVET datoms of attribute `attr` with `start <= v < end`.
    pub fn index_range(
        &self,
        attr: &Value,
        start: Option<&Value>,
        end: Option<&Value>,
    ) -> Result<DatomIter<'_>> {
        let a = self.entity_component(attr)?;
        let prefix = Components {
            a: Some(a),
            v: start.cloned(),
            ..Components::default()
        };
        let end = end.cloned();
        let source = self.scan(Index::Avet, &prefix.lower_bound())?;
        Ok(take_matching(source, move |d| {
            d.a() == a && end.as_ref().is_none_or(|e| d.v() < e)
        }))
    }

    /// Resolves index components given in `index` order.
    pub fn components(&self, index: Index, given: &[Value]) -> Result<Components> {
        if given.len() > 4 {
            return Err(Db::invalid(format!(
                "an index has 4 components, got {}",
                given.len()
            )));
        }
        let mut c = Components::default();
        let order: [u8; 4] = match index {
            Index::Eavt => [b'e', b'a', b'v', b't'],
            Index::Aevt => [b'a', b'e', b'v', b't'],
            Index::Avet => [b'a', b'v', b'e', b't'],
            Index::Vaet => [b'v', b'a', b'e', b't'],
        };
        let value_slot = order.iter().position(|s| *s == b'v').unwrap_or(2);
        for (slot, value) in order.iter().zip(given).filter(|(s, _)| **s != b'v') {
            let id = Some(self.entity_component(value)?);
            match slot {
                b'e' => c.e = id,
                b'a' => c.a = id,
                _ => c.tx = id,
            }
        }
        if let Some(v) = given.get(value_slot) {
            c.v = Some(self.value_component(index, c.a, v)?);
        }
        Ok(c)
    }

    /// An entity position: an id or an ident.
    pub(crate) fn entity_component(&self, value: &Value) -> Result<EntityId> {
        match value {
            Value::Ref(e) => Ok(*e),
            Value::Long(n) if *n >= 0 => Ok(*n as u64),
            Value::Keyword(k) => self.entid_of_ident(k),
            other => Err(Db::invalid(format!("{other} is not an entity id or ident"))),
        }
    }

    /// A value position: refs may be given as ids or idents.
    fn value_component(&self, index: Index, a: Option<EntityId>, v: &Value) -> Result<Value> {
        let is_ref = index == Index::Vaet
            || a.and_then(|a| self.attribute(a))
                .is_some_and(|a| a.is_ref());
        match v {
            Value::Keyword(_) | Value::Long(_) if is_ref => {
                Ok(Value::Ref(self.entity_component(v)?))
            }
            other => Ok(other.clone()),
        }
    }

    pub(crate) fn entid_of_ident(&self, k: &Keyword) -> Result<EntityId> {
        self.schema()
            .entid(k)
            .ok_or_else(|| Db::invalid(format!("{k} names no entity")))
    }

    /// The merged, time-filtered, predicate-filtered stream from `from` on.
    pub(crate) fn scan(&self, index: Index, from: &Datom) -> Result<DatomIter<'_>> {
        let bounds = self.bounds();
        let source = if !self.view.history && bounds.as_of.is_none() {
            let current = self.scan_current(index, from)?;
            match bounds.since {
                None => current,
                Some(since) => {
                    Box::new(current.filter(move |r| r.as_ref().map_or(true, |d| d.tx() > since)))
                }
            }
        } else {
            time_view(
                self.scan_all_layers(index, from)?,
                bounds,
                self.view.history,
            )
        };
        Ok(match &self.view.filter {
            None => source,
            Some(keep) => {
                let keep = keep.clone();
                let base = Db {
                    view: Default::default(),
                    state: self.state.clone(),
                };
                Box::new(source.filter(move |r| r.as_ref().map_or(true, |d| keep(&base, d))))
            }
        })
    }

    /// The current layer at the latest basis: persistent current minus
    /// facts retired in novelty, merged with novelty's current layer.
    fn scan_current(&self, index: Index, from: &Datom) -> Result<DatomIter<'_>> {
        let novelty = &self.state.novelty;
        let store = &self.state.store;
        let fresh =
            || -> DatomIter<'_> { Box::new(novelty.current.range(index, from).cloned().map(Ok)) };
        if store.is_empty() {
            return Ok(fresh());
        }
        let persisted = store.seek(index, Layer::Current, from)?;
        // Freshly indexed: the persistent layer alone, without a merge
        // (a point probe then costs one seek, not two and a merge).
        if novelty.current.len() == 0 && novelty.retired.is_empty() {
            return Ok(persisted);
        }
        let persisted: DatomIter<'_> = if novelty.retired.is_empty() {
            persisted
        } else {
            let retired = &novelty.retired;
            Box::new(persisted.filter(move |r| {
                r.as_ref()
                    .map_or(true, |d| !retired.contains(&(d.e(), d.a(), d.v().clone())))
            }))
        };
        Ok(Box::new(Merge::new(index, vec![persisted, fresh()])))
    }

    /// Every layer merged: the input of time views. Attributes with
    /// `:db/noHistory` show no history: only their current datoms.
    fn scan_all_layers(&self, index: Index, from: &Datom) -> Result<DatomIter<'_>> {
        let novelty = &self.state.novelty;
        let mut sources: Vec<DatomIter<'_>> = vec![
            Box::new(novelty.current.range(index, from).cloned().map(Ok)),
            Box::new(novelty.history.range(index, from).cloned().map(Ok)),
        ];
        let store = &self.state.store;
        if !store.is_empty() {
            sources.push(store.seek(index, Layer::Current, from)?);
            sources.push(store.seek(index, Layer::History, from)?);
        }
        let merged: DatomIter<'_> = Box::new(Merge::new(index, sources));
        let no_history = self.state.schema.no_history_attributes();
        if no_history.is_empty() {
            return Ok(merged);
        }
        let without =
            merged.filter(move |r| r.as_ref().map_or(true, |d| !no_history.contains(&d.a())));
        let current = self.scan_current(index, from)?;
        let only =
            current.filter(move |r| r.as_ref().map_or(true, |d| no_history.contains(&d.a())));
        Ok(Box::new(Merge::new(
            index,
            vec![Box::new(without), Box::new(only)],
        )))
    }

    /// The current datoms of `e` and `a` at the latest basis, unfiltered.
    pub(crate) fn current_values(&self, e: EntityId, a: EntityId) -> Result<Vec<Datom>> {
        let prefix = Components {
            e: Some(e),
            a: Some(a),
            ..Components::default()
        };
        let source = self.scan_current(Index::Eavt, &prefix.lower_bound())?;
        take_matching(source, move |d| prefix.matches(d)).collect()
    }

    /// The entity holding `v` for attribute `a` at the latest basis.
    pub(crate) fn current_holder(&self, a: EntityId, v: &Value) -> Result<Option<EntityId>> {
        let prefix = Components {
            a: Some(a),
            v: Some(v.clone()),
            ..Components::default()
        };
        let mut source = self.scan_current(Index::Avet, &prefix.lower_bound())?;
        match source.next() {
            Some(Ok(d)) if prefix.matches(&d) => Ok(Some(d.e())),
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        }
    }
}
