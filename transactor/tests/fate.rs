//! Every transaction's fate is knowable: a commit whose log-root write is
//! ambiguous is never answered "not committed" while its entries are in the
//! log.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use cql_sim::{Accepted, Fault, FaultKind, Phase};
use transactor::Config;

/// The store's own root update (`UPDATE … IF rev = ?`).
const ROOT_UPDATE: &str = "IF rev = ?";

/// The interleaving of issue 15 on the CQL simulator: the commit's log-root
/// proposal is accepted by replica 0 only and its answer lost (a CAS write
/// timeout), again and again, while every Paxos prepare on the roots table
/// misses replica 0 — so every re-read shows the old root. Then the blind
/// spot heals and the next Paxos round on the log root finishes the
/// stranded proposal. The caller must hear "committed" (or "unknown"), never
/// "fenced"/"not committed": the entries are in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranded_log_root_proposal_finished_later_is_never_reported_not_committed() {
    let store = storage(Backend::Cassandra).await;
    let db = create(&store.storage, "fate").await;
    let config = Config {
        // No lease renewal inside the window: only the commit touches roots.
        lease_ttl: Duration::from_secs(60),
        ..config()
    };
    let t = start(&store.storage, &db, config).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let sim = store.cluster.as_ref().unwrap().simulator().unwrap();
    // Nine proposals (three attempts of three settling rounds) stranded on
    // replica 0 with the answer lost...
    sim.faults().inject(
        Fault::new(FaultKind::CasWriteTimeout(Accepted::ByOne))
            .times(9)
            .when_query_contains(ROOT_UPDATE),
    );
    // ...while the prepares of those rounds and of every re-read in between
    // (24 in all) miss replica 0, so every re-read shows the old root. The
    // round after that reaches replica 0 and finishes the last proposal.
    sim.faults().inject(
        Fault::new(FaultKind::DropMessage(Phase::Prepare))
            .on_replicas(&[0])
            .times(24)
            .when_query_contains("accrete_roots"),
    );
    let answer = within(t.transact_edn(&marked(7))).await;
    sim.faults().clear();
    let value = reopen(&store.storage, &db).await;
    let parts = blocking(move || parts_of(&value, 7)).await;
    let fired = sim.faults().log().len();
    match &answer {
        Ok(_) => assert_eq!(parts, 3, "acknowledged but absent"),
        Err(e) if e.not_committed() => assert_eq!(
            parts, 0,
            "answered `{e}` (not committed) but the transaction is in the log ({fired} faults fired)"
        ),
        Err(e) => assert!(parts == 0 || parts == 3, "{e}: half there"),
    }
    assert_eq!(parts, 3, "the stranded proposal was finished: {answer:?}");
    let timeouts = sim
        .faults()
        .log()
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::CasWriteTimeout(_)))
        .count();
    assert_eq!(timeouts, 9, "the interleaving happened");
    assert!(answer.is_ok(), "settled as committed: {answer:?}");
    t.shutdown().await.ok();
}
