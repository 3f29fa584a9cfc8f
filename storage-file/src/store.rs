//! [`FileStorage`]: the [`Storage`] trait over a local directory.
//!
//! Every operation runs its file work as one `spawn_blocking` task, so no
//! system call (and no hashing of a megabyte segment) ever runs on an async
//! worker thread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use storage_core::{
    CasOutcome, Error, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId,
    SegmentInfoPage, SegmentPage, Storage, check_list_limit,
};

use crate::durable::{TEMP_FILE_MAX_AGE, sweep_temp_files};
use crate::error::{BACKEND, FsResult, IoContext};
use crate::layout::{Layout, root_of_file};
use crate::locks::RootLocks;
use crate::{marker, roots, segments};

/// A storage in a local directory (`file:` URIs).
///
/// Cheap to clone; clones share the in-process root locks. Several
/// processes may open the same directory at once: roots change under a
/// file lock, so compare-and-swap is exact across all of them.
#[derive(Clone)]
pub struct FileStorage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    locks: RootLocks,
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
        let path = path.as_ref().to_path_buf();
        let op = format!("open {}", path.display());
        let layout = blocking(op, move || {
            let layout = marker::prepare(&path)?;
            sweep_temp_files(layout.tmp(), TEMP_FILE_MAX_AGE);
            Ok(layout)
        })
        .await?;
        Ok(FileStorage {
            inner: Arc::new(Inner {
                layout,
                locks: RootLocks::default(),
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
        blocking(op, move || f(&inner.layout)).await
    }
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

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        self.run("list_roots".into(), |layout| {
            let dir = layout.roots();
            let entries = std::fs::read_dir(dir).at("list root directory", dir)?;
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.at("list root directory", dir)?;
                if let Some(name) = entry.file_name().to_str().and_then(root_of_file) {
                    names.push(name);
                }
            }
            Ok(names)
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
        let mut turn = self.inner.locks.acquire(name).await;
        let (name, value) = (name.clone(), value.clone());
        // The turn moves into the blocking task: if this future is dropped,
        // the write still completes or fails as a whole before the next
        // writer of this root goes.
        self.run(format!("cas_root {name}"), move |layout| {
            roots::cas(layout, &mut turn, &name, expected, &value)
        })
        .await
    }
}
