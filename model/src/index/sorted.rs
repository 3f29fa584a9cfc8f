//! The four index orders of a novelty layer, in two shapes side by side:
//! - persistent sorted sets (one per order) for the datoms of small
//!   transactions: cloning is O(1), an insert copies only the touched
//!   path, and the sets share one allocation per datom (`Arc<Datom>`);
//! - immutable sorted runs for large transactions of assertions only
//!   ([`RUN_MIN`] datoms or more, the batches of a bulk import): the
//!   transaction's own datoms (the `Arc<[Datom]>` of its log entry, not a
//!   copy) and, per order, their positions sorted once. Inserting a run is
//!   a sort of the transaction, not an insert per datom into trees of
//!   millions; runs of similar size are merged (like a binary counter), so
//!   a layer holds O(log n) of them and a read merges that many streams.
//!   A run is never changed: a retraction of one of its datoms records the
//!   datom in the layer's `removed` set, which reads skip and the next
//!   merge of runs drops.

use super::Index;
use crate::datom::Datom;
use imbl::OrdSet;
use std::cmp::Ordering;
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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

/// Sorted streams of distinct datoms (the layers of novelty) merged in
/// `index` order, by reference.
pub(crate) fn merged<'a>(index: Index, streams: Vec<SortedIter<'a>>) -> SortedIter<'a> {
    let sources = streams.into_iter().map(Source::Sets).collect();
    Box::new(Streams::new(index, sources, None))
}

/// Transactions of assertions only with at least this many datoms go into
/// a sorted run of their own instead of the sets.
pub(crate) const RUN_MIN: usize = 512;

/// One layer (current or history) of novelty in all four orders.
#[derive(Clone, Default, Debug)]
pub(crate) struct IndexSets {
    eavt: OrdSet<Keyed<EavtOrder>>,
    aevt: OrdSet<Keyed<AevtOrder>>,
    avet: OrdSet<Keyed<AvetOrder>>,
    vaet: OrdSet<Keyed<VaetOrder>>,
    /// Sorted runs of large transactions, oldest first.
    runs: Vec<Arc<Run>>,
    /// Datoms of `runs` that are no longer in the layer.
    removed: imbl::HashSet<Datom>,
    /// Datoms in the layer (sets and runs, less `removed`).
    len: usize,
    /// Datoms per attribute (the planner's statistics of novelty).
    per_attribute: imbl::HashMap<u64, u64>,
}

impl IndexSets {
    /// Adds a datom to every order; `is_ref` puts it into VAET too.
    pub(crate) fn insert(&mut self, datom: Arc<Datom>, is_ref: bool) {
        if self.eavt.insert(Keyed::new(datom.clone())).is_none() {
            *self.per_attribute.entry(datom.a()).or_insert(0) += 1;
            self.len += 1;
        }
        self.aevt.insert(Keyed::new(datom.clone()));
        if is_ref {
            self.vaet.insert(Keyed::new(datom.clone()));
        }
        self.avet.insert(Keyed::new(datom));
    }

    /// Adds the datoms of one transaction as a sorted run of their own
    /// (shared, not copied); `is_ref` tells which attributes go into VAET.
    /// The datoms must be new to the layer. When two of them state the
    /// same fact, nothing changes and that fact is the error.
    pub(crate) fn insert_run(
        &mut self,
        datoms: Arc<[Datom]>,
        is_ref: &dyn Fn(u64) -> bool,
    ) -> Result<(), Datom> {
        let run = Arc::new(Run::of(datoms, is_ref));
        // EAVT now, for the check; the other orders off this thread.
        let eavt = run.order(Index::Eavt);
        if let Some(w) = eavt
            .windows(2)
            .find(|w| run.datom(w[0]).same_fact(run.datom(w[1])))
        {
            return Err(run.datom(w[1]).clone());
        }
        if run.len() == 0 {
            return Ok(());
        }
        let datoms = &run.parts[0];
        for d in datoms.iter() {
            *self.per_attribute.entry(d.a()).or_insert(0) += 1;
        }
        self.len += datoms.len();
        self.runs.push(run);
        // Merge while the run before the last is at most twice the last:
        // sizes then at least double from newest to oldest.
        while let [.., older, newer] = self.runs.as_slice()
            && older.len() <= 2 * newer.len()
        {
            let (older, newer) = (older.clone(), newer.clone());
            let merged = Run::merge(&older, &newer, &self.removed);
            if !self.removed.is_empty() {
                let gone: Vec<Datom> = (self.removed.iter())
                    .filter(|d| older.holds(d) || newer.holds(d))
                    .cloned()
                    .collect();
                for d in gone {
                    self.removed.remove(&d);
                }
            }
            self.runs.truncate(self.runs.len() - 2);
            self.runs.push(Arc::new(merged));
        }
        // The newest run (the transaction's, or what it merged into) is the
        // only one not yet settled or settling: runs merged on the way are
        // worked out as it needs them.
        if let Some(newest) = self.runs.last() {
            Run::settle_in_background(newest);
        }
        Ok(())
    }

