//! Roots: read at SERIAL (LOCAL_SERIAL), changed only by lightweight
//! transactions — `INSERT … IF NOT EXISTS` to create, `UPDATE … IF rev = ?`
//! to replace — each sent once and never retried by the driver. An
//! ambiguous outcome is settled by [`cas_resolving_ambiguity`]: a SERIAL
//! re-read (which completes any in-flight Paxos round) compared with the
//! writer nonce. When that gives up because the root moved past the
//! revision the write aimed for, the row's writer slots
//! ([`crate::schema::WRITER_SLOTS`]) still tell who wrote that revision.
//! Reads (plain and re-reads) are repeated within one request timeout
//! through storage-core's [`retry_retryable`]; nothing here loops on its
//! own (see `storage_core::write_root` for the design).
//!
//! Within one store handle, Paxos operations on one root (reads and
//! writes) take turns: concurrent rounds on a partition only pre-empt each
//! other, and every pre-empted proposal is an ambiguous outcome to settle.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use scylla::response::query_result::QueryResult;
use scylla::value::{CqlValue, Row};
use storage_core::{
    CasAttempt, CasOutcome, Error, Result, RetryBudget, Revision, Root, RootName, RootValue,
    cas_resolving_ambiguity, retry_retryable,
};

use crate::SCHEME;
use crate::error::Failure;
use crate::schema::WRITER_SLOTS;
use crate::store::{CassandraStorage, maybe_first_row};

/// How many locks the roots of one handle are spread over.
const STRIPES: usize = 64;

/// Makes Paxos operations on one root take turns within a handle (roots
/// that hash alike share a lock, which only costs a little concurrency).
#[derive(Debug)]
pub(crate) struct RootLocks(Vec<Mutex<()>>);

impl Default for RootLocks {
    fn default() -> Self {
        RootLocks((0..STRIPES).map(|_| Mutex::new(())).collect())
    }
}

impl RootLocks {
    async fn lock(&self, name: &RootName) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        self.0[hasher.finish() as usize % self.0.len()].lock().await
    }
}

/// A writer slot: the revision (8 bytes, big-endian) and the nonce that
/// wrote it.
fn writer_slot(rev: Revision, value: &RootValue) -> Bytes {
    let mut slot = Vec::with_capacity(24);
    slot.extend_from_slice(&rev.get().to_be_bytes());
    slot.extend_from_slice(value.nonce().as_bytes());
    Bytes::from(slot)
}

impl CassandraStorage {
    pub(crate) async fn read(&self, name: &RootName) -> Result<Option<Root>> {
        let _turn = self.root_locks.lock(name).await;
        self.read_unlocked(name).await
    }

    /// A SERIAL read, repeated within one request timeout while it fails
    /// retryably: a linearizable read is safe to repeat, and under load a
    /// SERIAL read's Paxos round times out now and then with nothing wrong.
    /// The retrying is storage-core's ([`retry_retryable`]).
    async fn read_unlocked(&self, name: &RootName) -> Result<Option<Root>> {
        retry_retryable(self.read_budget(), "read_root", || self.read_once(name)).await
    }

    /// How long a root read keeps being repeated: one request timeout.
    fn read_budget(&self) -> RetryBudget {
        RetryBudget::within(self.settings.request_timeout)
            .with_pauses(Duration::from_millis(50), Duration::from_secs(1))
    }

    async fn read_once(&self, name: &RootName) -> Result<Option<Root>> {
        let op = format!("read_root {name}");
        let result = self
            .execute(&op, &self.st.read_root, (name.as_str(),))
            .await
            .map_err(|f| f.into_error(&op))?;
        match maybe_first_row::<(Option<i64>, Option<Bytes>)>(result, &op)? {
            None => Ok(None),
            Some((rev, value)) => root_from_columns(name, rev, value).map(Some),
        }
    }

    pub(crate) async fn cas(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let target = Revision::after(expected, value.nonce())?;
        let stored_rev = |rev: Revision| {
            i64::try_from(rev.get()).map_err(|_| {
                Error::invalid(format!(
                    "cas_root {name}: revision {rev} is beyond what Cassandra's bigint can hold"
                ))
            })
        };
        let revs = (expected.map(stored_rev).transpose()?, stored_rev(target)?);
        let write = Write {
            encoded: value.encode(),
            slot: writer_slot(target, value),
            target,
        };
        let _turn = self.root_locks.lock(name).await;
        let outcome = cas_resolving_ambiguity(
            SCHEME,
            name,
            expected,
            value,
            || self.cas_attempt(name, revs, &write),
            || self.read_unlocked(name),
        )
        .await;
        match outcome {
            Err(unknown @ Error::OutcomeUnknown { .. }) => {
                self.settle_by_writers(name, &write, unknown).await
            }
            other => other,
        }
    }

    /// One lightweight transaction from revision `expected` (absent: create)
    /// to `write.target`.
    async fn cas_attempt(
        &self,
        name: &RootName,
        (expected, target_rev): (Option<i64>, i64),
        write: &Write,
    ) -> Result<CasAttempt> {
        let op = format!("cas_root {name}");
        let key = name.as_str();
        let (encoded, slot) = (&write.encoded, &write.slot);
        let index = (write.target.get() % WRITER_SLOTS) as usize;
        let sent = match expected {
            None => {
                let values = (key, target_rev, encoded, slot);
                self.execute(&op, &self.st.create_root[index], values).await
            }
            Some(rev) => {
                let empty: &[u8] = &[];
                let values = (target_rev, encoded, slot, key, rev, empty);
                self.execute(&op, &self.st.update_root[index], values).await
            }
        };
        let target = write.target;
        match sent {
            Ok(result) => lwt_outcome(name, result, expected, target).map(CasAttempt::Decided),
            Err(f) if f.is_ambiguous() => Ok(CasAttempt::Ambiguous(Box::new(f))),
            Err(f) => Err(f.into_error(&op)),
        }
    }

