//! Whole-system tests: every crate together, on every backend.
//!
//! - `excision`: scenario §4 through a real transactor and its indexing
//!   job, read back from storage by a fresh peer.
//! - `queries`: scenarios §1–§3 on durable data that lives partly in index
//!   segments and partly in novelty, against an in-memory reference.
//! - `backup`: a backup taken while an `accrete transactor` process and
//!   peers write, restored into another backend, answers as the reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod excision;
mod queries;

/// True when the heavier variants run (`ACCRETE_LONG=1`).
fn long() -> bool {
    std::env::var("ACCRETE_LONG").as_deref() == Ok("1")
}
