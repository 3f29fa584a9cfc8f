//! Index trees: reading them in order from any datom ([`Cursor`]), and
//! rewriting them copy-on-write so that only touched leaves and their paths
//! are new ([`TreeUpdate`]).

mod cursor;
mod key;
mod update;

pub(crate) use cursor::Cursor;
pub(crate) use update::{Edit, TreeUpdate};

use std::cmp::Ordering;
use std::sync::Arc;

use model::{Datom, Index, Layer};
use storage_core::SegmentId;

use crate::error::{Error, Result};
use crate::segment::{IndexChild, Node, kind};
use crate::segments::Segments;

/// Loads an index leaf of the expected index layer.
pub(super) fn leaf(seg: &Segments, id: SegmentId, index: Index, layer: Layer) -> Result<Arc<Node>> {
    let node = seg.node(id, kind::INDEX_LEAF)?;
    match node.as_ref() {
        Node::IndexLeaf(l) if l.index == index && l.layer == layer => Ok(node),
        Node::IndexLeaf(l) => Err(wrong_tree(id, "index leaf", l.index, l.layer, index, layer)),
        _ => Err(Error::corrupt(id, "index leaf", "not an index leaf")),
    }
}

/// Loads an index branch of the expected index layer and height.
pub(super) fn branch(
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

pub(super) fn wrong_tree(
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

pub(super) fn leaf_datoms(node: &Node) -> &[Datom] {
    match node {
        Node::IndexLeaf(l) => &l.datoms,
        _ => &[],
    }
}

pub(super) fn branch_children(node: &Node) -> &[IndexChild] {
    match node {
        Node::IndexBranch(b) => &b.children,
        _ => &[],
    }
}

/// The child of a branch that holds `key`: the last one whose first datom
/// sorts at or before it (the first child for keys before every child).
pub(super) fn child_for(index: Index, children: &[IndexChild], key: &Datom) -> usize {
    children
        .partition_point(|c| index.compare(&c.first, key) != Ordering::Greater)
        .saturating_sub(1)
}
