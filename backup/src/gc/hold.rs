//! Holds: a restore or a backup in progress pauses deletion in the storage
//! it writes to.
//!
//! A copy skips the segments its target already has, so for its whole run
//! it relies on segments that no root of the target reaches yet and that
//! may be old: exactly what a sweep deletes. The copy therefore registers a
//! hold in `gc/state` first and waits until no sweep lease is running (a
//! sweep renews its lease by compare-and-swap before every batch, which
//! fails once the hold is there, so it stops within one batch). While the
//! hold lasts no sweep starts. The hold is released at the end, and lapses
//! after [`HOLD_TTL`] if its holder crashed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use storage_core::Storage;
use uuid::Uuid;

use crate::error::Result;
use crate::gc::record::{self, Hold};
use crate::gc::sweep::SWEEP_LEASE_MS;
use crate::location::now_ms;

/// How long a hold lasts if it is never released.
pub const HOLD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a new holder looks whether a running sweep has stopped.
const POLL: Duration = Duration::from_millis(50);

/// Runs `work` while holding `storage` against deletion; `what` names the
/// holder in gc's reports. The hold is released whether `work` succeeds or
/// fails.
pub async fn while_held<T>(
    storage: &Arc<dyn Storage>,
    what: &str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let id = acquire(storage, what).await?;
    let result = work.await;
    let released = release(storage, id).await;
    let value = result?;
    released?;
    Ok(value)
}

async fn acquire(storage: &Arc<dyn Storage>, what: &str) -> Result<Uuid> {
    let id = Uuid::new_v4();
    record::update_root(storage, |current| {
        let now = now_ms();
        let mut next = current.clone();
        next.holds.retain(|h| h.expires_ms > now);
        next.holds.push(Hold {
            id,
            what: what.to_string(),
            started_ms: now,
            expires_ms: now + HOLD_TTL.as_millis() as u64,
        });
        Ok(Some((next, ())))
    })
    .await?;
    wait_for_sweep(storage).await?;
    Ok(id)
}

/// Waits until no sweep lease is running (or it lapsed).
async fn wait_for_sweep(storage: &Arc<dyn Storage>) -> Result<()> {
    let deadline = now_ms() + 2 * SWEEP_LEASE_MS;
    loop {
        let (current, _) = record::read_root(storage).await?;
        let running = current
            .sweep
            .as_ref()
            .is_some_and(|s| s.until_ms > now_ms());
        if !running || now_ms() > deadline {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn release(storage: &Arc<dyn Storage>, id: Uuid) -> Result<()> {
    record::update_root(storage, |current| {
        if !current.holds.iter().any(|h| h.id == id) {
            return Ok(None);
        }
        let mut next = current.clone();
        next.holds.retain(|h| h.id != id);
        Ok(Some((next, ())))
    })
    .await?;
    Ok(())
}
