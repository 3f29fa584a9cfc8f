//! The value of a database's log root (`db/<name>/log`): the commit point.
//!
//! # Format, version 1 (varints are LEB128)
//!
//! `ALR`, version, db uuid (16 bytes), epoch, basis t, next t, index root
//! (0, or 1 and a 32-byte segment id), log tree (0, or 1, 32-byte id,
//! height, first t, last t), tail entry count, tail entries
//! (length-prefixed `ATX` log entry encodings). The whole value stays under
//! [`storage_core::MAX_ROOT_VALUE_BYTES`]; the tail under [`TAIL_LIMIT`].

use model::TxLog;
use model::schema::bootstrap::{FIRST_USER_T, bootstrap_tx};
use storage_core::{RootName, RootValue, SegmentId};
use uuid::Uuid;

use crate::bin::{Bad, Reader, Writer};
use crate::error::{Error, Result};

const MAGIC: &[u8; 3] = b"ALR";
const VERSION: u8 = 1;

/// The encoded log entries the tail of a log root holds at most; a commit
/// that would make it larger moves the tail into log segments first.
pub const TAIL_LIMIT: usize = 48 * 1024;

/// The log tree of a database: its root segment and the t range it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTree {
    /// The root segment (a log leaf when `height` is 0, else a log branch).
    pub id: SegmentId,
    /// The height of the tree.
    pub height: u8,
    /// The first t in the tree.
    pub first_t: u64,
    /// The last t in the tree.
    pub last_t: u64,
}

/// The value of `db/<name>/log`: everything a reader needs to open the
/// database at its latest committed basis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRoot {
    /// The database's identity (from the catalog); a root of another
    /// database under the same name is refused.
    pub db_uuid: Uuid,
    /// The lease epoch of the transactor that wrote this value: the fence.
    pub epoch: u64,
    /// The last committed t (0 for a new database).
    pub basis_t: u64,
    /// The t the next transaction gets (model's entity-id counter).
    pub next_t: u64,
    /// The index root segment, once a first indexing job has run.
    pub index: Option<SegmentId>,
    /// The log entries that moved out into segments.
    pub log: Option<LogTree>,
    /// The most recent log entries, after the log tree, in t order.
    pub tail: Vec<TxLog>,
}

impl LogRoot {
    /// The log root of a new, empty database: only the built-in schema
    /// transaction (t = 0) in its log.
    pub fn genesis(db_uuid: Uuid) -> LogRoot {
        LogRoot {
            db_uuid,
            epoch: 0,
            basis_t: 0,
            next_t: FIRST_USER_T,
            index: None,
            log: None,
            tail: vec![bootstrap_tx()],
        }
    }

    /// The same value written by the holder of lease `epoch` (fencing).
    pub fn with_epoch(&self, epoch: u64) -> LogRoot {
        LogRoot {
            epoch,
            ..self.clone()
        }
    }

    /// The encoded size of the tail entries.
    pub fn tail_bytes(&self) -> usize {
        self.tail.iter().map(encoded_entry_len).sum()
    }

    /// The bytes stored in the root.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::default();
        w.raw(MAGIC).u8(VERSION).raw(self.db_uuid.as_bytes());
        w.varint(self.epoch)
            .varint(self.basis_t)
            .varint(self.next_t);
        match &self.index {
            None => w.u8(0),
            Some(id) => w.u8(1).id(id),
        };
        match &self.log {
            None => w.u8(0),
            Some(t) => w
                .u8(1)
                .id(&t.id)
                .u8(t.height)
                .varint(t.first_t)
                .varint(t.last_t),
        };
        w.len(self.tail.len());
        self.tail.iter().for_each(|e| {
            w.tx_log(e);
        });
        let bytes = w.finish();
        if bytes.len() > storage_core::MAX_ROOT_VALUE_BYTES {
            return Err(Error::invalid(format!(
                "log root of {} bytes is over the root limit of {} (tail of {} entries)",
                bytes.len(),
                storage_core::MAX_ROOT_VALUE_BYTES,
                self.tail.len()
            )));
        }
        Ok(bytes)
    }

    /// The root value to CAS, with a fresh writer nonce.
    pub fn to_root_value(&self) -> Result<RootValue> {
        Ok(RootValue::new(self.encode()?)?)
    }

    /// Decodes the data of root `name`.
    pub fn decode(name: &RootName, bytes: &[u8]) -> Result<LogRoot> {
        decode(bytes).map_err(|detail| Error::CorruptRoot {
            name: name.to_string(),
            detail,
        })
    }

    /// The t of the last entry in the log tree and tail, if any.
    pub fn last_logged_t(&self) -> Option<u64> {
        self.tail.last().map(|e| e.t).or(self.log.map(|l| l.last_t))
    }
}

/// The size an entry takes in a tail or a log leaf.
pub(crate) fn encoded_entry_len(entry: &TxLog) -> usize {
    model::codec::encoded_tx_log_len(entry) + 3
}

fn decode(bytes: &[u8]) -> std::result::Result<LogRoot, Bad> {
    let mut r = Reader::new(bytes);
    if r.take(3)? != MAGIC {
        return Err("not a log root: bad magic".into());
    }
    r.version(VERSION)?;
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(r.take(16)?);
    let mut root = LogRoot {
        db_uuid: Uuid::from_bytes(uuid),
        epoch: r.varint()?,
        basis_t: r.varint()?,
        next_t: r.varint()?,
        index: match r.u8()? {
            0 => None,
            1 => Some(r.id()?),
            b => return Err(r.fail(format!("index presence byte {b}"))),
        },
        log: None,
        tail: Vec::new(),
    };
    root.log = match r.u8()? {
        0 => None,
        1 => Some(LogTree {
            id: r.id()?,
            height: r.u8()?,
            first_t: r.varint()?,
            last_t: r.varint()?,
        }),
        b => return Err(r.fail(format!("log tree presence byte {b}"))),
    };
    let n = r.count(1)?;
    for _ in 0..n {
        root.tail.push(r.tx_log()?);
    }
    r.finish()?;
    check(&root)?;
    Ok(root)
}

/// The invariants every log root keeps.
fn check(root: &LogRoot) -> std::result::Result<(), Bad> {
    if let Some(tree) = root.log
        && tree.first_t > tree.last_t
    {
        return Err(format!(
            "log tree covers t {}..={}",
            tree.first_t, tree.last_t
        ));
    }
    let mut prev = root.log.map(|l| l.last_t);
    for entry in &root.tail {
        if prev.is_some_and(|p| p >= entry.t) {
            return Err(format!("tail entry t={} is out of order", entry.t));
        }
        prev = Some(entry.t);
    }
    match root.last_logged_t() {
        Some(last) if last != root.basis_t => Err(format!(
            "basis t {} but the last logged t is {last}",
            root.basis_t
        )),
        None if root.basis_t != 0 => Err(format!("basis t {} but the log is empty", root.basis_t)),
        _ => Ok(()),
    }
}
