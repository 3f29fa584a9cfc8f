//! A storage that holds chosen root operations at a gate until the test
//! opens it: the precise interleavings of two transactors that fencing
//! must survive (a deposed writer resuming before, during or after its
//! successor's takeover), without sleeping and hoping.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use storage_core::testkit::faults::Op;
use storage_core::{
    CasOutcome, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId, SegmentPage,
    Storage,
};
use tokio::sync::watch;

/// Whether a gate holds an operation before it reaches storage or holds
/// its answer after storage carried it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// Before the operation: storage has not seen it.
    Before,
    /// After the operation: storage carried it out, the caller has no
    /// answer yet.
    After,
}

/// A gate on one operation of one root. Closed when made: every matching
/// operation waits at it until [`Gate::open`].
#[derive(Debug)]
pub struct Gate {
    op: Op,
    root: RootName,
    at: At,
    open: watch::Sender<bool>,
    reached: watch::Sender<u32>,
}

impl Gate {
    /// Lets every held and later operation through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until an operation has reached the gate (and, for
    /// [`At::After`], storage has carried it out).
    pub async fn reached(&self) {
        let mut reached = self.reached.subscribe();
        let _ = reached.wait_for(|n| *n > 0).await;
    }

    fn matches(&self, op: Op, root: &RootName, at: At) -> bool {
        self.op == op && &self.root == root && self.at == at
    }

    async fn pass(&self) {
        self.reached.send_modify(|n| *n += 1);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

/// `inner` with gates on chosen root operations.
#[derive(Debug)]
pub struct GatedStorage {
    inner: Arc<dyn Storage>,
    gates: Mutex<Vec<Arc<Gate>>>,
}

impl GatedStorage {
    pub fn new(inner: Arc<dyn Storage>) -> Arc<GatedStorage> {
        Arc::new(GatedStorage {
            inner,
            gates: Mutex::new(Vec::new()),
        })
    }

    /// A closed gate on `op` (`ReadRoot` or `Cas`) of `root`.
    pub fn gate(&self, op: Op, root: RootName, at: At) -> Arc<Gate> {
        let gate = Arc::new(Gate {
            op,
            root,
            at,
            open: watch::Sender::new(false),
            reached: watch::Sender::new(0),
        });
        self.gates.lock().push(gate.clone());
        gate
    }

    async fn pass(&self, op: Op, root: &RootName, at: At) {
        let gates: Vec<Arc<Gate>> = self
            .gates
            .lock()
            .iter()
            .filter(|g| g.matches(op, root, at))
            .cloned()
            .collect();
        for gate in gates {
            gate.pass().await;
        }
    }
}

#[async_trait]
impl Storage for GatedStorage {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.inner.put_segment(id, bytes).await
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.inner.get_segment(id).await
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.inner.delete_segment(id).await
    }
    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.inner
            .delete_segment_unless_put_since(id, written_at_ms)
            .await
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        self.inner.list_segments(from, limit).await
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        self.pass(Op::ReadRoot, name, At::Before).await;
        let root = self.inner.read_root(name).await;
        self.pass(Op::ReadRoot, name, At::After).await;
        root
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        self.pass(Op::Cas, name, At::Before).await;
        let outcome = self.inner.cas_root(name, expected, value).await;
        self.pass(Op::Cas, name, At::After).await;
        outcome
    }
}
