//! Durability beyond process kills: a SIGKILL cannot reveal a missing
//! fsync (the page cache survives it), a power cut can. This test runs a
//! workload of the file backend under `strace -f` and checks, from the
//! system calls in order, that nothing is acknowledged before it would
//! survive a power cut:
//!
//! - **data before the name**: a file's written bytes are fsynced
//!   (`fsync`/`fdatasync` of that file) before it is renamed into place,
//!   and before the operation returns when written in place;
//! - **the name before the answer**: every change of a directory's entries
//!   (`rename` into it, `mkdir`, `unlink`, a file created in place) is
//!   followed by an fsync of that directory before the operation returns;
//! - **each answer does its own syncing**: a put of a segment that already
//!   exists fsyncs the segment's directory itself, because the put that
//!   created the file may not have synced it yet.
//!
//! Temporary files (`tmp/`) and lock files (`locks/`) carry nothing a crash
//! must keep. The workload prints `accrete-op begin|ack NAME [ID]` to
//! stderr around each call, which the trace shows as writes, so each rule
//! is checked per acknowledged operation, and each operation is also
//! checked to have done its work (no vacuous pass). `strace` is required:
//! `.ci/run` installs it; without it the test fails and says so.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use storage_core::{CasOutcome, RootName, RootValue, Storage, StorageExt};
use storage_file::FileStorage;

/// The variable that hands the workload its directory.
const DIR_VAR: &str = "ACCRETE_FSYNC_TRACE_DIR";
const MARK: &str = "accrete-op ";
const TRACED: &str = "write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,rename,renameat,renameat2,link,linkat,mkdir,mkdirat,unlink,unlinkat,openat,open,creat";

#[test]
fn every_durable_change_is_synced_before_it_is_acknowledged() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is missing: this test needs it to see the order of writes, fsyncs and renames \
         (`apt-get install strace`; .ci/run installs it)"
    );
    let base = tempfile::tempdir().unwrap();
    let log = base.path().join("trace");
    let dir = base.path().join("work");
    std::fs::create_dir(&dir).unwrap();
    let output = Command::new("strace")
        .args(["-f", "-qq", "-y", "-s", "300", "-e", "signal=none", "-e"])
        .arg(format!("trace={TRACED}"))
        .arg("-o")
        .arg(&log)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "traced_workload", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(DIR_VAR, &dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the traced workload failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    let ops = check(&events(&trace), &dir);
    let names: Vec<&str> = ops.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "open-new",
            "put-new",
            "put-new",
            "put-existing",
            "cas-create",
            "cas-update",
            "delete",
            "open-existing",
            "put-new",
        ],
        "not every operation of the workload was seen in the trace"
    );
}

/// The workload, run by the test above under strace (on its own it just
/// runs in a temporary directory).
#[tokio::test]
#[ignore = "run under strace by every_durable_change_is_synced_before_it_is_acknowledged"]
async fn traced_workload() {
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os(DIR_VAR).map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let path = dir.join("store");
    let storage = op("open-new", "", FileStorage::open(&path)).await.unwrap();
    let first = Bytes::from_static(b"the first segment");
    let id = first_id(&first);
    op("put-new", &id, storage.put(first.clone()))
        .await
        .unwrap();
    let other = Bytes::from_static(b"another segment");
    op("put-new", &first_id(&other), storage.put(other))
        .await
        .unwrap();
    op("put-existing", &id, storage.put(first)).await.unwrap();
    let name = RootName::new("db/traced/log").unwrap();
    let created = op(
        "cas-create",
        "",
        storage.cas_root(&name, None, &RootValue::new("one").unwrap()),
    )
    .await
    .unwrap();
    let CasOutcome::Applied(revision) = created else {
        panic!("{created:?}")
    };
    let updated = op(
        "cas-update",
        "",
        storage.cas_root(&name, Some(revision), &RootValue::new("two").unwrap()),
    )
    .await
    .unwrap();
    assert!(updated.is_applied(), "{updated:?}");
    op("delete", &id, storage.delete_segment(id.parse().unwrap()))
        .await
        .unwrap();
    drop(storage);
    let storage = op("open-existing", "", FileStorage::open(&path))
        .await
        .unwrap();
    let again = Bytes::from_static(b"after reopening");
    op("put-new", &first_id(&again), storage.put(again))
        .await
        .unwrap();
}

fn first_id(bytes: &Bytes) -> String {
    storage_core::SegmentId::of(bytes).to_hex()
}

