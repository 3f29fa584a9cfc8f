//! The segments of a database: what each kind holds and its bytes.
//!
//! Every segment is a storage-core frame whose `kind` byte says what it is
//! ([`kind`]); every payload starts with its own format version byte, so a
//! reader refuses what it does not know with an error naming the segment.
//! Datoms and log entries inside use model's binary encoding
//! ([`model::codec`]). Golden files in `tests/golden/` pin every kind.
//!
//! | kind | payload, version 1 (varints are LEB128) |
//! |------|------------------------------------------|
//! | 1 log leaf | version, entry count, entries (length-prefixed `ATX` encodings) |
//! | 2 log branch | version, child count, per child: first t, last t, 32-byte id |
//! | 3 index leaf | version, index, layer, datoms (length-prefixed `ADS` run) |
//! | 4 index branch | version, index, layer, height, child count, first-key datoms (`ADS` run), per child: 32-byte id, datom count |
//! | 5 index root | version, basis t, next t, per index × layer: 0 or (1, 32-byte id, height, datom count), excisions applied (count, entity ids) |

use model::{Datom, EntityId, Index, Layer, TxLog};
use storage_core::SegmentId;

use crate::bin::{Bad, Reader, Writer};

/// The `kind` byte of each segment in its frame header.
pub mod kind {
    /// Consecutive log entries.
    pub const LOG_LEAF: u8 = 1;
    /// Children of a log tree node, by t range.
    pub const LOG_BRANCH: u8 = 2;
    /// Sorted datoms of one index layer.
    pub const INDEX_LEAF: u8 = 3;
    /// Children of an index tree node, by first datom.
    pub const INDEX_BRANCH: u8 = 4;
    /// The trees of all indexes at one basis.
    pub const INDEX_ROOT: u8 = 5;
}

const VERSION: u8 = 1;

/// A decoded segment.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A log leaf.
    LogLeaf(LogLeaf),
    /// A log branch.
    LogBranch(LogBranch),
    /// An index leaf.
    IndexLeaf(IndexLeaf),
    /// An index branch.
    IndexBranch(IndexBranch),
    /// An index root.
    IndexRoot(Box<IndexRoot>),
}

/// Consecutive log entries, in t order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLeaf {
    /// The entries.
    pub entries: Vec<TxLog>,
}

/// One child of a log branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogChild {
    /// The first t under the child.
    pub first_t: u64,
    /// The last t under the child.
    pub last_t: u64,
    /// The child segment.
    pub id: SegmentId,
}

/// The children of a log tree node, in t order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBranch {
    /// The children.
    pub children: Vec<LogChild>,
}

/// Sorted datoms of one index layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexLeaf {
    /// The index the datoms are sorted by.
    pub index: Index,
    /// The layer they belong to.
    pub layer: Layer,
    /// The datoms, in `index` order.
    pub datoms: Vec<Datom>,
}

/// One child of an index branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexChild {
    /// The first datom under the child.
    pub first: Datom,
    /// The child segment.
    pub id: SegmentId,
    /// How many datoms are under the child.
    pub count: u64,
}

/// The children of an index tree node, in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexBranch {
    /// The index.
    pub index: Index,
    /// The layer.
    pub layer: Layer,
    /// The height of this node: 1 when the children are leaves.
    pub height: u8,
    /// The children.
    pub children: Vec<IndexChild>,
}

/// The root node of one index tree, as an index root records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRef {
    /// The root segment of the tree.
    pub id: SegmentId,
    /// Its height: 0 when the root is a leaf.
    pub height: u8,
    /// How many datoms the tree holds.
    pub count: u64,
}

/// The trees of every index layer at one basis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexRoot {
    /// The last t the trees cover.
    pub basis_t: u64,
    /// The entity-id counter after the covered transactions.
    pub next_t: u64,
    /// The tree of each index layer, `None` when it is empty, in the order
    /// of [`IndexRoot::slot`].
    pub trees: [Option<TreeRef>; 8],
    /// The excision requests carried out so far (request entity ids, sorted).
    pub excisions: Vec<EntityId>,
    /// Statistics of every attribute with current datoms, by attribute id;
    /// `None` in roots written before statistics existed (encoded as
    /// nothing after the excisions, so those roots decode unchanged).
    pub stats: Option<Vec<model::AttrStats>>,
}

impl IndexRoot {
    /// The position of one index layer in [`IndexRoot::trees`].
    pub fn slot(index: Index, layer: Layer) -> usize {
        index_tag(index) as usize * 2 + layer_tag(layer) as usize
    }

    /// The tree of one index layer.
    pub fn tree(&self, index: Index, layer: Layer) -> Option<TreeRef> {
        self.trees[Self::slot(index, layer)]
    }
}

