//! A storage whose backing store can be replaced under the handles that
//! use it: a storage reset (a keyspace dropped and created, a server
//! wiped) as every open handle sees it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use storage_core::{
    CasOutcome, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId, SegmentPage,
    Storage,
};

/// Forwards every call to the current store.
#[derive(Debug)]
pub struct SwappableStorage {
    current: Mutex<Arc<dyn Storage>>,
}

impl SwappableStorage {
    pub fn new(store: Arc<dyn Storage>) -> Arc<SwappableStorage> {
        Arc::new(SwappableStorage {
            current: Mutex::new(store),
        })
    }

    /// From now on every call goes to `store`.
    pub fn swap(&self, store: Arc<dyn Storage>) {
        *self.current.lock() = store;
    }

    fn store(&self) -> Arc<dyn Storage> {
        self.current.lock().clone()
    }
}

#[async_trait]
impl Storage for SwappableStorage {
    fn backend(&self) -> &'static str {
        self.store().backend()
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.store().put_segment(id, bytes).await
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.store().get_segment(id).await
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.store().delete_segment(id).await
    }
    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.store()
            .delete_segment_unless_put_since(id, written_at_ms)
            .await
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        self.store().list_segments(from, limit).await
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        self.store().list_roots().await
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        self.store().read_root(name).await
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        self.store().cas_root(name, expected, value).await
    }
}
