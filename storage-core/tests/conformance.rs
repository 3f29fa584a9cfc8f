//! The conformance suite against the in-memory reference backend, and proof
//! that the suite fails broken backends.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use storage_core::testkit::conformance::{self, Fixture, FreshStorage, MemFixture};
use storage_core::testkit::faults::{Fault, FaultPlan, FaultyStorage, Op};
use storage_core::{
    CasOutcome, MemStorage, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId,
    SegmentPage, Storage,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mem_passes_the_whole_suite() {
    let report = conformance::run_all(&MemFixture).await;
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
}

/// A storage whose CAS checks the revision, lets go of the lock, and then
/// writes: two writers can both win a revision. Or, with `count_from_one`,
/// a correct CAS whose roots all start at revision 1, as they did before
/// origins were random.
#[derive(Debug, Default)]
struct RacyCas {
    segments: MemStorage,
    roots: Mutex<HashMap<RootName, (Revision, RootValue)>>,
    count_from_one: bool,
}

#[async_trait]
impl Storage for RacyCas {
    fn backend(&self) -> &'static str {
        "racy"
    }
    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.segments.put_segment(id, bytes).await
    }
    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.segments.get_segment(id).await
    }
    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.segments.delete_segment(id).await
    }
    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.segments
            .delete_segment_unless_put_since(id, written_at_ms)
            .await
    }
    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        self.segments.list_segments(from, limit).await
    }
    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let roots = self.roots.lock().unwrap();
        Ok(roots.get(name).map(|(revision, value)| Root {
            revision: *revision,
            value: value.clone(),
        }))
    }
    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        if self.count_from_one {
            let mut roots = self.roots.lock().unwrap();
            let current = roots.get(name).map(|(revision, _)| *revision);
            if current != expected {
                let root = roots.get(name).map(|(revision, value)| Root {
                    revision: *revision,
                    value: value.clone(),
                });
                return Ok(CasOutcome::Conflict(root));
            }
            let next = expected.map_or(Ok(Revision::new(1).unwrap()), Revision::next)?;
            roots.insert(name.clone(), (next, value.clone()));
            return Ok(CasOutcome::Applied(next));
        }
        let current = self.read_root(name).await?;
        if current.as_ref().map(|r| r.revision) != expected {
            return Ok(CasOutcome::Conflict(current));
        }
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        let next = Revision::after(expected, value.nonce())?;
        self.roots
            .lock()
            .unwrap()
            .insert(name.clone(), (next, value.clone()));
        Ok(CasOutcome::Applied(next))
    }
}

#[derive(Default)]
struct RacyFixture {
    count_from_one: bool,
}

#[async_trait]
impl Fixture for RacyFixture {
    async fn fresh(&self) -> FreshStorage {
        let racy = Arc::new(RacyCas {
            count_from_one: self.count_from_one,
            ..RacyCas::default()
        });
        let under = racy.segments.clone();
        let beside = racy.clone();
        FreshStorage {
            storage: racy,
            corrupt: Arc::new(move |id, bytes| {
                under.corrupt_segment(id, bytes);
                Box::pin(async {})
            }),
            reopen: Arc::new(move || {
                let handle: Arc<dyn Storage> = beside.clone();
                Box::pin(async move { handle })
            }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suite_catches_a_cas_that_lets_two_writers_win() {
    let report = conformance::run_all(&RacyFixture::default()).await;
    let race = report
        .failure("concurrent_cas_has_one_winner_per_revision")
        .expect("the CAS race case must fail a racy CAS");
    let symptoms = [
        "two writers",
        "lost update",
        "increments applied",
        "older revision",
        "revisions won",
    ];
    assert!(symptoms.iter().any(|s| race.contains(s)), "{race}");
    let create = report
        .failure("concurrent_create_has_one_winner")
        .expect("the create race must fail a racy CAS");
    assert!(create.contains("creators won"), "{create}");
    // Everything about segments still passes: the failures are precise.
    assert!(report.failure("segments_round_trip").is_none());
}

/// Roots that all start at revision 1: after a reset, a holder of the old
/// incarnation matches the new one's revisions.
#[tokio::test]
async fn suite_catches_roots_that_count_from_one() {
    let report = conformance::run_all(&RacyFixture {
        count_from_one: true,
    })
    .await;
    let reborn = report
        .failure("two_incarnations_of_a_root_share_no_revision")
        .expect("the incarnation case must fail roots counting from 1");
    assert!(reborn.contains("share revisions"), "{reborn}");
    let create = report.failure("roots_create_read_update").unwrap();
    assert!(create.contains("origin"), "{create}");
    assert!(report.failure("concurrent_create_has_one_winner").is_some());
    assert!(report.failure("segments_round_trip").is_none());
}

/// A storage that acknowledges some puts without storing them.
struct LosingFixture;

#[async_trait]
impl Fixture for LosingFixture {
    async fn fresh(&self) -> FreshStorage {
        let mem = MemStorage::new();
        let plan = FaultPlan::seeded(42);
        plan.inject(Op::Put, Fault::LoseWrite, 0.05);
        let under = mem.clone();
        let storage: Arc<dyn Storage> = Arc::new(FaultyStorage::new(Arc::new(mem), plan));
        let beside = storage.clone();
        FreshStorage {
            storage,
            corrupt: Arc::new(move |id, bytes| {
                under.corrupt_segment(id, bytes);
                Box::pin(async {})
            }),
            reopen: Arc::new(move || {
                let handle = beside.clone();
                Box::pin(async move { handle })
            }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suite_catches_a_storage_that_loses_puts() {
    let report = conformance::run_all(&LosingFixture).await;
    let listing = report
        .failure("listing_pages_through_every_segment")
        .expect("losing 5% of puts must fail the listing case");
    assert!(listing.contains("ids for 10000 segments"), "{listing}");
    assert!(report.failure("roots_create_read_update").is_none());
}

#[tokio::test]
async fn injected_faults_behave_as_documented() {
    let plan = FaultPlan::seeded(1);
    let mem = MemStorage::new();
    let s = FaultyStorage::new(Arc::new(mem.clone()), plan.clone());
    let name = RootName::new("r").unwrap();

    plan.inject_times(Op::Cas, Fault::FailAfter, 1);
    let err = s
        .cas_root(&name, None, &RootValue::new("v").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, storage_core::Error::OutcomeUnknown { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("applied"), "{err}");
    // The write did happen underneath.
    assert!(mem.read_root(&name).await.unwrap().is_some());

    plan.inject_times(Op::Get, Fault::FailBefore, 2);
    let id = SegmentId::of(b"");
    assert!(s.get_segment(id).await.unwrap_err().is_retryable());
    assert!(s.get_segment(id).await.unwrap_err().is_retryable());
    assert!(s.get_segment(id).await.unwrap().is_none());

    plan.pause();
    let s = Arc::new(s);
    let paused = tokio::spawn({
        let s = s.clone();
        async move { s.get_segment(id).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!paused.is_finished(), "a paused storage must not answer");
    plan.resume();
    assert!(paused.await.unwrap().unwrap().is_none());
}
