//! [`FileStorage`]: the [`Storage`] trait over a local directory.
//!
//! Every operation runs its file work as one `spawn_blocking` task, so no
//! system call (and no hashing of a megabyte segment) ever runs on an async
//! worker thread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use storage_core::{
    CasOutcome, Error, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId,
    SegmentInfoPage, SegmentPage, Storage, check_list_limit,
};

use crate::durable::{TEMP_FILE_MAX_AGE, sweep_temp_files};
use crate::error::{BACKEND, FsError, FsResult, IoContext};
use crate::layout::{Layout, root_of_file};
use crate::marker::{Create, no_storage};
use crate::{marker, roots, segments};

/// A storage in a local directory (`file:` URIs).
///
/// Cheap to clone. Several processes may open the same directory at once:
/// a root changes by creating its next revision file exclusively, so
/// compare-and-swap is exact across all of them, and no process, however
/// stalled, holds up another.
#[derive(Clone)]
pub struct FileStorage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    /// False until this handle knows the storage is of the current format
    /// (a format-1 storage is upgraded by its first CAS).
    upgraded: AtomicBool,
}

impl Inner {
    /// Upgrades a format-1 storage before its first root write. Blocking.
    fn upgrade_once(&self) -> FsResult<()> {
        if !self.upgraded.load(Ordering::Acquire) {
            marker::upgrade(&self.layout)?;
            self.upgraded.store(true, Ordering::Release);
        }
        Ok(())
    }
}

impl fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileStorage({})", self.path().display())
    }
}

impl FileStorage {
    /// Opens the storage in directory `path` (absolute, or relative to the
    /// current directory).
    ///
    /// A missing directory is created if its parent exists; an empty one is
    /// initialised with the format marker `ACCRETE-STORAGE`. A path that is
    /// a file, a non-empty directory without the marker, or a storage of a
    /// newer format is refused with [`Error::InvalidInput`] saying which.
    /// Temporary files left by a crash long ago are swept.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_as(path.as_ref(), Create::IfMissing).await
    }

    /// Opens the storage in directory `path` only if there is one: a
    /// missing directory, or one without the format marker, is
    /// [`Error::InvalidInput`] saying there is no storage there, and
    /// nothing is created. For commands that only read.
    pub async fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_as(path.as_ref(), Create::Never).await
    }

    async fn open_as(path: &Path, create: Create) -> Result<Self> {
        let path = path.to_path_buf();
        let op = format!("open {}", path.display());
        let (layout, format) = blocking(op, move || {
            let prepared = marker::prepare_as(&path, create)?;
            sweep_temp_files(prepared.0.tmp(), TEMP_FILE_MAX_AGE);
            Ok(prepared)
        })
        .await?;
        Ok(FileStorage {
            inner: Arc::new(Inner {
                layout,
                upgraded: AtomicBool::new(format >= marker::FORMAT),
            }),
        })
    }

    /// The storage directory, as an absolute path.
    pub fn path(&self) -> &Path {
        self.inner.layout.dir()
    }

    /// The file that holds segment `id` (present or not): for tools and
    /// tests that inspect the directory.
    pub fn segment_path(&self, id: &SegmentId) -> PathBuf {
        self.inner.layout.segment(id)
    }

    /// Removes temporary files that were last written more than
    /// `older_than` ago (left behind by a crashed writer), returning how
    /// many. [`FileStorage::open`] does this with an age of 15 minutes;
    /// pass [`Duration::ZERO`] only when no other process writes to the
    /// directory, or their writes in flight fail (never silently).
    pub async fn sweep_temp_files(&self, older_than: Duration) -> Result<usize> {
        let inner = self.inner.clone();
        blocking("sweep_temp_files".into(), move || {
            Ok(sweep_temp_files(inner.layout.tmp(), older_than))
        })
        .await
    }

    /// Runs `f` on the layout in one blocking task, naming `op` in errors.
    async fn run<T, F>(&self, op: String, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Layout) -> FsResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(op, move || {
            f(&inner.layout).map_err(|e| vanished(&inner.layout, e))
        })
        .await
    }
}

/// A path not found because the whole storage directory was removed while
/// in use is the same condition as a storage missing at open (invalid
/// input: check the path), not an I/O failure to retry.
fn vanished(layout: &Layout, e: FsError) -> FsError {
    if e.io_kind() != Some(std::io::ErrorKind::NotFound) || layout.dir().exists() {
        return e;
    }
    no_storage(
        layout.dir(),
        "the directory does not exist (removed while in use?)",
    )
    .into()
}

/// Runs `f` on the blocking pool and turns its failure into a storage error
/// for `op`.
async fn blocking<T, F>(op: String, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> FsResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.into_storage(op)),
        Err(join) => Err(Error::backend(
            BACKEND,
            op,
            format!("the file I/O task failed: {join}"),
        )),
    }
}

#[async_trait]
impl Storage for FileStorage {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.run(format!("put_segment {id}"), move |layout| {
            segments::put(layout, &id, &bytes)
        })
        .await
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.run(format!("get_segment {id}"), move |layout| {
            segments::get(layout, &id)
        })
        .await
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.run(format!("delete_segment {id}"), move |layout| {
            segments::delete(layout, &id)
        })
        .await
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.run(format!("delete_segment {id}"), move |layout| {
            segments::delete_unless_put_since(layout, &id, written_at_ms)
        })
        .await
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        check_list_limit(limit)?;
        let after = from.as_ref().map(segments::parse_token).transpose()?;
        self.run("list_segments".into(), move |layout| {
            segments::list(layout, after, limit)
        })
        .await
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        check_list_limit(limit)?;
        let after = from.as_ref().map(segments::parse_token).transpose()?;
        self.run("list_segment_infos".into(), move |layout| {
            segments::list_infos(layout, after, limit)
        })
        .await
    }

    async fn erase_superseded(&self, name: &RootName, older_than: Duration) -> Result<u64> {
        let name = name.clone();
        self.run(format!("erase_superseded {name}"), move |layout| {
            roots::erase_superseded(layout, &name, older_than)
        })
        .await
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        self.run("list_roots".into(), |layout| {
            // A root is a directory of revisions, or (in a format-1 storage
            // not yet upgraded) a single record file under `roots/`.
            let mut names = std::collections::BTreeSet::new();
            let legacy = layout.dir().join(crate::layout::ROOTS);
            for dir in [layout.all_revisions(), legacy.as_path()] {
                let entries = match std::fs::read_dir(dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e).at("list root directory", dir),
                };
                for entry in entries {
                    let entry = entry.at("list root directory", dir)?;
                    if let Some(name) = entry.file_name().to_str().and_then(root_of_file) {
                        names.insert(name);
                    }
                }
            }
            Ok(names.into_iter().collect())
        })
        .await
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let name = name.clone();
        self.run(format!("read_root {name}"), move |layout| {
            roots::read(layout, &name)
        })
        .await
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let (name, value) = (name.clone(), value.clone());
        let inner = self.inner.clone();
        // If this future is dropped, the blocking task still completes or
        // fails as a whole.
        blocking(format!("cas_root {name}"), move || {
            inner.upgrade_once()?;
            roots::cas(&inner.layout, &name, expected, &value)
                .map_err(|e| vanished(&inner.layout, e))
        })
        .await
    }
}
