//! `transactor`: the standalone transactor process.

use std::net::SocketAddr;
use std::time::Duration;

use index::{SegmentCache, Segments};
use tokio_util::sync::CancellationToken;
use transactor::{BackPressure, Config, Server, serve_databases};

use crate::args::{BackPressureArg, TransactorArgs};
use crate::exit::{Failure, Outcome};
use crate::storage::open_db;

pub(crate) async fn run(args: TransactorArgs) -> Outcome {
    let config = config(&args)?;
    let cache = SegmentCache::new(args.cache_mib << 20)?;
    let mut databases = Vec::new();
    for uri in &args.uris {
        let (storage, db) = open_db(uri).await?;
        databases.push((Segments::new(storage, cache.clone()), db));
    }
    let server = Server::bind(&args.listen).await?;
    let endpoint = advertised(&args, server.local_addr())?;
    let names: Vec<String> = databases.iter().map(|(_, db)| db.to_string()).collect();
    eprintln!(
        "accrete transactor listening on {}, advertising {endpoint}, for {}",
        server.local_addr(),
        names.join(", ")
    );
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    let config = Config {
        endpoint: Some(endpoint),
        ..config
    };
    serve_databases(&server, databases, config, stop).await?;
    eprintln!("accrete transactor stopped; leases released");
    Ok(())
}

fn config(args: &TransactorArgs) -> Outcome<Config> {
    let lease_ttl = Duration::try_from_secs_f64(args.lease_ttl)
        .map_err(|e| Failure::invalid(format!("--lease-ttl {}: {e}", args.lease_ttl)))?;
    let config = Config {
        lease_ttl,
        index_threshold: args.index_threshold,
        novelty_cap: args.novelty_cap,
        back_pressure: match args.back_pressure {
            BackPressureArg::Wait => BackPressure::Wait,
            BackPressureArg::Reject => BackPressure::Reject,
        },
        ..Config::default()
    };
    config.check()?;
    Ok(config)
}

/// The endpoint the leases advertise.
fn advertised(args: &TransactorArgs, listening: SocketAddr) -> Outcome<String> {
    match &args.advertise {
        Some(endpoint) => Ok(endpoint.clone()),
        None if listening.ip().is_unspecified() => Err(Failure::invalid(format!(
            "listening on {listening} (all interfaces): say with --advertise HOST:PORT where clients reach this transactor"
        ))),
        None => Ok(listening.to_string()),
    }
}

/// Cancels `stop` on SIGINT or SIGTERM, so active transactors shut down
/// and release their leases.
async fn stop_on_signal(stop: CancellationToken) {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("accrete transactor: stopping");
    stop.cancel();
}
