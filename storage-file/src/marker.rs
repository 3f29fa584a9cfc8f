//! Opening a storage directory: creating it on first use, and refusing a
//! directory that is something else or was written by a newer version.
//!
//! A storage directory is recognised by its format marker, the file
//! `ACCRETE-STORAGE`:
//!
//! ```text
//! accrete file storage
//! format 2
//! ```
//!
//! Format 2 keeps each root as a directory of revision files (`roots.rs`);
//! format 1 kept one record per root under a lock. A format-1 storage is
//! read as it is and upgraded by its first root CAS: the marker says
//! format 2 before the first revision file is written, so that an older
//! accrete started afterwards refuses the storage instead of writing
//! format-1 roots that this one would not read. (Stop older processes
//! before a newer one writes to their storage.)
//!
//! The marker is written last when a directory is initialised, so a crash
//! during initialisation leaves a directory holding only empty
//! subdirectories, which the next open initialises again.

use std::fs;
use std::io;
use std::path::Path;

use storage_core::Error;

use crate::durable::{create_dir_durably, replace_durably, sync_dir};
use crate::error::{FsResult, IoContext};
use crate::layout::{LOCKS, Layout, REVISIONS, ROOTS, SEGMENTS, TMP};

/// The name of the format marker file.
pub(crate) const MARKER: &str = "ACCRETE-STORAGE";
/// The storage format this build writes.
pub(crate) const FORMAT: u32 = 2;
/// The oldest format this build reads (and upgrades on its first CAS).
const FORMAT_1: u32 = 1;
const FIRST_LINE: &str = "accrete file storage";

/// Opens the storage directory at `path`: creates the directory if it is
/// missing (its parent must exist), initialises it if it is empty, and
/// checks its marker otherwise. Returns the layout and the storage's
/// format. (The tests' shorthand for [`prepare_as`].)
#[cfg(test)]
pub(crate) fn prepare(path: &Path) -> FsResult<(Layout, u32)> {
    prepare_as(path, Create::IfMissing)
}

/// Whether opening may create and initialise the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Create a missing directory and initialise an empty one.
    IfMissing,
    /// Only open a storage that is there: a missing or empty directory
    /// is an error saying so.
    Never,
}

/// [`prepare`], creating only as `create` allows.
pub(crate) fn prepare_as(path: &Path, create: Create) -> FsResult<(Layout, u32)> {
    let dir = std::path::absolute(path).at("resolve the storage path", path)?;
    if create == Create::Never {
        ensure_existing(&dir)?;
    }
    ensure_directory(&dir)?;
    let layout = Layout::new(dir);
    let marker = layout.dir().join(MARKER);
    let format = match fs::read(&marker) {
        Ok(text) => check_marker(&marker, &text)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound && create == Create::Never => {
            return Err(no_storage(layout.dir(), "the directory holds none").into());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            initialise(&layout)?;
            FORMAT
        }
        Err(e) => return Err(e).at("read the format marker", &marker),
    };
    check_subdirectories(&layout, format)?;
    Ok((layout, format))
}

/// Makes a format-1 storage format 2, before its first revision file is
/// written: creates `revisions/`, then rewrites the marker. Idempotent;
/// a storage of format 2 is left alone.
pub(crate) fn upgrade(layout: &Layout) -> FsResult<()> {
    let marker = layout.dir().join(MARKER);
    let text = fs::read(&marker).at("read the format marker", &marker)?;
    if check_marker(&marker, &text)? >= FORMAT {
        return Ok(());
    }
    create_dir_durably(layout.all_revisions())?;
    write_marker(layout)?;
    tracing::info!(dir = %layout.dir().display(), format = FORMAT, "upgraded the storage format on its first root write");
    Ok(())
}

fn write_marker(layout: &Layout) -> FsResult<()> {
    let text = format!("{FIRST_LINE}\nformat {FORMAT}\n");
    replace_durably(layout.tmp(), &layout.dir().join(MARKER), text.as_bytes())
}

pub(crate) fn no_storage(dir: &Path, why: &str) -> Error {
    Error::invalid(format!(
        "there is no accrete storage at {}: {why} (check the path)",
        dir.display()
    ))
}

fn below_a_file(dir: &Path) -> Error {
    Error::invalid(format!(
        "storage path {}: a component of the path is a file, not a directory",
        dir.display()
    ))
}

/// Refuses a storage path that does not exist.
fn ensure_existing(dir: &Path) -> FsResult<()> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(no_storage(dir, "the directory does not exist").into())
        }
        _ => Ok(()),
    }
}

fn ensure_directory(dir: &Path) -> FsResult<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(format!(
            "storage path {} is a file, not a directory",
            dir.display()
        ))
        .into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_storage_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Err(below_a_file(dir).into()),
        Err(e) => Err(e).at("inspect the storage directory", dir),
    }
}

fn create_storage_dir(dir: &Path) -> FsResult<()> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return ensure_directory(dir),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(below_a_file(dir).into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = dir.parent().unwrap_or(dir);
            return Err(Error::invalid(format!(
                "storage directory {} does not exist and cannot be created: its parent {} does not exist either (create it, or check the path)",
                dir.display(),
                parent.display()
            ))
            .into());
        }
        Err(e) => return Err(e).at("create the storage directory", dir),
    }
    tracing::info!(dir = %dir.display(), "created storage directory");
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

