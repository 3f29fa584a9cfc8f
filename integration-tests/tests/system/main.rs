//! Whole-system tests: every crate together, on every backend.
//!
//! - `excision`: scenario §4 through a real transactor and its indexing
//!   job, read back from storage by a fresh peer.
//! - `queries`: scenarios §1–§3 on durable data that lives partly in index
//!   segments and partly in novelty, against an in-memory reference.
//!
//! The backup test that drives the `accrete` binary lives in
//! `cli/tests/system_backup.rs`, where cargo hands the binary to a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod excision;
mod queries;

/// True when the heavier variants run (`ACCRETE_LONG=1`).
fn long() -> bool {
    std::env::var("ACCRETE_LONG").as_deref() == Ok("1")
}
