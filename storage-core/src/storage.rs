//! The storage trait every backend implements, and the conveniences every
//! caller uses.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt as _;
use futures::stream::{self, BoxStream, StreamExt};

use crate::codec::{self, Frame};
use crate::error::{Error, Result, RevisionText};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};
use crate::segment::SegmentId;

/// The most segment ids one [`Storage::list_segments`] call may ask for.
pub const MAX_LIST_LIMIT: usize = 10_000;

/// An opaque position in a segment listing, produced by the backend that
/// listed and only meaningful to it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PageToken(pub String);

/// One page of a segment listing.
#[derive(Clone, Debug, Default)]
pub struct SegmentPage {
    /// The ids on this page, in the backend's listing order.
    pub ids: Vec<SegmentId>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<PageToken>,
}

/// One stored segment as garbage collection sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment.
    pub id: SegmentId,
    /// When it was last put, in milliseconds since the Unix epoch, by the
    /// backend's clock (file: the file's mtime; Postgres: `written_at`;
    /// Cassandra: the cell's `writetime()`; mem: the insertion time).
    /// `None` when the backend cannot tell: a collector must then treat
    /// the segment as just written.
    pub written_at_ms: Option<u64>,
    /// Its size in bytes, when the backend knows it without reading it.
    pub bytes: Option<u64>,
}

/// One page of a segment listing with write times.
#[derive(Clone, Debug, Default)]
pub struct SegmentInfoPage {
    /// The segments on this page, in the backend's listing order (the
    /// same order and tokens as [`Storage::list_segments`]).
    pub segments: Vec<SegmentInfo>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<PageToken>,
}

/// Rejects a listing `limit` of 0 or above [`MAX_LIST_LIMIT`].
pub fn check_list_limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(Error::invalid(format!(
            "segment listing limit {limit} is outside 1..={MAX_LIST_LIMIT}"
        )));
    }
    Ok(())
}

/// A storage: immutable segments named by their content hash, and a few
/// small root records changed only by compare-and-swap.
///
/// # Contract
///
/// Segments:
/// - [`put_segment`](Storage::put_segment) returns `Ok` only once the bytes
///   are durable by the backend's own standard (file: file and directory
///   fsynced; Postgres: committed; Cassandra: acknowledged at QUORUM or
///   LOCAL_QUORUM). It rejects bytes over [`crate::MAX_SEGMENT_BYTES`] and
///   bytes that do not hash to `id` with [`Error::InvalidInput`]
///   ([`SegmentId::check_put`]). Putting an existing id is a success and
///   changes nothing.
/// - [`get_segment`](Storage::get_segment) of a missing id is `Ok(None)`,
///   never an error. Bytes that do not hash to the id are
///   [`Error::Corruption`] naming the id ([`SegmentId::verify`]).
/// - A put of an existing id refreshes the segment's write time (as
///   [`list_segment_infos`](Storage::list_segment_infos) reports it), so
///   garbage collection's grace period counts from the last put.
/// - [`delete_segment`](Storage::delete_segment) of a missing id is `Ok`.
///   Deleting is for garbage collection and excision only; the layer above
///   guarantees no root still reaches the segment.
/// - [`delete_segment_unless_put_since`](Storage::delete_segment_unless_put_since)
///   removes a segment only if no put came after the write time a listing
///   reported: a writer that puts an identical segment again (ids are
///   content hashes, so an indexing job can produce one that garbage
///   collection found unreachable) keeps it, whatever the interleaving of
///   its put with the listing and the deletion.
/// - [`list_segments`](Storage::list_segments) pages through every stored
///   id exactly once (when nothing changes meanwhile), in an order of the
///   backend's choosing;
///   [`list_segment_infos`](Storage::list_segment_infos) does the same with
///   each segment's write time and size. Its default implementation knows
///   neither (`None`), which garbage collection treats as "just written":
///   nothing is ever deleted from a backend that cannot tell.
///
/// Roots:
/// - [`read_root`](Storage::read_root) is linearizable: it sees every CAS
///   applied before it began (Cassandra: a SERIAL read).
/// - [`cas_root`](Storage::cas_root) with `expected = None` creates the root
///   at [`Revision::origin`] of the value's nonce (random in `[1, 2^62)`,
///   see [`Revision`]) if it does not exist; with `Some(r)` it replaces the
///   value if the root is at revision `r`, making it `r + 1`. Exactly one
///   writer wins each revision, across tasks, processes and machines.
/// - Revisions bind a CAS to one incarnation of a root: a backend stores
///   the origin as given (never counts from 1), and keeps revisions up to
///   at least `2^63 - 1`, so that when the storage is reset and a root of
///   the same name created again, a CAS expecting a revision of the old
///   incarnation conflicts (but for a chance of about writes / 2^62).
/// - A write whose outcome is ambiguous (a timeout after the request was
///   sent, a connection lost mid-commit) is resolved inside the backend with
///   [`crate::cas_resolving_ambiguity`], which re-reads the root and compares
///   the writer nonce of [`RootValue`]. Only if that fails too does the
///   caller get [`Error::OutcomeUnknown`]. Callers write roots through
///   [`crate::write_root`], which goes on settling it with the same value
///   (the design is in that module's docs).
/// - Roots are never written any other way and never deleted. A backend
///   that keeps superseded values (the file backend's revision files)
///   erases them in [`erase_superseded`](Storage::erase_superseded), which
///   garbage collection calls once they are older than its grace.
/// - [`list_roots`](Storage::list_roots) names every root that exists (for
///   garbage collection, which marks from all of them). Its default
///   implementation refuses with [`Error::InvalidInput`].
///
/// Errors: [`Error::Unavailable`] and [`Error::Timeout`] mean nothing was
/// changed and the same call may be repeated; everything is described in
/// [`Error`].
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// The backend's scheme (`mem`, `file`, `postgres`, `cassandra`), for
    /// messages and metrics.
    fn backend(&self) -> &'static str;

    /// Whether this storage already records its calls (the wrapper of
    /// [`metered`](crate::metered)), so that it is not wrapped twice.
    fn is_metered(&self) -> bool {
        false
    }

    /// Stores `bytes` under `id` durably.
    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()>;

    /// The bytes stored under `id`, verified against it, or `None`.
    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>>;

    /// Removes the segment `id`, if present.
    async fn delete_segment(&self, id: SegmentId) -> Result<()>;

    /// Removes the segment `id` if it was last put at `written_at_ms` or
    /// earlier (the write time [`Storage::list_segment_infos`] reported for
    /// it): `Ok(true)` when the segment is gone (removed now, or missing
    /// already), `Ok(false)` when a later put refreshed it, which keeps it.
    ///
    /// This is garbage collection's deletion. An unconditional delete after
    /// a listing would race with a writer that puts the same segment again
    /// between the two (its put refreshes the time and returns, its root
    /// then reaches a segment the delete removes): each backend makes the
    /// check and the removal one step (mem: one lock; file: the file is
    /// moved aside and its time read there, a writer touching it meanwhile
    /// writes it again; Postgres: one conditional `DELETE`; Cassandra: a
    /// deletion `USING TIMESTAMP` of the listed write, which a later write
    /// outlives in whatever order they arrive).
    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool>;

    /// Up to `limit` (1..=[`MAX_LIST_LIMIT`]) stored ids, starting at `from`
    /// (`None` for the first page).
    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage>;

    /// Like [`Storage::list_segments`], with each segment's write time and
    /// size where the backend knows them.
    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        let page = self.list_segments(from, limit).await?;
        Ok(SegmentInfoPage {
            segments: page
                .ids
                .into_iter()
                .map(|id| SegmentInfo {
                    id,
                    written_at_ms: None,
                    bytes: None,
                })
                .collect(),
            next: page.next,
        })
    }

    /// The names of every root in the storage, in no particular order.
    async fn list_roots(&self) -> Result<Vec<RootName>> {
        Err(Error::invalid(format!(
            "the {} backend cannot list its roots",
            self.backend()
        )))
    }

    /// Erases the values of root `name` that a later compare-and-swap
    /// replaced more than `older_than` ago and that the backend still keeps
    /// (the current value always stays); returns how many it erased. The
    /// default keeps none, so erases nothing: a backend whose CAS
    /// overwrites in place (the replaced bytes then go as its own storage
    /// reclaims space, e.g. VACUUM or compaction).
    async fn erase_superseded(&self, name: &RootName, older_than: Duration) -> Result<u64> {
        let _ = (name, older_than);
        Ok(0)
    }

    /// The root `name` as of now, or `None` if it was never created.
    async fn read_root(&self, name: &RootName) -> Result<Option<Root>>;

    /// Compare-and-swap of root `name` from `expected` to `value`.
    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome>;
}

