//! The in-memory backend, `mem://NAME`: shared by name within a process, gone
//! with it. The reference implementation of the contract.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::root::{CasOutcome, Revision, Root, RootName, RootValue};
use crate::segment::SegmentId;
use crate::storage::{
    PageToken, SegmentInfo, SegmentInfoPage, SegmentPage, Storage, check_list_limit,
};

/// A stored segment: its bytes and when it was last put (ms since 1970).
#[derive(Clone, Debug)]
struct Stored {
    bytes: Bytes,
    written_at_ms: u64,
}

#[derive(Default, Debug)]
struct Inner {
    segments: RwLock<BTreeMap<SegmentId, Stored>>,
    roots: Mutex<HashMap<RootName, (Revision, Bytes)>>,
}

static NAMED: LazyLock<Mutex<HashMap<String, Arc<Inner>>>> = LazyLock::new(Default::default);

/// An in-memory storage.
#[derive(Clone, Debug)]
pub struct MemStorage {
    inner: Arc<Inner>,
}

impl Default for MemStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStorage {
    /// A new private store, not reachable by name.
    pub fn new() -> Self {
        MemStorage {
            inner: Arc::default(),
        }
    }

    /// The store called `name` in this process, created on first use.
    pub fn named(name: &str) -> Self {
        let mut named = lock(&NAMED);
        let inner = named.entry(name.to_string()).or_default().clone();
        MemStorage { inner }
    }

    /// Drops the store called `name` from the process-wide table (handles
    /// already open keep it alive).
    pub fn forget(name: &str) {
        lock(&NAMED).remove(name);
    }

    /// Replaces the stored bytes of segment `id` without any check: a test
    /// hook that simulates corruption underneath the backend.
    pub fn corrupt_segment(&self, id: SegmentId, bytes: Bytes) {
        let written_at_ms = now_ms();
        write_segments(&self.inner).insert(
            id,
            Stored {
                bytes,
                written_at_ms,
            },
        );
    }

    /// Sets the write time of segment `id`, if present: a test hook that
    /// ages a segment without waiting.
    pub fn set_written_at(&self, id: SegmentId, written_at_ms: u64) {
        if let Some(stored) = write_segments(&self.inner).get_mut(&id) {
            stored.written_at_ms = written_at_ms;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the maps half-updated:
    // every critical section is a single insert/remove.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_segments(inner: &Inner) -> std::sync::RwLockWriteGuard<'_, BTreeMap<SegmentId, Stored>> {
    inner
        .segments
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read_segments(inner: &Inner) -> std::sync::RwLockReadGuard<'_, BTreeMap<SegmentId, Stored>> {
    inner
        .segments
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Storage for MemStorage {
    fn backend(&self) -> &'static str {
        "mem"
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        id.check_put(&bytes)?;
        let written_at_ms = now_ms();
        write_segments(&self.inner)
            .entry(id)
            .and_modify(|stored| stored.written_at_ms = written_at_ms)
            .or_insert(Stored {
                bytes,
                written_at_ms,
            });
        Ok(())
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        let found = read_segments(&self.inner).get(&id).map(|s| s.bytes.clone());
        match found {
            None => Ok(None),
            Some(bytes) => {
                id.verify(&bytes, "mem")?;
                Ok(Some(bytes))
            }
        }
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        write_segments(&self.inner).remove(&id);
        Ok(())
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        let mut segments = write_segments(&self.inner);
        match segments.get(&id) {
            Some(stored) if stored.written_at_ms > written_at_ms => Ok(false),
            _ => {
                segments.remove(&id);
                Ok(true)
            }
        }
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        let infos = self.list_segment_infos(from, limit).await?;
        Ok(SegmentPage {
            ids: infos.segments.into_iter().map(|s| s.id).collect(),
            next: infos.next,
        })
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        check_list_limit(limit)?;
        let after = match &from {
            None => None,
            Some(token) => Some(token.0.parse::<SegmentId>().map_err(|_| {
                Error::invalid(format!("mem: page token `{}` is not one of mine", token.0))
            })?),
        };
        let segments = read_segments(&self.inner);
        let range = match after {
            None => segments.range(..),
            Some(a) => segments.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        };
        let infos: Vec<SegmentInfo> = range
            .take(limit + 1)
            .map(|(id, stored)| SegmentInfo {
                id: *id,
                written_at_ms: Some(stored.written_at_ms),
                bytes: Some(stored.bytes.len() as u64),
            })
            .collect();
        Ok(page(infos, limit))
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        Ok(lock(&self.inner.roots).keys().cloned().collect())
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let stored = lock(&self.inner.roots).get(name).cloned();
        stored
            .map(|(revision, bytes)| {
                Ok(Root {
                    revision,
                    value: RootValue::decode(name, bytes)?,
                })
            })
            .transpose()
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let mut roots = lock(&self.inner.roots);
        let current = roots.get(name).map(|(rev, _)| *rev);
        if current != expected {
            let current = roots
                .get(name)
                .map(|(revision, bytes)| {
                    Ok::<_, Error>(Root {
                        revision: *revision,
                        value: RootValue::decode(name, bytes.clone())?,
                    })
                })
                .transpose()?;
            return Ok(CasOutcome::Conflict(current));
        }
        let next = Revision::after(expected, value.nonce())?;
        roots.insert(name.clone(), (next, value.encode()));
        Ok(CasOutcome::Applied(next))
    }
}

/// A page of at most `limit` segments from `segments` (which holds up to
/// `limit + 1`, the extra one telling that more follow).
fn page(mut segments: Vec<SegmentInfo>, limit: usize) -> SegmentInfoPage {
    let more = segments.len() > limit;
    segments.truncate(limit);
    let next = match segments.last() {
        Some(last) if more => Some(PageToken(last.id.to_string())),
        _ => None,
    };
    SegmentInfoPage { segments, next }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
