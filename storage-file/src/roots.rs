//! Roots as files: linearizable reads and lock-free compare-and-swap.
//! Blocking code, run off the async workers.
//!
//! A root is a directory of immutable revision files (`layout.rs`), and its
//! value is the record in the file of the highest revision. A CAS from
//! revision N writes its record to a temporary file, fsyncs it, and links
//! it to the name of revision N+1, which fails if that name exists: the
//! link is the compare-and-swap, done by the kernel in one step. Then the
//! directory is fsynced. A reader lists the directory and reads the
//! highest revision; as every file is complete before it is linked, a
//! reader never sees a torn record, and it sees every CAS that returned
//! before it began.
//!
//! No lock is held at any point, so a writer that is stopped (SIGSTOP, a
//! debugger, a hung disk) at any instant blocks nobody: the others go on
//! from the newest revision, and the stopped one, when it resumes, either
//! finds its revision taken (a conflict) or links it in a directory that
//! has moved on, which it then detects (below). That is what lets a
//! standby fence a frozen transactor within the lease, not when the frozen
//! process happens to wake up.
//!
//! **Creation.** A root is created at a random revision (storage-core's
//! `Revision::origin`), so two creators aim for different revisions and
//! the link of a revision file could not decide between them. A creator
//! links its record (which holds its revision) under the number 0 instead,
//! the creation slot that no revision has: only one creator can, and the
//! file sorts below every later revision, so it is the root's value until
//! the first CAS links revision origin + 1, and it is pruned like any
//! old revision. A creator stopped until the slot was pruned and then linking
//! it finds other revisions not built on its record: a conflict, and it
//! removes its file. Revision files are listed and ordered by their
//! number, never by their text.
//!
//! **Pruning.** After a CAS applied, all but the newest [`KEEP`] revision
//! files are deleted, oldest first. A writer stopped between reading
//! revision N and linking N+1 for that long could link N+1 again after it
//! was pruned. That file is never the newest, so no reader takes it and
//! nobody builds on it; its writer tells it apart from a revision that was
//! current and then superseded by the chain: every record carries the
//! checksum of the record it replaced (`record.rs`), so revision N+2 names
//! the N+1 it was built on. When even N+2 was pruned, the outcome is
//! reported as unknown, never guessed.
//!
//! **Format-1 storages** kept one record per root in `roots/`. Such a file
//! is read while the root has no revision file; the first CAS links
//! revision N+1 after it, and from then on the revision files win.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use storage_core::{CasOutcome, Error, Revision, Root, RootName, RootValue};

use crate::durable::{Staged, create_dir_durably, sync_dir};
use crate::error::{BACKEND, FsResult, IoContext};
use crate::layout::{CREATION_SLOT, Layout, parse_revision};
use crate::record::{self, Checksum, NO_PREVIOUS, Record};

/// How many of a root's newest revisions are kept. A reader that lists the
/// directory and then opens the newest file finds it pruned only if this
/// many CASes happened in between, and then lists again.
pub(crate) const KEEP: u64 = 64;

/// How often a read lists the directory again after the newest revision
/// it saw was pruned before it could open it.
const READ_ATTEMPTS: usize = 1000;

/// The root `name` as of now, or `None`.
pub(crate) fn read(layout: &Layout, name: &RootName) -> FsResult<Option<Root>> {
    Ok(current(layout, name)?.map(|record| record.root))
}

/// Compare-and-swap of root `name` from `expected` to `value`.
pub(crate) fn cas(
    layout: &Layout,
    name: &RootName,
    expected: Option<Revision>,
    value: &RootValue,
) -> FsResult<CasOutcome> {
    let current = current(layout, name)?;
    if current.as_ref().map(|record| record.root.revision) != expected {
        return Ok(CasOutcome::Conflict(current.map(|record| record.root)));
    }
    let next = Revision::after(expected, value.nonce())?;
    let previous = current
        .as_ref()
        .map_or(NO_PREVIOUS, |record| record.checksum);
    let bytes = record::encode(name, next, &previous, value);
    let ours = record::checksum_of(&bytes);
    let dir = layout.revisions(name);
    create_dir_durably(&dir)?;
    let staged = Staged::write(layout.tmp(), &bytes)?;
    let linked = Linked {
        file: expected.map_or(CREATION_SLOT, |_| next.get()),
        revision: next,
    };
    if !staged.link_new(&Layout::revision(&dir, linked.file))? {
        return Ok(CasOutcome::Conflict(read(layout, name)?));
    }
    drop(staged);
    // The new revision is visible from here on; only its durability is left.
    make_durable(&dir, name, next)?;
    let revisions = list(&dir)?;
    let outcome = settle(layout, name, &dir, &revisions, linked, &ours)?;
    if outcome.is_applied() {
        prune(&dir, &revisions);
    }
    Ok(outcome)
}

