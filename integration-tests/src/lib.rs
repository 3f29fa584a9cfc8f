//! Cross-crate tests of accrete: whole-system scenarios across every backend, with real processes and injected faults.
//!
//! What it is: the tests in `tests/system/` run the crates together the way
//! a deployment does — a transactor on durable storage (file, PostgreSQL,
//! the Cassandra simulator; mem where it makes sense), peers connecting by
//! URI, the indexing job, backup and restore, the `accrete` binary — and
//! check what no single crate's tests can: that excision leaves nothing
//! reachable behind, that a database read back from storage answers every
//! scenario query exactly as an all-in-memory reference does, and that a
//! backup taken while a transactor writes restores elsewhere to the same
//! answers (that one drives the `accrete` binary, so it lives in
//! `cli/tests/system_backup.rs`). This library is their harness: [`stage`] (a database in a
//! fresh storage of one backend, a transactor serving it, time limits),
//! [`scenario`] (the social-news and orders data of `integration-tests/scenarios.md`, the
//! scenario queries, the in-memory reference and the comparison) and
//! [`accrete`] (the `accrete` binary as one-shot commands and as a
//! transactor process).
//!
//! Its test program `peer-node` (`src/bin/peer-node`) is a peer or a
//! transactor in a process of its own, driven over stdin and stdout:
//! `tests/peer_processes.rs` runs several on one storage and kills them,
//! and `benches/peer.rs` measures commit-to-report latency with it.
//!
//! What it is not: a place for any crate's own unit tests, or a test
//! framework for applications.
//!
//! `cargo test -p integration-tests` runs everything in about a minute;
//! `ACCRETE_LONG=1` adds heavier variants. PostgreSQL comes from
//! `storage_postgres::testkit` (a private server, or
//! `ACCRETE_TEST_POSTGRES_URI`); when none can be had the tests fail, they
//! never skip.
//!
//! ```
//! use integration_tests::scenario::{answers, steps};
//! use model::{Db, TxFunctions, edn::Instant};
//!
//! let mut db = Db::new();
//! for (i, step) in steps().into_iter().enumerate() {
//!     let forms = transactor::parse_tx(step).unwrap();
//!     db = db.with(&forms, Instant(1 + i as i64), &TxFunctions::new()).unwrap().db_after;
//! }
//! let editor_comments = answers(&db)
//!     .into_iter()
//!     .find(|(query, _)| query.starts_with("[:find (count ?comment) :in $ ?email"))
//!     .map(|(_, answer)| answer.0);
//! assert_eq!(editor_comments.as_deref(), Some("[10]"));
//! ```

pub mod accrete;
pub mod scenario;
pub mod stage;
