//! Roots as files: linearizable reads and compare-and-swap under the root's
//! exclusive lock. Blocking code, run off the async workers.
//!
//! A CAS holds the lock while it reads the current record, compares, and
//! replaces the record durably (temporary file, fsync, rename, fsync of
//! `roots/`). Reads take no lock: a rename replaces the file atomically,
//! so a reader opens either the old record or the new one, and sees every
//! CAS that returned before it began.

use std::fs::File;
use std::io::{self, Read};

use bytes::Bytes;
use storage_core::{CasOutcome, Error, Revision, Root, RootName, RootValue};

use crate::durable::{Staged, sync_dir};
use crate::error::{FsResult, IoContext};
use crate::layout::Layout;
use crate::locks::LockFile;
use crate::record;

/// The root `name` as of now, or `None`.
pub(crate) fn read(layout: &Layout, name: &RootName) -> FsResult<Option<Root>> {
    let path = layout.root(name);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at("open root file", &path),
    };
    let location = path.display().to_string();
    let len = file.metadata().at("inspect root file", &path)?.len();
    if len > record::MAX_LEN as u64 {
        return Err(Error::Corruption {
            what: format!("root `{name}` at {location}"),
            detail: format!(
                "the file is {len} bytes, longer than any root record ({} bytes)",
                record::MAX_LEN
            ),
        }
        .into());
    }
    // At most record::MAX_LEN, checked just above.
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes).at("read root file", &path)?;
    Ok(Some(record::decode(name, &location, Bytes::from(bytes))?))
}

/// Compare-and-swap of root `name` from `expected` to `value`, holding
/// `lock` (this root's lock file) throughout.
pub(crate) fn cas(
    layout: &Layout,
    lock: &mut LockFile,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
) -> FsResult<CasOutcome> {
    let op = format!("cas_root {name}");
    let _held = lock.hold(&layout.lock(name), &op)?;
    let current = read(layout, name)?;
    if current.as_ref().map(|root| root.revision) != expected {
        return Ok(CasOutcome::Conflict(current));
    }
    let next = Revision::after(expected)?;
    let mut staged = Staged::write(layout.tmp(), &record::encode(name, next, value))?;
    staged.rename_to(&layout.root(name))?;
    // The new record is visible from here on; only its durability is left.
    sync_dir(layout.roots()).map_err(|e| Error::OutcomeUnknown {
        name: name.clone(),
        detail: format!(
            "the record of revision {next} is in place, but making it durable failed ({}); whether it survives a crash is unknown",
            e.into_storage(op.clone())
        ),
    })?;
    Ok(CasOutcome::Applied(next))
}
