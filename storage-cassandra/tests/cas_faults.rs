//! Ambiguous root writes against the simulator: CAS write timeouts after a
//! proposal reached a quorum, one replica or none; a competing writer that
//! wins meanwhile; a root that moves on before the re-read; connections
//! dropped around the LWT. Every outcome is checked by reading back, and a
//! write that took effect is never reported as not applied.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::*;
use cql_sim::{Accepted, DropPoint, Fault, FaultKind, Phase};
use storage_cassandra::CassandraStorage;
use storage_cassandra::testkit::TestCluster;
use storage_core::{CasOutcome, Error, Revision, RootName, RootValue, Storage};

/// The store's own root update (the competitor's text has a number).
const OWN_UPDATE: &str = "IF rev = ?";
/// The store's root read at SERIAL.
const OWN_READ: &str = "SELECT rev, value FROM";

struct Case {
    cluster: TestCluster,
    storage: CassandraStorage,
    keyspace: String,
    name: RootName,
    /// The revision the root was created at (its random origin).
    origin: u64,
}

impl Case {
    /// A store whose root `r` was just created: at its `rev(1)`.
    async fn new() -> Case {
        let cluster = TestCluster::sim().await.unwrap();
        let uri = cluster.scratch_uri("cas").await.unwrap();
        let storage = open(&uri).await;
        let name = RootName::new("db/cas/log").unwrap();
        let one = RootValue::new("one").unwrap();
        let origin = Revision::origin(one.nonce());
        let first = storage.cas_root(&name, None, &one).await.unwrap();
        assert_eq!(first, CasOutcome::Applied(origin));
        let case = Case {
            cluster,
            storage,
            keyspace: keyspace(&uri),
            name,
            origin: origin.get(),
        };
        case.sim().clear_received();
        case
    }

    /// The root's `n`th revision (1: the one it was created at).
    fn rev(&self, n: u64) -> Revision {
        Revision::new(self.origin + n - 1).unwrap()
    }

    fn sim(&self) -> &cql_sim::SimCluster {
        self.cluster.simulator().unwrap()
    }

    fn inject(&self, fault: Fault) {
        self.sim().faults().inject(fault);
    }

    async fn cas(&self, value: &RootValue) -> Result<CasOutcome, Error> {
        within(
            60,
            self.storage.cas_root(&self.name, Some(self.rev(1)), value),
        )
        .await
    }

    async fn current(&self) -> storage_core::Root {
        within(30, self.storage.read_root(&self.name))
            .await
            .unwrap()
            .unwrap()
    }

    /// Delays the prepare of the store's next SERIAL read by `ms` on every
    /// replica, leaving a window for other writers.
    fn delay_next_read(&self, ms: u64) {
        self.inject(
            Fault::new(FaultKind::DelayMessage(
                Phase::Prepare,
                Duration::from_millis(ms),
            ))
            .times(3)
            .when_query_contains(OWN_READ),
        );
    }

