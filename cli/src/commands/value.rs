//! The database value one-shot reading commands (`datoms`, `q`, `pull`)
//! work on: the latest value read from storage, seen as of or since a point
//! in time, or with history.

use clap::Args;
use model::edn::Instant;
use model::{Db, TimePoint};
use storage_core::ErrorKind;

use crate::exit::{Failure, Outcome, code_of};
use crate::storage::{open_db, segments};

/// The point in time a reading command sees the database at.
#[derive(Debug, Args)]
pub(crate) struct TimeArgs {
    /// Only transactions up to this point: a t, a tx id, or an instant
    /// (`2024-01-01T00:00:00Z`).
    #[arg(long, value_name = "T|TX|INSTANT")]
    pub(crate) as_of: Option<String>,
    /// Only datoms of transactions after this point.
    #[arg(long, value_name = "T|TX|INSTANT")]
    pub(crate) since: Option<String>,
    /// Include retracted datoms and retractions (the added flag says which).
    #[arg(long)]
    pub(crate) history: bool,
}

/// The latest value of the database `uri` names.
pub(crate) async fn latest(uri: &str) -> Outcome<Db> {
    let (storage, name) = open_db(uri).await?;
    Ok(index::open_db(&segments(storage)?, &name).await?.db)
}

/// Runs `read` off the async workers: reads of a durable value block on
/// storage. `what` names the read in the message should it panic.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    read: impl FnOnce() -> Outcome<T> + Send + 'static,
) -> Outcome<T> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Failure::new(code_of(ErrorKind::Internal), format!("{what} failed: {e}")))?
}

/// `db` as of, since, and with history, as `time` asks (may read storage:
/// call it inside [`blocking`]).
pub(crate) fn view(db: &Db, time: &TimeArgs) -> Outcome<Db> {
    let mut view = db.clone();
    if let Some(point) = &time.as_of {
        view = view.as_of(time_point(point, "--as-of")?)?;
    }
    if let Some(point) = &time.since {
        view = view.since(time_point(point, "--since")?)?;
    }
    if time.history {
        view = view.history();
    }
    Ok(view)
}

/// A t or tx id (a number), or an instant.
fn time_point(text: &str, option: &str) -> Outcome<TimePoint> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(TimePoint::from(n));
    }
    Instant::parse(text).map(TimePoint::Instant).map_err(|e| {
        Failure::invalid(format!(
            "{option} {text}: not a t, a tx id or an instant like 2024-01-01T00:00:00Z ({e})"
        ))
    })
}
