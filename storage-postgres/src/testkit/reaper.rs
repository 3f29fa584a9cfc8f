//! Servers outlive nobody: each server directory names its owner process,
//! a watchdog stops the server when the owner dies (even by `kill -9`), and
//! the next start reaps whatever a dead owner left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

const OWNER_FILE: &str = "owner";

/// Directories without an owner file older than this are debris of a
/// start that died at once.
const ORPHAN_AGE: Duration = Duration::from_secs(600);

/// Where private servers live: `$TMPDIR/accrete-pg-test`.
pub(super) fn base_dir() -> PathBuf {
    std::env::temp_dir().join("accrete-pg-test")
}

/// Who this process is: its pid and start time (so a reused pid is not
/// mistaken for the owner).
fn identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parens);
    // the start time is field 22 of the line, 20th after the name.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start = after_name.split_whitespace().nth(19)?;
    Some(format!("{pid} {start}"))
}

/// Records this process as the owner of `dir`.
pub(super) fn claim(dir: &Path) -> std::io::Result<()> {
    let me = identity(std::process::id()).unwrap_or_else(|| std::process::id().to_string());
    std::fs::write(dir.join(OWNER_FILE), me)
}

fn owner_alive(dir: &Path) -> Option<bool> {
    let recorded = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
    let pid: u32 = recorded.split_whitespace().next()?.parse().ok()?;
    Some(identity(pid).as_deref() == Some(recorded.trim()))
}

/// Stops the servers and removes the directories that dead owners left
/// in `base`; `stop` shuts down the server of a data directory.
pub(super) fn reap(base: &Path, stop: &dyn Fn(&Path)) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let dead = match owner_alive(&dir) {
            Some(alive) => !alive,
            None => is_old(&dir),
        };
        if !dead {
            continue;
        }
        let data = dir.join("data");
        if data.join("postmaster.pid").exists() {
            stop(&data);
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a dead test server's directory");
        }
    }
}

fn is_old(dir: &Path) -> bool {
    std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > ORPHAN_AGE)
}

/// Starts a detached watchdog that, once this process is gone, runs
/// `stop` (a command line) and removes `dir`.
pub(super) fn watchdog(dir: &Path, stop: &[String]) -> std::io::Result<Child> {
    const SCRIPT: &str = r#"owner=$1; dir=$2; shift 2
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
"$@" >/dev/null 2>&1
rm -rf "$dir""#;
    use std::os::unix::process::CommandExt as _;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("accrete-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .args(stop)
        // Its own process group: killing the test's group leaves it alive
        // to clean up.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}