    /// Our next update times out accepted by replica 0 only, our re-read
    /// waits, and every competitor's prepare building on `rev(1)` misses
    /// replica 0: it never sees (or completes) our proposal.
    fn strand_our_proposal_on_replica_0(&self) {
        self.inject(
            Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne))
                .once()
                .when_query_contains(OWN_UPDATE),
        );
        self.delay_next_read(500);
        self.inject(
            Fault::new(FaultKind::DropMessage(Phase::Prepare))
                .on_replicas(&[0])
                .when_query_contains(&format!("IF rev = {}", self.rev(1))),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_after_a_quorum_accepted_is_applied_with_one_lwt() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByQuorum))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    let ours = RootValue::new("two").unwrap();
    assert_eq!(
        case.cas(&ours).await.unwrap(),
        CasOutcome::Applied(case.rev(2))
    );
    let now = case.current().await;
    assert_eq!((now.revision, &now.value), (case.rev(2), &ours));
    assert_eq!(root_lwts(case.sim()), 1, "settled by reading, not retrying");
    assert_eq!(case.sim().faults().log().len(), 1, "the fault fired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_after_no_replica_accepted_is_retried_and_applied() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByNone))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    let ours = RootValue::new("two").unwrap();
    assert_eq!(
        case.cas(&ours).await.unwrap(),
        CasOutcome::Applied(case.rev(2))
    );
    assert_eq!(case.current().await.value, ours);
    assert_eq!(
        root_lwts(case.sim()),
        2,
        "the re-read showed nothing applied, so one more LWT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_lost_to_a_competitor_is_a_conflict() {
    let case = Case::new().await;
    let session = raw_session(&case.cluster).await;
    // Our proposal reaches replica 0 only; the competitor's prepare misses
    // replica 0, so it never sees (or completes) ours, and wins `rev(2)`.
    case.strand_our_proposal_on_replica_0();
    let ours = RootValue::new("ours").unwrap();
    let theirs = RootValue::new("theirs").unwrap();
    let (outcome, won) = tokio::join!(case.cas(&ours), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        competitor_write(
            &session,
            &case.keyspace,
            case.name.as_str(),
            case.origin,
            &theirs,
        )
        .await
    });
    assert!(won, "the competitor's write applied");
    let CasOutcome::Conflict(Some(seen)) = outcome.unwrap() else {
        panic!("a lost proposal must be a conflict");
    };
    assert_eq!((seen.revision, &seen.value), (case.rev(2), &theirs));
    case.sim().faults().clear();
    let now = case.current().await;
    assert_eq!((now.revision, &now.value), (case.rev(2), &theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_on_one_replica_completed_by_the_retry_is_applied() {
    let case = Case::new().await;
    // Our proposal reaches replica 0 only and the re-read misses replica 0,
    // so it looks unapplied; the retry's prepare finds and completes it.
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    case.inject(
        Fault::new(FaultKind::DropMessage(Phase::Prepare))
            .on_replicas(&[0])
            .times(1)
            .when_query_contains(OWN_READ),
    );
    let ours = RootValue::new("two").unwrap();
    assert_eq!(
        case.cas(&ours).await.unwrap(),
        CasOutcome::Applied(case.rev(2))
    );
    let now = case.current().await;
    assert_eq!((now.revision, &now.value), (case.rev(2), &ours));
    assert_eq!(root_lwts(case.sim()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_ambiguous_is_outcome_unknown_and_may_surface_later() {
    let case = Case::new().await;
    // Three proposals that reach replica 0 only, while every prepare on the
    // roots table misses replica 0: nothing looks applied, yet it may be.
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne))
            .times(3)
            .when_query_contains(OWN_UPDATE),
    );
    let blind = case.sim().faults().inject(
        Fault::new(FaultKind::DropMessage(Phase::Prepare))
            .on_replicas(&[0])
            .when_query_contains("accrete_roots"),
    );
    let ours = RootValue::new("two").unwrap();
    match case.cas(&ours).await {
        Err(Error::OutcomeUnknown { detail, .. }) => {
            assert!(detail.contains("3 attempts"), "{detail}")
        }
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    assert_eq!(root_lwts(case.sim()), 3);
    case.sim().faults().remove(blind);
    // A round that reaches replica 0 completes the last proposal: reporting
    // "not applied" would have been a lie.
    let now = case.current().await;
    assert_eq!((now.revision, &now.value), (case.rev(2), &ours));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_moved_past_our_revision_is_settled_by_the_writer_slot() {
    let case = Case::new().await;
    let session = raw_session(&case.cluster).await;
    // Our proposal is accepted by a quorum but not committed; before our
    // re-read, a competitor completes it (`rev(2)`) and writes `rev(3)`.
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByQuorum))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    case.delay_next_read(500);
    let ours = RootValue::new("ours").unwrap();
    let theirs = RootValue::new("theirs").unwrap();
    let (outcome, won) = tokio::join!(case.cas(&ours), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        competitor_write(
            &session,
            &case.keyspace,
            case.name.as_str(),
            case.origin + 1,
            &theirs,
        )
        .await
    });
    assert!(won, "the competitor built on our second revision");
    assert_eq!(outcome.unwrap(), CasOutcome::Applied(case.rev(2)));
    let now = case.current().await;
    assert_eq!((now.revision, &now.value), (case.rev(3), &theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_moved_past_a_lost_revision_is_a_conflict() {
    let case = Case::new().await;
    let session = raw_session(&case.cluster).await;
    case.strand_our_proposal_on_replica_0();
    let ours = RootValue::new("ours").unwrap();
    let (second, third) = (RootValue::new("b").unwrap(), RootValue::new("c").unwrap());
    let (outcome, won) = tokio::join!(case.cas(&ours), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let name = case.name.as_str();
        competitor_write(&session, &case.keyspace, name, case.origin, &second).await
            && competitor_write(&session, &case.keyspace, name, case.origin + 1, &third).await
    });
    assert!(won, "the competitor wrote the second and third revisions");
    let CasOutcome::Conflict(Some(seen)) = outcome.unwrap() else {
        panic!("a lost revision must be a conflict");
    };
    assert_eq!((seen.revision, &seen.value), (case.rev(3), &third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_dropped_after_the_lwt_applied_is_applied() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::DropConnection(DropPoint::AfterExecute))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    let ours = RootValue::new("two").unwrap();
    assert_eq!(
        case.cas(&ours).await.unwrap(),
        CasOutcome::Applied(case.rev(2))
    );
    assert_eq!(case.current().await.value, ours);
    assert_eq!(root_lwts(case.sim()), 1, "the driver did not resend it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_dropped_before_the_lwt_ran_is_retried_once() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::DropConnection(DropPoint::BeforeExecute))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    let ours = RootValue::new("two").unwrap();
    assert_eq!(
        case.cas(&ours).await.unwrap(),
        CasOutcome::Applied(case.rev(2))
    );
    assert_eq!(case.current().await.value, ours);
    assert_eq!(root_lwts(case.sim()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_timed_out_after_winning_is_applied() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByQuorum))
            .once()
            .when_query_contains("IF NOT EXISTS"),
    );
    let lease = RootName::new("db/cas/lease").unwrap();
    let ours = RootValue::new("holder").unwrap();
    let out = within(60, case.storage.cas_root(&lease, None, &ours))
        .await
        .unwrap();
    assert_eq!(out, CasOutcome::Applied(Revision::origin(ours.nonce())));
    let now = within(30, case.storage.read_root(&lease))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.value, ours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_timeout_after_sending_is_settled_by_the_re_read() {
    let cluster = TestCluster::sim().await.unwrap();
    let uri = cluster
        .scratch_uri_with("db=cas&request_timeout=300")
        .await
        .unwrap();
    let storage = open(&uri).await;
    let sim = cluster.simulator().unwrap();
    let name = RootName::new("db/cas/log").unwrap();
    let first = RootValue::new("one").unwrap();
    storage.cas_root(&name, None, &first).await.unwrap();
    sim.clear_received();
    // The LWT applies at once; its answer comes after the client gave up.
    sim.faults().inject(
        Fault::new(FaultKind::SlowResponse(Duration::from_millis(900)))
            .once()
            .when_query_contains(OWN_UPDATE),
    );
    let ours = RootValue::new("two").unwrap();
    let origin = Revision::origin(first.nonce());
    let out = within(30, storage.cas_root(&name, Some(origin), &ours))
        .await
        .unwrap();
    let second = origin.next().unwrap();
    assert_eq!(out, CasOutcome::Applied(second));
    assert_eq!(root_lwts(sim), 1);
    let now = storage.read_root(&name).await.unwrap().unwrap();
    assert_eq!((now.revision, &now.value), (second, &ours));
}

/// Issue 26 item 3: under load a SERIAL read's Paxos round times out now
/// and then. A linearizable read is safe to repeat, so it is retried within
/// the request's time budget instead of failing the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_reads_that_time_out_are_retried() {
    let case = Case::new().await;
    case.inject(
        Fault::new(FaultKind::ReadTimeout)
            .times(2)
            .when_query_contains(OWN_READ),
    );
    let now = case.current().await;
    assert_eq!(now.revision, case.rev(1));
    assert_eq!(case.sim().faults().log().len(), 2, "both timeouts fired");
}
