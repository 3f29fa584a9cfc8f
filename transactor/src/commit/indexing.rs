//! When indexing jobs run: one at a time, in the background, once novelty
//! passes the threshold or an excision was committed; its result rides in
//! the next log-root compare-and-swap.

use std::time::Duration;

use index::{IndexJob, LogRoot, Segments};
use model::Db;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::Config;
use crate::error::{Error, ErrorKind};

/// The wait before a failed job is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The indexing schedule of one transactor.
#[derive(Debug, Default)]
pub(crate) struct Indexing {
    running: Option<(JoinHandle<index::Result<IndexJob>>, Instant)>,
    /// A finished job and how long it ran.
    ready: Option<(IndexJob, Duration)>,
    /// The t of the latest committed excision request no committed job
    /// covers yet.
    excision_t: Option<u64>,
    /// After a failure, no job starts before this.
    not_before: Option<Instant>,
}

impl Indexing {
    /// Notes that transaction `t`, committed, recorded an excision request.
    pub(crate) fn excision_committed(&mut self, t: u64) {
        self.excision_t = Some(t);
    }

    /// Starts a job on `db` (whose log root is `root`) when one is due, or
    /// `forced` (someone waits for an index) and there is novelty.
    pub(crate) fn maybe_start(
        &mut self,
        seg: &Segments,
        db: &Db,
        root: &LogRoot,
        config: &Config,
        forced: bool,
    ) {
        let idle = self.running.is_none() && self.ready.is_none();
        let due = db.novelty_len() >= config.index_threshold_for(db)
            || self.excision_t.is_some()
            || (forced && db.novelty_len() > 0);
        let allowed = self.not_before.is_none_or(|t| Instant::now() >= t);
        if !(idle && due && allowed) {
            return;
        }
        let (seg, db, root) = (seg.clone(), db.clone(), root.clone());
        tracing::info!(
            basis_t = db.basis_t(),
            novelty = db.novelty_len(),
            "indexing job started"
        );
        let job =
            tokio::spawn(async move { index::index_db(&seg, &db, &root).await }.in_current_span());
        self.running = Some((job, Instant::now()));
    }

    /// True while a job runs.
    pub(crate) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// True when a finished job waits to be committed.
    pub(crate) fn has_ready(&self) -> bool {
        self.ready.is_some()
    }

    /// Waits for the running job to finish, or for a failed one's retry to
    /// become due (forever when neither is pending).
    pub(crate) async fn finished(&mut self) {
        let Some((handle, started)) = self.running.as_mut() else {
            match self.not_before {
                Some(t) if Instant::now() < t => tokio::time::sleep_until(t).await,
                _ => std::future::pending().await,
            }
            return;
        };
        let outcome = handle.await;
        let ran = started.elapsed();
        self.running = None;
        match outcome {
            Ok(Ok(job)) => {
                tracing::info!(
                    basis_t = job.basis_t,
                    merged = job.stats.datoms_merged,
                    ?ran,
                    "indexing job finished"
                );
                self.ready = Some((job, ran));
            }
            Ok(Err(e)) => self.failed(Error::from(e)),
            Err(e) => self.failed(Error::new(
                ErrorKind::Internal,
                format!("the indexing job panicked: {e}"),
            )),
        }
    }

    fn failed(&mut self, e: Error) {
        tracing::error!(error = %e, "indexing job failed; will retry");
        self.not_before = Some(Instant::now() + RETRY_AFTER);
    }

    /// The finished job, for the next commit to carry.
    pub(crate) fn ready(&self) -> Option<&IndexJob> {
        self.ready.as_ref().map(|(job, _)| job)
    }

    /// The finished job was committed: forget it. Returns it and how long
    /// it ran.
    pub(crate) fn committed(&mut self) -> Option<(IndexJob, Duration)> {
        let (job, ran) = self.ready.take()?;
        if self.excision_t.is_some_and(|t| t <= job.basis_t) {
            self.excision_t = None;
        }
        Some((job, ran))
    }
}

impl Indexing {
    /// Lets a running job finish (its result is dropped): its blocking
    /// reads need the runtime, so it should not be left behind when the
    /// runtime shuts down. One still running at `deadline` (storage hangs)
    /// is left to end on its own (not aborted: its blocking reads would
    /// then wait out their fetch timeout), so that stopping stays bounded.
    pub(crate) async fn stop(&mut self, deadline: Instant) {
        if let Some((mut job, _)) = self.running.take()
            && tokio::time::timeout_at(deadline, &mut job).await.is_err()
        {
            tracing::warn!("the indexing job did not finish in time; left it to end on its own");
        }
    }
}

impl Drop for Indexing {
    fn drop(&mut self) {
        if let Some((job, _)) = &self.running {
            job.abort();
        }
    }
}