/// A record a CAS linked: under which file number, holding which revision
/// (they differ for a create, linked in the creation slot).
#[derive(Clone, Copy, Debug)]
struct Linked {
    file: u64,
    revision: Revision,
}

/// The revision the file numbered `file` must hold, if it is a revision's
/// (the creation slot holds the root's origin, whatever it is).
fn revision_of_file(file: u64) -> Option<u64> {
    (file != CREATION_SLOT).then_some(file)
}

/// Syncs `dir` after revision `revision` of root `name` was linked into
/// it: the write is visible already, so a failure leaves its outcome
/// unknown.
fn make_durable(dir: &Path, name: &RootName, revision: Revision) -> FsResult<()> {
    sync_dir(dir).map_err(|e| {
        Error::OutcomeUnknown {
            name: name.clone(),
            detail: format!(
                "the record of revision {revision} is in place, but making it durable failed ({}); whether it survives a crash is unknown",
                e.into_storage(format!("cas_root {name}"))
            ),
        }
        .into()
    })
}

/// The current record of root `name`: the newest revision file (the
/// creation slot until the first CAS), or the format-1 record while there
/// is none.
fn current(layout: &Layout, name: &RootName) -> FsResult<Option<Record>> {
    let dir = layout.revisions(name);
    for _ in 0..READ_ATTEMPTS {
        let Some(&newest) = list(&dir)?.last() else {
            return read_file(&layout.legacy_root(name), name, None);
        };
        let path = Layout::revision(&dir, newest);
        if let Some(record) = read_file(&path, name, revision_of_file(newest))? {
            return Ok(Some(record));
        }
        // Pruned between the listing and the open: list again.
    }
    Err(Error::Unavailable {
        backend: BACKEND,
        op: format!("read_root {name}"),
        detail: format!(
            "its newest revision was pruned {READ_ATTEMPTS} times before it could be read: the root changes faster than this process reads"
        ),
        source: None,
    }
    .into())
}

/// The revisions in the revision directory `dir`, oldest first (none if it
/// does not exist yet). Names that are not revisions are ignored.
fn list(dir: &Path) -> FsResult<Vec<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at("list root revisions", dir),
    };
    let mut revisions = Vec::new();
    for entry in entries {
        let entry = entry.at("list root revisions", dir)?;
        if let Some(revision) = entry.file_name().to_str().and_then(parse_revision) {
            revisions.push(revision);
        }
    }
    revisions.sort_unstable();
    Ok(revisions)
}

/// The record in the file at `path`, or `None` if there is no such file.
/// A revision file must hold revision `expected`.
fn read_file(path: &Path, name: &RootName, expected: Option<u64>) -> FsResult<Option<Record>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at("open root file", path),
    };
    let location = path.display().to_string();
    let corrupt = |detail: String| Error::Corruption {
        what: format!("root `{name}` at {location}"),
        detail,
    };
    let len = file.metadata().at("inspect root file", path)?.len();
    if len > record::MAX_LEN as u64 {
        return Err(corrupt(format!(
            "the file is {len} bytes, longer than any root record ({} bytes)",
            record::MAX_LEN
        ))
        .into());
    }
    // At most record::MAX_LEN, checked just above.
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes).at("read root file", path)?;
    let record = record::decode(name, &location, Bytes::from(bytes))?;
    match expected {
        Some(revision) if record.root.revision.get() != revision => Err(corrupt(format!(
            "the file of revision {revision} holds revision {}",
            record.root.revision
        ))
        .into()),
        _ => Ok(Some(record)),
    }
}

