//! The conformance suite: every case of the storage contract, as public
//! async functions any backend's tests call with a fresh storage.
//!
//! ```no_run
//! # async fn demo() {
//! use storage_core::testkit::conformance::{self, MemFixture};
//! conformance::run_all(&MemFixture).await.assert_all_passed();
//! # }
//! ```
//!
//! A case returns `Err(message)` instead of panicking, so [`run_all`] can
//! report every failure at once and the suite's own tests can show that it
//! fails a broken backend.
//!
//! Revisions are checked relative to the root's origin, never as absolute
//! numbers: a create must land at [`Revision::origin`] of its value's
//! nonce, and [`two_incarnations_of_a_root_share_no_revision`] runs on two
//! fresh storages (a store before and after a reset) to check that a
//! revision of one incarnation of a root never matches the other (which
//! random origins guarantee but for a chance of about writes / 2^62).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;

use crate::error::Error;
use crate::mem::MemStorage;
use crate::root::{CasOutcome, MAX_ROOT_VALUE_BYTES, Revision, RootName, RootValue};
use crate::segment::{MAX_SEGMENT_BYTES, SegmentId};
use crate::storage::{MAX_LIST_LIMIT, PageToken, SegmentInfo, Storage, StorageExt};

/// What a case returns: `Err` with what went wrong.
pub type CaseResult = Result<(), String>;

/// Overwrites the bytes stored for a segment, bypassing every check (bit
/// rot, a torn write), in the storage it was made for.
pub type Corrupter = Arc<dyn Fn(SegmentId, Bytes) -> BoxFuture<'static, ()> + Send + Sync>;

/// Opens another, independent handle (its own connections, pool or file
/// handles) on the very store a [`FreshStorage`] was made for, as a second
/// process would.
pub type Reopener = Arc<dyn Fn() -> BoxFuture<'static, Arc<dyn Storage>> + Send + Sync>;

/// A new, empty storage for one case, and ways underneath and beside it.
/// The whole struct lives as long as the case runs, so a fixture may tie
/// resources (a temporary directory, a server) to its closures.
pub struct FreshStorage {
    /// The storage under test.
    pub storage: Arc<dyn Storage>,
    /// Corrupts a segment of exactly this storage.
    pub corrupt: Corrupter,
    /// A second handle on the same store.
    pub reopen: Reopener,
}

/// Makes fresh storages for the suite.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A new, empty storage, not shared with any other case.
    async fn fresh(&self) -> FreshStorage;
}

/// The fixture of the in-memory backend, the reference.
pub struct MemFixture;

#[async_trait]
impl Fixture for MemFixture {
    async fn fresh(&self) -> FreshStorage {
        let mem = MemStorage::new();
        let under = mem.clone();
        let beside = mem.clone();
        FreshStorage {
            storage: Arc::new(mem),
            corrupt: Arc::new(move |id, bytes| {
                under.corrupt_segment(id, bytes);
                Box::pin(async {})
            }),
            reopen: Arc::new(move || {
                let handle: Arc<dyn Storage> = Arc::new(beside.clone());
                Box::pin(async move { handle })
            }),
        }
    }
}

type CaseFuture = BoxFuture<'static, CaseResult>;

/// One named case of the suite.
pub struct Case {
    /// The case's name.
    pub name: &'static str,
    run: Run,
}

/// How a case takes its storages.
enum Run {
    /// On one fresh storage.
    One(fn(FreshStorage) -> CaseFuture),
    /// On two: the same store before and after a reset, as far as a
    /// caller can tell (every fresh storage is empty and named alike).
    Two(fn(FreshStorage, FreshStorage) -> CaseFuture),
}

macro_rules! case {
    ($f:ident) => {
        Case {
            name: stringify!($f),
            run: Run::One(|fresh| {
                Box::pin(async move {
                    let outcome = $f(fresh.storage.clone()).await;
                    drop(fresh);
                    outcome
                })
            }),
        }
    };
    (fresh $f:ident) => {
        Case {
            name: stringify!($f),
            run: Run::One(|fresh| Box::pin($f(fresh))),
        }
    };
    (pair $f:ident) => {
        Case {
            name: stringify!($f),
            run: Run::Two(|before, after| Box::pin($f(before, after))),
        }
    };
}