fn index_tag(index: Index) -> u8 {
    match index {
        Index::Eavt => 0,
        Index::Aevt => 1,
        Index::Avet => 2,
        Index::Vaet => 3,
    }
}

fn layer_tag(layer: Layer) -> u8 {
    match layer {
        Layer::Current => 0,
        Layer::History => 1,
    }
}

fn read_index(r: &mut Reader<'_>) -> Result<Index, Bad> {
    let tag = r.u8()?;
    Index::ALL
        .get(usize::from(tag))
        .copied()
        .ok_or_else(|| r.fail(format!("unknown index tag {tag}")))
}

fn read_layer(r: &mut Reader<'_>) -> Result<Layer, Bad> {
    match r.u8()? {
        0 => Ok(Layer::Current),
        1 => Ok(Layer::History),
        tag => Err(r.fail(format!("unknown layer tag {tag}"))),
    }
}

impl Node {
    /// The frame kind of this node.
    pub fn kind(&self) -> u8 {
        match self {
            Node::LogLeaf(_) => kind::LOG_LEAF,
            Node::LogBranch(_) => kind::LOG_BRANCH,
            Node::IndexLeaf(_) => kind::INDEX_LEAF,
            Node::IndexBranch(_) => kind::INDEX_BRANCH,
            Node::IndexRoot(_) => kind::INDEX_ROOT,
        }
    }

    /// What a node of `kind` is, in words, for messages.
    pub fn describe(kind: u8) -> &'static str {
        match kind {
            kind::LOG_LEAF => "log leaf",
            kind::LOG_BRANCH => "log branch",
            kind::INDEX_LEAF => "index leaf",
            kind::INDEX_BRANCH => "index branch",
            kind::INDEX_ROOT => "index root",
            _ => "unknown segment kind",
        }
    }

    /// The payload bytes of this node (framed by [`storage_core::codec`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_version(VERSION);
        match self {
            Node::LogLeaf(leaf) => {
                w.len(leaf.entries.len());
                leaf.entries.iter().for_each(|e| {
                    w.tx_log(e);
                });
            }
            Node::LogBranch(branch) => {
                w.len(branch.children.len());
                for c in &branch.children {
                    w.varint(c.first_t).varint(c.last_t).id(&c.id);
                }
            }
            Node::IndexLeaf(leaf) => {
                w.u8(index_tag(leaf.index))
                    .u8(layer_tag(leaf.layer))
                    .datoms(&leaf.datoms);
            }
            Node::IndexBranch(b) => {
                w.u8(index_tag(b.index)).u8(layer_tag(b.layer)).u8(b.height);
                w.len(b.children.len());
                let keys: Vec<Datom> = b.children.iter().map(|c| c.first.clone()).collect();
                w.datoms(&keys);
                for c in &b.children {
                    w.id(&c.id).varint(c.count);
                }
            }
            Node::IndexRoot(root) => encode_root(&mut w, root),
        }
        w.finish()
    }

    /// Decodes the payload of a segment of `kind`.
    pub fn decode(kind: u8, payload: &[u8]) -> Result<Node, String> {
        let mut r = Reader::new(payload);
        r.version(VERSION)?;
        let node = match kind {
            kind::LOG_LEAF => Node::LogLeaf(decode_log_leaf(&mut r)?),
            kind::LOG_BRANCH => Node::LogBranch(decode_log_branch(&mut r)?),
            kind::INDEX_LEAF => Node::IndexLeaf(IndexLeaf {
                index: read_index(&mut r)?,
                layer: read_layer(&mut r)?,
                datoms: r.datoms()?,
            }),
            kind::INDEX_BRANCH => Node::IndexBranch(decode_index_branch(&mut r)?),
            kind::INDEX_ROOT => Node::IndexRoot(Box::new(decode_root(&mut r)?)),
            other => return Err(format!("unknown segment kind {other}")),
        };
        r.finish()?;
        Ok(node)
    }

    /// Roughly how many bytes of memory the decoded node takes: the weight
    /// the segment cache charges for it.
    pub fn weight(&self) -> u64 {
        const DATOM: u64 = 48;
        let datom = |d: &Datom| DATOM + heap_bytes(d);
        let w = match self {
            Node::LogLeaf(l) => l
                .entries
                .iter()
                .map(|e| 32 + e.data.iter().map(datom).sum::<u64>())
                .sum(),
            Node::LogBranch(b) => 48 * b.children.len() as u64,
            Node::IndexLeaf(l) => l.datoms.iter().map(datom).sum(),
            Node::IndexBranch(b) => b.children.iter().map(|c| 40 + datom(&c.first)).sum(),
            Node::IndexRoot(r) => {
                8 * 48
                    + 8 * r.excisions.len() as u64
                    + 24 * r.stats.as_ref().map_or(0, |s| s.len() as u64)
            }
        };
        w + 64
    }
}

