//! `serve`: a peer that answers over HTTP (the `server` crate), and `log`:
//! the transactions of a span of t (the log, as `tx-range` answers it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use model::edn::Edn;
use peer::{Config, Peer};
use server::{Limits, Security, Server};
use tokio_util::sync::CancellationToken;

use super::value::{blocking, latest};
use crate::commands::access::endpoint_security;
use crate::exit::{Code, Failure, Outcome};
use crate::help::URI_HELP;
use crate::signals::stop_requested;

/// Arguments of `accrete serve`.
#[derive(Debug, Args)]
#[command(after_help = crate::help::LAYERED_HELP)]
pub(crate) struct ServeArgs {
    /// The databases to serve, each under /dbs/NAME/.
    #[arg(required = true, help = URI_HELP)]
    pub(crate) uris: Vec<String>,
    /// Read settings from this TOML file (keys are the long flag names:
    /// `listen = "127.0.0.1:4335"`, `timeout = 10`, `uris = [...]`); flags
    /// and ACCRETE_SERVE_* variables override it. Check one with `accrete
    /// config check FILE`.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Serve Prometheus metrics (`/metrics`: the requests of every
    /// endpoint by status and their durations, and the segment cache),
    /// liveness (`/health`) and readiness (`/ready`) over HTTP on this
    /// address. Loopback only: the endpoint has no authentication.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) metrics_listen: Option<String>,
    /// Where to listen for HTTP clients. Beyond loopback it needs --auth
    /// and TLS (--tls-cert, --tls-key).
    #[arg(long, default_value = "127.0.0.1:4335", value_name = "HOST:PORT")]
    pub(crate) listen: String,
    /// Require every client to authenticate (`Authorization: Bearer
    /// TOKEN` from `accrete token create`, or a client certificate of
    /// --tls-client-ca) and to hold a role on the database (`accrete
    /// grant`). Without it only loopback is served, and every client is
    /// `anonymous` with every role.
    #[arg(long)]
    pub(crate) auth: bool,
    /// The storage whose tokens and grants are checked (default: the
    /// first URI's storage).
    #[arg(long, value_name = "URI")]
    pub(crate) access: Option<String>,
    /// The server's TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CAs whose client certificates authenticate their subject (mTLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,
    /// How long one request may take; a query past it is cancelled.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) timeout: f64,
    /// Rows an intermediate result of a query may reach.
    #[arg(long, default_value_t = 10_000_000, value_name = "ROWS")]
    pub(crate) max_query_rows: usize,
    /// Items (rows, datoms, entities, transactions) one answer may hold.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub(crate) max_results: usize,
    /// Bytes of one request body.
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    pub(crate) max_body_bytes: usize,
    /// Requests served at once; more are refused (429) rather than queued.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub(crate) max_concurrent: usize,
    /// MiB of the segment cache shared by every database served.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub(crate) cache_mib: u64,
}