/// Every case, in the order [`run_all`] runs them.
pub fn cases() -> Vec<Case> {
    vec![
        case!(segments_round_trip),
        case!(segment_over_limit_is_rejected),
        case!(segment_id_must_match_bytes),
        case!(puts_are_idempotent),
        case!(missing_segment_is_none),
        case!(fresh corruption_is_detected),
        case!(segments_can_be_deleted),
        case!(a_segment_put_again_after_listing_is_kept),
        case!(listing_pages_through_every_segment),
        case!(listing_limits_are_checked),
        case!(listing_tells_write_times_sizes_and_roots),
        case!(roots_create_read_update),
        case!(stale_and_absent_revisions_conflict),
        case!(roots_hold_limits_and_are_independent),
        case!(concurrent_cas_has_one_winner_per_revision),
        case!(concurrent_create_has_one_winner),
        case!(pair two_incarnations_of_a_root_share_no_revision),
        case!(fresh two_handles_share_one_store),
    ]
}

/// The outcome of a suite run.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases that failed, with their messages.
    pub failed: Vec<(&'static str, String)>,
}

impl Report {
    /// Panics listing every failed case (for use in a `#[test]`).
    pub fn assert_all_passed(&self) {
        if !self.failed.is_empty() {
            let lines: Vec<String> = self
                .failed
                .iter()
                .map(|(n, m)| format!("  {n}: {m}"))
                .collect();
            panic!(
                "{} of {} conformance cases failed:\n{}",
                self.failed.len(),
                self.failed.len() + self.passed.len(),
                lines.join("\n")
            );
        }
    }

    /// The message of a failed case, if it failed.
    pub fn failure(&self, case: &str) -> Option<&str> {
        self.failed
            .iter()
            .find(|(n, _)| *n == case)
            .map(|(_, m)| m.as_str())
    }
}

/// How long one case may take before it counts as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs every case, each on a fresh storage.
pub async fn run_all(fixture: &dyn Fixture) -> Report {
    let mut report = Report::default();
    for case in cases() {
        let run = match case.run {
            Run::One(run) => run(fixture.fresh().await),
            Run::Two(run) => run(fixture.fresh().await, fixture.fresh().await),
        };
        let outcome = match tokio::time::timeout(CASE_TIMEOUT, run).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {CASE_TIMEOUT:?}")),
        };
        match outcome {
            Ok(()) => report.passed.push(case.name),
            Err(msg) => report.failed.push((case.name, msg)),
        }
    }
    report
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn ok<T>(what: &str, r: Result<T, Error>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: unexpected error: {e}"))
}

