//! Merging index layers on read, and time views over the merged stream.

use super::Index;
use super::store::DatomIter;
use crate::datom::{Datom, EntityId};
use crate::error::Result;

/// Merges sorted datom streams into one sorted stream without duplicates.
pub(crate) struct Merge<'a> {
    index: Index,
    sources: Vec<DatomIter<'a>>,
    heads: Vec<Option<Datom>>,
    started: bool,
    last: Option<Datom>,
    failed: bool,
}

impl<'a> Merge<'a> {
    pub(crate) fn new(index: Index, sources: Vec<DatomIter<'a>>) -> Self {
        let heads = vec![None; sources.len()];
        Merge {
            index,
            sources,
            heads,
            started: false,
            last: None,
            failed: false,
        }
    }

    /// Pulls the next datom of source `i` into its head slot.
    fn refill(&mut self, i: usize) -> Result<()> {
        self.heads[i] = self.sources[i].next().transpose()?;
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        self.started = true;
        (0..self.sources.len()).try_for_each(|i| self.refill(i))
    }

    fn pop_min(&mut self) -> Result<Option<Datom>> {
        if !self.started {
            self.start()?;
        }
        let index = self.index;
        let min = (0..self.heads.len())
            .filter(|&i| self.heads[i].is_some())
            .min_by(|&i, &j| match (&self.heads[i], &self.heads[j]) {
                (Some(x), Some(y)) => index.compare(x, y),
                _ => std::cmp::Ordering::Equal,
            });
        let Some(i) = min else { return Ok(None) };
        let datom = self.heads[i].take();
        self.refill(i)?;
        Ok(datom)
    }
}

impl Iterator for Merge<'_> {
    type Item = Result<Datom>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.pop_min() {
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Ok(None) => return None,
                Ok(Some(d)) if self.last.as_ref() == Some(&d) => continue,
                Ok(Some(d)) => {
                    self.last = Some(d.clone());
                    return Some(Ok(d));
                }
            }
        }
    }
}

/// The time bounds of a view, as transaction ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimeBounds {
    /// Only datoms with `tx <= as_of`.
    pub(crate) as_of: Option<EntityId>,
    /// Only datoms with `tx > since`.
    pub(crate) since: Option<EntityId>,
}

impl TimeBounds {
    pub(crate) fn admits(&self, tx: EntityId) -> bool {
        self.as_of.is_none_or(|t| tx <= t) && self.since.is_none_or(|t| tx > t)
    }
}

/// Groups a merged stream (current and history layers together) into the
/// datoms stating one fact, oldest first: they are adjacent in every index.
pub(crate) struct FactGroups<'a> {
    source: DatomIter<'a>,
    pending: Option<Datom>,
}

impl<'a> FactGroups<'a> {
    pub(crate) fn new(source: DatomIter<'a>) -> Self {
        FactGroups {
            source,
            pending: None,
        }
    }
}

impl Iterator for FactGroups<'_> {
    type Item = Result<Vec<Datom>>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = match self.pending.take() {
            Some(d) => d,
            None => match self.source.next()? {
                Ok(d) => d,
                Err(e) => return Some(Err(e)),
            },
        };
        let mut group = vec![first];
        loop {
            match self.source.next() {
                None => break,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(d)) if d.same_fact(&group[0]) => group.push(d),
                Some(Ok(d)) => {
                    self.pending = Some(d);
                    break;
                }
            }
        }
        Some(Ok(group))
    }
}

/// Splits one fact's datoms (oldest first) at `as_of`: the assertion that
/// holds then, if any, and the datoms that are history by then.
pub(crate) fn split_fact(
    group: Vec<Datom>,
    as_of: Option<EntityId>,
) -> (Option<Datom>, Vec<Datom>) {
    let mut visible: Vec<Datom> = group
        .into_iter()
        .filter(|d| as_of.is_none_or(|t| d.tx() <= t))
        .collect();
    match visible.last() {
        Some(d) if d.added() => {
            let current = visible.pop();
            (current, visible)
        }
        _ => (None, visible),
    }
}