    /// Removes a datom (exact, including tx and op) from every order.
    pub(crate) fn remove(&mut self, datom: &Datom, is_ref: bool) {
        let shared = Arc::new(datom.clone());
        let gone = if self.eavt.remove(&Keyed::new(shared.clone())).is_some() {
            self.aevt.remove(&Keyed::new(shared.clone()));
            if is_ref {
                self.vaet.remove(&Keyed::new(shared.clone()));
            }
            self.avet.remove(&Keyed::new(shared));
            true
        } else {
            // A datom of a run stays hidden until the run is merged away.
            self.in_runs(datom) && self.removed.insert(datom.clone()).is_none()
        };
        if !gone {
            return;
        }
        self.len -= 1;
        if let Some(n) = self.per_attribute.get_mut(&datom.a()) {
            *n = n.saturating_sub(1);
        }
    }

    /// True when a run holds exactly `datom`.
    fn in_runs(&self, datom: &Datom) -> bool {
        self.runs.iter().any(|run| run.holds(datom))
    }

    /// The datoms of `index` from `from` (inclusive) to the end.
    pub(crate) fn range(&self, index: Index, from: &Datom) -> SortedIter<'_> {
        let sets = || match index {
            Index::Eavt => range_from(&self.eavt, from),
            Index::Aevt => range_from(&self.aevt, from),
            Index::Avet => range_from(&self.avet, from),
            Index::Vaet => range_from(&self.vaet, from),
        };
        if self.runs.is_empty() {
            return sets();
        }
        let mut sources = Vec::with_capacity(self.runs.len() + 1);
        if !self.eavt.is_empty() {
            sources.push(Source::Sets(sets()));
        }
        for run in &self.runs {
            let order = run.order(index);
            let at = run.seek(index, from);
            // A run with nothing from `from` on adds no stream.
            if at < order.len() {
                sources.push(Source::Run { run, order, at });
            }
        }
        let removed = (!self.removed.is_empty()).then_some(&self.removed);
        match sources.as_slice() {
            // One stream (a probe within one run's range, most often) is
            // read as it is, without a merge.
            [Source::Run { run, order, at }] if removed.is_none() => {
                let run: &Run = run;
                Box::new(order[*at..].iter().map(move |&p| run.datom(p)))
            }
            _ => Box::new(Streams::new(index, sources, removed)),
        }
    }

    /// The datom stating the fact `(e, a, v)` of `probe`, if any.
    pub(crate) fn find_fact(&self, probe: &Datom) -> Option<&Datom> {
        let key = probe.with_op(0, false);
        if !self.eavt.is_empty() {
            let from = Keyed::<EavtOrder>::probe(&key);
            let found = self
                .eavt
                .range((Bound::Included(from), Bound::Unbounded))
                .next();
            if let Some(d) = found.map(|k| &*k.0).filter(|d| d.same_fact(probe)) {
                return Some(d);
            }
        }
        self.runs.iter().rev().find_map(|run| {
            let order = run.order(Index::Eavt);
            let at = run.seek(Index::Eavt, &key);
            order[at..]
                .iter()
                .map(|&p| run.datom(p))
                .take_while(|d| d.same_fact(probe))
                .find(|d| !self.removed.contains(*d))
        })
    }

    /// How many datoms of attribute `a` the layer holds.
    pub(crate) fn attribute_len(&self, a: u64) -> u64 {
        self.per_attribute.get(&a).copied().unwrap_or(0)
    }

    /// How many datoms the layer holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many sorted runs the layer holds (for tests).
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }
}

/// Where a datom of a run is: which transaction's datoms, and which one.
#[derive(Clone, Copy, Debug)]
struct Pos {
    part: u32,
    at: u32,
}