fn payload(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn root_name(s: &str) -> RootName {
    // Only called with the suite's own literal names, which are valid.
    RootName::new(s).unwrap_or_else(|e| panic!("suite bug: {e}"))
}

/// The revision of a create that must have applied.
fn created(out: Result<CasOutcome, Error>) -> Result<Revision, String> {
    match ok("create", out)? {
        CasOutcome::Applied(rev) => Ok(rev),
        other => Err(format!("create of a new root gave {other:?}")),
    }
}

fn value(data: &[u8]) -> Result<RootValue, String> {
    RootValue::new(Bytes::copy_from_slice(data)).map_err(|e| e.to_string())
}

/// Segments of 0 B, 1 B, 4 KiB and the size limit come back byte for byte.
pub async fn segments_round_trip(s: Arc<dyn Storage>) -> CaseResult {
    for (i, len) in [0, 1, 4096, MAX_SEGMENT_BYTES].into_iter().enumerate() {
        let bytes = payload(i as u64, len);
        let id = ok(&format!("put of {len} bytes"), s.put(bytes.clone()).await)?;
        ensure!(
            id == SegmentId::of(&bytes),
            "put returned the wrong id for {len} bytes"
        );
        let got = ok(&format!("get of {len} bytes"), s.get_segment(id).await)?;
        ensure!(
            got.as_ref() == Some(&bytes),
            "get of a {len}-byte segment returned other bytes ({:?} bytes)",
            got.map(|b| b.len())
        );
    }
    let framed = ok("put_frame", s.put_frame(9, &payload(7, 50_000)).await)?;
    let frame = ok("get_frame", s.get_frame(framed).await)?.ok_or("framed segment missing")?;
    ensure!(
        frame.kind == 9 && frame.payload == payload(7, 50_000),
        "frame came back different"
    );
    Ok(())
}

/// A segment one byte over the limit is refused with a clear error and not stored.
pub async fn segment_over_limit_is_rejected(s: Arc<dyn Storage>) -> CaseResult {
    let bytes = payload(1, MAX_SEGMENT_BYTES + 1);
    let id = SegmentId::of(&bytes);
    match s.put_segment(id, bytes).await {
        Err(Error::InvalidInput(msg)) if msg.contains("over the limit") => {}
        other => {
            return Err(format!(
                "put over the limit gave {other:?}, expected InvalidInput naming the limit"
            ));
        }
    }
    let got = ok("get after refused put", s.get_segment(id).await)?;
    ensure!(got.is_none(), "a refused segment was stored");
    Ok(())
}

/// A put whose id does not match its bytes is refused and stores nothing.
pub async fn segment_id_must_match_bytes(s: Arc<dyn Storage>) -> CaseResult {
    let id = SegmentId::of(b"the real content");
    match s
        .put_segment(id, Bytes::from_static(b"other content"))
        .await
    {
        Err(Error::InvalidInput(_)) => {}
        other => {
            return Err(format!(
                "put with a wrong id gave {other:?}, expected InvalidInput"
            ));
        }
    }
    ensure!(
        ok("get", s.get_segment(id).await)?.is_none(),
        "mismatched bytes were stored"
    );
    Ok(())
}

/// Re-putting an id, also concurrently, succeeds and changes nothing.
pub async fn puts_are_idempotent(s: Arc<dyn Storage>) -> CaseResult {
    let bytes = payload(3, 70_000);
    let id = ok("first put", s.put(bytes.clone()).await)?;
    ok("second put", s.put(bytes.clone()).await)?;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, bytes) = (s.clone(), bytes.clone());
        tasks.push(tokio::spawn(async move { s.put_segment(id, bytes).await }));
    }
    for t in tasks {
        ok("concurrent put", t.await.map_err(|e| format!("task: {e}"))?)?;
    }
    let got = ok("get", s.get_segment(id).await)?;
    ensure!(got == Some(bytes), "segment changed after re-puts");
    Ok(())
}

/// A missing segment is `Ok(None)`, never an error.
pub async fn missing_segment_is_none(s: Arc<dyn Storage>) -> CaseResult {
    let got = ok(
        "get of a missing id",
        s.get_segment(SegmentId::of(b"never stored")).await,
    )?;
    ensure!(got.is_none(), "a never-stored id returned bytes");
    Ok(())
}

/// Bytes changed underneath the backend are reported as corruption naming the id.
pub async fn corruption_is_detected(fresh: FreshStorage) -> CaseResult {
    let s = fresh.storage;
    let bytes = payload(4, 10_000);
    let id = ok("put", s.put(bytes.clone()).await)?;
    let mut flipped = bytes.to_vec();
    flipped[5000] ^= 0x01;
    for (what, bad) in [
        ("one flipped bit", Bytes::from(flipped)),
        ("a truncation", bytes.slice(..9_999)),
        ("an empty file", Bytes::new()),
    ] {
        (fresh.corrupt)(id, bad).await;
        match s.get_segment(id).await {
            Err(e @ Error::Corruption { .. }) if e.to_string().contains(&id.to_string()) => {}
            other => {
                return Err(format!(
                    "after {what}, get gave {other:?}, expected a corruption error naming {id}"
                ));
            }
        }
    }
    Ok(())
}

/// Deleting removes a segment; deleting a missing one is fine; it can be put again.
pub async fn segments_can_be_deleted(s: Arc<dyn Storage>) -> CaseResult {
    let keep = ok("put keep", s.put(payload(5, 100)).await)?;
    let gone = ok("put gone", s.put(payload(6, 100)).await)?;
    ok("delete", s.delete_segment(gone).await)?;
    ensure!(
        ok("get deleted", s.get_segment(gone).await)?.is_none(),
        "deleted segment still readable"
    );
    ensure!(
        ok("get kept", s.get_segment(keep).await)?.is_some(),
        "delete removed another segment"
    );
    ok("delete again", s.delete_segment(gone).await)?;
    ok(
        "delete never stored",
        s.delete_segment(SegmentId::of(b"nothing")).await,
    )?;
    ok("put after delete", s.put(payload(6, 100)).await)?;
    ensure!(
        ok("get re-put", s.get_segment(gone).await)?.is_some(),
        "re-put after delete missing"
    );
    Ok(())
}

