//! Where everything lives inside a storage directory.
//!
//! ```text
//! DIR/ACCRETE-STORAGE          format marker (see `marker.rs`)
//! DIR/segments/3f/3f9a…(64 hex) one file per segment, fanned out by the
//!                               first byte of the id into 256 directories
//! DIR/revisions/db~orders~log/02305843009213693952
//!                               one immutable record per revision of a
//!                               root (the recent ones; see `roots.rs`)
//! DIR/revisions/db~orders~log/00000000000000000000
//!                               the record a root was created with, at
//!                               its random origin revision (the creation
//!                               slot: no revision is 0)
//! DIR/roots/db~orders~log      a format-1 storage's single record of a
//!                               root: read until the root's first
//!                               revision file is written
//! DIR/locks/                   format 1's lock files, no longer used
//! DIR/tmp/                     temporary files, renamed or linked into place
//! ```
//!
//! Root names contain `/`; the file name replaces each `/` by `~`, which a
//! root name can never contain, so the mapping is one-to-one. Names are at
//! most 200 bytes, under every file system's limit of 255. Revision files
//! are named by their revision in 20 decimal digits, so that their names
//! sort as their numbers do.

use std::path::{Path, PathBuf};

use storage_core::{RootName, SegmentId};

/// The subdirectory holding segments.
pub(crate) const SEGMENTS: &str = "segments";
/// The subdirectory holding root records.
pub(crate) const ROOTS: &str = "roots";
/// The subdirectory holding each root's revision files.
pub(crate) const REVISIONS: &str = "revisions";
/// The subdirectory of format 1's lock files (kept, never used).
pub(crate) const LOCKS: &str = "locks";
/// The subdirectory holding temporary files.
pub(crate) const TMP: &str = "tmp";

/// The paths of one storage directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
    segments: PathBuf,
    roots: PathBuf,
    revisions: PathBuf,
    tmp: PathBuf,
}

impl Layout {
    /// The layout of the storage in `dir` (an absolute path).
    pub(crate) fn new(dir: PathBuf) -> Self {
        Layout {
            segments: dir.join(SEGMENTS),
            roots: dir.join(ROOTS),
            revisions: dir.join(REVISIONS),
            tmp: dir.join(TMP),
            dir,
        }
    }

    /// The storage directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of segment files whose id starts with byte `prefix`.
    pub(crate) fn fanout(&self, prefix: u8) -> PathBuf {
        self.segments.join(format!("{prefix:02x}"))
    }

    /// The file of segment `id`.
    pub(crate) fn segment(&self, id: &SegmentId) -> PathBuf {
        self.fanout(id.as_bytes()[0]).join(id.to_hex())
    }

    /// The format-1 record file of root `name`.
    pub(crate) fn legacy_root(&self, name: &RootName) -> PathBuf {
        self.roots.join(file_name(name))
    }

    /// The directory of every root's revision directory.
    pub(crate) fn all_revisions(&self) -> &Path {
        &self.revisions
    }

    /// The directory of the revision files of root `name`.
    pub(crate) fn revisions(&self, name: &RootName) -> PathBuf {
        self.revisions.join(file_name(name))
    }

    /// The file of revision `revision` in a root's revision directory `dir`.
    pub(crate) fn revision(dir: &Path, revision: u64) -> PathBuf {
        dir.join(revision_file_name(revision))
    }

    /// The directory of temporary files.
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }
}

/// The root a file in `roots/` holds, if its name is one (`~` back to `/`).
pub(crate) fn root_of_file(file_name: &str) -> Option<RootName> {
    RootName::new(file_name.replace('~', "/")).ok()
}

/// The file name of root `name`: `/` becomes `~`.
fn file_name(name: &RootName) -> String {
    name.as_str().replace('/', "~")
}

/// The file number, in a root's revision directory, of the record the
/// root was created with (whatever its revision): no revision is 0, so the
/// name is free for exactly one creator, and it sorts below every revision.
pub(crate) const CREATION_SLOT: u64 = 0;

/// The file name of a revision: 20 decimal digits, enough for any `u64`.
fn revision_file_name(revision: u64) -> String {
    format!("{revision:020}")
}

/// The revision a file in a revision directory holds, or `None` for a
/// name that is not a revision file's.
pub(crate) fn parse_revision(file_name: &str) -> Option<u64> {
    let all_digits = file_name.len() == 20 && file_name.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| file_name.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_file_names_are_flat_and_distinct() {
        let layout = Layout::new(PathBuf::from("/s"));
        let log = RootName::new("db/orders/log").unwrap();
        assert_eq!(
            layout.legacy_root(&log),
            PathBuf::from("/s/roots/db~orders~log")
        );
        let dir = layout.revisions(&log);
        assert_eq!(dir, PathBuf::from("/s/revisions/db~orders~log"));
        assert_eq!(
            Layout::revision(&dir, 42),
            PathBuf::from("/s/revisions/db~orders~log/00000000000000000042")
        );
        let flat = RootName::new("db.orders.log").unwrap();
        assert_ne!(layout.revisions(&log), layout.revisions(&flat));
        let longest = RootName::new(format!("db/{}", "n".repeat(197))).unwrap();
        let file = layout.revisions(&longest);
        assert!(file.file_name().unwrap().len() <= 255);
        assert_eq!(file.parent().unwrap(), Path::new("/s/revisions"));
    }

    #[test]
    fn revision_file_names_sort_as_numbers_and_parse_back() {
        for n in [1, 9, 10, u64::MAX] {
            assert_eq!(parse_revision(&revision_file_name(n)), Some(n));
        }
        assert!(revision_file_name(9) < revision_file_name(10));
        // Origins are anywhere below 2^62, and revisions count on from there.
        let big = [1 << 62, (1 << 62) + 1, 999_999_999_999, u64::MAX];
        for n in big {
            assert_eq!(parse_revision(&revision_file_name(n)), Some(n));
        }
        assert!(revision_file_name(999_999_999_999) < revision_file_name(1 << 62));
        assert_eq!(parse_revision(&revision_file_name(CREATION_SLOT)), Some(0));
        assert!(revision_file_name(CREATION_SLOT) < revision_file_name(1));
        for stray in ["", "42", "0000000000000000004x", "000000000000000000042"] {
            assert_eq!(parse_revision(stray), None, "{stray}");
        }
        // 20 digits above u64::MAX are not a revision.
        assert_eq!(parse_revision("99999999999999999999"), None);
    }

    #[test]
    fn segments_fan_out_by_their_first_byte() {
        let layout = Layout::new(PathBuf::from("/s"));
        let id = SegmentId::of(b"");
        assert_eq!(
            layout.segment(&id),
            PathBuf::from(format!("/s/segments/af/{id}"))
        );
    }
}