/// Conveniences over any [`Storage`].
#[async_trait]
pub trait StorageExt: Storage {
    /// Stores `bytes` and returns their id.
    async fn put(&self, bytes: Bytes) -> Result<SegmentId> {
        let id = SegmentId::of(&bytes);
        self.put_segment(id, bytes).await?;
        Ok(id)
    }

    /// Frames `payload` as `kind` ([`codec::encode`]) and stores it.
    async fn put_frame(&self, kind: u8, payload: &[u8]) -> Result<SegmentId> {
        let framed = codec::encode(kind, payload)?;
        self.put(framed).await
    }

    /// Reads and decodes a framed segment; `None` if missing.
    async fn get_frame(&self, id: SegmentId) -> Result<Option<Frame>> {
        match self.get_segment(id).await? {
            None => Ok(None),
            Some(bytes) => codec::decode(&bytes)
                .map(Some)
                .map_err(|e| e.for_segment(&id)),
        }
    }

    /// Reads a segment that must exist because something reaches it; a
    /// missing one is [`Error::Corruption`].
    async fn require_segment(&self, id: SegmentId) -> Result<Bytes> {
        self.get_segment(id).await?.ok_or_else(|| {
            Error::corrupt_segment(&id, "", format!("missing from {} storage", self.backend()))
        })
    }

    /// Compare-and-swap that turns a conflict into [`Error::Conflict`].
    async fn cas_root_or_conflict(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<Revision> {
        match self.cas_root(name, expected, value).await? {
            CasOutcome::Applied(rev) => Ok(rev),
            CasOutcome::Conflict(current) => Err(Error::Conflict {
                name: name.clone(),
                expected: RevisionText(expected),
                found: RevisionText(current.map(|r| r.revision)),
            }),
        }
    }

    /// Every stored segment id, page by page (also on `dyn Storage`).
    fn segment_ids(&self, page_size: usize) -> BoxStream<'_, Result<SegmentId>> {
        all_segment_ids(self, page_size)
    }
}

impl<S: Storage + ?Sized> StorageExt for S {}

/// Every segment id of `storage`, page by page.
fn all_segment_ids<S: Storage + ?Sized>(
    storage: &S,
    page_size: usize,
) -> BoxStream<'_, Result<SegmentId>> {
    enum State {
        Start,
        Next(PageToken),
        Done,
    }
    stream::try_unfold(State::Start, move |state| async move {
        let from = match state {
            State::Start => None,
            State::Next(token) => Some(token),
            State::Done => return Ok(None),
        };
        let page = storage.list_segments(from, page_size).await?;
        let next = page.next.map_or(State::Done, State::Next);
        Ok(Some((stream::iter(page.ids.into_iter().map(Ok)), next)))
    })
    .try_flatten()
    .boxed()
}