/// Garbage collection's deletion: a segment put again after the listing
/// that doomed it is kept whole (garbage collection lists, then deletes;
/// a writer reusing the segment in between must not lose it), one not put
/// since goes, and a missing one is no error. A small segment and one of
/// 600 KiB (chunked on Cassandra) each.
pub async fn a_segment_put_again_after_listing_is_kept(s: Arc<dyn Storage>) -> CaseResult {
    for (seed, len) in [(40, 100), (41, 600 * 1024)] {
        let bytes = payload(seed, len);
        let id = ok("put", s.put(bytes.clone()).await)?;
        let written = written_at(&s, id).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        ok("put again", s.put_segment(id, bytes.clone()).await)?;
        let deleted = ok(
            "delete unless put since the listing",
            s.delete_segment_unless_put_since(id, written).await,
        )?;
        ensure!(
            !deleted,
            "a segment of {len} bytes put again after the listing was reported deleted"
        );
        match ok("get the kept segment", s.get_segment(id).await)? {
            Some(got) if got == bytes => {}
            other => {
                return Err(format!(
                    "a segment of {len} bytes put again after the listing was not kept whole: {:?} bytes",
                    other.map(|b| b.len())
                ));
            }
        }
        let again = written_at(&s, id).await?;
        ensure!(
            ok(
                "delete unless put since a fresh listing",
                s.delete_segment_unless_put_since(id, again).await
            )?,
            "a segment of {len} bytes not put since the listing was not deleted"
        );
        ensure!(
            ok("get the deleted segment", s.get_segment(id).await)?.is_none(),
            "a segment of {len} bytes reported deleted is still readable"
        );
        ensure!(
            ok(
                "delete a missing segment",
                s.delete_segment_unless_put_since(id, again).await
            )?,
            "deleting a missing segment did not report it gone"
        );
        ok("put after delete", s.put_segment(id, bytes.clone()).await)?;
        ensure!(
            ok("get re-put", s.get_segment(id).await)? == Some(bytes),
            "a segment of {len} bytes put after its deletion is not whole"
        );
    }
    Ok(())
}

/// The write time a listing reports for `id`.
async fn written_at(s: &Arc<dyn Storage>, id: SegmentId) -> Result<u64, String> {
    list_infos(s, MAX_LIST_LIMIT)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| format!("segment {id} is not listed"))?
        .written_at_ms
        .ok_or_else(|| format!("segment {id} is listed without a write time"))
}

/// Listing 10,000 segments in pages yields each exactly once.
pub async fn listing_pages_through_every_segment(s: Arc<dyn Storage>) -> CaseResult {
    let first = ok("list empty", s.list_segments(None, 100).await)?;
    ensure!(
        first.ids.is_empty() && first.next.is_none(),
        "an empty storage listed {:?}",
        first.ids.len()
    );
    const N: usize = 10_000;
    let mut want = BTreeSet::new();
    let items: Vec<Bytes> = (0..N)
        .map(|i| Bytes::from((i as u64).to_le_bytes().to_vec()))
        .collect();
    for chunk in items.chunks(64) {
        let mut tasks = Vec::new();
        for bytes in chunk {
            want.insert(SegmentId::of(bytes));
            let (s, bytes) = (s.clone(), bytes.clone());
            tasks.push(tokio::spawn(async move { s.put(bytes).await }));
        }
        for t in tasks {
            ok("put", t.await.map_err(|e| format!("task: {e}"))?)?;
        }
    }
    let seen = list_everything(&s, 1000).await?;
    ensure!(
        seen.len() == N,
        "listing with pages of 1000 gave {} ids for {N} segments",
        seen.len()
    );
    let distinct: BTreeSet<SegmentId> = seen.iter().copied().collect();
    ensure!(
        distinct.len() == N,
        "listing repeated {} ids",
        N - distinct.len()
    );
    ensure!(distinct == want, "listing gave ids that were never put");
    // Small pages: the first 20 pages of 7 never overlap.
    let mut token: Option<PageToken> = None;
    let mut small = HashSet::new();
    for _ in 0..20 {
        let page = ok("list small page", s.list_segments(token.take(), 7).await)?;
        ensure!(
            page.ids.len() == 7,
            "a page of limit 7 held {} ids with more to come",
            page.ids.len()
        );
        for id in page.ids {
            ensure!(small.insert(id), "id {id} appeared on two pages");
        }
        token = Some(page.next.ok_or("listing ended early")?);
    }
    Ok(())
}

