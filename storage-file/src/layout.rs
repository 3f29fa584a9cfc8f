//! Where everything lives inside a storage directory.
//!
//! ```text
//! DIR/ACCRETE-STORAGE          format marker (see `marker.rs`)
//! DIR/segments/3f/3f9a…(64 hex) one file per segment, fanned out by the
//!                               first byte of the id into 256 directories
//! DIR/roots/db~orders~log      one self-verifying record per root
//! DIR/locks/db~orders~log      the lock file taken for a root's CAS
//! DIR/tmp/                     temporary files, renamed into place
//! ```
//!
//! Root names contain `/`; the file name replaces each `/` by `~`, which a
//! root name can never contain, so the mapping is one-to-one and creates no
//! directories. Names are at most 200 bytes, under every file system's
//! limit of 255.

use std::path::{Path, PathBuf};

use storage_core::{RootName, SegmentId};

/// The subdirectory holding segments.
pub(crate) const SEGMENTS: &str = "segments";
/// The subdirectory holding root records.
pub(crate) const ROOTS: &str = "roots";
/// The subdirectory holding lock files.
pub(crate) const LOCKS: &str = "locks";
/// The subdirectory holding temporary files.
pub(crate) const TMP: &str = "tmp";

/// The paths of one storage directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
    segments: PathBuf,
    roots: PathBuf,
    locks: PathBuf,
    tmp: PathBuf,
}

impl Layout {
    /// The layout of the storage in `dir` (an absolute path).
    pub(crate) fn new(dir: PathBuf) -> Self {
        Layout {
            segments: dir.join(SEGMENTS),
            roots: dir.join(ROOTS),
            locks: dir.join(LOCKS),
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

    /// The directory of root records.
    pub(crate) fn roots(&self) -> &Path {
        &self.roots
    }

    /// The record file of root `name`.
    pub(crate) fn root(&self, name: &RootName) -> PathBuf {
        self.roots.join(file_name(name))
    }

    /// The lock file of root `name`.
    pub(crate) fn lock(&self, name: &RootName) -> PathBuf {
        self.locks.join(file_name(name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_file_names_are_flat_and_distinct() {
        let layout = Layout::new(PathBuf::from("/s"));
        let log = RootName::new("db/orders/log").unwrap();
        assert_eq!(layout.root(&log), PathBuf::from("/s/roots/db~orders~log"));
        assert_eq!(layout.lock(&log), PathBuf::from("/s/locks/db~orders~log"));
        let flat = RootName::new("db.orders.log").unwrap();
        assert_ne!(layout.root(&log), layout.root(&flat));
        let longest = RootName::new(format!("db/{}", "n".repeat(197))).unwrap();
        let file = layout.root(&longest);
        assert!(file.file_name().unwrap().len() <= 255);
        assert_eq!(file.parent().unwrap(), Path::new("/s/roots"));
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
