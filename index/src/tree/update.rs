//! Rewriting one tree copy-on-write with sorted edits.

use std::cmp::Ordering;

use model::{Datom, Index, Layer};
use storage_core::SegmentId;

use super::key::{lowest, separator, split_by_bytes};
use super::{branch, branch_children, leaf, leaf_datoms};
use crate::error::Result;
use crate::segment::{IndexBranch, IndexChild, IndexLeaf, Node, TreeRef};
use crate::segments::BlockingWriter;

/// A change to one tree: add a datom, or remove one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    Put(Datom),
    Delete(Datom),
}

impl Edit {
    pub(crate) fn datom(&self) -> &Datom {
        match self {
            Edit::Put(d) | Edit::Delete(d) => d,
        }
    }
}

/// A node written (or kept) at some height, as its parent records it.
#[derive(Clone, Debug)]
struct Part {
    /// Its key in the parent (see [`super::key`]): at or before its first
    /// datom, after every datom of the node before it.
    first: Datom,
    id: SegmentId,
    count: u64,
    /// Children, for a branch; 0 for a leaf.
    fanout: usize,
}

impl Part {
    /// About the bytes it takes in its parent: key, id and count.
    fn encoded_len(&self) -> usize {
        encoded_len(&self.first) + 32 + 10
    }

    fn child(&self) -> IndexChild {
        IndexChild {
            first: self.first.clone(),
            id: self.id,
            count: self.count,
        }
    }
}

/// What a node holds: datoms (a leaf) or children (a branch).
enum Contents {
    Datoms(Vec<Datom>),
    Parts(Vec<Part>),
}

impl Contents {
    /// Nothing, as held by a node at `height`.
    fn empty(height: u8) -> Contents {
        match height {
            0 => Contents::Datoms(Vec::new()),
            _ => Contents::Parts(Vec::new()),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Contents::Datoms(d) => d.is_empty(),
            Contents::Parts(p) => p.is_empty(),
        }
    }

    /// Appends what a following node of the same height holds.
    fn append(&mut self, other: Contents) {
        match (self, other) {
            (Contents::Datoms(a), Contents::Datoms(b)) => a.extend(b),
            (Contents::Parts(a), Contents::Parts(b)) => a.extend(b),
            // Nodes of one height hold one kind; the tree checks heights on load.
            _ => {}
        }
    }
}

/// Splits sorted `edits` among `children` by their first datoms.
fn route<'e>(index: Index, children: &[IndexChild], edits: &'e [Edit]) -> Vec<&'e [Edit]> {
    let mut routed = Vec::with_capacity(children.len());
    let mut rest = edits;
    for i in 0..children.len() {
        let take = match children.get(i + 1) {
            None => rest.len(),
            Some(next) => {
                rest.partition_point(|e| index.compare(e.datom(), &next.first) == Ordering::Less)
            }
        };
        let (mine, later) = rest.split_at(take);
        routed.push(mine);
        rest = later;
    }
    routed
}

/// Rewrites one tree with `edits` (sorted in index order, at most one per
/// datom), copy-on-write: subtrees without edits keep their segments.
pub(crate) struct TreeUpdate<'w> {
    pub(crate) writer: &'w mut BlockingWriter,
    pub(crate) index: Index,
    pub(crate) layer: Layer,
}