/// Every segment with its write time, in pages of `limit`.
async fn list_infos(s: &Arc<dyn Storage>, limit: usize) -> Result<Vec<SegmentInfo>, String> {
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let page = ok(
            "list with write times",
            s.list_segment_infos(from, limit).await,
        )?;
        out.extend(page.segments);
        match page.next {
            Some(next) => from = Some(next),
            None => return Ok(out),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn list_everything(s: &Arc<dyn Storage>, limit: usize) -> Result<Vec<SegmentId>, String> {
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let page = ok("list", s.list_segments(token, limit).await)?;
        ensure!(
            page.ids.len() <= limit,
            "a page held {} ids, over the limit {limit}",
            page.ids.len()
        );
        seen.extend(page.ids);
        match page.next {
            None => return Ok(seen),
            Some(next) => token = Some(next),
        }
        ensure!(seen.len() <= 1_000_000, "listing does not end");
    }
}

/// A listing limit of 0 or over the maximum is invalid input.
pub async fn listing_limits_are_checked(s: Arc<dyn Storage>) -> CaseResult {
    for limit in [0, MAX_LIST_LIMIT + 1] {
        match s.list_segments(None, limit).await {
            Err(Error::InvalidInput(_)) => {}
            other => {
                return Err(format!(
                    "list with limit {limit} gave {other:?}, expected InvalidInput"
                ));
            }
        }
    }
    Ok(())
}

/// Listing with write times pages through every segment once, with its
/// size and a write time of about now that a second put moves forward;
/// and every root is listed.
pub async fn listing_tells_write_times_sizes_and_roots(s: Arc<dyn Storage>) -> CaseResult {
    // Backends under test may use another machine's clock (a real cluster).
    const SLACK_MS: u64 = 60_000;
    let before = now_ms();
    let mut sizes = std::collections::BTreeMap::new();
    for seed in 0..25u64 {
        let bytes = payload(700 + seed, 100 + seed as usize);
        sizes.insert(ok("put", s.put(bytes.clone()).await)?, bytes);
    }
    let after = now_ms();
    let listed = list_infos(&s, 7).await?;
    let ids: Vec<SegmentId> = listed.iter().map(|i| i.id).collect();
    ensure!(
        ids.len() == sizes.len() && ids.iter().all(|id| sizes.contains_key(id)),
        "listing with write times gave {} ids, expected the {} stored",
        ids.len(),
        sizes.len()
    );
    for info in &listed {
        ensure!(
            info.bytes == sizes.get(&info.id).map(|b| b.len() as u64),
            "segment {} listed with size {:?}, stored {:?}",
            info.id,
            info.bytes,
            sizes.get(&info.id).map(Bytes::len)
        );
        let at = info
            .written_at_ms
            .ok_or("a segment listed without a write time")?;
        ensure!(
            at + SLACK_MS >= before && at <= after + SLACK_MS,
            "segment {} written at {at} ms, not between {before} and {after}",
            info.id
        );
    }
    let first = listed[0];
    tokio::time::sleep(Duration::from_millis(30)).await;
    let bytes = sizes
        .get(&first.id)
        .cloned()
        .ok_or("listed an unknown id")?;
    ok("put again", s.put_segment(first.id, bytes).await)?;
    let refreshed = list_infos(&s, MAX_LIST_LIMIT)
        .await?
        .into_iter()
        .find(|i| i.id == first.id)
        .and_then(|i| i.written_at_ms)
        .ok_or("a segment put twice is no longer listed")?;
    ensure!(
        refreshed > first.written_at_ms.unwrap_or(u64::MAX),
        "a second put of {} left its write time at {refreshed}",
        first.id
    );
    let names = [root_name("db/listed/log"), root_name("catalog")];
    for name in &names {
        ok("create root", s.cas_root(name, None, &value(b"x")?).await)?;
    }
    let roots = ok("list roots", s.list_roots().await)?;
    for name in &names {
        ensure!(roots.contains(name), "root {name} not listed: {roots:?}");
    }
    Ok(())
}

/// Create, read, update and conflict on one root, with the nonce kept.
pub async fn roots_create_read_update(s: Arc<dyn Storage>) -> CaseResult {
    let name = root_name("db/conformance/log");
    ensure!(
        ok("read missing", s.read_root(&name).await)?.is_none(),
        "a never-written root exists"
    );
    let v1 = value(b"one")?;
    let origin = Revision::origin(v1.nonce());
    let out = ok("create", s.cas_root(&name, None, &v1).await)?;
    ensure!(
        out == CasOutcome::Applied(origin),
        "create gave {out:?}, expected the origin drawn from the value's nonce, {origin}"
    );
    let root = ok("read", s.read_root(&name).await)?.ok_or("created root missing")?;
    ensure!(
        root.revision == origin && root.value == v1,
        "read after create gave {root:?}"
    );
    ensure!(
        root.value.nonce() == v1.nonce(),
        "the writer nonce was not kept"
    );

    let again = ok(
        "create again",
        s.cas_root(&name, None, &value(b"dup")?).await,
    )?;
    ensure!(
        again == CasOutcome::Conflict(Some(root.clone())),
        "second create gave {again:?}"
    );

    let v2 = value(b"two")?;
    let out = ok("update", s.cas_root(&name, Some(origin), &v2).await)?;
    let rev2 = origin.next().map_err(|e| e.to_string())?;
    ensure!(out == CasOutcome::Applied(rev2), "update gave {out:?}");
    let root = ok("read", s.read_root(&name).await)?.ok_or("root missing")?;
    ensure!(
        root.revision == rev2
            && root.value.data().as_ref() == b"two"
            && root.value.nonce() == v2.nonce(),
        "read after update gave {root:?}"
    );
    Ok(())
}

/// A CAS from a stale, future or absent revision conflicts and writes nothing.
pub async fn stale_and_absent_revisions_conflict(s: Arc<dyn Storage>) -> CaseResult {
    let name = root_name("r");
    let origin = created(s.cas_root(&name, None, &value(b"1")?).await)?;
    ok(
        "update",
        s.cas_root(&name, Some(origin), &value(b"2")?).await,
    )?;
    let current = ok("read", s.read_root(&name).await)?;
    let o = origin.get();
    // Stale, future, far future, and another incarnation's first.
    for stale in [o, o + 2, o + 98, 1] {
        let rev = Revision::new(stale).ok_or("rev")?;
        let out = ok(
            "stale cas",
            s.cas_root(&name, Some(rev), &value(b"x")?).await,
        )?;
        ensure!(
            out == CasOutcome::Conflict(current.clone()),
            "cas expecting revision {stale} on revision {} gave {out:?}",
            o + 1
        );
    }
    let after = ok("read", s.read_root(&name).await)?;
    ensure!(after == current, "a conflicting cas changed the root");
    let other = root_name("never-created");
    let out = ok(
        "cas on missing",
        s.cas_root(&other, Some(origin), &value(b"x")?).await,
    )?;
    ensure!(
        out == CasOutcome::Conflict(None),
        "cas expecting revision {origin} on a missing root gave {out:?}"
    );
    ensure!(
        ok("read", s.read_root(&other).await)?.is_none(),
        "a conflicting cas created the root"
    );
    Ok(())
}

/// Largest value and longest name work; roots do not affect each other.
pub async fn roots_hold_limits_and_are_independent(s: Arc<dyn Storage>) -> CaseResult {
    let long = root_name(&format!("db/{}", "n".repeat(197)));
    let big = RootValue::new(payload(8, MAX_ROOT_VALUE_BYTES)).map_err(|e| e.to_string())?;
    let origin = created(s.cas_root(&long, None, &big).await)?;
    let back = ok("read big", s.read_root(&long).await)?.ok_or("big root missing")?;
    ensure!(
        back.value == big,
        "the largest root value came back different"
    );
    let empty = value(b"")?;
    let a = root_name("db/a/index");
    ok("create empty", s.cas_root(&a, None, &empty).await)?;
    let back = ok("read empty", s.read_root(&a).await)?.ok_or("empty root missing")?;
    ensure!(
        back.value.data().is_empty(),
        "empty root value came back non-empty"
    );
    let again = ok("read big", s.read_root(&long).await)?.ok_or("big root missing")?;
    ensure!(
        again.revision == origin && again.value == big,
        "writing one root changed another"
    );
    Ok(())
}

/// 8 tasks × 100 increments of one counter root: exact final count, every
/// revision won by exactly one writer, and every write saw the value before it.
pub async fn concurrent_cas_has_one_winner_per_revision(s: Arc<dyn Storage>) -> CaseResult {
    const TASKS: u64 = 8;
    const EACH: u64 = 100;
    let name = root_name("counter");
    let origin = created(s.cas_root(&name, None, &value(b"0")?).await)?.get();
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (s, name, start) = (s.clone(), name.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            increment_many(&s, &name, EACH).await
        }));
    }
    let (mut wins, mut unknown) = (Vec::new(), 0);
    for t in tasks {
        let done = t.await.map_err(|e| format!("task: {e}"))??;
        wins.extend(done.wins);
        unknown += done.unknown;
    }
    let total = TASKS * EACH;
    ensure!(
        wins.len() as u64 == total,
        "{} increments applied, expected {total}",
        wins.len()
    );
    check_increments(&s, &name, origin, &wins, unknown).await
}