/// Whether the record just `linked` (with checksum `checksum`) took
/// effect, given the directory's `revisions` listed after the link.
fn settle(
    layout: &Layout,
    name: &RootName,
    dir: &Path,
    revisions: &[u64],
    linked: Linked,
    checksum: &Checksum,
) -> FsResult<CasOutcome> {
    let ours = linked.revision;
    let newest = revisions.last().copied().unwrap_or_default();
    if newest <= linked.file {
        return Ok(CasOutcome::Applied(ours));
    }
    // Others went on: from our record, or ours was linked late into a
    // place the chain had left (see the module documentation).
    let after = ours.next()?;
    if let Some(successor) =
        read_file(&Layout::revision(dir, after.get()), name, Some(after.get()))?
    {
        if successor.previous == *checksum {
            return Ok(CasOutcome::Applied(ours));
        }
        return Ok(CasOutcome::Conflict(read(layout, name)?));
    }
    // Revision `after` was pruned. Pruning goes oldest first, so if our
    // file is still there, it was linked after its place had been pruned.
    let path = Layout::revision(dir, linked.file);
    let mine = read_file(&path, name, revision_of_file(linked.file))?;
    if mine.is_some_and(|record| record.checksum == *checksum) {
        if linked.file == CREATION_SLOT {
            // Never a root's value (later revisions sort above it): its
            // data goes with it.
            if let Err(e) = fs::remove_file(&path) {
                tracing::debug!(path = %path.display(), error = %e, "cannot remove a late creation record; pruning removes it");
            }
        }
        return Ok(CasOutcome::Conflict(read(layout, name)?));
    }
    Err(Error::OutcomeUnknown {
        name: name.clone(),
        detail: format!(
            "revision {ours} was linked, but this process was held up so long that the root moved on to revision {newest} and pruned the revisions that would tell whether it took effect"
        ),
    }
    .into())
}

/// Deletes the revisions of root `name` that were superseded more than
/// `older_than` ago (the successor's file is that old), and its format-1
/// record once a revision file replaced it that long ago: garbage
/// collection's erasure of replaced root values (an emptied log root's
/// inline log). The newest revision always stays. A writer stopped for
/// longer than that between linking and settling gets an unknown outcome,
/// never a guess (see the module docs). Returns how many files it deleted.
pub(crate) fn erase_superseded(
    layout: &Layout,
    name: &RootName,
    older_than: Duration,
) -> FsResult<u64> {
    let dir = layout.revisions(name);
    let revisions = list(&dir)?;
    let Some(&first) = revisions.first() else {
        return Ok(0);
    };
    let cutoff = SystemTime::now().checked_sub(older_than);
    let superseded_long_ago = |successor: u64| -> FsResult<bool> {
        let path = Layout::revision(&dir, successor);
        match fs::metadata(&path).and_then(|m| m.modified()) {
            Ok(modified) => Ok(cutoff.is_some_and(|cutoff| modified <= cutoff)),
            // Pruned meanwhile: a newer revision replaced it, keep going
            // only with what can be proven old.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).at("read the time of a root revision", &path),
        }
    };
    let mut deleted = 0;
    let legacy = layout.legacy_root(name);
    if superseded_long_ago(first)? && remove(&legacy)? {
        sync_dir(legacy.parent().unwrap_or(layout.dir()))?;
        deleted += 1;
    }
    for pair in revisions.windows(2) {
        if !superseded_long_ago(pair[1])? {
            break;
        }
        if remove(&Layout::revision(&dir, pair[0]))? {
            deleted += 1;
        }
    }
    if deleted > 0 {
        sync_dir(&dir)?;
    }
    Ok(deleted)
}

/// Removes the file at `path`; false if it was not there.
fn remove(path: &Path) -> FsResult<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at("remove a superseded root revision", path),
    }
}

