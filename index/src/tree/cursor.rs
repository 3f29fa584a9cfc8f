//! Reading one tree in index order from any datom.

use std::cmp::Ordering;
use std::sync::Arc;

use model::{Datom, Index, Layer};
use storage_core::SegmentId;

use super::{branch, branch_children, child_for, leaf, leaf_datoms};
use crate::error::Result;
use crate::segment::{Node, TreeRef};
use crate::segments::Segments;

/// Every datom of one tree from a position on, in index order, loading
/// leaves through the cache as it goes. Holds one path of nodes.
pub(crate) struct Cursor {
    seg: Segments,
    index: Index,
    layer: Layer,
    /// Branches from the root down, each with the child to visit next.
    path: Vec<(Arc<Node>, usize)>,
    leaf: Option<Arc<Node>>,
    pos: usize,
    failed: bool,
}

impl Cursor {
    /// A cursor at the first datom at or after `from`.
    pub(crate) fn seek(
        seg: &Segments,
        index: Index,
        layer: Layer,
        tree: Option<TreeRef>,
        from: &Datom,
    ) -> Result<Cursor> {
        let mut cursor = Cursor {
            seg: seg.clone(),
            index,
            layer,
            path: Vec::new(),
            leaf: None,
            pos: 0,
            failed: false,
        };
        if let Some(tree) = tree {
            cursor.descend(tree.id, tree.height, from)?;
        }
        Ok(cursor)
    }

    /// Walks down from node `id` to the leaf holding `from`.
    fn descend(&mut self, mut id: SegmentId, mut height: u8, from: &Datom) -> Result<()> {
        while height > 0 {
            let node = branch(&self.seg, id, self.index, self.layer, height)?;
            let children = branch_children(&node);
            let at = child_for(self.index, children, from);
            id = children[at].id;
            self.path.push((node.clone(), at + 1));
            height -= 1;
        }
        let node = leaf(&self.seg, id, self.index, self.layer)?;
        self.pos =
            leaf_datoms(&node).partition_point(|d| self.index.compare(d, from) == Ordering::Less);
        self.leaf = Some(node);
        Ok(())
    }

    /// Moves to the first leaf after the current one; false at the end.
    fn next_leaf(&mut self) -> Result<bool> {
        while let Some((node, next)) = self.path.pop() {
            let children = branch_children(&node);
            if next >= children.len() {
                continue;
            }
            let height = match node.as_ref() {
                Node::IndexBranch(b) => b.height,
                _ => 0,
            };
            let child = children[next].id;
            self.path.push((node.clone(), next + 1));
            let first = children[next].first.clone();
            // The child's first datom leads down its leftmost path.
            self.descend(child, height - 1, &first)?;
            return Ok(true);
        }
        self.leaf = None;
        Ok(false)
    }

    /// Moves forward to the first datom at or after `target` (which must not
    /// sort before the cursor's position): within the current leaf when it
    /// is there, otherwise by a new descent from `tree`.
    pub(crate) fn advance_to(&mut self, tree: Option<TreeRef>, target: &Datom) -> Result<()> {
        let Some(node) = &self.leaf else {
            return Ok(());
        };
        let datoms = leaf_datoms(node);
        let in_leaf = datoms
            .last()
            .is_some_and(|last| self.index.compare(last, target) != Ordering::Less);
        if in_leaf {
            let rest = &datoms[self.pos.min(datoms.len())..];
            self.pos += gallop(rest, |d| self.index.compare(d, target) == Ordering::Less);
            return Ok(());
        }
        self.path.clear();
        self.leaf = None;
        if let Some(tree) = tree {
            self.descend(tree.id, tree.height, target)?;
        }
        Ok(())
    }

    /// The datom at the cursor, without moving.
    pub(crate) fn peek(&mut self) -> Result<Option<&Datom>> {
        loop {
            let Some(node) = &self.leaf else {
                return Ok(None);
            };
            if self.pos < leaf_datoms(node).len() {
                break;
            }
            if !self.next_leaf()? {
                return Ok(None);
            }
        }
        Ok(self
            .leaf
            .as_deref()
            .and_then(|n| leaf_datoms(n).get(self.pos)))
    }
}

impl Cursor {
    /// Moves past the datom [`peek`](Self::peek) returned.
    pub(crate) fn step(&mut self) {
        self.pos += 1;
    }
}

impl Iterator for Cursor {
    type Item = model::Result<Datom>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.peek() {
            Ok(Some(d)) => {
                let d = d.clone();
                self.pos += 1;
                Some(Ok(d))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e.into()))
            }
        }
    }
}

/// The first position in `sorted` where `before` is false, as
/// `partition_point`, found from the front by doubling steps: a cursor's
/// next target is most often a few datoms on, and is then found in a few
/// comparisons, not a search of the whole leaf.
fn gallop(sorted: &[Datom], before: impl Fn(&Datom) -> bool) -> usize {
    // Everything before `lo` is before the target.
    let (mut lo, mut step) = (0, 1);
    while lo + step <= sorted.len() && before(&sorted[lo + step - 1]) {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(sorted.len());
    lo + sorted[lo..hi].partition_point(before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Value;

    #[test]
    fn gallop_finds_what_partition_point_finds() {
        for len in 0..40u64 {
            let sorted: Vec<Datom> = (0..len)
                .map(|e| Datom::new(e * 2, 1, Value::Long(0), 1, true))
                .collect();
            for target in 0..(len * 2 + 3) {
                let before = |d: &Datom| d.e() < target;
                assert_eq!(
                    gallop(&sorted, before),
                    sorted.partition_point(before),
                    "len {len}, target {target}"
                );
            }
        }
    }
}