/// What [`increment_many`] did: the increments it won, as (revision,
/// count written), and how many of its writes had an unknown outcome (an
/// ambiguous write the backend could not settle because others had moved
/// the counter on: applied or not, never said either way).
struct Increments {
    wins: Vec<(u64, u64)>,
    unknown: u64,
}

async fn increment_many(
    s: &Arc<dyn Storage>,
    name: &RootName,
    n: u64,
) -> Result<Increments, String> {
    let mut wins = Vec::new();
    let mut unknown = 0;
    while (wins.len() as u64) < n {
        let root = ok("read", s.read_root(name).await)?.ok_or("counter vanished")?;
        let count: u64 = std::str::from_utf8(root.value.data())
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or("counter value is not a number")?;
        let next = value((count + 1).to_string().as_bytes())?;
        match s.cas_root(name, Some(root.revision), &next).await {
            Ok(CasOutcome::Applied(rev)) => {
                ensure!(
                    rev == root.revision.next().map_err(|e| e.to_string())?,
                    "applied at revision {rev} from {}",
                    root.revision
                );
                wins.push((rev.get(), count + 1));
            }
            Ok(CasOutcome::Conflict(Some(cur))) => {
                ensure!(
                    cur.revision > root.revision,
                    "conflict reported an older revision {} than read {}",
                    cur.revision,
                    root.revision
                );
            }
            Ok(CasOutcome::Conflict(None)) => {
                return Err("conflict said the counter does not exist".into());
            }
            Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(Error::OutcomeUnknown { .. }) => unknown += 1,
            Err(e) => return Err(format!("cas: {e}")),
        }
    }
    Ok(Increments { wins, unknown })
}