/// Runs `call` between the markers the checker reads.
async fn op<T>(name: &str, id: &str, call: impl std::future::Future<Output = T>) -> T {
    mark(&format!("{MARK}begin {name} {id}\n"));
    let out = call.await;
    mark(&format!("{MARK}ack {name} {id}\n"));
    out
}

/// Writes `line` to stderr in one system call, so the trace shows it whole.
fn mark(line: &str) {
    use std::io::Write;
    std::io::stderr().write_all(line.as_bytes()).unwrap();
}

/// What the trace says happened, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Begin(String, String),
    Ack(String, String),
    Write(PathBuf),
    Sync(PathBuf),
    Rename(PathBuf, PathBuf),
    /// A hard link of an existing file under a new name (the root CAS
    /// publishes a revision this way: create-if-absent).
    Link(PathBuf, PathBuf),
    Mkdir(PathBuf),
    Unlink(PathBuf),
    Create(PathBuf),
}

/// The successful calls of a `strace -f -y` log, each at the point it
/// returned (a call split into `<unfinished ...>` and `resumed>` lines by
/// another thread counts where it resumed).
fn events(trace: &str) -> Vec<Event> {
    let mut pending: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid, head.to_string());
            continue;
        }
        let call = match rest.strip_prefix("<... ") {
            Some(resumed) => {
                let tail = resumed.split_once(" resumed>").map_or("", |(_, t)| t);
                pending.remove(pid).unwrap_or_default() + tail
            }
            None => rest.to_string(),
        };
        out.extend(event(&call));
    }
    out
}

/// The event of one complete call line `name(args) = ret`, if it succeeded
/// and matters.
fn event(call: &str) -> Option<Event> {
    let (name, rest) = call.split_once('(')?;
    // strace pads the gap before ` = RET` with spaces.
    let (args, ret) = rest.rsplit_once(" = ")?;
    let args = args.trim_end().strip_suffix(')')?;
    if ret.starts_with('-') || ret.starts_with('?') {
        return None;
    }
    let args = split_args(args);
    let path = |i: usize| path_arg(args.get(i)?, None);
    let at = |dirfd: usize, i: usize| path_arg(args.get(i)?, fd_path(args.get(dirfd)?));
    Some(match name {
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" => {
            let text = args.get(1).map(|a| unquote(a)).unwrap_or_default();
            if let Some(mark) = text.strip_prefix(MARK) {
                let mut words = mark.trim_end().splitn(3, ' ');
                let (kind, op) = (words.next()?, words.next()?.to_string());
                let id = words.next().unwrap_or("").to_string();
                return Some(match kind {
                    "begin" => Event::Begin(op, id),
                    _ => Event::Ack(op, id),
                });
            }
            Event::Write(fd_path(args.first()?)?)
        }
        "fsync" | "fdatasync" => Event::Sync(fd_path(args.first()?)?),
        "rename" => Event::Rename(path(0)?, path(1)?),
        "renameat" | "renameat2" => Event::Rename(at(0, 1)?, at(2, 3)?),
        "link" => Event::Link(path(0)?, path(1)?),
        "linkat" => Event::Link(at(0, 1)?, at(2, 3)?),
        "mkdir" => Event::Mkdir(path(0)?),
        "mkdirat" => Event::Mkdir(at(0, 1)?),
        "unlink" => Event::Unlink(path(0)?),
        "unlinkat" => Event::Unlink(at(0, 1)?),
        "open" | "openat" | "creat" => {
            let flags = if name == "openat" {
                args.get(2)
            } else {
                args.get(1)
            };
            let creates = name == "creat" || flags.is_some_and(|f| f.contains("O_CREAT"));
            if !creates {
                return None;
            }
            Event::Create(fd_path(ret)?)
        }
        _ => return None,
    })
}