/// How a run's orders are worked out, until all four are.
enum Recipe {
    /// Sorting its one transaction's datoms; VAET takes those at `refs`.
    Sort { refs: Vec<u32> },
    /// Merging the orders of two runs (none of whose datoms is removed).
    Merge(Arc<Run>, Arc<Run>),
}

/// The datoms of one or more large transactions, sorted in every order.
///
/// A large run's orders are worked out off the caller's path: on threads
/// of its own, started when the run is made ([`Run::settle_in_background`]),
/// so the committer goes on with the next transaction meanwhile. A read
/// that needs an order before it is ready waits for it (or works it out
/// itself): the orders are the same whoever works them out.
struct Run {
    /// The transactions' datoms, as their log entries hold them.
    parts: Vec<Arc<[Datom]>>,
    /// How many datoms it holds (EAVT's length).
    len: usize,
    /// Positions in EAVT, AEVT, AVET and VAET order (VAET: refs only).
    orders: [OnceLock<Vec<Pos>>; 4],
    /// What the orders not yet worked out come from; dropped once all are.
    recipe: Mutex<Option<Recipe>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("parts", &self.parts.len())
            .field("datoms", &self.len())
            .finish()
    }
}

/// The slot of an order in [`Run::orders`].
fn slot(index: Index) -> usize {
    match index {
        Index::Eavt => 0,
        Index::Aevt => 1,
        Index::Avet => 2,
        Index::Vaet => 3,
    }
}

/// Runs of at least this many datoms work out their four orders on threads
/// of their own; smaller ones at once, on the caller's thread.
const PARALLEL_MIN: usize = 16 * 1024;

impl Run {
    /// The run of one transaction's datoms. A large one's orders are
    /// worked out once [`Run::settle_in_background`] starts it, or when
    /// first read.
    fn of(datoms: Arc<[Datom]>, is_ref: &dyn Fn(u64) -> bool) -> Run {
        let refs = (0..datoms.len() as u32)
            .filter(|&at| is_ref(datoms[at as usize].a()))
            .collect();
        let run = Run {
            len: datoms.len(),
            parts: vec![datoms],
            orders: Default::default(),
            recipe: Mutex::new(Some(Recipe::Sort { refs })),
        };
        if run.len < PARALLEL_MIN {
            run.settle();
        }
        run
    }

    /// Works out every order now, on this thread, and drops the recipe.
    fn settle(&self) {
        for index in Index::ALL {
            self.order(index);
        }
        self.forget_recipe();
    }

    /// True once every order is worked out.
    fn is_settled(&self) -> bool {
        self.orders.iter().all(|o| o.get().is_some())
    }

    /// Starts threads that work out the orders of `run` not yet worked
    /// out, one per order, and then drop its recipe. Nothing happens to a
    /// settled run, or when no thread can be had (the orders are then
    /// worked out as they are read).
    fn settle_in_background(run: &Arc<Run>) {
        if run.is_settled() {
            run.forget_recipe();
            return;
        }
        let run = run.clone();
        // No thread (the process is at its limit): the orders are worked
        // out as they are read instead.
        let _ = std::thread::Builder::new()
            .name("novelty-sort".into())
            .spawn(move || {
                std::thread::scope(|scope| {
                    for index in Index::ALL {
                        let run = &run;
                        scope.spawn(move || {
                            run.order(index);
                        });
                    }
                });
                run.forget_recipe();
            });
    }

