//! The standalone transactor process: one endpoint, several databases, each
//! served while this process holds its lease and waited for as a standby
//! while another does.

use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use index::Segments;
use storage_core::DbName;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{ErrorKind, Result};
use crate::handle::{Claim, Transactor};
use crate::lease::Patience;
use crate::server::Server;

/// How long a deposed or failed transactor waits before it stands by again.
const RESTART_PAUSE: Duration = Duration::from_millis(200);

/// Serves each of `databases` on `server` until `stop` is cancelled: as the
/// active transactor while this process holds the database's lease, as a
/// standby (waiting for the lease to lapse) otherwise, and back to standby
/// when deposed. `config.endpoint` is what the leases advertise.
///
/// Returns when `stop` is cancelled (after shutting every active
/// transactor down and releasing its lease), or with the first error that
/// waiting cannot cure: a database that does not exist, corrupt data,
/// invalid settings.
pub async fn serve_databases(
    server: &Server,
    databases: Vec<(Segments, DbName)>,
    config: Config,
    stop: CancellationToken,
) -> Result<()> {
    config.check()?;
    let config = Config {
        patience: Patience::Forever,
        ..config
    };
    let loops = databases
        .into_iter()
        .map(|(seg, db)| serve_one(server, seg, db, config.clone(), stop.clone()));
    try_join_all(loops).await.map(|_| ())
}

/// Standby → active → (deposed) → standby, until stopped.
async fn serve_one(
    server: &Server,
    seg: Segments,
    db: DbName,
    config: Config,
    stop: CancellationToken,
) -> Result<()> {
    loop {
        let claimed = tokio::select! {
            claimed = Claim::acquire(&seg, &db, &config) => claimed,
            () = stop.cancelled() => return Ok(()),
        };
        let started = match claimed {
            Ok(claim) => Transactor::take_over(seg.clone(), &db, config.clone(), claim).await,
            Err(e) => Err(e),
        };
        let transactor = match started {
            Ok(t) => Arc::new(t),
            Err(e) if curable(e.kind()) => {
                tracing::warn!(db = %db, error = %e, "could not become the transactor; standing by again");
                pause(&stop).await;
                continue;
            }
            Err(e) => return Err(e.context(format!("database `{db}`"))),
        };
        server.serve(transactor.clone());
        let why = tokio::select! {
            why = transactor.wait_stopped() => why,
            () = stop.cancelled() => {
                server.withdraw(&db, transactor.epoch());
                return transactor.shutdown().await;
            }
        };
        server.withdraw(&db, transactor.epoch());
        // Ends the task; a deposed transactor gives nothing back to release.
        if let Err(e) = transactor.shutdown().await {
            tracing::warn!(db = %db, error = %e, "stopping the transactor");
        }
        if !curable(why.kind()) {
            return Err(why.context(format!("database `{db}`")));
        }
        tracing::warn!(db = %db, reason = %why, "transactor stopped; standing by");
        pause(&stop).await;
    }
}

/// Failures that standing by again may cure.
fn curable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Fenced
            | ErrorKind::Unavailable
            | ErrorKind::OutcomeUnknown
            | ErrorKind::LeaseHeld
            | ErrorKind::ShuttingDown
    )
}

async fn pause(stop: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(RESTART_PAUSE) => {}
        () = stop.cancelled() => {}
    }
}
