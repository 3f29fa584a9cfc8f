//! Crash-safe file replacement: temporary file → fsync → rename (or an
//! exclusive link) → fsync of the directory, and the sweeping of temporary
//! files a crash left behind.
//!
//! Every durable file of a storage (segments, roots, the format marker) is
//! written this way, so a reader sees either the old file or the complete
//! new one, never a torn one. Temporary files live in the storage's `tmp/`
//! directory, which no read or listing looks into.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{FsError, FsResult, IoContext};

/// A temporary file older than this is left over from a crash: no write
/// keeps its temporary file for more than the few milliseconds of a write
/// and an fsync. A writer that was paused longer than this loses its
/// temporary file and its rename fails with an error: never data loss.
pub(crate) const TEMP_FILE_MAX_AGE: Duration = Duration::from_secs(15 * 60);

pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// A temporary file whose bytes are on disk, waiting to be renamed into
/// place. Dropping it before [`Staged::rename_to`] succeeded removes the
/// file.
#[derive(Debug)]
pub(crate) struct Staged {
    path: PathBuf,
    placed: bool,
}

impl Staged {
    /// Writes `bytes` to a new file in `tmp_dir` and syncs its data.
    pub(crate) fn write(tmp_dir: &Path, bytes: &[u8]) -> FsResult<Staged> {
        let (file, path) = create_temp(tmp_dir)?;
        // From here on, dropping `staged` removes the file on any error.
        let staged = Staged {
            path,
            placed: false,
        };
        write_and_sync(file, bytes).at("write temporary file", &staged.path)?;
        Ok(staged)
    }

    /// Atomically renames the file to `target`, replacing what is there.
    /// The rename is visible at once but durable only after
    /// [`sync_dir`] of the target's directory.
    pub(crate) fn rename_to(&mut self, target: &Path) -> FsResult<()> {
        fs::rename(&self.path, target).at("rename a temporary file to", target)?;
        self.placed = true;
        Ok(())
    }
}

impl Staged {
    /// Links the file to `target` only if nothing is there yet: `Ok(true)`
    /// when `target` now names this file, `Ok(false)` when it already
    /// existed (it is left as it was). The link is visible at once and
    /// durable after [`sync_dir`] of the target's directory; the temporary
    /// name is still removed on drop.
    pub(crate) fn link_new(&self, target: &Path) -> FsResult<bool> {
        match fs::hard_link(&self.path, target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).at("link a temporary file to", target),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove temporary file; it will be swept later");
        }
    }
}

fn create_temp(tmp_dir: &Path) -> FsResult<(File, PathBuf)> {
    // 64 random bits make a clash between live writers practically
    // impossible; `create_new` makes even that one a retry, not an overwrite.
    const ATTEMPTS: usize = 4;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let path = tmp_dir.join(format!("{:016x}{TEMP_SUFFIX}", rand::random::<u64>()));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < ATTEMPTS => {}
            Err(e) => return Err(e).at("create temporary file", &path),
        }
    }
}

fn write_and_sync(mut file: File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    // fdatasync: the data and the file size, which is all a reader needs.
    file.sync_data()
}

/// Writes `bytes` to `target` durably: after this returns, `target` holds
/// `bytes` even across a crash, and at no instant does it hold anything
/// but its old content or `bytes`. A missing parent directory of `target`
/// is created (durably).
pub(crate) fn replace_durably(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> FsResult<()> {
    let dir = parent(target)?;
    let mut staged = Staged::write(tmp_dir, bytes)?;
    if let Err(e) = staged.rename_to(target) {
        if e.io_kind() != Some(io::ErrorKind::NotFound) {
            return Err(e);
        }
        create_dir_durably(dir)?;
        staged.rename_to(target)?;
    }
    sync_dir(dir)
}

/// Makes the entries of `dir` (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> FsResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .at("fsync directory", dir)
}

/// Creates `dir` if it is missing and makes its entry in the parent durable.
pub(crate) fn create_dir_durably(dir: &Path) -> FsResult<()> {
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent(dir)?),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e).at("create directory", dir),
    }
}

fn parent(path: &Path) -> FsResult<&Path> {
    path.parent().ok_or_else(|| {
        FsError::Storage(storage_core::Error::invalid(format!(
            "path {} has no parent directory",
            path.display()
        )))
    })
}

/// Removes the temporary files in `tmp_dir` last modified more than
/// `older_than` ago, and returns how many it removed. Failures are logged
/// and skipped: a sweep never fails the operation that triggered it.
pub(crate) fn sweep_temp_files(tmp_dir: &Path, older_than: Duration) -> usize {
    let entries = match fs::read_dir(tmp_dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(dir = %tmp_dir.display(), error = %e, "cannot list temporary files to sweep");
            return 0;
        }
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_temp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX));
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| now.duration_since(t).unwrap_or_default());
        match age {
            Ok(age) if is_temp && age >= older_than => match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot sweep temporary file")
                }
            },
            _ => {}
        }
    }
    if removed > 0 {
        tracing::info!(dir = %tmp_dir.display(), removed, "swept temporary files left by a crash");
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn replace_writes_atomically_and_leaves_no_temp_file() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let target = root.path().join("sub").join("file");
        replace_durably(&tmp, &target, b"one").unwrap();
        replace_durably(&tmp, &target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(count(&tmp), 0);
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        // The target is an existing non-empty directory: rename must fail.
        let target = root.path().join("occupied");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        let err = replace_durably(&tmp, &target, b"data").unwrap_err();
        assert!(
            matches!(&err, FsError::Io { action, .. } if action.contains("rename")),
            "{err:?}"
        );
        assert_eq!(count(&tmp), 0, "the temporary file was left behind");
    }

    #[test]
    fn sweep_removes_only_old_temporary_files() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path();
        let leftover = Staged::write(tmp, b"left by a crash").unwrap();
        std::mem::forget(leftover);
        fs::write(tmp.join("not-a-temp-file"), b"x").unwrap();
        assert_eq!(sweep_temp_files(tmp, Duration::from_secs(3600)), 0);
        assert_eq!(sweep_temp_files(tmp, Duration::ZERO), 1);
        assert_eq!(count(tmp), 1, "the other file must stay");
    }
}