/// Checks the increments of several writers against the counter's final
/// root: every won revision won once and written with its count, and the
/// final count (= revisions since `origin`) is the wins plus at most the
/// writes whose outcome was unknown.
async fn check_increments(
    s: &Arc<dyn Storage>,
    name: &RootName,
    origin: u64,
    wins: &[(u64, u64)],
    unknown: u64,
) -> CaseResult {
    let revisions: BTreeSet<u64> = wins.iter().map(|(rev, _)| *rev).collect();
    ensure!(
        revisions.len() == wins.len(),
        "some revision was won by two writers"
    );
    for (rev, written) in wins {
        ensure!(
            *written == rev - origin,
            "revision {rev} was written as {written}: a lost update"
        );
    }
    let last = ok("read", s.read_root(name).await)?.ok_or("counter missing")?;
    let count: u64 = std::str::from_utf8(last.value.data())
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or("counter value is not a number")?;
    ensure!(
        last.revision.get() == origin + count,
        "final revision {} holds count {count} (origin {origin})",
        last.revision
    );
    let won = wins.len() as u64;
    ensure!(
        won <= count && count <= won + unknown,
        "final count {count}: {won} increments won, {unknown} unknown"
    );
    ensure!(
        revisions
            .iter()
            .all(|r| (origin + 1..=origin + count).contains(r)),
        "a won revision lies outside {}..={}",
        origin + 1,
        origin + count
    );
    Ok(())
}