/// Splits `a, "b, c", d<e, f>` at the top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let (mut out, mut current) = (Vec::new(), String::new());
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for c in args.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' | '{' | '[' | '(' if !quoted => depth += 1,
            '>' | '}' | ']' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    out
}

/// The text of a quoted strace string (`"a\nb"...`), escapes undone.
fn unquote(arg: &str) -> String {
    let inner = arg.trim_end_matches("...");
    let inner = inner.strip_prefix('"').unwrap_or(inner);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let (mut out, mut chars) = (String::new(), inner.chars());
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The path `-y` prints after a file descriptor: `5</a/b>` → `/a/b`.
fn fd_path(arg: &str) -> Option<PathBuf> {
    let start = arg.find('<')?;
    let inner = arg[start + 1..].strip_suffix('>')?;
    Some(PathBuf::from(inner))
}

/// A path argument, resolved against `dir` when relative.
fn path_arg(arg: &str, dir: Option<PathBuf>) -> Option<PathBuf> {
    let path = PathBuf::from(unquote(arg));
    match (path.is_absolute(), dir) {
        (true, _) => Some(path),
        (false, Some(dir)) => Some(dir.join(path)),
        (false, None) => None,
    }
}

/// Checks the rules of the module docs over `events`, for the changes
/// under `dir`; returns the names of the acknowledged operations.
fn check(events: &[Event], dir: &Path) -> Vec<String> {
    let store = dir.join("store");
    let scratch = [store.join("tmp"), store.join("locks")];
    let durable = |p: &Path| p.starts_with(dir) && !scratch.iter().any(|s| p.starts_with(s));
    let mut dirty: HashSet<PathBuf> = HashSet::new();
    // Entry changes waiting for an fsync of their directory.
    let mut unsynced: Vec<(String, PathBuf)> = Vec::new();
    let mut window: Vec<&Event> = Vec::new();
    let mut acked = Vec::new();
    let entry_changed = |what: String, path: &Path, unsynced: &mut Vec<(String, PathBuf)>| {
        if durable(path) {
            unsynced.push((what, path.parent().unwrap().to_path_buf()));
        }
    };
    for event in events {
        window.push(event);
        match event {
            Event::Begin(..) => window = vec![event],
            Event::Write(p) if p.starts_with(dir) && !p.starts_with(&scratch[1]) => {
                dirty.insert(p.clone());
            }
            Event::Write(_) => {}
            Event::Sync(p) => {
                dirty.remove(p);
                unsynced.retain(|(_, parent)| parent != p);
            }
            Event::Rename(from, to) => {
                assert!(
                    !dirty.remove(from),
                    "{} was renamed to {} before its data was fsynced",
                    from.display(),
                    to.display()
                );
                entry_changed(format!("rename to {}", to.display()), to, &mut unsynced);
            }
            Event::Link(from, to) => {
                assert!(
                    !dirty.contains(from),
                    "{} was linked to {} before its data was fsynced",
                    from.display(),
                    to.display()
                );
                entry_changed(format!("link to {}", to.display()), to, &mut unsynced);
            }
            Event::Mkdir(p) => entry_changed(format!("mkdir {}", p.display()), p, &mut unsynced),
            Event::Unlink(p) => entry_changed(format!("unlink {}", p.display()), p, &mut unsynced),
            Event::Create(p) => entry_changed(format!("create {}", p.display()), p, &mut unsynced),
            Event::Ack(op, id) => {
                let unsafe_data: Vec<_> = dirty.iter().filter(|p| durable(p)).collect();
                assert!(
                    unsafe_data.is_empty(),
                    "`{op}` was acknowledged with unsynced data in {unsafe_data:?}"
                );
                assert!(
                    unsynced.is_empty(),
                    "`{op}` was acknowledged before these directory changes were fsynced: {unsynced:?}"
                );
                did_its_work(op, id, &window, &store);
                acked.push(op.clone());
            }
        }
    }
    acked
}

/// Asserts that operation `op` (on segment `id`) did what it is for, so
/// that the rules above were not met by doing nothing.
fn did_its_work(op: &str, id: &str, window: &[&Event], store: &Path) {
    let segment_dir = store.join("segments").join(id.get(..2).unwrap_or(""));
    let segment = segment_dir.join(id);
    let renamed_into = |target: &Path| {
        window
            .iter()
            .any(|e| matches!(e, Event::Rename(_, to) if to == target))
    };
    let done = match op {
        "open-new" => {
            window.contains(&&Event::Mkdir(store.to_path_buf()))
                && renamed_into(&store.join("ACCRETE-STORAGE"))
        }
        "put-new" => renamed_into(&segment),
        "put-existing" => window.contains(&&Event::Sync(segment_dir.clone())),
        // A root revision is published by linking its fsynced record to
        // the revision's name, then syncing the root's revision directory.
        "cas-create" | "cas-update" => {
            let revisions = store.join("revisions");
            let published = window
                .iter()
                .any(|e| matches!(e, Event::Link(_, to) if to.starts_with(&revisions)));
            let synced = window.iter().any(
                |e| matches!(e, Event::Sync(p) if p.starts_with(&revisions) && p != &revisions),
            );
            published && synced
        }
        "delete" => window.contains(&&Event::Unlink(segment.clone())),
        "open-existing" => true,
        other => panic!("unknown operation `{other}` in the trace"),
    };
    assert!(done, "`{op}` {id} left no trace of its work: {window:#?}");
}
