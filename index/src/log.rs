//! The log in storage: recent entries inline in the log root, older ones in
//! a tree of immutable log leaves that only ever grows on the right.

use std::sync::Arc;

use model::{TxLog, counter_of};
use storage_core::SegmentId;

use crate::error::{Error, Result};
use crate::log_root::{LogRoot, LogTree, encoded_entry_len};
use crate::segment::{LogBranch, LogChild, LogLeaf, Node, kind};
use crate::segments::{BlockingWriter, Segments, WriteStats, frame};

/// Appends committed log entries to the log of `root` and returns the root
/// value to compare-and-swap next.
///
/// While the inline tail stays under its limit ([`crate::TreeConfig::tail_bytes`])
/// nothing is written to storage. Otherwise the whole tail moves into the log
/// tree first, as new leaves of at most [`crate::TreeConfig::log_leaf_bytes`]
/// each (a larger entry gets a leaf of its own) after the existing ones,
/// which are never rewritten; only the right spine of branches is written
/// anew. Every segment is durable when this returns. The new root's `basis_t` is the last entry's t and its `next_t`
/// follows model's counter rule (past every t and entity counter used).
///
/// Entries must follow the root's basis in increasing t order.
pub async fn append(seg: &Segments, root: &LogRoot, entries: &[TxLog]) -> Result<LogRoot> {
    check_order(root, entries)?;
    let Some(last) = entries.last() else {
        return Ok(root.clone());
    };
    let mut next = root.clone();
    next.tail.extend(entries.iter().cloned());
    next.basis_t = last.t;
    next.next_t = entries.iter().fold(root.next_t, next_t_after);
    if next.tail_bytes() <= seg.config().tail_bytes {
        return Ok(next);
    }
    let tail = std::mem::take(&mut next.tail);
    let mut stats = WriteStats::default();
    next.log = Some(push(seg, next.log, tail, &mut stats).await?);
    tracing::debug!(
        segments = stats.segments,
        bytes = stats.bytes,
        "log tail moved into segments"
    );
    Ok(next)
}

fn check_order(root: &LogRoot, entries: &[TxLog]) -> Result<()> {
    let mut prev = root.basis_t;
    for e in entries {
        if e.t <= prev {
            return Err(Error::invalid(format!(
                "log entry t={} does not follow t={prev}",
                e.t
            )));
        }
        prev = e.t;
    }
    Ok(())
}

/// Model's counter rule: past the entry's t and every entity counter in it.
fn next_t_after(next_t: u64, entry: &TxLog) -> u64 {
    entry
        .data
        .iter()
        .map(|d| counter_of(d.e()) + 1)
        .fold(next_t.max(entry.t + 1), u64::max)
}

/// The leaves `entries` fill, each under the leaf size (a single larger
/// entry gets a leaf of its own).
fn chunk(entries: Vec<TxLog>, limit: usize) -> Vec<Vec<TxLog>> {
    let mut leaves = Vec::new();
    let mut current: Vec<TxLog> = Vec::new();
    let mut size = 0;
    for entry in entries {
        let len = encoded_entry_len(&entry);
        if !current.is_empty() && size + len > limit {
            leaves.push(std::mem::take(&mut current));
            size = 0;
        }
        size += len;
        current.push(entry);
    }
    if !current.is_empty() {
        leaves.push(current);
    }
    leaves
}

fn leaf_child(entries: &[TxLog], id: SegmentId) -> LogChild {
    LogChild {
        first_t: entries.first().map_or(0, |e| e.t),
        last_t: entries.last().map_or(0, |e| e.t),
        id,
    }
}

