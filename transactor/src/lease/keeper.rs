//! The holder's side of a lease: a task that renews it every ttl/3 and says
//! when it was taken over — or when it could not renew for a whole ttl.
//!
//! A holder that has gone one ttl without a successful renewal, measured on
//! its own monotonic clock from when it *sent* the last write that applied,
//! steps down: by then a standby may have seen the lease unchanged for the
//! ttl and taken over (a standby starts its count only once it has read
//! that write, which is later), so this holder must accept no more
//! transactions. A renewal that hangs in storage is given up at that
//! deadline too.

use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Epoch, Lease};
use crate::error::{ErrorKind, Result};

/// Renews a held lease in the background until stopped or deposed.
#[derive(Debug)]
pub struct LeaseKeeper {
    epoch: Epoch,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<Lease>>,
    deposed: watch::Receiver<Option<String>>,
}

impl LeaseKeeper {
    /// Starts renewing `lease`.
    pub fn start(lease: Lease) -> LeaseKeeper {
        let (stop, stopped) = oneshot::channel();
        let (tell, deposed) = watch::channel(None);
        let epoch = lease.epoch();
        let task = tokio::spawn(renew_until(lease, stopped, tell));
        LeaseKeeper {
            epoch,
            stop: Some(stop),
            task,
            deposed,
        }
    }

    /// The epoch of the held lease.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Becomes `Some(why)` once a renewal found the lease taken over, or
    /// once the holder went a whole ttl without renewing and stepped down.
    pub fn deposed(&self) -> watch::Receiver<Option<String>> {
        self.deposed.clone()
    }

    /// Stops renewing; with `release`, gives the lease up for the next
    /// claimant (unless it was lost already).
    pub async fn stop(mut self, release: bool) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            // The task may have ended already (deposed); then nothing waits.
            let _ = stop.send(());
        }
        let lease = (&mut self.task).await.ok().flatten();
        match (release, lease) {
            (true, Some(lease)) => lease.release().await,
            _ => Ok(()),
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

/// Renews every ttl/3; gives the lease back when stopped, `None` when it
/// was lost or lapsed.
async fn renew_until(
    mut lease: Lease,
    mut stopped: oneshot::Receiver<()>,
    tell: watch::Sender<Option<String>>,
) -> Option<Lease> {
    let interval = lease.renew_interval().max(Duration::from_millis(1));
    loop {
        let deadline = lease.renewed() + lease.ttl();
        let next = (Instant::now() + interval).min(deadline);
        tokio::select! {
            _ = &mut stopped => return Some(lease),
            () = tokio::time::sleep_until(next) => {}
        }
        let failure = match tokio::time::timeout_at(deadline, lease.renew()).await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) if e.kind() == ErrorKind::Fenced => {
                tracing::warn!(epoch = %lease.epoch(), error = %e, "lease lost");
                tell.send_replace(Some(e.message().to_string()));
                return None;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the renewal did not finish".to_string(),
        };
        if Instant::now() >= deadline {
            let why = format!(
                "lease of epoch {} not renewed for its ttl of {:?} ({failure}): stepping down, no more transactions",
                lease.epoch(),
                lease.ttl()
            );
            tracing::warn!(epoch = %lease.epoch(), "{why}");
            tell.send_replace(Some(why));
            return None;
        }
        tracing::warn!(epoch = %lease.epoch(), error = %failure, "lease renewal failed; will retry");
    }
}