/// The datoms a time view shows, from all layers merged.
pub(crate) fn time_view<'a>(
    merged: DatomIter<'a>,
    bounds: TimeBounds,
    history: bool,
) -> DatomIter<'a> {
    if history {
        return Box::new(
            merged.filter(move |d| d.as_ref().map_or(true, |d| bounds.admits(d.tx()))),
        );
    }
    Box::new(AsOf {
        source: merged,
        pending: None,
        bounds,
    })
}

/// The facts asserted as of `bounds.as_of` (and after `bounds.since`):
/// for each fact, the last operation at or before `as_of` decides. Walks
/// the merged stream once without allocating.
struct AsOf<'a> {
    source: DatomIter<'a>,
    pending: Option<Datom>,
    bounds: TimeBounds,
}

impl AsOf<'_> {
    fn pull(&mut self) -> Option<Result<Datom>> {
        self.pending.take().map(Ok).or_else(|| self.source.next())
    }
}

impl Iterator for AsOf<'_> {
    type Item = Result<Datom>;

    fn next(&mut self) -> Option<Self::Item> {
        let as_of = self.bounds.as_of;
        loop {
            let first = match self.pull()? {
                Ok(d) => d,
                Err(e) => return Some(Err(e)),
            };
            let mut last = as_of.is_none_or(|t| first.tx() <= t).then(|| first.clone());
            loop {
                match self.source.next() {
                    None => break,
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok(d)) if d.same_fact(&first) => {
                        if as_of.is_none_or(|t| d.tx() <= t) {
                            last = Some(d);
                        }
                    }
                    Some(Ok(d)) => {
                        self.pending = Some(d);
                        break;
                    }
                }
            }
            let since = self.bounds.since;
            if let Some(d) = last.filter(|d| d.added() && since.is_none_or(|s| d.tx() > s)) {
                return Some(Ok(d));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datom::t_to_tx;
    use crate::value::Value;

    fn d(e: u64, v: i64, t: u64, added: bool) -> Datom {
        Datom::new(e, 10, Value::Long(v), t_to_tx(t), added)
    }

    fn source(datoms: Vec<Datom>) -> DatomIter<'static> {
        Box::new(datoms.into_iter().map(Ok))
    }

    #[test]
    fn merge_orders_and_dedupes() {
        let merged: Vec<Datom> = Merge::new(
            Index::Eavt,
            vec![
                source(vec![d(1, 1, 1, true), d(3, 1, 1, true)]),
                source(vec![d(1, 1, 1, true), d(2, 1, 1, true)]),
            ],
        )
        .map(|r| r.unwrap())
        .collect();
        assert_eq!(
            merged,
            vec![d(1, 1, 1, true), d(2, 1, 1, true), d(3, 1, 1, true)]
        );
    }

    #[test]
    fn as_of_takes_the_last_operation_per_fact() {
        let all = vec![
            d(1, 1, 1, true),
            d(1, 1, 2, false),
            d(1, 1, 3, true),
            d(2, 5, 2, true),
        ];
        let view = |as_of: u64| {
            let bounds = TimeBounds {
                as_of: Some(t_to_tx(as_of)),
                since: None,
            };
            time_view(source(all.clone()), bounds, false)
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(view(1), vec![d(1, 1, 1, true)]);
        assert_eq!(view(2), vec![d(2, 5, 2, true)]);
        assert_eq!(view(3), vec![d(1, 1, 3, true), d(2, 5, 2, true)]);
        let hist = TimeBounds {
            as_of: Some(t_to_tx(2)),
            since: Some(t_to_tx(1)),
        };
        let h: Vec<_> = time_view(source(all), hist, true)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(h, vec![d(1, 1, 2, false), d(2, 5, 2, true)]);
    }

    #[test]
    fn errors_pass_through_the_merge() {
        let failing: DatomIter<'static> = Box::new(std::iter::once(Err(
            crate::Error::InvalidArgument("boom".into()),
        )));
        let mut merged = Merge::new(Index::Eavt, vec![source(vec![d(1, 1, 1, true)]), failing]);
        assert!(merged.next().unwrap().is_err());
        assert!(merged.next().is_none());
    }
}
