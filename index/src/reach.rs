//! Which segments a database reaches: for backup, restore, verification and
//! garbage collection.

use model::{Index, Layer};
use storage_core::SegmentId;

use crate::blocking::blocking;
use crate::error::{Error, Result};
use crate::log;
use crate::log_root::LogRoot;
use crate::segment::{Node, TreeRef, kind};
use crate::segments::Segments;

/// A segment a database reaches, with the kind its parent says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReachableSegment {
    /// The segment.
    pub id: SegmentId,
    /// Its kind ([`crate::segment::kind`]).
    pub kind: u8,
}

/// Every segment `root` reaches: the log tree's branches and leaves, the
/// index root, and every branch and leaf of its trees, sorted by id without
/// repeats. Reads every branch (not the leaves); a missing or corrupt branch
/// is an error naming it.
pub async fn reachable_segments(seg: &Segments, root: &LogRoot) -> Result<Vec<ReachableSegment>> {
    let (seg, root) = (seg.clone(), root.clone());
    blocking(move || reachable_blocking(&seg, &root)).await
}

fn reachable_blocking(seg: &Segments, root: &LogRoot) -> Result<Vec<ReachableSegment>> {
    let mut found = Vec::new();
    log::segments_of(seg, root.log, &mut found)?;
    if let Some(id) = root.index {
        found.push((id, kind::INDEX_ROOT));
        let node = seg.node(id, kind::INDEX_ROOT)?;
        let Node::IndexRoot(index_root) = node.as_ref() else {
            return Err(Error::corrupt(id, "index root", "not an index root"));
        };
        for index in Index::ALL {
            for layer in [Layer::Current, Layer::History] {
                if let Some(tree) = index_root.tree(index, layer) {
                    tree_segments(seg, tree, &mut found)?;
                }
            }
        }
    }
    let mut out: Vec<ReachableSegment> = found
        .into_iter()
        .map(|(id, kind)| ReachableSegment { id, kind })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn tree_segments(seg: &Segments, tree: TreeRef, out: &mut Vec<(SegmentId, u8)>) -> Result<()> {
    let mut level = vec![tree.id];
    for _ in 0..tree.height {
        let mut next = Vec::new();
        for id in level {
            out.push((id, kind::INDEX_BRANCH));
            match seg.node(id, kind::INDEX_BRANCH)?.as_ref() {
                Node::IndexBranch(b) => next.extend(b.children.iter().map(|c| c.id)),
                _ => return Err(Error::corrupt(id, "index branch", "not an index branch")),
            }
        }
        level = next;
    }
    out.extend(level.into_iter().map(|id| (id, kind::INDEX_LEAF)));
    Ok(())
}
