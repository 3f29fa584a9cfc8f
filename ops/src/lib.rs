//! What operators of an accrete process see and set, in one place that
//! every long-running command (`accrete transactor`, `accrete serve`)
//! shares:
//!
//! - [`metrics`]: the Prometheus recorder behind the `metrics` facade that
//!   the library crates record through (storage calls, the segment cache,
//!   commits, leases, indexing, clients).
//! - [`endpoint`]: the small HTTP listener of `--metrics-listen`:
//!   `/metrics`, `/health` (the process is alive) and `/ready` (a
//!   [`Readiness`] the caller computes). It answers on loopback only.
//! - [`logging`]: log output as text or JSON lines (`--log-format`).
//! - [`config`]: the settings of a command from flags, `ACCRETE_*`
//!   environment variables and a TOML file (`--config FILE`), in that
//!   order of precedence, over clap's defaults; and their redacted print.
//!
//! It is not a metrics library of its own (the series are recorded where
//! the work is done) nor an HTTP API: nothing here reads a database.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ops::{Readiness, endpoint::serve_ops};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ops::Error> {
//! let recorder = ops::metrics::install()?;
//! metrics::counter!("accrete_example_total").increment(1);
//! let ready = Arc::new(|| Readiness::ready("active"));
//! let listening = serve_ops("127.0.0.1:0", Some(recorder), ready, CancellationToken::new()).await?;
//! println!("scrape http://{}/metrics", listening.local_addr());
//! # Ok(()) }
//! ```

pub mod config;
pub mod endpoint;
mod error;
pub mod logging;
pub mod metrics;

pub use endpoint::{Readiness, ReadinessProbe};
pub use error::{Error, ErrorKind};