pub(crate) async fn serve(args: ServeArgs) -> Outcome {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            Failure::invalid(format!(
                "--timeout {}: a positive number of seconds",
                args.timeout
            ))
        })?;
    let limits = Limits {
        request_timeout: timeout,
        max_query_rows: args.max_query_rows,
        max_results: args.max_results,
        max_body_bytes: args.max_body_bytes,
        max_concurrent: args.max_concurrent,
        ..Limits::default()
    };
    if let Some(addr) = &args.metrics_listen {
        ops::endpoint::loopback(addr).await?;
    }
    // Before the peer's cache and storages: they take their metric handles
    // when made.
    let recorder = match &args.metrics_listen {
        Some(_) => Some(ops::metrics::install()?),
        None => None,
    };
    let security = security(&args).await?;
    let config = Config {
        cache_bytes: args.cache_mib << 20,
        connector: transactor::client::Connector::from_env()?,
        ..Config::default()
    };
    let peer = Peer::new(config).map_err(peer_failure)?;
    let mut conns = Vec::new();
    for uri in &args.uris {
        conns.push(peer.connect(uri).await.map_err(peer_failure)?);
    }
    let names: Vec<String> = conns.iter().map(|c| c.db_name().to_string()).collect();
    let open = security.is_open();
    let tls = security.tls.is_some();
    let config = server::Config {
        listen: Some(args.listen.clone()),
        limits,
        security,
        observer: recorder.as_ref().map(|_| {
            let observe: server::RequestObserver = Arc::new(ops::metrics::record_http_request);
            observe
        }),
    };
    let server = Server::start(conns, config).await.map_err(api_failure)?;
    let stop = CancellationToken::new();
    if let Some(addr) = &args.metrics_listen {
        let state = format!("serving {}", names.join(", "));
        let ready: ops::ReadinessProbe = Arc::new(move || ops::Readiness::ready(state.clone()));
        ops::endpoint::serve_ops(addr, recorder, ready, stop.clone()).await?;
    }
    if open {
        eprintln!(
            "accrete serve: development mode (no --auth): clients without credentials are `anonymous` with every role; loopback only"
        );
    }
    let scheme = if tls { "https" } else { "http" };
    eprintln!(
        "accrete serve listening on {scheme}://{} for {}",
        server.local_addr(),
        names.join(", ")
    );
    let signal = stop_requested().await;
    stop.cancel();
    drop(server);
    eprintln!("accrete serve stopped");
    let _ = signal;
    Ok(())
}

/// A gate over the access records of --access (or the first URI's
/// storage), admitting only authenticated clients with --auth; TLS from
/// the certificate files.
async fn security(args: &ServeArgs) -> Outcome<Security> {
    let (gate, tls) = endpoint_security(
        args.access.as_deref(),
        &args.uris,
        args.auth,
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        args.tls_client_ca.as_deref(),
    )
    .await?;
    Ok(Security {
        gate: Some(gate),
        tls,
    })
}

fn code(exit_code: u8) -> Code {
    match exit_code {
        2 => Code::Invalid,
        3 => Code::Unavailable,
        4 => Code::Conflict,
        5 => Code::Unknown,
        6 => Code::Corruption,
        _ => Code::Refused,
    }
}

fn api_failure(e: server::ApiError) -> Failure {
    Failure::new(code(e.kind.exit_code()), e.message)
}

fn peer_failure(e: peer::Error) -> Failure {
    api_failure(server::ApiError::from(e))
}

/// Arguments of `accrete log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The first t (default: the first transaction).
    #[arg(long, value_name = "T")]
    pub(crate) from: Option<u64>,
    /// The last t, included (default: the latest).
    #[arg(long, value_name = "T")]
    pub(crate) to: Option<u64>,
}

/// Prints `{:t T :tx TX :data [[e a v tx added] …]}` per transaction, in t order.
pub(crate) async fn log(args: LogArgs) -> Outcome {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        return Err(Failure::invalid(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let db = latest(&args.uri).await?;
    blocking("reading the log", move || {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let end = args.to.map(|t| t.saturating_add(1));
        for entry in db.tx_range(args.from, end)? {
            let entry = entry?;
            let data = entry
                .data
                .iter()
                .map(|d| {
                    Edn::Vector(vec![
                        Edn::Long(d.e() as i64),
                        Edn::Long(d.a() as i64),
                        d.v().to_edn(),
                        Edn::Long(d.tx() as i64),
                        Edn::Boolean(d.added()),
                    ])
                })
                .collect();
            let line = Edn::map([
                (Edn::keyword("t"), Edn::Long(entry.t as i64)),
                (Edn::keyword("tx"), Edn::Long(entry.tx() as i64)),
                (Edn::keyword("data"), Edn::Vector(data)),
            ]);
            if writeln!(out, "{line}").is_err() {
                return Ok(()); // stdout closed (e.g. `| head`)
            }
        }
        let _ = out.flush();
        Ok(())
    })
    .await
}