async fn write_leaves(
    seg: &Segments,
    leaves: Vec<Vec<TxLog>>,
    stats: &mut WriteStats,
) -> Result<Vec<LogChild>> {
    // Frame every leaf first: one too large fails before anything is stored.
    let framed = leaves
        .into_iter()
        .map(|entries| {
            let child = leaf_child(&entries, SegmentId::from_bytes([0; 32]));
            frame(Node::LogLeaf(LogLeaf { entries })).map(|f| (child, f))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut children = Vec::with_capacity(framed.len());
    for (child, framed) in framed {
        let id = seg.put_framed(framed, stats).await?;
        children.push(LogChild { id, ..child });
    }
    Ok(children)
}

/// Writes `children` as branches of at most the configured fanout, the
/// left ones full (the log grows only on the right).
async fn write_branches(
    seg: &Segments,
    children: Vec<LogChild>,
    stats: &mut WriteStats,
) -> Result<Vec<LogChild>> {
    let mut parents = Vec::new();
    for group in children.chunks(seg.config().log_branch_children) {
        let id = seg
            .write_async(
                Node::LogBranch(LogBranch {
                    children: group.to_vec(),
                }),
                stats,
            )
            .await?;
        parents.push(LogChild {
            first_t: group[0].first_t,
            last_t: group[group.len() - 1].last_t,
            id,
        });
    }
    Ok(parents)
}

/// Adds `entries` on the right of the log tree.
async fn push(
    seg: &Segments,
    tree: Option<LogTree>,
    entries: Vec<TxLog>,
    stats: &mut WriteStats,
) -> Result<LogTree> {
    let limit = seg.config().log_leaf_bytes;
    let Some(tree) = tree else {
        let children = write_leaves(seg, chunk(entries, limit), stats).await?;
        return grow(seg, children, 0, stats).await;
    };
    // The right spine, root first, and the rightmost leaf as its parent
    // records it (the leaf itself is never read nor rewritten).
    let mut spine: Vec<Arc<Node>> = Vec::with_capacity(usize::from(tree.height));
    let mut rightmost = LogChild {
        first_t: tree.first_t,
        last_t: tree.last_t,
        id: tree.id,
    };
    for height in (1..=tree.height).rev() {
        let node = log_branch(
            seg.node_async(rightmost.id, kind::LOG_BRANCH).await?,
            rightmost.id,
            height,
        )?;
        rightmost = log_children(&node).last().copied().unwrap_or(rightmost);
        spine.push(node);
    }
    // New leaves after it: appending never rewrites a leaf, so each entry
    // is written once (issue 14: rewriting the rightmost leaf with the
    // tail made the log take about five times what it reaches).
    let mut level = vec![rightmost];
    level.extend(write_leaves(seg, chunk(entries, limit), stats).await?);
    // Replace the last child of each spine branch, bottom up.
    for node in spine.iter().rev() {
        let mut children = log_children(node).to_vec();
        children.pop();
        children.extend(level);
        level = write_branches(seg, children, stats).await?;
    }
    grow(seg, level, tree.height, stats).await
}

/// Adds levels on top until one node holds everything.
async fn grow(
    seg: &Segments,
    mut level: Vec<LogChild>,
    mut height: u8,
    stats: &mut WriteStats,
) -> Result<LogTree> {
    while level.len() > 1 {
        level = write_branches(seg, level, stats).await?;
        height += 1;
    }
    let root = level
        .pop()
        .ok_or_else(|| Error::invalid("a log tree of no entries"))?;
    Ok(LogTree {
        id: root.id,
        height,
        first_t: root.first_t,
        last_t: root.last_t,
    })
}

fn log_branch(node: Arc<Node>, id: SegmentId, height: u8) -> Result<Arc<Node>> {
    match node.as_ref() {
        Node::LogBranch(b) if !b.children.is_empty() => Ok(node),
        _ => Err(Error::corrupt(
            id,
            "log branch",
            format!("an empty log branch at height {height}"),
        )),
    }
}

fn log_leaf(node: Arc<Node>, id: SegmentId) -> Result<Arc<Node>> {
    match node.as_ref() {
        Node::LogLeaf(l) if !l.entries.is_empty() => Ok(node),
        _ => Err(Error::corrupt(id, "log leaf", "an empty log leaf")),
    }
}

fn log_children(node: &Node) -> &[LogChild] {
    match node {
        Node::LogBranch(b) => &b.children,
        _ => &[],
    }
}

fn log_entries(node: &Node) -> &[TxLog] {
    match node {
        Node::LogLeaf(l) => &l.entries,
        _ => &[],
    }
}

/// The leaves of the log tree holding entries with `from_t <= t < until_t`,
/// in t order (blocking reads of branches).
pub(crate) fn leaves_in_range(
    seg: &Segments,
    tree: Option<LogTree>,
    from_t: u64,
    until_t: Option<u64>,
) -> Result<Vec<SegmentId>> {
    let mut out = Vec::new();
    let Some(tree) = tree else { return Ok(out) };
    let wanted = |c: &LogChild| c.last_t >= from_t && until_t.is_none_or(|u| c.first_t < u);
    let mut level = vec![LogChild {
        first_t: tree.first_t,
        last_t: tree.last_t,
        id: tree.id,
    }];
    for height in (1..=tree.height).rev() {
        let mut next = Vec::new();
        for child in level.iter().filter(|c| wanted(c)) {
            let node = log_branch(seg.node(child.id, kind::LOG_BRANCH)?, child.id, height)?;
            next.extend(log_children(&node).iter().copied());
        }
        level = next;
    }
    out.extend(level.iter().filter(|c| wanted(c)).map(|c| c.id));
    Ok(out)
}

/// The log entries of `root` with `from_t <= t < until_t` (no upper bound
/// for `None`), from the log tree and the tail (blocking reads).
pub(crate) fn entries_in_range(
    seg: &Segments,
    root: &LogRoot,
    from_t: u64,
    until_t: Option<u64>,
) -> Result<LogEntries> {
    Ok(LogEntries {
        seg: seg.clone(),
        leaves: leaves_in_range(seg, root.log, from_t, until_t)?.into_iter(),
        current: Vec::new().into_iter(),
        tail: root.tail.clone().into_iter(),
        from_t,
        until_t,
        failed: false,
    })
}

/// Log entries in t order, loading leaves lazily.
pub(crate) struct LogEntries {
    seg: Segments,
    leaves: std::vec::IntoIter<SegmentId>,
    current: std::vec::IntoIter<TxLog>,
    tail: std::vec::IntoIter<TxLog>,
    from_t: u64,
    until_t: Option<u64>,
    failed: bool,
}

impl LogEntries {
    fn wanted(&self, t: u64) -> bool {
        t >= self.from_t && self.until_t.is_none_or(|u| t < u)
    }

    fn next_entry(&mut self) -> Result<Option<TxLog>> {
        loop {
            if let Some(e) = self.current.next() {
                if self.wanted(e.t) {
                    return Ok(Some(e));
                }
                continue;
            }
            if let Some(id) = self.leaves.next() {
                let node = log_leaf(self.seg.node(id, kind::LOG_LEAF)?, id)?;
                self.current = log_entries(&node).to_vec().into_iter();
                continue;
            }
            return Ok(self
                .tail
                .by_ref()
                .find(|e| e.t >= self.from_t && self.until_t.is_none_or(|u| e.t < u)));
        }
    }
}

impl Iterator for LogEntries {
    type Item = Result<TxLog>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_entry().transpose();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

/// The log entries of `root` with `from_t <= t < until_t`, for async
/// callers (a transactor catching a subscriber up from storage).
pub async fn read_log(
    seg: &Segments,
    root: &LogRoot,
    from_t: u64,
    until_t: Option<u64>,
) -> Result<Vec<TxLog>> {
    let (seg, root) = (seg.clone(), root.clone());
    tokio::task::spawn_blocking(move || entries_in_range(&seg, &root, from_t, until_t)?.collect())
        .await
        .map_err(|e| Error::Internal(format!("log read task failed: {e}")))?
}

/// The entries a log rewrite may change: `first..=last` by t.
pub(crate) type Span = (u64, u64);

/// Rewrites the entries with t in `span` through `change` (which returns
/// `None` to keep an entry as is), copy-on-write: leaves without changed
/// entries keep their segments. Entries are never added or removed.
pub(crate) fn rewrite(
    writer: &mut BlockingWriter,
    root: &LogRoot,
    span: Span,
    change: &dyn Fn(&TxLog) -> Option<TxLog>,
) -> Result<LogRoot> {
    let mut next = root.clone();
    for entry in next
        .tail
        .iter_mut()
        .filter(|e| e.t >= span.0 && e.t <= span.1)
    {
        if let Some(changed) = change(entry) {
            *entry = changed;
        }
    }
    if let Some(tree) = root.log {
        let top = LogChild {
            first_t: tree.first_t,
            last_t: tree.last_t,
            id: tree.id,
        };
        let id = rewrite_node(writer, top, tree.height, span, change)?;
        next.log = Some(LogTree { id, ..tree });
    }
    Ok(next)
}

fn rewrite_node(
    writer: &mut BlockingWriter,
    child: LogChild,
    height: u8,
    span: Span,
    change: &dyn Fn(&TxLog) -> Option<TxLog>,
) -> Result<SegmentId> {
    if child.first_t > span.1 || child.last_t < span.0 {
        return Ok(child.id);
    }
    let seg = writer.segments().clone();
    if height == 0 {
        let node = log_leaf(seg.node(child.id, kind::LOG_LEAF)?, child.id)?;
        let mut changed = false;
        let entries: Vec<TxLog> = log_entries(&node)
            .iter()
            .map(|e| match change(e) {
                Some(new) => {
                    changed = true;
                    new
                }
                None => e.clone(),
            })
            .collect();
        return match changed {
            true => writer.write(Node::LogLeaf(LogLeaf { entries })),
            false => Ok(child.id),
        };
    }
    let node = log_branch(seg.node(child.id, kind::LOG_BRANCH)?, child.id, height)?;
    let old = log_children(&node);
    let mut children = Vec::with_capacity(old.len());
    for c in old {
        let id = rewrite_node(writer, *c, height - 1, span, change)?;
        children.push(LogChild { id, ..*c });
    }
    match children.as_slice() == old {
        true => Ok(child.id),
        false => writer.write(Node::LogBranch(LogBranch { children })),
    }
}

/// Every segment of the log tree (blocking reads of branches).
pub(crate) fn segments_of(
    seg: &Segments,
    tree: Option<LogTree>,
    out: &mut Vec<(SegmentId, u8)>,
) -> Result<()> {
    let Some(tree) = tree else { return Ok(()) };
    let mut level = vec![tree.id];
    for height in (1..=tree.height).rev() {
        let mut next = Vec::new();
        for id in level {
            out.push((id, kind::LOG_BRANCH));
            let node = log_branch(seg.node(id, kind::LOG_BRANCH)?, id, height)?;
            next.extend(log_children(&node).iter().map(|c| c.id));
        }
        level = next;
    }
    out.extend(level.into_iter().map(|id| (id, kind::LOG_LEAF)));
    Ok(())
}