    /// Drops what the orders came from, once they all are worked out (the
    /// runs merged into this one can then be freed).
    fn forget_recipe(&self) {
        if self.is_settled() {
            self.recipe
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn datom(&self, p: Pos) -> &Datom {
        &self.parts[p.part as usize][p.at as usize]
    }

    /// The positions of `index`, worked out now if no one has yet.
    fn order(&self, index: Index) -> &[Pos] {
        self.orders[slot(index)].get_or_init(|| self.work_out(index))
    }

    /// The positions of `index`, from the recipe.
    fn work_out(&self, index: Index) -> Vec<Pos> {
        let recipe = self.recipe.lock().unwrap_or_else(PoisonError::into_inner);
        match recipe.as_ref() {
            Some(Recipe::Sort { refs }) => {
                let datoms = &self.parts[0];
                let positions: Vec<u32> = match index {
                    Index::Vaet => refs.clone(),
                    _ => (0..datoms.len() as u32).collect(),
                };
                // The recipe is not needed while sorting: other orders may
                // be worked out meanwhile.
                drop(recipe);
                sort_positions(index, datoms, positions)
            }
            Some(Recipe::Merge(older, newer)) => {
                let (older, newer) = (older.clone(), newer.clone());
                drop(recipe);
                merge_orders(index, &older, &newer, &|_| true)
            }
            // Forgotten only once every order is worked out.
            None => unreachable!("a run forgets its recipe only once its orders are all set"),
        }
    }

    /// The first position in `index` order at or after `from`.
    fn seek(&self, index: Index, from: &Datom) -> usize {
        let order = self.order(index);
        // Before the first or after the last: no search (a probe of data
        // in another run, most often).
        match (order.first(), order.last()) {
            (Some(&first), _) if index.compare(self.datom(first), from).is_ge() => 0,
            (_, Some(&last)) if index.compare(self.datom(last), from).is_lt() => order.len(),
            _ => order.partition_point(|&p| index.compare(self.datom(p), from).is_lt()),
        }
    }

    /// True when the run holds exactly `datom`.
    fn holds(&self, datom: &Datom) -> bool {
        let at = self.seek(Index::Eavt, datom);
        self.order(Index::Eavt)
            .get(at)
            .is_some_and(|&p| self.datom(p) == datom)
    }

    /// One run of the datoms of `older` and `newer`, less those in
    /// `removed`. Without removed datoms, a large one's orders are merged
    /// once [`Run::settle_in_background`] starts it, or when first read;
    /// otherwise at once.
    fn merge(older: &Arc<Run>, newer: &Arc<Run>, removed: &imbl::HashSet<Datom>) -> Run {
        let mut parts = older.parts.clone();
        parts.extend(newer.parts.iter().cloned());
        if removed.is_empty() {
            let run = Run {
                parts,
                len: older.len() + newer.len(),
                orders: Default::default(),
                recipe: Mutex::new(Some(Recipe::Merge(older.clone(), newer.clone()))),
            };
            if run.len < PARALLEL_MIN {
                run.settle();
            }
            return run;
        }
        let keep = |d: &Datom| !removed.contains(d);
        let orders: [OnceLock<Vec<Pos>>; 4] = Default::default();
        for index in Index::ALL {
            let _ = orders[slot(index)].set(merge_orders(index, older, newer, &keep));
        }
        let mut merged = Run {
            parts,
            len: orders[0].get().map_or(0, Vec::len),
            orders,
            recipe: Mutex::new(None),
        };
        merged.drop_unused_parts();
        merged
    }

    /// Forgets the transactions none of whose datoms is left (every one
    /// retracted), renumbering the rest. Only for a run whose orders are
    /// all worked out.
    fn drop_unused_parts(&mut self) {
        let mut used = vec![false; self.parts.len()];
        for p in self.orders[0].get().map_or(&[][..], Vec::as_slice) {
            used[p.part as usize] = true;
        }
        if used.iter().all(|u| *u) {
            return;
        }
        let mut renumber = vec![0u32; self.parts.len()];
        let mut next = 0u32;
        for (i, u) in used.iter().enumerate() {
            renumber[i] = next;
            next += u32::from(*u);
        }
        let mut i = 0;
        self.parts.retain(|_| {
            i += 1;
            used[i - 1]
        });
        for order in &mut self.orders {
            for p in order.get_mut().into_iter().flatten() {
                p.part = renumber[p.part as usize];
            }
        }
    }
}

/// `positions` of `datoms` (one transaction's) sorted in `index` order.
fn sort_positions(index: Index, datoms: &[Datom], positions: Vec<u32>) -> Vec<Pos> {
    // By integer keys beside the positions, the datoms compared only on a
    // tie (most comparisons never leave the vector).
    let mut keyed: Vec<([u64; 3], u32)> = positions
        .into_iter()
        .map(|at| (index.sort_key(&datoms[at as usize]), at))
        .collect();
    keyed.sort_unstable_by(|x, y| {
        x.0.cmp(&y.0)
            .then_with(|| index.compare(&datoms[x.1 as usize], &datoms[y.1 as usize]))
    });
    keyed
        .into_iter()
        .map(|(_, at)| Pos { part: 0, at })
        .collect()
}

/// The `index` orders of `older` and `newer` merged, as positions in their
/// parts put together (`older`'s first), keeping the datoms `keep` keeps.
fn merge_orders(index: Index, older: &Run, newer: &Run, keep: &dyn Fn(&Datom) -> bool) -> Vec<Pos> {
    let shift = older.parts.len() as u32;
    let (a, b) = (older.order(index), newer.order(index));
    let mut out = Vec::with_capacity(a.len() + b.len());
    // Each head's sort key is worked out once, when it becomes the head: a
    // step reads one datom, and compares integers unless the keys tie.
    let key =
        |run: &Run, order: &[Pos], at: usize| order.get(at).map(|&p| index.sort_key(run.datom(p)));
    let (mut i, mut j) = (0, 0);
    let (mut key_a, mut key_b) = (key(older, a, 0), key(newer, b, 0));
    while let (Some(ka), Some(kb)) = (key_a, key_b) {
        let (x, y) = (older.datom(a[i]), newer.datom(b[j]));
        let older_first = match ka.cmp(&kb) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => index.compare(x, y).is_le(),
        };
        if older_first {
            if keep(x) {
                out.push(a[i]);
            }
            i += 1;
            key_a = key(older, a, i);
        } else {
            if keep(y) {
                out.push(Pos {
                    part: b[j].part + shift,
                    at: b[j].at,
                });
            }
            j += 1;
            key_b = key(newer, b, j);
        }
    }
    out.extend(a[i..].iter().filter(|&&p| keep(older.datom(p))));
    out.extend(
        b[j..]
            .iter()
            .filter(|&&p| keep(newer.datom(p)))
            .map(|p| Pos {
                part: p.part + shift,
                at: p.at,
            }),
    );
    out
}

/// One sorted stream of a layer: its sets, or one run.
enum Source<'a> {
    Sets(SortedIter<'a>),
    Run {
        run: &'a Run,
        order: &'a [Pos],
        at: usize,
    },
}

impl<'a> Source<'a> {
    fn next(&mut self) -> Option<&'a Datom> {
        match self {
            Source::Sets(iter) => iter.next(),
            Source::Run { run, order, at } => {
                let p = order.get(*at)?;
                *at += 1;
                Some(run.datom(*p))
            }
        }
    }
}

