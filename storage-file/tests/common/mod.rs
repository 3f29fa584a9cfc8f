//! Running the probe ([`probe`]) as child processes from tests.

#![allow(dead_code)] // each test file uses part of this module

pub(crate) mod probe;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// A child process whose complete stdout lines marked as the probe's
/// ([`probe::MARK`], taken off) arrive on a channel; the test harness's own
/// lines are dropped.
pub(crate) struct Probe {
    child: Child,
    lines: Receiver<String>,
}

impl Probe {
    /// Starts `command` (usually built from [`probe`]) with stdout piped.
    pub(crate) fn spawn(mut command: Command) -> Probe {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    // A line without its newline was cut off by a kill:
                    // it reports nothing.
                    Ok(_) if line.last() == Some(&b'\n') => {
                        line.pop();
                        let line = String::from_utf8_lossy(&line);
                        let Some(report) = line.strip_prefix(probe::MARK) else {
                            continue;
                        };
                        if tx.send(report.to_owned()).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });
        Probe { child, lines }
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the child `signal` (a name such as `STOP` or `CONT`) with
    /// `kill(1)`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill -{signal}: {e}"));
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// The next line, or `None` at the end of the output; panics after
    /// `timeout`.
    pub(crate) fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("the probe printed nothing for {timeout:?}");
            }
        }
    }

    /// Reads lines until one satisfies `want`, returning all read so far;
    /// panics after `timeout` or at the end of the output.
    pub(crate) fn wait_for(
        &mut self,
        timeout: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next_line(left).unwrap_or_else(|| {
                panic!("the probe ended without the awaited line; printed {seen:?}")
            });
            let done = want(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    /// Kills the child with SIGKILL and returns every complete line it
    /// printed that was not read yet.
    pub(crate) fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.iter().collect()
    }

    /// Waits up to `timeout` for the child to exit by itself and returns
    /// its remaining lines; kills it and panics on timeout or failure.
    pub(crate) fn finish(mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the probe failed: {status}");
                return self.lines.iter().collect();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the probe did not finish within {timeout:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A command running the probe with `args`: this test binary again,
/// running only its ignored test `probe_process`, which each test file
/// that uses the probe declares as
///
/// ```ignore
/// #[test]
/// #[ignore = "the probe: a child process of this file's tests"]
/// fn probe_process() {
///     common::probe::run_from_env();
/// }
/// ```
pub(crate) fn probe(args: &[&str]) -> Command {
    let me = std::env::current_exe().expect("the path of this test binary");
    let mut command = Command::new(me);
    command
        .args(["--ignored", "--exact", "probe_process", "--nocapture"])
        .args(["--test-threads=1", "--quiet"])
        .env(
            probe::ARGS_VAR,
            args.join(&probe::ARGS_SEPARATOR.to_string()),
        );
    command
}

/// How many temporary files `storage` has right now.
pub(crate) fn tmp_entries(storage: &storage_file::FileStorage) -> usize {
    std::fs::read_dir(storage.path().join("tmp"))
        .unwrap()
        .count()
}

/// True when `ACCRETE_LONG=1`: soak and crash runs go long.
pub(crate) fn long_mode() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}
