//! `transactor`: the standalone transactor process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use index::{SegmentCache, Segments};
use storage_core::{DbName, Storage, StorageUri};
use tokio_util::sync::CancellationToken;
use transactor::lease::read_lease;
use transactor::{BackPressure, Config, Security, Server, serve_databases};

use crate::args::{BackPressureArg, TransactorArgs};
use crate::commands::access::endpoint_security;
use crate::commands::gc::GcTarget;
use crate::exit::{Failure, Outcome};
use crate::storage::{keyspace_hint, open_db};

/// Checks the settings that can be checked without storage (what `accrete
/// config check` reports).
pub(crate) async fn check(args: &TransactorArgs) -> Outcome {
    config(args)?;
    args.gc.check()?;
    for uri in &args.uris {
        StorageUri::parse(uri)?.require_db()?;
    }
    if let Some(addr) = &args.metrics_listen {
        ops::endpoint::loopback(addr).await?;
    }
    Ok(())
}

pub(crate) async fn run(args: TransactorArgs) -> Outcome {
    check(&args).await?;
    let config = config(&args)?;
    // Before the cache and the storages: they take their metric handles
    // when made.
    let recorder = match &args.metrics_listen {
        Some(_) => Some(ops::metrics::install()?),
        None => None,
    };
    let cache = SegmentCache::new(args.cache_mib << 20)?;
    let mut databases = Vec::new();
    let mut watched = Vec::new();
    let mut collected: Vec<GcTarget> = Vec::new();
    for uri in &args.uris {
        let (storage, db) = open_db(uri).await?;
        require_db(&storage, &db, uri).await?;
        watched.push((storage.clone(), db.clone()));
        gc_target(&mut collected, uri, &storage, &db)?;
        databases.push((Segments::new(storage, cache.clone()), db));
    }
    let security = security(&args).await?;
    let open = security.is_open();
    let server = Server::bind_with(&args.listen, security).await?;
    if open {
        tracing::info!("accrete transactor: development mode (no --auth)");
    }
    let endpoint = advertised(&args, server.local_addr())?;
    let names: Vec<String> = databases.iter().map(|(_, db)| db.to_string()).collect();
    let roles = Roles::standing_by(&names);
    let stop = CancellationToken::new();
    if let Some(addr) = &args.metrics_listen {
        let probe = roles.clone();
        let ready: ops::ReadinessProbe = Arc::new(move || probe.readiness());
        ops::endpoint::serve_ops(addr, recorder, ready, stop.clone()).await?;
    }
    // Not "listening": until it holds a lease the endpoint refuses every
    // client of that database.
    tracing::info!(
        "accrete transactor endpoint on {}, advertising {endpoint}, for {}; standing by until it holds each database's lease",
        server.local_addr(),
        names.join(", ")
    );
    tokio::spawn(announce_roles(watched, endpoint.clone(), roles));
    tokio::spawn(stop_on_signal(stop.clone()));
    args.gc.spawn(collected, &endpoint, &stop);
    let config = Config {
        endpoint: Some(endpoint),
        ..config
    };
    if let Err(e) = serve_databases(&server, databases, config, stop).await {
        // A keyspace dropped under a running transactor, as at its start.
        let failure = args
            .uris
            .iter()
            .fold(Failure::from(e), |f, uri| keyspace_hint(f, uri));
        return Err(failure);
    }
    tracing::info!("accrete transactor stopped; leases released");
    Ok(())
}

/// Adds `db` to the gc target of its storage (named by `uri` without its
/// query, so that databases of one storage share one collection).
fn gc_target(
    targets: &mut Vec<GcTarget>,
    uri: &str,
    storage: &Arc<dyn Storage>,
    db: &DbName,
) -> Outcome {
    let redacted = StorageUri::parse(uri)?.to_string();
    let name = redacted.split('?').next().unwrap_or(&redacted).to_string();
    match targets.iter_mut().find(|t| t.name == name) {
        Some(target) => target.dbs.push(db.clone()),
        None => targets.push(GcTarget {
            storage: storage.clone(),
            name,
            dbs: vec![db.clone()],
        }),
    }
    Ok(())
}

