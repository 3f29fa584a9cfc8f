//! A hash index from keys (a few values) to the rows that have them: the
//! build side of hash joins, the grouping of aggregates and the row sets
//! of rule tables. Keys compare with [`key_eq`](crate::value::key_eq), so
//! an entity id finds the same number given as a long.

use crate::value::{hash_key, key_eq};
use model::Value;
use std::collections::HashMap;

const END: usize = usize::MAX;

/// Distinct keys of `width` values each, in insertion order, each with the
/// rows (member ids) inserted under it, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    width: usize,
    /// `width` values per group.
    keys: Vec<Value>,
    /// Hash → the newest group with that hash; older ones via `collide`.
    table: HashMap<u64, usize, foldhash::fast::FixedState>,
    collide: Vec<usize>,
    /// Per group: first and last member slot.
    head: Vec<usize>,
    tail: Vec<usize>,
    /// Per member slot: the member id and the next slot of its group.
    member: Vec<usize>,
    next: Vec<usize>,
}

impl Groups {
    /// An empty index for keys of `width` values.
    pub(crate) fn new(width: usize) -> Groups {
        Groups {
            width,
            ..Groups::default()
        }
    }

    /// How many distinct keys there are.
    pub(crate) fn len(&self) -> usize {
        self.head.len()
    }

    /// The key of group `g`.
    pub(crate) fn key(&self, g: usize) -> &[Value] {
        &self.keys[g * self.width..(g + 1) * self.width]
    }

    /// The group whose key satisfies `same` among those with `hash`.
    fn locate(&self, hash: u64, same: impl Fn(&[Value]) -> bool) -> Option<usize> {
        let mut g = *self.table.get(&hash)?;
        while g != END {
            if same(self.key(g)) {
                return Some(g);
            }
            g = self.collide[g];
        }
        None
    }

    /// The group of `key` (whose hash is `hash`), if present.
    pub(crate) fn find_hashed(&self, hash: u64, key: &[Value]) -> Option<usize> {
        self.locate(hash, |k| k.iter().zip(key).all(|(a, b)| key_eq(a, b)))
    }

    /// The group of `key`, if present.
    pub(crate) fn find(&self, key: &[Value]) -> Option<usize> {
        self.find_hashed(hash_key(key), key)
    }

    /// The group whose key is the values of `row` at `cols`, if present.
    pub(crate) fn find_cols(&self, row: &[Value], cols: &[usize]) -> Option<usize> {
        let hash = hash_key(cols.iter().map(|c| &row[*c]));
        self.locate(hash, |k| {
            k.iter().zip(cols).all(|(a, c)| key_eq(a, &row[*c]))
        })
    }

    /// Adds member `id` under `key`; returns its group and whether the
    /// group is new.
    pub(crate) fn insert(&mut self, key: &[Value], id: usize) -> (usize, bool) {
        let all: Vec<usize> = (0..key.len()).collect();
        self.insert_cols(key, &all, id)
    }

    /// Adds member `id` under the values of `row` at `cols` (cloned only
    /// for a new group); returns its group and whether it is new.
    pub(crate) fn insert_cols(
        &mut self,
        row: &[Value],
        cols: &[usize],
        id: usize,
    ) -> (usize, bool) {
        let (g, fresh) = self.group_of(row, cols);
        let slot = self.member.len();
        self.member.push(id);
        self.next.push(END);
        match self.tail[g] {
            END => self.head[g] = slot,
            last => self.next[last] = slot,
        }
        self.tail[g] = slot;
        (g, fresh)
    }

    /// Adds `key` as a group without members, unless present; true when new.
    pub(crate) fn insert_key(&mut self, key: &[Value]) -> bool {
        let all: Vec<usize> = (0..key.len()).collect();
        self.insert_key_cols(key, &all)
    }

    /// Adds the values of `row` at `cols` as a group without members,
    /// unless present; true when new.
    pub(crate) fn insert_key_cols(&mut self, row: &[Value], cols: &[usize]) -> bool {
        self.group_of(row, cols).1
    }

    fn group_of(&mut self, row: &[Value], cols: &[usize]) -> (usize, bool) {
        let hash = hash_key(cols.iter().map(|c| &row[*c]));
        if let Some(g) = self.locate(hash, |k| {
            k.iter().zip(cols).all(|(a, c)| key_eq(a, &row[*c]))
        }) {
            return (g, false);
        }
        let g = self.head.len();
        self.keys.extend(cols.iter().map(|c| row[*c].clone()));
        self.head.push(END);
        self.tail.push(END);
        let previous = self.table.insert(hash, g).unwrap_or(END);
        self.collide.push(previous);
        (g, true)
    }

    /// The member ids of group `g`, in insertion order.
    pub(crate) fn members(&self, g: usize) -> Members<'_> {
        Members {
            groups: self,
            slot: self.head[g],
        }
    }
}

/// The members of one group.
pub(crate) struct Members<'a> {
    groups: &'a Groups,
    slot: usize,
}

impl Iterator for Members<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.slot == END {
            return None;
        }
        let id = self.groups.member[self.slot];
        self.slot = self.groups.next[self.slot];
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_insertion_order_and_unify_refs_with_longs() {
        let mut g = Groups::new(1);
        assert_eq!(g.insert(&[Value::Ref(1)], 10), (0, true));
        assert_eq!(g.insert(&[Value::Long(2)], 11), (1, true));
        assert_eq!(g.insert(&[Value::Long(1)], 12), (0, false));
        assert_eq!(g.len(), 2);
        assert_eq!(g.members(0).collect::<Vec<_>>(), vec![10, 12]);
        assert_eq!(g.find(&[Value::Ref(2)]), Some(1));
        assert_eq!(g.find(&[Value::Ref(3)]), None);
        assert!(!g.insert_key(&[Value::Ref(2)]));
        assert!(g.insert_key(&[Value::string("x")]));
        assert_eq!(g.members(2).count(), 0);
    }

    #[test]
    fn empty_keys_form_one_group() {
        let mut g = Groups::new(0);
        g.insert(&[], 0);
        g.insert(&[], 1);
        assert_eq!(g.len(), 1);
        assert_eq!(g.key(0), &[] as &[Value]);
    }
}