/// The streams of a layer merged in index order (they hold distinct
/// datoms), less the removed datoms of runs.
struct Streams<'a> {
    index: Index,
    sources: Vec<Source<'a>>,
    heads: Vec<Option<&'a Datom>>,
    removed: Option<&'a imbl::HashSet<Datom>>,
    /// The stream that gave the last datom, and the least head of the
    /// others then (`None`: they were all done). Their heads do not move
    /// while it gives, so it gives on without a scan while its head is
    /// below that bound: one comparison a datom where streams hold ranges
    /// apart (the entities of successive imported batches).
    leader: Option<(usize, Option<&'a Datom>)>,
}

impl<'a> Streams<'a> {
    fn new(
        index: Index,
        mut sources: Vec<Source<'a>>,
        removed: Option<&'a imbl::HashSet<Datom>>,
    ) -> Self {
        let heads = sources
            .iter_mut()
            .map(|source| Self::pull(source, removed))
            .collect();
        Streams {
            index,
            sources,
            heads,
            removed,
            leader: None,
        }
    }

    /// The next datom of `source` that is not removed (only runs hold
    /// removed datoms).
    fn pull(source: &mut Source<'a>, removed: Option<&imbl::HashSet<Datom>>) -> Option<&'a Datom> {
        let removed = removed.filter(|_| matches!(source, Source::Run { .. }));
        loop {
            let d = source.next()?;
            match removed {
                Some(removed) if removed.contains(d) => continue,
                _ => return Some(d),
            }
        }
    }
}

impl<'a> Iterator for Streams<'a> {
    type Item = &'a Datom;

