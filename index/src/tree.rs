//! Index trees: reading them in order from any datom, and rewriting them
//! copy-on-write so that only touched leaves and their paths are new.

use std::cmp::Ordering;
use std::sync::Arc;

use model::{Datom, Index, Layer};
use storage_core::SegmentId;

use crate::error::{Error, Result};
use crate::segment::{IndexBranch, IndexChild, IndexLeaf, Node, TreeRef, kind};
use crate::segments::{BlockingWriter, Segments};

/// Loads an index leaf of the expected index layer.
fn leaf(seg: &Segments, id: SegmentId, index: Index, layer: Layer) -> Result<Arc<Node>> {
    let node = seg.node(id, kind::INDEX_LEAF)?;
    match node.as_ref() {
        Node::IndexLeaf(l) if l.index == index && l.layer == layer => Ok(node),
        Node::IndexLeaf(l) => Err(wrong_tree(id, "index leaf", l.index, l.layer, index, layer)),
        _ => Err(Error::corrupt(id, "index leaf", "not an index leaf")),
    }
}

/// Loads an index branch of the expected index layer and height.
fn branch(
    seg: &Segments,
    id: SegmentId,
    index: Index,
    layer: Layer,
    height: u8,
) -> Result<Arc<Node>> {
    let node = seg.node(id, kind::INDEX_BRANCH)?;
    match node.as_ref() {
        Node::IndexBranch(b) if b.index != index || b.layer != layer => Err(wrong_tree(
            id,
            "index branch",
            b.index,
            b.layer,
            index,
            layer,
        )),
        Node::IndexBranch(b) if b.height != height => Err(Error::corrupt(
            id,
            "index branch",
            format!("height {} where the tree has height {height}", b.height),
        )),
        Node::IndexBranch(b) if b.children.is_empty() => {
            Err(Error::corrupt(id, "index branch", "has no children"))
        }
        Node::IndexBranch(_) => Ok(node),
        _ => Err(Error::corrupt(id, "index branch", "not an index branch")),
    }
}

fn wrong_tree(
    id: SegmentId,
    what: &'static str,
    i: Index,
    l: Layer,
    want_i: Index,
    want_l: Layer,
) -> Error {
    Error::corrupt(
        id,
        what,
        format!("belongs to {i} {l:?}, found in the {want_i} {want_l:?} tree"),
    )
}

fn leaf_datoms(node: &Node) -> &[Datom] {
    match node {
        Node::IndexLeaf(l) => &l.datoms,
        _ => &[],
    }
}

fn branch_children(node: &Node) -> &[IndexChild] {
    match node {
        Node::IndexBranch(b) => &b.children,
        _ => &[],
    }
}

/// The child of a branch that holds `key`: the last one whose first datom
/// sorts at or before it (the first child for keys before every child).
fn child_for(index: Index, children: &[IndexChild], key: &Datom) -> usize {
    children
        .partition_point(|c| index.compare(&c.first, key) != Ordering::Greater)
        .saturating_sub(1)
}

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
            self.pos += rest.partition_point(|d| self.index.compare(d, target) == Ordering::Less);
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
    first: Datom,
    id: SegmentId,
    count: u64,
    /// Children, for a branch; 0 for a leaf.
    fanout: usize,
}

impl Part {
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
                (self.write_leaves(&datoms)?, 0)
            }
            Some(tree) => {
                let contents = self.contents(tree.id, tree.height, edits)?;
                (self.pack(contents, tree.height)?, tree.height)
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
                    let mut prev = self.contents(children[i - 1].id, height - 1, &[])?;
                    prev.append(run);
                    run = prev;
                }
            }
            parts.extend(self.pack(run, height - 1)?);
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
            Contents::Parts(parts) => parts.len() < config.index_branch_children / 2,
        }
    }

    /// Writes `contents` as nodes at `height`, evenly filled.
    fn pack(&mut self, contents: Contents, height: u8) -> Result<Vec<Part>> {
        match contents {
            Contents::Datoms(datoms) => self.write_leaves(&datoms),
            Contents::Parts(parts) => self.write_branches(parts, height),
        }
    }

    /// Splits sorted datoms into leaves of about equal size under the limit.
    fn write_leaves(&mut self, datoms: &[Datom]) -> Result<Vec<Part>> {
        let limit = self.writer.segments().config().index_leaf_bytes;
        let sizes: Vec<usize> = datoms.iter().map(encoded_len).collect();
        let total: usize = sizes.iter().sum();
        let leaves = total.div_ceil(limit).max(1);
        let target = total.div_ceil(leaves);
        let mut parts = Vec::new();
        let mut start = 0;
        let mut size = 0;
        for (i, s) in sizes.iter().enumerate() {
            size += s;
            if size >= target || i + 1 == datoms.len() {
                parts.push(self.write_leaf(&datoms[start..=i])?);
                start = i + 1;
                size = 0;
            }
        }
        Ok(parts)
    }

    fn write_leaf(&mut self, datoms: &[Datom]) -> Result<Part> {
        let first = datoms[0].clone();
        let id = self.writer.write(Node::IndexLeaf(IndexLeaf {
            index: self.index,
            layer: self.layer,
            datoms: datoms.to_vec(),
        }))?;
        Ok(Part {
            first,
            id,
            count: datoms.len() as u64,
            fanout: 0,
        })
    }

    /// Groups parts under branches of about equal fanout under the limit.
    fn write_branches(&mut self, parts: Vec<Part>, height: u8) -> Result<Vec<Part>> {
        if parts.is_empty() {
            return Ok(parts);
        }
        let limit = self.writer.segments().config().index_branch_children;
        let groups = parts.len().div_ceil(limit);
        let per = parts.len().div_ceil(groups);
        let mut out = Vec::with_capacity(groups);
        for chunk in parts.chunks(per) {
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
    let mut buf = Vec::with_capacity(32);
    model::codec::encode_datom(&mut buf, d);
    buf.len()
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