/// Heap bytes a value holds beyond the datom itself.
fn heap_bytes(d: &Datom) -> u64 {
    use model::Value;
    match d.v() {
        Value::String(s) | Value::Uri(s) => s.len() as u64,
        Value::Bytes(b) => b.len() as u64,
        Value::Keyword(k) => k.as_str().len() as u64,
        Value::Symbol(s) => s.as_str().len() as u64,
        Value::Tuple(items) => 48 * items.len() as u64,
        Value::BigInt(_) | Value::BigDec(_) => 32,
        _ => 0,
    }
}

fn decode_log_leaf(r: &mut Reader<'_>) -> Result<LogLeaf, Bad> {
    let n = r.count(1)?;
    let mut entries: Vec<TxLog> = Vec::with_capacity(n);
    for _ in 0..n {
        let entry = r.tx_log()?;
        if entries.last().is_some_and(|prev| prev.t >= entry.t) {
            return Err(r.fail(format!("log entry t={} is out of order", entry.t)));
        }
        entries.push(entry);
    }
    Ok(LogLeaf { entries })
}

fn decode_log_branch(r: &mut Reader<'_>) -> Result<LogBranch, Bad> {
    let n = r.count(34)?;
    let mut children: Vec<LogChild> = Vec::with_capacity(n);
    for _ in 0..n {
        let child = LogChild {
            first_t: r.varint()?,
            last_t: r.varint()?,
            id: r.id()?,
        };
        let ordered = child.first_t <= child.last_t
            && children
                .last()
                .is_none_or(|prev| prev.last_t < child.first_t);
        if !ordered {
            return Err(r.fail(format!(
                "log child t {}..={} is out of order",
                child.first_t, child.last_t
            )));
        }
        children.push(child);
    }
    Ok(LogBranch { children })
}

fn decode_index_branch(r: &mut Reader<'_>) -> Result<IndexBranch, Bad> {
    let index = read_index(r)?;
    let layer = read_layer(r)?;
    let height = r.u8()?;
    if height == 0 {
        return Err(r.fail("an index branch has height 0"));
    }
    let n = r.count(1)?;
    let keys = r.datoms()?;
    if keys.len() != n {
        return Err(r.fail(format!("{n} children but {} first datoms", keys.len())));
    }
    let mut children = Vec::with_capacity(n);
    for first in keys {
        children.push(IndexChild {
            first,
            id: r.id()?,
            count: r.varint()?,
        });
    }
    Ok(IndexBranch {
        index,
        layer,
        height,
        children,
    })
}

fn encode_root(w: &mut Writer, root: &IndexRoot) {
    w.varint(root.basis_t).varint(root.next_t);
    for tree in &root.trees {
        match tree {
            None => {
                w.u8(0);
            }
            Some(t) => {
                w.u8(1).id(&t.id).u8(t.height).varint(t.count);
            }
        }
    }
    w.len(root.excisions.len());
    root.excisions.iter().for_each(|e| {
        w.varint(*e);
    });
    if let Some(stats) = &root.stats {
        w.len(stats.len());
        for s in stats {
            w.varint(s.attr).varint(s.datoms).varint(s.values);
        }
    }
}

fn decode_root(r: &mut Reader<'_>) -> Result<IndexRoot, Bad> {
    let mut root = IndexRoot {
        basis_t: r.varint()?,
        next_t: r.varint()?,
        ..IndexRoot::default()
    };
    for slot in root.trees.iter_mut() {
        *slot = match r.u8()? {
            0 => None,
            1 => Some(TreeRef {
                id: r.id()?,
                height: r.u8()?,
                count: r.varint()?,
            }),
            b => return Err(r.fail(format!("tree presence byte {b}"))),
        };
    }
    let n = r.count(1)?;
    root.excisions = (0..n).map(|_| r.varint()).collect::<Result<_, _>>()?;
    if !r.at_end() {
        let n = r.count(3)?;
        let mut stats: Vec<model::AttrStats> = Vec::with_capacity(n);
        for _ in 0..n {
            let s = model::AttrStats {
                attr: r.varint()?,
                datoms: r.varint()?,
                values: r.varint()?,
            };
            if stats.last().is_some_and(|p| p.attr >= s.attr) || s.values > s.datoms {
                return Err(r.fail(format!(
                    "attribute statistics out of order or inconsistent at attribute {}",
                    s.attr
                )));
            }
            stats.push(s);
        }
        root.stats = Some(stats);
    }
    Ok(root)
}
