//! `accrete serve`: a peer (segment cache, live database values, tx
//! reports) that answers reads and forwards writes over HTTP, in EDN and
//! JSON, so that programs in any language can use accrete.
//!
//! What it is: one process serving one or more databases through the
//! `peer` crate's [`peer::Connection`]s. Every database is under
//! `/dbs/NAME/…`:
//!
//! | endpoint | what |
//! |---|---|
//! | `POST q` | Datalog query: `query` (EDN text or data), `args` for the `:in` slots after each `$` (rules for `%` included) |
//! | `POST pull`, `POST pull-many` | `pattern` and `eid` / `eids` |
//! | `POST datoms`, `POST seek-datoms`, `POST index-range` | index access, pages of `limit` with a `cursor` to resume from |
//! | `POST entity` | an entity's attributes, with `history` its every assertion and retraction |
//! | `POST tx-range` | the log: `start`, `end` (each a t or an instant), `attr` (only transactions with a datom of it), `limit`; `next-start` resumes |
//! | `POST transact` | commits `tx-data` under `tx-id` (given or generated; sending it again never commits twice) |
//! | `POST tx-status` | a transaction's fate by `tx-id`: committed at t, not committed (proven), or unknown |
//! | `POST with` | the same transaction, speculatively: commits nothing |
//! | `POST schema` | every attribute: type, cardinality, uniqueness, flags, doc |
//! | `POST stats` | datoms in all and per attribute |
//! | `POST tx-rate` | transactions per `bucket` seconds (default 60), between `start` and `end` |
//! | `GET reports` | Server-Sent Events, one per transaction from `from` on (or after `Last-Event-ID`), gapless and resumable |
//!
//! plus `GET /status` (each database's basis and the caller's role on
//! it), `GET /health`, `GET /openapi.json` (the checked in [`OPENAPI`]
//! document), and the console, a web UI at `/console/` whose files are
//! embedded in the binary (see the `console` module). Every read takes a basis — `as-of`, `since`,
//! `history`, or `t` to wait for (as `sync`) — from the body or the query
//! string, and every answer names its `basis-t`. Bodies are EDN
//! (`application/edn`) or JSON under [`model::json`]'s lossless mapping,
//! by `Content-Type`; answers by `Accept`. Errors are bodies
//! `{:error {:kind … :exit-code … :message …}}` with the kinds and exit
//! codes of the command line ([`error::Kind`]).
//!
//! Protection: a time limit per request (a query past it is cancelled
//! inside its joins and its thread freed), a row limit for queries and a
//! size limit for answers, a bound on request bodies, and on the requests
//! (and report streams) served at once; past that bound a request is
//! refused at once as unavailable rather than queued.
//!
//! Security: the `access` crate's [`access::Gate`] — a token as
//! `Authorization: Bearer …` or a client certificate, and a role per
//! database (read for reads, write for transactions, admin for what the
//! transaction rules reserve to admins). The server refuses to listen
//! beyond loopback unless clients must authenticate and TLS is on
//! ([`Security::check`]).
//!
//! What it is not: a transactor (writes go to the database's transactor
//! through the peer).
//!
//! ```no_run
//! # async fn run(conn: peer::Connection) -> Result<(), server::ApiError> {
//! let server = server::Server::start(vec![conn], server::Config::default()).await?;
//! println!("serving on http://{}", server.local_addr());
//! # Ok(()) }
//! ```

mod app;
mod basis;
mod console;
pub mod error;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
mod listen;
mod read;
mod stream;
mod summary;
mod write;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use app::RequestObserver;
pub use error::{ApiError, Kind};
pub use listen::{Security, Server};

/// The OpenAPI 3 document of the API, as served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The limits that keep the server responsive.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long one request may take; a query past it is cancelled.
    pub request_timeout: Duration,
    /// Rows an intermediate relation of a query may reach.
    pub max_query_rows: usize,
    /// Items (rows, datoms, entities, transactions) one answer may hold;
    /// paged endpoints cap their `limit` at it.
    pub max_results: usize,
    /// Bytes of one rendered answer.
    pub max_response_bytes: usize,
    /// Bytes of one request body.
    pub max_body_bytes: usize,
    /// Requests served at once (report streams not counted).
    pub max_concurrent: usize,
    /// Report streams open at once.
    pub max_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            max_query_rows: 10_000_000,
            max_results: 100_000,
            max_response_bytes: 64 << 20,
            max_body_bytes: model::limits::MAX_TX_BYTES + 64 * 1024,
            max_concurrent: 64,
            max_streams: 256,
        }
    }
}

/// How to serve.
#[derive(Clone, Default)]
pub struct Config {
    /// `HOST:PORT` to listen on (port 0 picks a free one); default
    /// `127.0.0.1:0`.
    pub listen: Option<String>,
    /// Limits.
    pub limits: Limits,
    /// Authentication and TLS.
    pub security: Security,
    /// Called after every request (the hook for metrics).
    pub observer: Option<RequestObserver>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("limits", &self.limits)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// The address a server listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// Where a server listens, resolved.
pub(crate) async fn resolve(addr: &str) -> Result<SocketAddr, ApiError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| ApiError::invalid(format!("--listen {addr}: {e}")))?
        .next()
        .ok_or_else(|| ApiError::invalid(format!("--listen {addr}: resolves to no address")))
}

pub(crate) use app::App;

/// Shared by every handler.
pub(crate) type Shared = Arc<App>;