fn initialise(layout: &Layout) -> FsResult<()> {
    let dir = layout.dir();
    let entries = fs::read_dir(dir).at("list the storage directory", dir)?;
    for entry in entries {
        let entry = entry.at("list the storage directory", dir)?;
        let name = entry.file_name();
        let ours = [SEGMENTS, ROOTS, REVISIONS, LOCKS, TMP]
            .iter()
            .any(|s| name == *s);
        if !ours {
            return Err(Error::invalid(format!(
                "directory {} is not an accrete storage: it has no {MARKER} file and is not empty (it holds `{}`); use an empty directory or a new path",
                dir.display(),
                name.to_string_lossy()
            ))
            .into());
        }
    }
    for sub in [SEGMENTS, ROOTS, REVISIONS, TMP] {
        create_dir_durably(&dir.join(sub))?;
    }
    write_marker(layout)?;
    tracing::info!(dir = %dir.display(), format = FORMAT, "initialised storage directory");
    Ok(())
}

/// The format a marker names, if this build reads it.
fn check_marker(path: &Path, text: &[u8]) -> FsResult<u32> {
    let not_ours = || {
        Error::invalid(format!(
            "{} is not an accrete storage marker: this directory is something else",
            path.display()
        ))
    };
    let text = std::str::from_utf8(text).map_err(|_| not_ours())?;
    let mut lines = text.lines();
    if lines.next() != Some(FIRST_LINE) {
        return Err(not_ours().into());
    }
    let format: u32 = lines
        .next()
        .and_then(|l| l.strip_prefix("format "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_ours)?;
    if format > FORMAT {
        return Err(Error::invalid(format!(
            "storage {} was written by a newer accrete (storage format {format}); this build reads format {FORMAT}: upgrade accrete",
            path.parent().unwrap_or(path).display()
        ))
        .into());
    }
    if format < FORMAT_1 {
        return Err(not_ours().into());
    }
    Ok(format)
}

/// Segments and roots (and in format 2 the root revisions) hold the data:
/// if one is missing the storage is damaged and must not look empty.
/// Temporary files hold nothing durable and their directory is recreated.
fn check_subdirectories(layout: &Layout, format: u32) -> FsResult<()> {
    let dir = layout.dir();
    let data: &[&str] = if format >= FORMAT {
        &[SEGMENTS, ROOTS, REVISIONS]
    } else {
        &[SEGMENTS, ROOTS]
    };
    for &sub in data {
        if !dir.join(sub).is_dir() {
            return Err(Error::Corruption {
                what: format!("storage directory {}", dir.display()),
                detail: format!(
                    "its `{sub}` subdirectory is missing: the storage is damaged (restore it from a backup)"
                ),
            }
            .into());
        }
    }
    create_dir_durably(layout.tmp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the marker a new storage gets (write it anew with
    /// `ACCRETE_BLESS=1` only together with a format change).
    #[test]
    fn a_new_storage_gets_the_pinned_marker() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, format) = prepare(&dir.path().join("store")).unwrap();
        assert_eq!(format, FORMAT);
        let written = fs::read(layout.dir().join(MARKER)).unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/ACCRETE-STORAGE-v2"
        );
        if std::env::var_os("ACCRETE_BLESS").is_some() {
            fs::write(path, &written).unwrap();
        }
        assert_eq!(fs::read(path).unwrap(), written, "the marker changed");
        assert_eq!(check_marker(Path::new(path), &written).unwrap(), FORMAT);
    }

    #[test]
    fn opening_only_existing_storage_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join("typo");
        let err = prepare_as(&typo, Create::Never)
            .unwrap_err()
            .into_storage("open");
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert!(
            err.to_string().contains("directory does not exist"),
            "{err}"
        );
        assert!(!typo.exists(), "a missing storage was created");
        fs::create_dir(&typo).unwrap();
        let err = prepare_as(&typo, Create::Never)
            .unwrap_err()
            .into_storage("open");
        assert!(err.to_string().contains("no accrete storage"), "{err}");
        assert_eq!(
            fs::read_dir(&typo).unwrap().count(),
            0,
            "it was initialised"
        );
        prepare(&typo).unwrap();
        prepare_as(&typo, Create::Never).unwrap();
    }

    #[test]
    fn a_path_below_a_file_is_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        for create in [Create::IfMissing, Create::Never] {
            let err = prepare_as(&file.join("store"), create)
                .unwrap_err()
                .into_storage("open");
            assert!(matches!(err, Error::InvalidInput(_)), "{err}");
            assert!(
                err.to_string()
                    .contains("a component of the path is a file"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_format_1_storage_opens_and_is_upgraded_by_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        for sub in [SEGMENTS, ROOTS, LOCKS, TMP] {
            fs::create_dir_all(store.join(sub)).unwrap();
        }
        let v1 = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/ACCRETE-STORAGE-v1"
        );
        fs::copy(v1, store.join(MARKER)).unwrap();
        let (layout, format) = prepare(&store).unwrap();
        assert_eq!(format, FORMAT_1);
        assert!(
            !store.join(REVISIONS).exists(),
            "opening writes no format 2"
        );
        upgrade(&layout).unwrap();
        assert!(store.join(REVISIONS).is_dir());
        assert_eq!(prepare(&store).unwrap().1, FORMAT);
        upgrade(&layout).unwrap();
    }
}
