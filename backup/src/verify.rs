//! Verifying a database or a backup: every segment its roots reach is read,
//! checked against its id, and decoded as what its parent says it is.
//! Whatever is missing or corrupt is reported, not just the first.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, stream};
use index::LogRoot;
use index::segment::{Node, kind};
use storage_core::{DbName, SegmentId, Storage, codec};

use crate::copy::{CopyOptions, describe};
use crate::error::{Error, ErrorKind, Result};
use crate::head::read_head;
use crate::location::BackupLocation;
use crate::manifest::{Manifest, Point, digest};
use crate::retry::retrying_storage;

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: the database and its basis, or the backup point.
    pub at: String,
    /// The segment concerned, if it is one.
    pub segment: Option<SegmentId>,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.segment {
            Some(id) => write!(f, "{}: segment {id} {}", self.at, self.detail),
            None => write!(f, "{}: {}", self.at, self.detail),
        }
    }
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// What was verified.
    pub subject: String,
    /// The distinct segments read and found good.
    pub segments: u64,
    /// How many of them are leaves (log and index leaves): the segments
    /// the progress counts. The others are branches and index roots,
    /// read first to find the leaves.
    pub leaves: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Everything found missing or corrupt.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the live database `name` of `storage`: its catalog entry and
/// log root, and every segment the root reaches. A root that does not
/// decode is an error; damaged segments are listed in the report.
pub async fn verify_db(
    storage: &Arc<dyn Storage>,
    name: &DbName,
    options: &CopyOptions,
) -> Result<VerifyReport> {
    let storage = &retrying_storage(storage);
    let head = read_head(storage, name).await?;
    let mut walker = Walker::new(storage, options, format!("database `{name}`"));
    let at = format!("database `{name}` at t={}", head.root.basis_t);
    walker.walk(&head.root, &at).await?;
    Ok(walker.report)
}