/// Deletes all but the newest [`KEEP`] of `revisions` (counted as files,
/// so that the creation slot, numbered 0, lives as long as the revision it
/// holds would), oldest first, stopping at the first failure so that the
/// order holds. Failures are logged: pruning never fails a CAS.
fn prune(dir: &Path, revisions: &[u64]) {
    let excess = revisions.len().saturating_sub(KEEP as usize);
    for &old in &revisions[..excess] {
        let path = Layout::revision(dir, old);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "cannot prune an old root revision; the next CAS tries again");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marker;

    fn setup() -> (tempfile::TempDir, Layout, RootName) {
        let dir = tempfile::tempdir().unwrap();
        let layout = marker::prepare(&dir.path().join("s")).unwrap().0;
        (dir, layout, RootName::new("db/t/log").unwrap())
    }

    fn value(text: &str) -> RootValue {
        RootValue::new(text.to_string()).unwrap()
    }

    fn rev(n: u64) -> Revision {
        Revision::new(n).unwrap()
    }

    /// Revision `n`, linked under its own number.
    fn at(n: u64) -> Linked {
        Linked {
            file: n,
            revision: rev(n),
        }
    }

    /// Writes `n` values to root `name` (a create and `n - 1` updates);
    /// returns the origin.
    fn write_n(layout: &Layout, name: &RootName, n: u64) -> u64 {
        let mut expected = None;
        for i in 0..n {
            let out = cas(layout, name, expected, &value(&i.to_string())).unwrap();
            let CasOutcome::Applied(r) = out else {
                panic!("{out:?}")
            };
            expected = Some(r);
        }
        expected.unwrap().get() + 1 - n
    }

    #[test]
    fn old_revisions_are_pruned_and_the_newest_kept() {
        let (_dir, layout, name) = setup();
        let o = write_n(&layout, &name, KEEP + 10);
        let revisions = list(&layout.revisions(&name)).unwrap();
        assert_eq!(revisions.len() as u64, KEEP);
        assert_eq!(revisions.last(), Some(&(o + KEEP + 9)));
        let root = read(&layout, &name).unwrap().unwrap();
        assert_eq!(root.revision, rev(o + KEEP + 9));
        assert_eq!(
            root.value.data().as_ref(),
            (KEEP + 9).to_string().as_bytes()
        );
    }

    /// Sets the modification time of `path` to `ago` before now.
    fn age(path: &Path, ago: Duration) {
        let file = File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - ago).unwrap();
    }

    /// What the file backend keeps of a replaced root value goes once it
    /// was replaced longer ago than asked: never the newest, never one
    /// replaced more recently.
    #[test]
    fn superseded_revisions_are_erased_once_replaced_long_enough_ago() {
        let (_dir, layout, name) = setup();
        let mut expected = None;
        for i in 1..=5 {
            let out = cas(&layout, &name, expected, &value(&format!("secret {i}"))).unwrap();
            let CasOutcome::Applied(r) = out else {
                panic!("{out:?}")
            };
            expected = Some(r);
        }
        let dir = layout.revisions(&name);
        let hour = Duration::from_secs(3600);
        // Five files: the creation slot and the revisions after it.
        let files = list(&dir).unwrap();
        assert_eq!(files.len(), 5, "{files:?}");
        assert_eq!(erase_superseded(&layout, &name, hour).unwrap(), 0);
        // The first three files were written two hours ago: the first two
        // were replaced that long ago, the third only now (by the fourth).
        for &r in &files[..3] {
            age(&Layout::revision(&dir, r), 2 * hour);
        }
        assert_eq!(erase_superseded(&layout, &name, hour).unwrap(), 2);
        assert_eq!(list(&dir).unwrap(), files[2..]);
        // With no grace everything but the newest goes.
        assert_eq!(erase_superseded(&layout, &name, Duration::ZERO).unwrap(), 2);
        assert_eq!(list(&dir).unwrap(), files[4..]);
        let root = read(&layout, &name).unwrap().unwrap();
        assert_eq!(root.value.data().as_ref(), b"secret 5");
        assert_eq!(erase_superseded(&layout, &name, Duration::ZERO).unwrap(), 0);
        // The storage goes on from the newest.
        let out = cas(&layout, &name, expected, &value("secret 6")).unwrap();
        assert!(out.is_applied(), "{out:?}");
    }

    /// A writer stopped between its check and its link, resuming after its
    /// revision was pruned: its link succeeds, but it must not be told
    /// "applied", and readers must not see it.
    #[test]
    fn a_revision_linked_after_it_was_pruned_is_a_conflict_not_applied() {
        let (_dir, layout, name) = setup();
        let o = write_n(&layout, &name, KEEP + 5);
        let newest = rev(o + KEEP + 4);
        let dir = layout.revisions(&name);
        let third = o + 2;
        assert!(
            !Layout::revision(&dir, third).exists(),
            "revision {third} is pruned"
        );
        // What the stopped writer had read: the revision before, and its record.
        let stale = record::encode(&name, rev(third), &[9; 32], &value("stale"));
        let checksum = record::checksum_of(&stale);
        fs::write(Layout::revision(&dir, third), &stale).unwrap();
        let revisions = list(&dir).unwrap();
        let out = settle(&layout, &name, &dir, &revisions, at(third), &checksum).unwrap();
        assert!(
            matches!(&out, CasOutcome::Conflict(Some(root)) if root.revision == newest),
            "{out:?}"
        );
        assert_eq!(read(&layout, &name).unwrap().unwrap().revision, newest);

        // Revision o+9 is still there and was built on the real o+8, not
        // on a stale one.
        let ninth = o + 8;
        let stale = record::encode(&name, rev(ninth), &[9; 32], &value("stale"));
        let out = settle(
            &layout,
            &name,
            &dir,
            &revisions,
            at(ninth),
            &record::checksum_of(&stale),
        )
        .unwrap();
        assert!(matches!(out, CasOutcome::Conflict(Some(_))), "{out:?}");
        // And the real writer is told it applied.
        let real = fs::read(Layout::revision(&dir, ninth)).unwrap();
        let out = settle(
            &layout,
            &name,
            &dir,
            &revisions,
            at(ninth),
            &record::checksum_of(&real),
        )
        .unwrap();
        assert_eq!(out, CasOutcome::Applied(rev(ninth)));
    }

    /// Creators aim for different revisions; the creation slot lets
    /// exactly one win. It is the root's value until the first CAS, which
    /// prunes it.
    #[test]
    fn one_creator_wins_the_creation_slot() {
        let (_dir, layout, name) = setup();
        let first = value("first");
        let out = cas(&layout, &name, None, &first).unwrap();
        let origin = Revision::origin(first.nonce());
        assert_eq!(out, CasOutcome::Applied(origin));
        let second = value("second");
        assert_ne!(Revision::origin(second.nonce()), origin);
        let out = cas(&layout, &name, None, &second).unwrap();
        assert!(
            matches!(&out, CasOutcome::Conflict(Some(root)) if root.value == first),
            "{out:?}"
        );
        let dir = layout.revisions(&name);
        assert_eq!(list(&dir).unwrap(), vec![CREATION_SLOT]);
        let root = read(&layout, &name).unwrap().unwrap();
        assert_eq!((root.revision, &root.value), (origin, &first));

        let next = origin.next().unwrap();
        let out = cas(&layout, &name, Some(origin), &second).unwrap();
        assert_eq!(out, CasOutcome::Applied(next));
        assert_eq!(read(&layout, &name).unwrap().unwrap().value, second);
        let kept = vec![CREATION_SLOT, next.get()];
        assert_eq!(list(&dir).unwrap(), kept, "kept like any recent revision");
    }

    /// A creator stopped between its check and its link until the root's
    /// creation slot was pruned: its link succeeds, but it must be told
    /// "conflict", readers must not see it, and its record goes.
    #[test]
    fn a_late_creator_in_a_pruned_slot_is_a_conflict() {
        let (_dir, layout, name) = setup();
        let o = write_n(&layout, &name, KEEP + 3);
        let dir = layout.revisions(&name);
        assert!(!Layout::revision(&dir, CREATION_SLOT).exists(), "pruned");
        let late = value("late");
        let late_origin = Revision::origin(late.nonce());
        let stale = record::encode(&name, late_origin, &NO_PREVIOUS, &late);
        fs::write(Layout::revision(&dir, CREATION_SLOT), &stale).unwrap();
        let linked = Linked {
            file: CREATION_SLOT,
            revision: late_origin,
        };
        let revisions = list(&dir).unwrap();
        let checksum = record::checksum_of(&stale);
        let out = settle(&layout, &name, &dir, &revisions, linked, &checksum).unwrap();
        let newest = rev(o + KEEP + 2);
        assert!(
            matches!(&out, CasOutcome::Conflict(Some(root)) if root.revision == newest),
            "{out:?}"
        );
        assert!(!Layout::revision(&dir, CREATION_SLOT).exists());
        assert_eq!(read(&layout, &name).unwrap().unwrap().revision, newest);
    }

    #[test]
    fn a_format_1_root_is_read_and_continued() {
        let (_dir, layout, _) = setup();
        // The pinned version 1 record: root `db/golden/log` at revision 7.
        let name = RootName::new("db/golden/log").unwrap();
        let golden = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/root-record-v1.bin"
        );
        let legacy = fs::read(golden).unwrap();
        fs::write(layout.legacy_root(&name), &legacy).unwrap();
        let root = read(&layout, &name).unwrap().unwrap();
        assert_eq!(
            (root.revision, root.value.data().as_ref()),
            (rev(7), &b"golden head"[..])
        );
        let stale = cas(&layout, &name, Some(rev(6)), &value("x")).unwrap();
        assert!(matches!(stale, CasOutcome::Conflict(Some(_))), "{stale:?}");
        let out = cas(&layout, &name, Some(rev(7)), &value("new")).unwrap();
        assert_eq!(out, CasOutcome::Applied(rev(8)));
        let root = read(&layout, &name).unwrap().unwrap();
        assert_eq!(
            (root.revision, root.value.data().as_ref()),
            (rev(8), &b"new"[..])
        );
        let file = fs::read(Layout::revision(&layout.revisions(&name), 8)).unwrap();
        let record = record::decode(&name, "p", file.into()).unwrap();
        assert_eq!(record.previous, record::checksum_of(&legacy));
    }
}
