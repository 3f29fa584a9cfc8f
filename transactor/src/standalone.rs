//! The standalone transactor process: one endpoint, several databases, each
//! served while this process holds its lease and waited for as a standby
//! while another does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use index::Segments;
use storage_core::DbName;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::handle::{Claim, Transactor};
use crate::lease::Patience;
use crate::observe;
use crate::server::Server;
use crate::warm::{WarmDb, WarmSlot, keep_warm};

/// How long a deposed or failed transactor waits before it stands by again.
const RESTART_PAUSE: Duration = Duration::from_millis(200);

/// How often a standby looks again for a database that does not exist.
const MISSING_POLL: Duration = Duration::from_secs(1);

/// Serves each of `databases` on `server` until `stop` is cancelled: as the
/// active transactor while this process holds the database's lease, as a
/// standby (waiting for the lease to lapse) otherwise, and back to standby
/// when deposed. `config.endpoint` is what the leases advertise.
///
/// A database that does not exist (yet) is waited for: a standby survives
/// the window of a restore or a re-create. Two databases of one name are
/// refused at once: a client names the database it means by name, id and
/// epoch, and one endpoint serves a name once.
///
/// Returns when `stop` is cancelled (after shutting every active
/// transactor down and releasing its lease), or with the first error that
/// waiting cannot cure: corrupt data, invalid settings.
pub async fn serve_databases(
    server: &Server,
    databases: Vec<(Segments, DbName)>,
    config: Config,
    stop: CancellationToken,
) -> Result<()> {
    config.check()?;
    refuse_shared_names(&databases)?;
    let config = Config {
        patience: Patience::Forever,
        ..config
    };
    let loops = databases
        .into_iter()
        .map(|(seg, db)| serve_one(server, seg, db, config.clone(), stop.clone()));
    try_join_all(loops).await.map(|_| ())
}

/// One process, one transactor per database name.
fn refuse_shared_names(databases: &[(Segments, DbName)]) -> Result<()> {
    let mut seen = HashSet::new();
    match databases.iter().find(|(_, db)| !seen.insert(db.as_str())) {
        Some((_, db)) => Err(Error::invalid(format!(
            "database name `{db}` is given twice: one transactor process serves each name once (start another process, on another port, for the other)"
        ))),
        None => Ok(()),
    }
}

/// Standby → active → (deposed) → standby, until stopped.
async fn serve_one(
    server: &Server,
    seg: Segments,
    db: DbName,
    config: Config,
    stop: CancellationToken,
) -> Result<()> {
    let mut missing = Missing::default();
    loop {
        observe::lease_standby(&db);
        // Standing by ends with the stop; a claim won, the take-over runs
        // to its end even if the stop comes meanwhile (cut short, it would
        // leave the lease held until it lapsed), and the stop below then
        // shuts the transactor down and releases the lease.
        let claimed = tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(()),
            claimed = claim(&seg, &db, &config).instrument(observe::standby_span(&db)) => claimed,
        };
        let started = match claimed {
            Ok((claim, warm)) => {
                Transactor::take_over(seg.clone(), &db, config.clone(), claim, warm).await
            }
            Err(e) => Err(e),
        };
        let transactor = match started {
            Ok(t) => Arc::new(t),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                missing.note(&db, &e);
                pause_for(&stop, MISSING_POLL).await;
                continue;
            }
            Err(e) if curable(e.kind()) => {
                tracing::warn!(db = %db, error = %e, "could not become the transactor; standing by again");
                pause(&stop).await;
                continue;
            }
            Err(e) => return Err(e.context(format!("database `{db}`"))),
        };
        missing = Missing::default();
        observe::lease_active(&db, transactor.epoch());
        server.serve(transactor.clone());
        let why = tokio::select! {
            why = transactor.wait_stopped() => why,
            () = stop.cancelled() => {
                server.withdraw(&db, transactor.epoch());
                observe::lease_standby(&db);
                return transactor.shutdown().await;
            }
        };
        server.withdraw(&db, transactor.epoch());
        observe::lease_standby(&db);
        // Ends the task; a deposed transactor gives nothing back to release.
        if let Err(e) = transactor.shutdown().await {
            tracing::warn!(db = %db, error = %e, "stopping the transactor");
        }
        if !curable(why.kind()) {
            return Err(why.context(format!("database `{db}`")));
        }
        tracing::warn!(db = %db, epoch = %transactor.epoch(), reason = %why, "transactor stepped down; standing by");
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

/// Takes the lease (as a standby while another holds it, keeping a copy of
/// the database close to the log meanwhile): the claim, and the copy.
async fn claim(seg: &Segments, db: &DbName, config: &Config) -> Result<(Claim, Option<WarmDb>)> {
    let slot = WarmSlot::default();
    let claim = tokio::select! {
        claim = Claim::acquire(seg, db, config) => claim?,
        never = keep_warm(seg.clone(), db.clone(), slot.clone()) => match never {},
    };
    let warm = slot.lock().take();
    Ok((claim, warm))
}

/// What a standby last said about a database that does not exist, so that
/// it says it once per change and not on every poll.
#[derive(Default)]
struct Missing(Option<String>);

impl Missing {
    fn note(&mut self, db: &DbName, e: &Error) {
        let why = e.message().to_string();
        if self.0.as_deref() != Some(why.as_str()) {
            tracing::info!(db = %db, reason = %why, "waiting for the database to be created or restored");
            self.0 = Some(why);
        }
    }
}

async fn pause(stop: &CancellationToken) {
    pause_for(stop, RESTART_PAUSE).await;
}

async fn pause_for(stop: &CancellationToken, how_long: Duration) {
    tokio::select! {
        () = tokio::time::sleep(how_long) => {}
        () = stop.cancelled() => {}
    }
}
