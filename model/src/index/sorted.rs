//! The four index orders over one persistent sorted set each: the shape of
//! a novelty layer. Cloning is O(1); updates copy only the touched paths.
//! The sets share one allocation per datom (`Arc<Datom>`), so a datom costs
//! one copy plus a pointer per index.

use super::Index;
use crate::datom::Datom;
use imbl::OrdSet;
use std::cmp::Ordering;
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::Arc;

/// Names an index order at the type level.
pub(crate) trait Order {
    const INDEX: Index;
}

macro_rules! order {
    ($name:ident, $index:expr) => {
        #[derive(Clone, Debug)]
        pub(crate) struct $name;
        impl Order for $name {
            const INDEX: Index = $index;
        }
    };
}
order!(EavtOrder, Index::Eavt);
order!(AevtOrder, Index::Aevt);
order!(AvetOrder, Index::Avet);
order!(VaetOrder, Index::Vaet);

/// A datom ordered by the index `O`.
#[derive(Clone, Debug)]
pub(crate) struct Keyed<O>(Arc<Datom>, PhantomData<fn() -> O>);

impl<O: Order> Keyed<O> {
    fn new(datom: Arc<Datom>) -> Self {
        Keyed(datom, PhantomData)
    }

    /// A search key (one allocation per search, not per datom).
    fn probe(datom: &Datom) -> Self {
        Keyed(Arc::new(datom.clone()), PhantomData)
    }
}

impl<O: Order> Ord for Keyed<O> {
    fn cmp(&self, other: &Self) -> Ordering {
        O::INDEX.compare(&self.0, &other.0)
    }
}

impl<O: Order> PartialOrd for Keyed<O> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<O: Order> PartialEq for Keyed<O> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<O: Order> Eq for Keyed<O> {}

/// A borrowed iterator over datoms of one index, in order.
pub(crate) type SortedIter<'a> = Box<dyn Iterator<Item = &'a Datom> + Send + 'a>;

fn range_from<'a, O: Order>(set: &'a OrdSet<Keyed<O>>, from: &Datom) -> SortedIter<'a> {
    let bounds = (Bound::Included(Keyed::<O>::probe(from)), Bound::Unbounded);
    Box::new(set.range(bounds).map(|k| &*k.0))
}

/// One layer (current or history) of novelty in all four orders.
#[derive(Clone, Default, Debug)]
pub(crate) struct IndexSets {
    eavt: OrdSet<Keyed<EavtOrder>>,
    aevt: OrdSet<Keyed<AevtOrder>>,
    avet: OrdSet<Keyed<AvetOrder>>,
    vaet: OrdSet<Keyed<VaetOrder>>,
    /// Datoms per attribute (the planner's statistics of novelty).
    per_attribute: imbl::HashMap<u64, u64>,
}

impl IndexSets {
    /// Adds a datom to every order; `is_ref` puts it into VAET too.
    pub(crate) fn insert(&mut self, datom: Arc<Datom>, is_ref: bool) {
        if self.eavt.insert(Keyed::new(datom.clone())).is_none() {
            *self.per_attribute.entry(datom.a()).or_insert(0) += 1;
        }
        self.aevt.insert(Keyed::new(datom.clone()));
        if is_ref {
            self.vaet.insert(Keyed::new(datom.clone()));
        }
        self.avet.insert(Keyed::new(datom));
    }

    /// Removes a datom (exact, including tx and op) from every order.
    pub(crate) fn remove(&mut self, datom: &Datom, is_ref: bool) {
        let shared = Arc::new(datom.clone());
        if self.eavt.remove(&Keyed::new(shared.clone())).is_some()
            && let Some(n) = self.per_attribute.get_mut(&datom.a())
        {
            *n = n.saturating_sub(1);
        }
        self.aevt.remove(&Keyed::new(shared.clone()));
        if is_ref {
            self.vaet.remove(&Keyed::new(shared.clone()));
        }
        self.avet.remove(&Keyed::new(shared));
    }

    /// The datoms of `index` from `from` (inclusive) to the end.
    pub(crate) fn range(&self, index: Index, from: &Datom) -> SortedIter<'_> {
        match index {
            Index::Eavt => range_from(&self.eavt, from),
            Index::Aevt => range_from(&self.aevt, from),
            Index::Avet => range_from(&self.avet, from),
            Index::Vaet => range_from(&self.vaet, from),
        }
    }

    /// The datom stating the fact `(e, a, v)` of `probe`, if any.
    pub(crate) fn find_fact(&self, probe: &Datom) -> Option<&Arc<Datom>> {
        let from = Keyed::<EavtOrder>::probe(&probe.with_op(0, false));
        let found = self
            .eavt
            .range((Bound::Included(from), Bound::Unbounded))
            .next();
        found.map(|k| &k.0).filter(|d| d.same_fact(probe))
    }

    /// How many datoms of attribute `a` the layer holds.
    pub(crate) fn attribute_len(&self, a: u64) -> u64 {
        self.per_attribute.get(&a).copied().unwrap_or(0)
    }

    /// How many datoms the layer holds.
    pub(crate) fn len(&self) -> usize {
        self.eavt.len()
    }
}
