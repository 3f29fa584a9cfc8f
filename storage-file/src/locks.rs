//! The exclusive lock under which a root changes.
//!
//! Two levels, because an OS file lock (`flock`, via `File::lock`) belongs
//! to an open file and says nothing about tasks sharing it:
//!
//! - within the process, an async mutex per root: tasks wait for it without
//!   holding a blocking thread, and it guards the root's open lock file;
//! - across processes, an exclusive `flock` on `locks/<root>`, taken in the
//!   blocking section. The kernel drops it when the holder exits or is
//!   killed, so a crash never leaves a stale lock behind.
//!
//! A lock held by another process for longer than [`LOCK_TIMEOUT`] (a
//! stopped or hung process) is [`storage_core::Error::Timeout`], not a
//! wait forever.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use storage_core::{Error, RootName};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::error::{BACKEND, FsResult, IoContext};

/// How long a CAS waits for another process to release a root's lock.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// The per-root lock slots of one open storage.
#[derive(Debug, Default)]
pub(crate) struct RootLocks {
    slots: Mutex<HashMap<RootName, Arc<AsyncMutex<LockFile>>>>,
}

impl RootLocks {
    /// Waits for this process's turn at root `name`.
    pub(crate) async fn acquire(&self, name: &RootName) -> OwnedMutexGuard<LockFile> {
        let slot = {
            // A panic while holding this mutex cannot leave the map
            // half-updated: the only critical section is one lookup/insert.
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(name.clone()).or_default().clone()
        };
        slot.lock_owned().await
    }
}

/// A root's lock file, opened on first use and kept open.
#[derive(Debug, Default)]
pub(crate) struct LockFile {
    file: Option<File>,
}

impl LockFile {
    /// Takes the exclusive file lock at `path` for the life of the returned
    /// guard, waiting up to [`LOCK_TIMEOUT`]. Blocking.
    pub(crate) fn hold(&mut self, path: &Path, op: &str) -> FsResult<Held<'_>> {
        let file = match self.file.take() {
            Some(file) => file,
            None => OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .at("open lock file", path)?,
        };
        wait_for_lock(self.file.insert(file), path, op, LOCK_TIMEOUT)?;
        Ok(Held {
            slot: &mut self.file,
        })
    }
}

fn wait_for_lock(file: &File, path: &Path, op: &str, timeout: Duration) -> FsResult<()> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(e)) => return Err(e).at("lock", path),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Timeout {
                    backend: BACKEND,
                    op: format!(
                        "{op}: another process held {} for {timeout:?}",
                        path.display()
                    ),
                }
                .into());
            }
        }
    }
}

/// A held file lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct Held<'a> {
    slot: &'a mut Option<File>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Some(file) = self.slot.as_ref() else {
            return;
        };
        if let Err(e) = file.unlock() {
            // Closing the file releases the lock for certain; the next CAS
            // opens it again.
            tracing::warn!(error = %e, "could not unlock a root lock file; closing it");
            *self.slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_lock_excludes_other_open_files_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut ours = LockFile::default();
        let held = ours.hold(&path, "test").unwrap();
        let other = File::open(&path).unwrap();
        assert!(
            matches!(other.try_lock(), Err(TryLockError::WouldBlock)),
            "a second open file must not get the lock"
        );
        drop(held);
        other.try_lock().unwrap();
        other.unlock().unwrap();
        drop(ours.hold(&path, "test").unwrap());
    }

    #[test]
    fn a_lock_held_too_long_is_a_timeout_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let holder = File::create(&path).unwrap();
        holder.lock().unwrap();
        let waiter = File::open(&path).unwrap();
        let started = Instant::now();
        let err = wait_for_lock(&waiter, &path, "cas_root r", Duration::from_millis(100))
            .unwrap_err()
            .into_storage("unused");
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(
            matches!(err, Error::Timeout { .. }) && err.is_retryable(),
            "{err}"
        );
        assert!(
            err.to_string().contains("cas_root r: another process held"),
            "{err}"
        );
        holder.unlock().unwrap();
        wait_for_lock(&waiter, &path, "cas_root r", Duration::from_millis(100)).unwrap();
    }
}