impl TreeUpdate<'_> {
    /// The tree after the edits; `None` when it ends up empty.
    pub(crate) fn apply(
        &mut self,
        old: Option<TreeRef>,
        edits: &[Edit],
    ) -> Result<Option<TreeRef>> {
        if edits.is_empty() {
            return Ok(old);
        }
        let (parts, mut height) = match old {
            None => {
                let datoms: Vec<Datom> = edits
                    .iter()
                    .filter_map(|e| match e {
                        Edit::Put(d) => Some(d.clone()),
                        Edit::Delete(_) => None,
                    })
                    .collect();
                (self.write_leaves(datoms, None)?, 0)
            }
            Some(tree) => {
                let contents = self.contents(tree.id, tree.height, edits)?;
                (self.pack(contents, tree.height, None)?, tree.height)
            }
        };
        let mut parts = parts;
        while parts.len() > 1 {
            height += 1;
            parts = self.write_branches(parts, height)?;
        }
        let Some(mut root) = parts.pop() else {
            return Ok(None);
        };
        // A root with one child is replaced by the child.
        while height > 0 && root.fanout == 1 {
            self.writer.flush()?;
            let seg = self.writer.segments().clone();
            let node = branch(&seg, root.id, self.index, self.layer, height)?;
            let child = branch_children(&node)[0].clone();
            height -= 1;
            let fanout = match height {
                0 => 0,
                h => branch_children(branch(&seg, child.id, self.index, self.layer, h)?.as_ref())
                    .len(),
            };
            root = Part {
                first: child.first,
                id: child.id,
                count: child.count,
                fanout,
            };
        }
        Ok(Some(TreeRef {
            id: root.id,
            height,
            count: root.count,
        }))
    }

    /// What node `id` holds after `edits`: datoms for a leaf, the new
    /// children for a branch.
    fn contents(&mut self, id: SegmentId, height: u8, edits: &[Edit]) -> Result<Contents> {
        let seg = self.writer.segments().clone();
        if height == 0 {
            let node = leaf(&seg, id, self.index, self.layer)?;
            return Ok(Contents::Datoms(merge(
                self.index,
                leaf_datoms(&node),
                edits,
            )));
        }
        let node = branch(&seg, id, self.index, self.layer, height)?;
        let children = self.children_after(branch_children(&node), height, edits)?;
        Ok(Contents::Parts(children))
    }

    /// The children of a branch at `height` after `edits`: untouched
    /// children as they are; each run of touched children merged and
    /// repacked evenly, taking in an untouched neighbour when the run alone
    /// would make an underfull node (so deletions do not leave a trail of
    /// tiny segments).
    fn children_after(
        &mut self,
        children: &[IndexChild],
        height: u8,
        edits: &[Edit],
    ) -> Result<Vec<Part>> {
        let routed = route(self.index, children, edits);
        let kept = |c: &IndexChild| Part {
            first: c.first.clone(),
            id: c.id,
            count: c.count,
            // Unknown without loading it; only a root's fanout is used.
            fanout: 0,
        };
        let mut parts = Vec::with_capacity(children.len() + 1);
        // The child whose unchanged part is the last in `parts`, if any.
        let mut last_kept = None;
        let mut i = 0;
        while i < children.len() {
            if routed[i].is_empty() {
                parts.push(kept(&children[i]));
                last_kept = Some(i);
                i += 1;
                continue;
            }
            let mut end = i;
            while end + 1 < children.len() && !routed[end + 1].is_empty() {
                end += 1;
            }
            // The run's key in this branch; it stays valid for whatever
            // the run holds after the edits, which sort at or after it
            // (edits before the first key reach only a tree's first leaf).
            let mut floor = &children[i].first;
            let mut run = Contents::empty(height - 1);
            for j in i..=end {
                let c = self.contents(children[j].id, height - 1, routed[j])?;
                run.append(c);
            }
            if !run.is_empty() && self.underfull(&run) {
                if end + 1 < children.len() {
                    end += 1;
                    let next = self.contents(children[end].id, height - 1, &[])?;
                    run.append(next);
                } else if i > 0 && last_kept == Some(i - 1) {
                    parts.pop();
                    floor = &children[i - 1].first;
                    let mut prev = self.contents(children[i - 1].id, height - 1, &[])?;
                    prev.append(run);
                    run = prev;
                }
            }
            parts.extend(self.pack(run, height - 1, Some(floor))?);
            last_kept = None;
            i = end + 1;
        }
        Ok(parts)
    }

    /// True when `contents` would fill less than half a node.
    fn underfull(&self, contents: &Contents) -> bool {
        let config = self.writer.segments().config();
        match contents {
            Contents::Datoms(datoms) => {
                let half = config.index_leaf_bytes / 2;
                let mut size = 0;
                !datoms.iter().any(|d| {
                    size += encoded_len(d);
                    size >= half
                })
            }
            Contents::Parts(parts) => {
                parts.len() < config.index_branch_children / 2
                    && parts.iter().map(Part::encoded_len).sum::<usize>()
                        < config.index_branch_bytes / 2
            }
        }
    }

    /// Writes `contents` as nodes at `height`, evenly filled; `floor` is
    /// the key of the first, when the nodes replace children of a branch.
    fn pack(&mut self, contents: Contents, height: u8, floor: Option<&Datom>) -> Result<Vec<Part>> {
        match contents {
            Contents::Datoms(datoms) => self.write_leaves(datoms, floor),
            Contents::Parts(parts) => self.write_branches(parts, height),
        }
    }

    /// Splits sorted datoms into leaves of about equal size, each under the
    /// leaf limit or holding a single larger datom, keyed by the shortest
    /// separators; the first leaf's key is `floor` if it is at or before
    /// the first datom, else the lowest key (the tree's first leaf).
    fn write_leaves(&mut self, datoms: Vec<Datom>, floor: Option<&Datom>) -> Result<Vec<Part>> {
        let limit = self.writer.segments().config().index_leaf_bytes;
        let sizes: Vec<usize> = datoms.iter().map(encoded_len).collect();
        let ranges = split_by_bytes(&sizes, limit, 1, usize::MAX);
        let keys: Vec<Datom> = ranges
            .iter()
            .map(|range| match range.start {
                0 => self.first_key(floor, &datoms[0]),
                i => separator(self.index, &datoms[i - 1], &datoms[i]),
            })
            .collect();
        // Each leaf takes its datoms from the run, not a copy of them.
        let mut datoms = datoms.into_iter();
        let mut parts: Vec<Part> = Vec::with_capacity(ranges.len());
        for (range, key) in ranges.into_iter().zip(keys) {
            let leaf: Vec<Datom> = datoms.by_ref().take(range.len()).collect();
            parts.push(self.write_leaf(key, leaf)?);
        }
        Ok(parts)
    }

    /// The key of the first of the leaves that replace children keyed
    /// `floor`, whose first datom is now `first`: a key derived from
    /// `first` alone, after `floor` (so still after every datom of the
    /// child before), never the old key itself. The old key was derived
    /// from the old first datom, which may be gone — an excised value must
    /// not live on in a branch. The lowest key (a tree's first leaf) stays.
    fn first_key(&self, floor: Option<&Datom>, first: &Datom) -> Datom {
        let lowest = lowest();
        match floor {
            Some(f) if self.index.compare(f, &lowest) == Ordering::Equal => lowest,
            Some(f) => match self.index.compare(f, first) {
                Ordering::Less => separator(self.index, f, first),
                Ordering::Equal => first.clone(),
                // Edits before the first key reach only a tree's first leaf.
                Ordering::Greater => lowest,
            },
            None => lowest,
        }
    }

    fn write_leaf(&mut self, first: Datom, datoms: Vec<Datom>) -> Result<Part> {
        let count = datoms.len() as u64;
        let id = self.writer.write(Node::IndexLeaf(IndexLeaf {
            index: self.index,
            layer: self.layer,
            datoms,
        }))?;
        Ok(Part {
            first,
            id,
            count,
            fanout: 0,
        })
    }

    /// Groups parts under branches of about equal size under the limits
    /// of bytes and children, at least two to a branch.
    fn write_branches(&mut self, parts: Vec<Part>, height: u8) -> Result<Vec<Part>> {
        let config = *self.writer.segments().config();
        let sizes: Vec<usize> = parts.iter().map(Part::encoded_len).collect();
        let groups = split_by_bytes(
            &sizes,
            config.index_branch_bytes,
            2,
            config.index_branch_children,
        );
        let mut out = Vec::with_capacity(groups.len());
        for range in groups {
            let chunk = &parts[range];
            let children: Vec<IndexChild> = chunk.iter().map(Part::child).collect();
            let count = children.iter().map(|c| c.count).sum();
            let id = self.writer.write(Node::IndexBranch(IndexBranch {
                index: self.index,
                layer: self.layer,
                height,
                children,
            }))?;
            out.push(Part {
                first: chunk[0].first.clone(),
                id,
                count,
                fanout: chunk.len(),
            });
        }
        Ok(out)
    }
}

fn encoded_len(d: &Datom) -> usize {
    model::codec::encoded_datom_len(d)
}

/// The sorted datoms of a leaf with sorted edits applied.
fn merge(index: Index, datoms: &[Datom], edits: &[Edit]) -> Vec<Datom> {
    let mut out = Vec::with_capacity(datoms.len() + edits.len());
    let mut i = 0;
    for edit in edits {
        let key = edit.datom();
        while i < datoms.len() && index.compare(&datoms[i], key) == Ordering::Less {
            out.push(datoms[i].clone());
            i += 1;
        }
        let present = i < datoms.len() && index.compare(&datoms[i], key) == Ordering::Equal;
        if present {
            i += 1;
        }
        if let Edit::Put(d) = edit {
            out.push(d.clone());
        }
    }
    out.extend_from_slice(&datoms[i..]);
    out
}