/// 16 tasks create one root at once: exactly one wins and every loser sees its value.
pub async fn concurrent_create_has_one_winner(s: Arc<dyn Storage>) -> CaseResult {
    let name = root_name("db/race/lease");
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let (s, name, start) = (s.clone(), name.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let v = RootValue::new(vec![i]).map_err(|e| e.to_string())?;
            start.wait().await;
            let out = s
                .cas_root(&name, None, &v)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((v, out))
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for t in tasks {
        let (v, out) = t.await.map_err(|e| format!("task: {e}"))??;
        match out {
            CasOutcome::Applied(rev) => {
                let origin = Revision::origin(v.nonce());
                ensure!(
                    rev == origin,
                    "create applied at {rev}, not at its origin {origin}"
                );
                winners.push(v);
            }
            CasOutcome::Conflict(cur) => losers.push(cur),
        }
    }
    ensure!(winners.len() == 1, "{} creators won", winners.len());
    let root = ok("read", s.read_root(&name).await)?.ok_or("root missing")?;
    ensure!(
        root.value == winners[0],
        "the stored value is not the winner's"
    );
    for cur in losers {
        let cur = cur.ok_or("a loser's conflict carried no root")?;
        ensure!(
            cur.value == winners[0],
            "a loser saw a value other than the winner's"
        );
    }
    Ok(())
}

/// Two independent handles on one store: what one writes the other reads,
/// and a CAS race across them (2 handles × 4 tasks × 50 increments) still
/// has exactly one winner per revision.
pub async fn two_handles_share_one_store(fresh: FreshStorage) -> CaseResult {
    let a = fresh.storage.clone();
    let b = (fresh.reopen)().await;
    let id = ok("put via the first handle", a.put(payload(11, 2048)).await)?;
    let got = ok("get via the second handle", b.get_segment(id).await)?;
    ensure!(
        got == Some(payload(11, 2048)),
        "the second handle does not see the first one's segment"
    );
    let name = root_name("db/handles/counter");
    let origin = created(b.cas_root(&name, None, &value(b"0")?).await)?.get();
    const EACH: u64 = 50;
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (name, start) = (name.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            increment_many(&s, &name, EACH).await
        }));
    }
    let (mut wins, mut unknown) = (Vec::new(), 0);
    for t in tasks {
        let done = t.await.map_err(|e| format!("task: {e}"))??;
        wins.extend(done.wins);
        unknown += done.unknown;
    }
    ensure!(
        wins.len() as u64 == 8 * EACH,
        "{} increments applied across handles",
        wins.len()
    );
    // The final count is read through the first handle.
    check_increments(&a, &name, origin, &wins, unknown).await?;
    drop(fresh);
    Ok(())
}

/// Two incarnations of one root name (created, written a few times, the
/// store reset, created and written again) share no revision, and a CAS
/// that expects any revision of the old incarnation conflicts with the new
/// one and changes nothing: a holder of the old incarnation can never
/// write into the new one.
pub async fn two_incarnations_of_a_root_share_no_revision(
    before: FreshStorage,
    after: FreshStorage,
) -> CaseResult {
    const WRITES: usize = 4;
    let name = root_name("db/reborn/log");
    let old = incarnation(&before.storage, &name, WRITES).await?;
    let new = incarnation(&after.storage, &name, WRITES).await?;
    let shared: Vec<_> = old.iter().filter(|r| new.contains(r)).collect();
    ensure!(
        shared.is_empty(),
        "two incarnations of `{name}` share revisions {shared:?}: old {old:?}, new {new:?}"
    );
    let current = ok("read", after.storage.read_root(&name).await)?;
    for &rev in &old {
        let out = ok(
            "cas from the old incarnation",
            after
                .storage
                .cas_root(&name, Some(rev), &value(b"stale holder")?)
                .await,
        )?;
        ensure!(
            out == CasOutcome::Conflict(current.clone()),
            "a cas expecting revision {rev} of the old incarnation gave {out:?} on the new one"
        );
    }
    let now = ok("read", after.storage.read_root(&name).await)?;
    ensure!(
        now == current,
        "a cas of the old incarnation changed the new one"
    );
    drop((before, after));
    Ok(())
}

/// Creates `name` and CASes it `writes - 1` times; the revisions it held.
async fn incarnation(
    s: &Arc<dyn Storage>,
    name: &RootName,
    writes: usize,
) -> Result<Vec<Revision>, String> {
    let mut revisions = vec![created(s.cas_root(name, None, &value(b"0")?).await)?];
    while revisions.len() < writes {
        let last = revisions[revisions.len() - 1];
        match ok("update", s.cas_root(name, Some(last), &value(b"n")?).await)? {
            CasOutcome::Applied(rev) => revisions.push(rev),
            other => return Err(format!("an uncontended update gave {other:?}")),
        }
    }
    Ok(revisions)
}
