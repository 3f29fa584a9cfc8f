//! `peer-node`: a peer (or a transactor) in a process of its own, driven
//! line by line over stdin and stdout. The peer process tests
//! (`tests/peer_processes.rs`) run several of them against one storage;
//! it is also a small console for trying a database by hand.
//!
//! ```text
//! peer-node transactor [--lease-ttl-ms N] [--index-threshold N] URI...
//!     serves the databases (as `accrete transactor` does) on a free
//!     loopback port until stdin closes; prints `listening ADDR`.
//! peer-node peer [--report-buffer N] URI
//!     connects, prints `connected T`, then answers one line per command:
//!       transact EDN      -> committed T TEMPID=ID...   (tempids sorted)
//!       sync [T]          -> synced T
//!       q QUERY           -> result EDN                 (over the latest value)
//!       watch ATTR        -> watching; then for every transaction a line
//!                            report T before=T0 facts=[[e v]...] before_count=N after_count=M
//!       basis             -> basis T
//!       transactor        -> transactor ENDPOINT EPOCH | transactor none
//!       quit
//!     A command that fails answers `failed KIND committed=T|no|maybe MESSAGE`.
//! ```

mod session;
mod watch;

use std::process::ExitCode;
use std::time::Duration;

use index::{SegmentCache, Segments};
use tokio_util::sync::CancellationToken;
use transactor::{Config, Server, serve_databases};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    tracing_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let outcome = match args.first().map(String::as_str) {
        Some("transactor") => runtime.block_on(transactor(&args[1..])),
        Some("peer") => runtime.block_on(session::run(&args[1..])),
        _ => Err("usage: peer-node transactor|peer [OPTIONS] URI...".to_string()),
    };
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("peer-node: {message}");
    ExitCode::FAILURE
}

fn tracing_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `--name VALUE` options in front of positional arguments.
pub(crate) struct Options<'a> {
    pub(crate) named: Vec<(&'a str, u64)>,
    pub(crate) positional: &'a [String],
}

pub(crate) fn options(args: &[String]) -> Result<Options<'_>, String> {
    let mut named = Vec::new();
    let mut rest = args;
    while let [name, value, tail @ ..] = rest {
        let Some(name) = name.strip_prefix("--") else {
            break;
        };
        let value = value
            .parse()
            .map_err(|e| format!("--{name} {value}: {e}"))?;
        named.push((name, value));
        rest = tail;
    }
    Ok(Options {
        named,
        positional: rest,
    })
}

impl Options<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<u64> {
        self.named.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub(crate) fn check(&self, known: &[&str]) -> Result<(), String> {
        match self.named.iter().find(|(n, _)| !known.contains(n)) {
            Some((n, _)) => Err(format!("unknown option --{n}")),
            None => Ok(()),
        }
    }
}

/// The transactor mode: what `accrete transactor` runs.
async fn transactor(args: &[String]) -> Result<(), String> {
    let options = options(args)?;
    options.check(&["lease-ttl-ms", "index-threshold"])?;
    let registry = peer::builtin_registry();
    let cache = SegmentCache::new(256 << 20).map_err(|e| e.to_string())?;
    let mut databases = Vec::new();
    for uri in options.positional {
        let (storage, parsed) = registry.open(uri).await.map_err(|e| e.to_string())?;
        let db = parsed.require_db().map_err(|e| e.to_string())?.clone();
        databases.push((Segments::new(storage, cache.clone()), db));
    }
    let server = Server::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let mut config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..Config::default()
    };
    if let Some(ms) = options.get("lease-ttl-ms") {
        config.lease_ttl = Duration::from_millis(ms);
    }
    if let Some(threshold) = options.get("index-threshold") {
        config.index_threshold = threshold as usize;
        config.novelty_cap = config.novelty_cap.max(config.index_threshold * 16);
    }
    println!("listening {}", server.local_addr());
    let stop = CancellationToken::new();
    tokio::spawn(stop_when_stdin_closes(stop.clone()));
    serve_databases(&server, databases, config, stop)
        .await
        .map_err(|e| e.to_string())
}

/// Cancels `stop` when stdin reaches its end (the driver is gone or done).
async fn stop_when_stdin_closes(stop: CancellationToken) {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 256];
    while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
    stop.cancel();
}

/// `failed KIND committed=… MESSAGE` on one line.
pub(crate) fn failed(e: &peer::Error) -> String {
    let committed = match (e.committed_t(), e.not_committed()) {
        (Some(t), _) => t.to_string(),
        (None, true) => "no".into(),
        (None, false) => "maybe".into(),
    };
    let kind = e.kind().to_string().replace(' ', "-");
    let kind = kind.split(':').next().unwrap_or_default().to_string();
    format!(
        "failed {kind} committed={committed} {}",
        e.message().replace('\n', " ")
    )
}