    /// After the ambiguity could not be settled from the current root: if
    /// the root has reached the revision the write aimed for, its writer
    /// slot says whether the write won it. Otherwise `unknown` stands.
    async fn settle_by_writers(
        &self,
        name: &RootName,
        write: &Write,
        unknown: Error,
    ) -> Result<CasOutcome> {
        let read = retry_retryable(self.read_budget(), "read_root (writers)", || {
            self.read_writers(name, write.target)
        });
        let Ok(Some((current, writer))) = read.await else {
            return Err(unknown);
        };
        if current.revision < write.target {
            return Err(unknown);
        }
        match writer {
            Some(slot) if slot == write.slot => Ok(CasOutcome::Applied(write.target)),
            Some(_) => Ok(CasOutcome::Conflict(Some(current))),
            None => Err(unknown),
        }
    }

    /// The root and the writer slot of revision `rev` (if that slot still
    /// holds `rev`), at SERIAL.
    async fn read_writers(
        &self,
        name: &RootName,
        rev: Revision,
    ) -> Result<Option<(Root, Option<Bytes>)>> {
        let op = format!("read_root {name} (writers)");
        let result = self
            .execute(&op, &self.st.read_writers, (name.as_str(),))
            .await
            .map_err(|f| f.into_error(&op))?;
        let Some(row) = maybe_first_row::<Row>(result, &op)? else {
            return Ok(None);
        };
        let blob = |i: usize| match row.columns.get(i).cloned().flatten() {
            Some(CqlValue::Blob(b)) => Some(Bytes::from(b)),
            _ => None,
        };
        let stored_rev = match row.columns.first().cloned().flatten() {
            Some(CqlValue::BigInt(r)) => Some(r),
            _ => None,
        };
        let root = root_from_columns(name, stored_rev, blob(1))?;
        let writer = blob(2 + (rev.get() % WRITER_SLOTS) as usize)
            .filter(|slot| slot.get(..8) == Some(&rev.get().to_be_bytes()[..]));
        Ok(Some((root, writer)))
    }
}

/// What one compare-and-swap writes.
struct Write {
    encoded: Bytes,
    slot: Bytes,
    target: Revision,
}

/// What an LWT answered: `[applied]`, and when not applied the current
/// `rev` and `value` (absent or null when the root does not exist). The
/// columns differ between outcomes and servers, so they are found by name.
fn lwt_outcome(
    name: &RootName,
    result: QueryResult,
    expected: Option<i64>,
    target: Revision,
) -> Result<CasOutcome> {
    let op = format!("cas_root {name}");
    let rows = result
        .into_rows_result()
        .map_err(|e| Failure::shape(e).into_error(&op))?;
    let names: Vec<String> = rows
        .column_specs()
        .iter()
        .map(|spec| spec.name().to_string())
        .collect();
    let row: Row = rows
        .first_row()
        .map_err(|e| Failure::shape(e).into_error(&op))?;
    let column = |wanted: &str| {
        names
            .iter()
            .position(|n| n == wanted)
            .and_then(|i| row.columns.get(i).cloned().flatten())
    };
    let applied = match column("[applied]") {
        Some(CqlValue::Boolean(applied)) => applied,
        other => {
            return Err(Failure::shape(format!("`[applied]` is {other:?}")).into_error(&op));
        }
    };
    if applied {
        return Ok(CasOutcome::Applied(target));
    }
    let rev = match column("rev") {
        None => None,
        Some(CqlValue::BigInt(rev)) => Some(rev),
        Some(other) => {
            return Err(Failure::shape(format!("`rev` is {other:?}")).into_error(&op));
        }
    };
    let value = match column("value") {
        None => None,
        Some(CqlValue::Blob(value)) => Some(Bytes::from(value)),
        Some(other) => {
            return Err(Failure::shape(format!("`value` is {other:?}")).into_error(&op));
        }
    };
    if rev.is_some() && rev == expected {
        // The revision matched, so `value != 0x` failed: the stored value is
        // empty, which no envelope is.
        return Err(corrupt(name, "the stored value is empty".into()));
    }
    match rev {
        None => Ok(CasOutcome::Conflict(None)),
        Some(rev) => {
            root_from_columns(name, Some(rev), value).map(|r| CasOutcome::Conflict(Some(r)))
        }
    }
}

fn root_from_columns(name: &RootName, rev: Option<i64>, value: Option<Bytes>) -> Result<Root> {
    let revision = rev
        .and_then(|r| u64::try_from(r).ok())
        .and_then(Revision::new)
        .ok_or_else(|| corrupt(name, format!("stored revision {rev:?} is not positive")))?;
    let value = value.ok_or_else(|| corrupt(name, "the row has a revision but no value".into()))?;
    Ok(Root {
        revision,
        value: RootValue::decode(name, value)?,
    })
}

fn corrupt(name: &RootName, detail: String) -> Error {
    Error::Corruption {
        what: format!("root `{name}`"),
        detail,
    }
}