    fn next(&mut self) -> Option<&'a Datom> {
        let index = self.index;
        let below =
            |d: &Datom, bound: Option<&Datom>| bound.is_none_or(|b| index.compare(d, b).is_lt());
        let led = self.leader.and_then(|(i, bound)| {
            let d = self.heads[i]?;
            below(d, bound).then_some((i, d))
        });
        let (i, d) = match led {
            Some(found) => found,
            None => {
                // The least head, and the least of the others.
                let (mut min, mut second): (Option<(usize, &'a Datom)>, Option<&'a Datom>) =
                    (None, None);
                for (i, head) in self.heads.iter().enumerate() {
                    let Some(d) = *head else { continue };
                    match min {
                        Some((_, m)) if !below(d, Some(m)) => {
                            if below(d, second) {
                                second = Some(d);
                            }
                        }
                        _ => {
                            second = min.map(|(_, m)| m);
                            min = Some((i, d));
                        }
                    }
                }
                let (i, d) = min?;
                self.leader = Some((i, second));
                (i, d)
            }
        };
        self.heads[i] = Self::pull(&mut self.sources[i], self.removed);
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datom::t_to_tx;
    use crate::value::Value;
    use proptest::prelude::*;

    /// Attribute 3 is a ref; 1 and 2 are not.
    fn is_ref(a: u64) -> bool {
        a == 3
    }

    fn datom(e: u64, a: u64, v: u64, t: u64) -> Datom {
        let v = match a {
            3 => Value::Ref(v),
            2 => Value::String(format!("s{v}").into()),
            _ => Value::Long(v as i64),
        };
        Datom::new(e, a, v, t_to_tx(t), true)
    }

    /// The datoms of `model` that `index` holds, in its order.
    fn in_order(model: &[Datom], index: Index) -> Vec<&Datom> {
        let mut want: Vec<&Datom> = model
            .iter()
            .filter(|d| index != Index::Vaet || is_ref(d.a()))
            .collect();
        want.sort_by(|x, y| index.compare(x, y));
        want
    }

    /// Every index of `sets`, whole and from `from` on, against `model`.
    fn ranges_read_as(sets: &IndexSets, model: &[Datom], from: &Datom, what: &str) {
        for index in Index::ALL {
            let want = in_order(model, index);
            let min = Datom::new(0, 0, Value::MIN, 0, false);
            let all: Vec<&Datom> = sets.range(index, &min).collect();
            assert_eq!(all, want, "{what} {index:?}");
            let tail: Vec<&Datom> = want
                .iter()
                .copied()
                .filter(|d| index.compare(d, from).is_ge())
                .collect();
            let from_on: Vec<&Datom> = sets.range(index, from).collect();
            assert_eq!(from_on, tail, "{what} {index:?} from {from:?}");
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A transaction of this many datoms (a run when large enough).
        Insert(Vec<(u64, u64, u64)>),
        /// Remove the datom at this position of the model, if any.
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let facts = prop::collection::vec((0u64..40, 1u64..4, 0u64..6), 0..40);
        prop_oneof![
            3 => facts.prop_map(Op::Insert),
            2 => any::<usize>().prop_map(Op::Remove),
        ]
    }

    /// Runs `ops` on an `IndexSets` (with `run_min` as the threshold for a
    /// run) and on a plain sorted model, and compares every read.
    fn check(ops: Vec<Op>, run_min: usize) {
        let mut sets = IndexSets::default();
        let mut model: Vec<Datom> = Vec::new();
        for (t, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(facts) => {
                    // A current layer states a fact at most once.
                    let mut seen = std::collections::HashSet::new();
                    let tx: Vec<Datom> = facts
                        .into_iter()
                        .filter(|f| seen.insert(*f))
                        .map(|(e, a, v)| datom(e, a, v, t as u64 + 1))
                        .filter(|d| !model.iter().any(|m| m.same_fact(d)))
                        .collect();
                    if tx.len() >= run_min {
                        sets.insert_run(tx.clone().into(), &is_ref).unwrap();
                    } else {
                        for d in &tx {
                            sets.insert(Arc::new(d.clone()), is_ref(d.a()));
                        }
                    }
                    model.extend(tx);
                }
                Op::Remove(i) if !model.is_empty() => {
                    let d = model.remove(i % model.len());
                    sets.remove(&d, is_ref(d.a()));
                }
                Op::Remove(_) => {}
            }
            assert_eq!(sets.len(), model.len());
            for a in 1..4 {
                let n = model.iter().filter(|d| d.a() == a).count() as u64;
                assert_eq!(sets.attribute_len(a), n);
            }
            ranges_read_as(&sets, &model, &datom(20, 2, 3, 0), "");
            for e in 0..40 {
                for a in 1..4 {
                    for v in 0..6 {
                        let probe = datom(e, a, v, 0);
                        let want = model.iter().find(|d| d.same_fact(&probe));
                        assert_eq!(sets.find_fact(&probe), want, "{probe:?}");
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Runs, sets and removals read exactly as one sorted set would.
        #[test]
        fn runs_and_sets_read_as_one_sorted_set(ops in prop::collection::vec(op(), 1..30)) {
            check(ops.clone(), 8);
            check(ops, usize::MAX);
        }
    }

    #[test]
    fn runs_of_similar_size_merge_and_removed_datoms_leave_with_them() {
        let mut sets = IndexSets::default();
        for t in 1..=8u64 {
            let tx: Vec<Datom> = (0..10).map(|i| datom(t * 100 + i, 1, i, t)).collect();
            sets.insert_run(tx.into(), &is_ref).unwrap();
        }
        // Eight runs of ten merge like a binary counter into one of 80.
        assert_eq!(sets.runs(), 1);
        sets.remove(&datom(101, 1, 1, 1), false);
        assert_eq!(sets.removed.len(), 1);
        assert_eq!(sets.len(), 79);
        let tx: Vec<Datom> = (0..80).map(|i| datom(900 + i, 1, i, 9)).collect();
        sets.insert_run(tx.into(), &is_ref).unwrap();
        assert_eq!(sets.runs(), 1, "80 and 80 merge");
        assert!(sets.removed.is_empty(), "the merge drops the removed datom");
        assert_eq!(sets.len(), 159);
        assert!(sets.find_fact(&datom(101, 1, 1, 0)).is_none());
    }

    /// Every read of `sets` against the sorted `model`.
    fn reads_as(sets: &IndexSets, model: &[Datom], what: &str) {
        assert_eq!(sets.len(), model.len(), "{what}");
        ranges_read_as(sets, model, &datom(5000, 2, 0, 0), what);
        for d in model.iter().step_by(97) {
            assert_eq!(sets.find_fact(d), Some(d), "{what}");
        }
    }

    #[test]
    fn large_runs_sort_and_merge_on_threads_as_small_ones_do() {
        // Past PARALLEL_MIN (orders worked out on threads of their own,
        // merges left to them), with values that interleave in every order.
        let n = PARALLEL_MIN as u64 + 100;
        let tx = |t: u64| -> Vec<Datom> {
            (0..n)
                .map(|i| {
                    let e = (i * 7919 + t) % (3 * n);
                    datom(e, 1 + (i % 3), (i * 31 + t) % 1000, t)
                })
                .collect()
        };
        let mut sets = IndexSets::default();
        let mut model: Vec<Datom> = Vec::new();
        let mut snapshots = Vec::new();
        // A current layer states a fact at most once.
        let mut seen = std::collections::HashSet::new();
        for t in 1..=6 {
            let datoms: Vec<Datom> = tx(t)
                .into_iter()
                .filter(|d| seen.insert((d.e(), d.a(), d.v().clone())))
                .collect();
            model.extend(datoms.iter().cloned());
            sets.insert_run(datoms.into(), &is_ref).unwrap();
            if t == 2 {
                assert_eq!(sets.runs(), 1, "two runs of one size merge");
            }
            if t == 4 {
                // A removal: the next merge takes the path that drops it.
                let gone = model.remove(12_345);
                sets.remove(&gone, is_ref(gone.a()));
                assert!(sets.find_fact(&gone).is_none());
            }
            // Read at once (orders still being worked out) and later.
            snapshots.push((sets.clone(), model.clone()));
            if t % 2 == 1 {
                reads_as(&sets, &model, &format!("after tx {t}"));
            }
        }
        // Earlier values read as they did, whatever merged since.
        for (t, (sets, model)) in snapshots.iter().enumerate() {
            reads_as(sets, model, &format!("the value after tx {}", t + 1));
        }
    }

    #[test]
    fn a_fact_stated_twice_is_refused_without_a_change() {
        let mut sets = IndexSets::default();
        let tx: Vec<Datom> = vec![datom(1, 1, 1, 1), datom(2, 1, 1, 1), datom(1, 1, 1, 1)];
        assert_eq!(sets.insert_run(tx.into(), &is_ref), Err(datom(1, 1, 1, 1)));
        assert_eq!(sets.len(), 0);
        assert_eq!(sets.runs(), 0);
    }
}