/// How the endpoint secures its connections, from the arguments: a gate
/// over the access records of `--access` (or the first URI's storage),
/// admitting only authenticated clients with `--auth`; TLS from the
/// certificate files. The server refuses what would break the rule
/// (nothing but loopback answers without authentication).
async fn security(args: &TransactorArgs) -> Outcome<Security> {
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
        tls,
        gate: Some(gate),
        insecure_plaintext: args.insecure_plaintext,
    })
}

/// Refuses a database that does not exist before anything listens.
async fn require_db(storage: &Arc<dyn Storage>, db: &DbName, uri: &str) -> Outcome {
    let dbs = index::list_dbs(storage).await?;
    if dbs.iter().any(|(name, _)| name == db.as_str()) {
        return Ok(());
    }
    let uri = StorageUri::parse(uri)?;
    Err(Failure::invalid(format!(
        "database `{db}` does not exist in {uri}; create it with `accrete create-db`, or restore it with `accrete restore-db`"
    )))
}

/// How often the leases are looked at for [`announce_roles`].
const ROLE_POLL: Duration = Duration::from_secs(1);

/// What this process is for each of its databases (active or standing
/// by), as [`announce_roles`] last saw it; `/ready` answers from it.
#[derive(Clone)]
struct Roles(Arc<parking_lot::Mutex<Vec<(String, bool)>>>);

impl Roles {
    fn standing_by(names: &[String]) -> Roles {
        let roles = names
            .iter()
            .map(|db| {
                (
                    format!("standing by for `{db}`: waiting for its lease"),
                    false,
                )
            })
            .collect();
        Roles(Arc::new(parking_lot::Mutex::new(roles)))
    }

    fn set(&self, index: usize, role: String, active: bool) {
        if let Some(slot) = self.0.lock().get_mut(index) {
            *slot = (role, active);
        }
    }

    /// Ready while active for every database; the body has a line per
    /// database.
    fn readiness(&self) -> ops::Readiness {
        let roles = self.0.lock();
        let lines: Vec<&str> = roles.iter().map(|(line, _)| line.as_str()).collect();
        match roles.iter().all(|(_, active)| *active) {
            true => ops::Readiness::ready(lines.join("\n")),
            false => ops::Readiness::not_ready(lines.join("\n")),
        }
    }
}

/// Logs a line (info) whenever this process becomes the active transactor
/// of a database, or stands by for one held elsewhere, so that an operator
/// can tell an active transactor from a standby; keeps `roles` up to date.
async fn announce_roles(databases: Vec<(Arc<dyn Storage>, DbName)>, ours: String, roles: Roles) {
    let mut last: Vec<Option<String>> = vec![None; databases.len()];
    loop {
        for (index, ((storage, db), last)) in databases.iter().zip(last.iter_mut()).enumerate() {
            let Ok(Some(lease)) = read_lease(storage.as_ref(), db).await else {
                continue;
            };
            let holder = lease.holder.as_ref().and_then(|h| h.endpoint());
            let (role, active) = match holder {
                Some(e) if e == ours => (
                    format!("active for `{db}` (lease epoch {})", lease.epoch),
                    true,
                ),
                Some(e) => (
                    format!(
                        "standing by for `{db}`: the transactor at {e} holds its lease (epoch {})",
                        lease.epoch
                    ),
                    false,
                ),
                None => continue,
            };
            if last.as_deref() != Some(role.as_str()) {
                tracing::info!(db = %db, epoch = %lease.epoch, active, "accrete transactor: {role}");
                roles.set(index, role.clone(), active);
                *last = Some(role);
            }
        }
        tokio::time::sleep(ROLE_POLL).await;
    }
}

fn config(args: &TransactorArgs) -> Outcome<Config> {
    let lease_ttl = Duration::try_from_secs_f64(args.lease_ttl)
        .map_err(|e| Failure::invalid(format!("--lease-ttl {}: {e}", args.lease_ttl)))?;
    let config = Config {
        lease_ttl,
        index_threshold: args.index_threshold,
        index_growth: args.index_growth,
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
    tracing::info!("accrete transactor: stopping");
    stop.cancel();
}
