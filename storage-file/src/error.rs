//! The one place where file-system failures become storage errors.
//!
//! The blocking code returns [`FsError`]: an I/O failure with what was being
//! done and to which path, or an already semantic [`Error`] (corruption,
//! invalid input). [`FsError::into_storage`] turns it into the error the
//! caller sees, naming the operation and the path.

use std::io;
use std::path::{Path, PathBuf};

use storage_core::Error;

/// The scheme, as it appears in every error.
pub(crate) const BACKEND: &str = "file";

/// A failure inside the blocking file code.
#[derive(Debug)]
pub(crate) enum FsError {
    /// A system call failed.
    Io {
        /// What was being done, e.g. "write temporary file".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error from the system.
        source: io::Error,
    },
    /// A semantic storage error (corruption, invalid input, unknown outcome).
    Storage(Error),
}

/// The result type of the blocking file code.
pub(crate) type FsResult<T> = Result<T, FsError>;

impl From<Error> for FsError {
    fn from(e: Error) -> Self {
        FsError::Storage(e)
    }
}

/// Attaches what was being done and to which path to an [`io::Result`].
pub(crate) trait IoContext<T> {
    /// Wraps the error with `action` and `path`.
    fn at(self, action: &'static str, path: &Path) -> FsResult<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> FsResult<T> {
        self.map_err(|source| FsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl FsError {
    /// The kind of the underlying I/O error, if this is one.
    pub(crate) fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            FsError::Io { source, .. } => Some(source.kind()),
            FsError::Storage(_) => None,
        }
    }

    /// The storage error for operation `op` (with its key, e.g.
    /// `put_segment 3f…`). A full disk or quota is
    /// [`Error::Unavailable`] (nothing was changed, retry once space is
    /// freed); every other I/O failure is [`Error::Backend`].
    pub(crate) fn into_storage(self, op: impl Into<String>) -> Error {
        let (action, path, source) = match self {
            FsError::Storage(e) => return e,
            FsError::Io {
                action,
                path,
                source,
            } => (action, path, source),
        };
        let detail = format!("cannot {action} {}: {}", path.display(), explain(&source));
        let op = op.into();
        let full = is_full(source.kind());
        let source = Some(Box::new(source) as storage_core::BoxError);
        if full {
            return Error::Unavailable {
                backend: BACKEND,
                op,
                detail,
                source,
            };
        }
        Error::Backend {
            backend: BACKEND,
            op,
            detail,
            source,
        }
    }
}

fn is_full(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The system's message plus what an operator should do about it.
fn explain(e: &io::Error) -> String {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "; permission denied: check the owner, mode and attributes (chattr) of the storage directory"
        }
        io::ErrorKind::StorageFull => "; the disk is full: free space, then retry",
        io::ErrorKind::QuotaExceeded => "; the disk quota is exhausted: free space, then retry",
        io::ErrorKind::ReadOnlyFilesystem => "; the file system is mounted read-only",
        io::ErrorKind::NotADirectory => "; a component of the path is a file, not a directory",
        _ => "",
    };
    format!("{e}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> FsError {
        FsError::Io {
            action: "write temporary file",
            path: PathBuf::from("/s/tmp/x.tmp"),
            source: io::Error::from(kind),
        }
    }

    #[test]
    fn full_disk_is_unavailable_and_other_failures_are_backend_errors() {
        let full = io(io::ErrorKind::StorageFull).into_storage("put_segment ab");
        assert!(matches!(full, Error::Unavailable { .. }), "{full}");
        assert!(full.is_retryable());
        let msg = full.to_string();
        assert!(
            msg.contains("put_segment ab")
                && msg.contains("/s/tmp/x.tmp")
                && msg.contains("disk is full"),
            "{msg}"
        );
        let denied = io(io::ErrorKind::PermissionDenied).into_storage("cas_root r");
        assert!(matches!(denied, Error::Backend { .. }), "{denied}");
        assert!(denied.to_string().contains("permission denied"), "{denied}");
    }

    #[test]
    fn semantic_errors_pass_through() {
        let e = FsError::from(Error::invalid("bad")).into_storage("op");
        assert!(matches!(e, Error::InvalidInput(m) if m == "bad"));
    }
}
