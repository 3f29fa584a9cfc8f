//! The storage-core conformance suite against the file backend: every case
//! on a fresh directory, with corruption injected by overwriting the
//! segment file underneath the storage.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use storage_core::Storage;
use storage_core::testkit::conformance::{self, Fixture, FreshStorage};
use storage_file::FileStorage;
use tempfile::TempDir;

/// Each case gets its own directory; all are removed when the fixture is
/// dropped at the end of the test.
#[derive(Default)]
struct FileFixture {
    dirs: Mutex<Vec<TempDir>>,
}

#[async_trait]
impl Fixture for FileFixture {
    async fn fresh(&self) -> FreshStorage {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage");
        let storage = FileStorage::open(&path).await.unwrap();
        self.dirs.lock().unwrap().push(dir);
        let under = storage.clone();
        FreshStorage {
            storage: Arc::new(storage),
            corrupt: Arc::new(move |id, bytes| {
                std::fs::write(under.segment_path(&id), bytes).unwrap();
                Box::pin(async {})
            }),
            reopen: Arc::new(move || {
                let path = path.clone();
                Box::pin(async move {
                    let again: Arc<dyn Storage> = Arc::new(FileStorage::open(path).await.unwrap());
                    again
                })
            }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_passes_the_whole_suite() {
    let report = conformance::run_all(&FileFixture::default()).await;
    report.assert_all_passed();
    assert_eq!(report.passed.len(), conformance::cases().len());
}