/// Verifies every point of `location`: its manifest, the log root in it,
/// every segment that root reaches, and that these are exactly the
/// segments the manifest counts. Segments shared by points are read once.
pub async fn verify_backup(
    location: &BackupLocation,
    options: &CopyOptions,
) -> Result<VerifyReport> {
    let points = location.points().await?;
    if points.is_empty() {
        return Err(Error::NotFound(format!(
            "no backup at {}: nothing was backed up there",
            location.name()
        )));
    }
    let subject = format!("backup at {}", location.name());
    let mut walker = Walker::new(location.storage(), options, subject);
    for point in &points {
        let at = format!("point t={}", point.basis_t);
        match point_root(location, point).await {
            Ok((manifest, root)) => walker.walk_point(&manifest, &root, &at).await?,
            Err(e) if e.kind() == ErrorKind::Corruption => walker.problem(&at, None, e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(walker.report)
}

async fn point_root(location: &BackupLocation, point: &Point) -> Result<(Manifest, LogRoot)> {
    let manifest = location.manifest(point).await?;
    let root = manifest.log_root()?;
    Ok((manifest, root))
}

/// A segment as its parent describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    id: SegmentId,
    kind: u8,
    /// The tree height below it (0 for leaves and index roots).
    height: u8,
}

impl Expect {
    fn is_leaf(&self) -> bool {
        matches!(self.kind, kind::LOG_LEAF | kind::INDEX_LEAF)
    }

    fn in_tree(id: SegmentId, height: u8, leaf: u8, branch: u8) -> Expect {
        let kind = if height == 0 { leaf } else { branch };
        Expect { id, kind, height }
    }
}

/// What checking a segment found: its size and children, or what is wrong.
type Checked = std::result::Result<(u64, Vec<Expect>), String>;

/// Reads trees level by level, remembering what it has checked.
struct Walker<'a> {
    storage: &'a Arc<dyn Storage>,
    options: &'a CopyOptions,
    /// Checked segments: the children of good ones, `None` for bad ones.
    seen: HashMap<SegmentId, Option<Vec<Expect>>>,
    report: VerifyReport,
}

impl<'a> Walker<'a> {
    fn new(storage: &'a Arc<dyn Storage>, options: &'a CopyOptions, subject: String) -> Self {
        Walker {
            storage,
            options,
            seen: HashMap::new(),
            report: VerifyReport {
                subject,
                ..VerifyReport::default()
            },
        }
    }

    fn problem(&mut self, at: &str, segment: Option<SegmentId>, detail: String) {
        self.report.problems.push(Problem {
            at: at.to_string(),
            segment,
            detail,
        });
    }

    /// Walks a backup point and compares what it reaches with its manifest.
    async fn walk_point(&mut self, manifest: &Manifest, root: &LogRoot, at: &str) -> Result<()> {
        let Some(mut ids) = self.walk(root, at).await? else {
            return Ok(()); // the damage is reported; the count means nothing
        };
        ids.sort();
        ids.dedup();
        if ids.len() as u64 != manifest.segments || digest(&ids) != manifest.digest {
            self.problem(
                at,
                None,
                format!(
                    "the log root reaches {} segments but the manifest records {} (or other ones)",
                    ids.len(),
                    manifest.segments
                ),
            );
        }
        Ok(())
    }

    /// Checks everything `root` reaches, branches first, then the leaves
    /// with progress. Returns the ids reached, or `None` when a damaged
    /// branch hid part of the trees.
    async fn walk(&mut self, root: &LogRoot, at: &str) -> Result<Option<Vec<SegmentId>>> {
        let mut level = Vec::new();
        if let Some(tree) = root.log {
            level.push(Expect::in_tree(
                tree.id,
                tree.height,
                kind::LOG_LEAF,
                kind::LOG_BRANCH,
            ));
        }
        if let Some(id) = root.index {
            level.push(Expect {
                id,
                kind: kind::INDEX_ROOT,
                height: 0,
            });
        }
        let mut reached = Vec::new();
        let mut leaves = Vec::new();
        let mut complete = true;
        while !level.is_empty() {
            let (inner, outer): (Vec<Expect>, Vec<Expect>) =
                level.into_iter().partition(|e| !e.is_leaf());
            leaves.extend(outer);
            self.check(&inner, at, false).await?;
            level = Vec::new();
            for e in &inner {
                reached.push(e.id);
                match self.seen.get(&e.id) {
                    Some(Some(children)) => level.extend(children.iter().copied()),
                    _ => complete = false,
                }
            }
        }
        self.check(&leaves, at, true).await?;
        reached.extend(leaves.iter().map(|e| e.id));
        Ok(complete.then_some(reached))
    }

    /// Checks the segments of `wanted` not checked before, in parallel.
    async fn check(&mut self, wanted: &[Expect], at: &str, progress: bool) -> Result<()> {
        let mut todo: Vec<Expect> = wanted
            .iter()
            .filter(|e| !self.seen.contains_key(&e.id))
            .copied()
            .collect();
        todo.sort_by_key(|e| e.id);
        todo.dedup_by_key(|e| e.id);
        if progress {
            self.options
                .progress
                .start("verify leaves", todo.len() as u64);
        }
        let storage = self.storage;
        let mut results = stream::iter(todo)
            .map(|e| async move { (e, inspect(storage, e).await) })
            .buffer_unordered(self.options.parallel.max(1));
        let mut failed = None;
        while let Some((expect, outcome)) = results.next().await {
            match outcome {
                Err(e) => {
                    failed = Some(e);
                    break;
                }
                Ok(checked) => self.record(expect, checked, at, progress),
            }
        }
        if progress {
            self.options.progress.finish();
        }
        failed.map_or(Ok(()), Err)
    }

    fn record(&mut self, expect: Expect, checked: Checked, at: &str, progress: bool) {
        match checked {
            Ok((bytes, children)) => {
                self.report.segments += 1;
                self.report.leaves += u64::from(expect.is_leaf());
                self.report.bytes += bytes;
                if progress {
                    self.options.progress.segment_done(bytes);
                }
                self.seen.insert(expect.id, Some(children));
            }
            Err(detail) => {
                let detail = format!("({}) {detail}", describe(expect.kind));
                self.problem(at, Some(expect.id), detail);
                self.seen.insert(expect.id, None);
            }
        }
    }
}

/// Reads and checks one segment. Missing or corrupt is a finding; a
/// storage that cannot answer is an error.
async fn inspect(storage: &Arc<dyn Storage>, expect: Expect) -> Result<Checked> {
    let bytes = match storage.get_segment(expect.id).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Err("is missing".to_string())),
        Err(e) if e.is_corruption() => return Ok(Err(format!("is corrupt: {e}"))),
        Err(e) => return Err(e.into()),
    };
    let len = bytes.len() as u64;
    let children = tokio::task::spawn_blocking(move || children(expect, &bytes))
        .await
        .map_err(|e| Error::Internal(format!("checking segment {}: {e}", expect.id)))?;
    Ok(children.map(|c| (len, c)))
}

/// Decodes a segment as `expect` says it is and lists its children.
fn children(expect: Expect, bytes: &Bytes) -> std::result::Result<Vec<Expect>, String> {
    let frame = codec::decode(bytes).map_err(|e| format!("is corrupt: {e}"))?;
    if frame.kind != expect.kind {
        return Err(format!(
            "is a {} where a {} belongs",
            describe(frame.kind),
            describe(expect.kind)
        ));
    }
    let node =
        Node::decode(frame.kind, &frame.payload).map_err(|e| format!("does not decode: {e}"))?;
    let below = expect.height.saturating_sub(1);
    Ok(match node {
        Node::LogLeaf(_) | Node::IndexLeaf(_) => Vec::new(),
        Node::LogBranch(b) => b
            .children
            .iter()
            .map(|c| Expect::in_tree(c.id, below, kind::LOG_LEAF, kind::LOG_BRANCH))
            .collect(),
        Node::IndexBranch(b) if b.height != expect.height => {
            return Err(format!(
                "is an index branch of height {} where its parent expects height {}",
                b.height, expect.height
            ));
        }
        Node::IndexBranch(b) => b
            .children
            .iter()
            .map(|c| Expect::in_tree(c.id, below, kind::INDEX_LEAF, kind::INDEX_BRANCH))
            .collect(),
        Node::IndexRoot(r) => r
            .trees
            .iter()
            .flatten()
            .map(|t| Expect::in_tree(t.id, t.height, kind::INDEX_LEAF, kind::INDEX_BRANCH))
            .collect(),
    })
}
