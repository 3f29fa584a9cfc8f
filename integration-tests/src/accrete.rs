//! The `accrete` binary (crate `cli`) as the tests run it: one-shot
//! commands, and `accrete transactor` as a process of its own.
//!
//! Cargo hands a package's binary only to that package's own tests, so the
//! tests that run `accrete` live in `cli/tests/` and name it first with
//! [`use_binary`]`(env!("CARGO_BIN_EXE_accrete"))` — the binary of the very
//! build being tested, with no second `cargo build` inside a test.
//! `ACCRETE_BIN` names another one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a one-shot command may run.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Names the `accrete` binary the commands run: a test of the `cli`
/// package passes `env!("CARGO_BIN_EXE_accrete")`. `ACCRETE_BIN`, when set,
/// wins; the first call decides.
pub fn use_binary(path: impl Into<PathBuf>) {
    let path = std::env::var_os("ACCRETE_BIN").map_or_else(|| path.into(), PathBuf::from);
    let _ = BINARY.set(path);
}

/// The `accrete` binary named by [`use_binary`] or `ACCRETE_BIN`.
pub fn binary() -> &'static Path {
    BINARY.get_or_init(|| {
        std::env::var_os("ACCRETE_BIN").map(PathBuf::from).expect(
            "no accrete binary: a test of the cli package calls \
             integration_tests::accrete::use_binary(env!(\"CARGO_BIN_EXE_accrete\")) first, \
             or ACCRETE_BIN names one",
        )
    })
}

/// Runs `accrete ARGS` to completion (in a scratch working directory),
/// failing the test if it runs longer than two minutes.
pub fn run(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().expect("a scratch working directory");
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run accrete");
    let started = Instant::now();
    while child.try_wait().expect("poll accrete").is_none() {
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            panic!("accrete {args:?} ran longer than {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("accrete's output")
}

/// Runs `accrete ARGS`, asserts it succeeded, and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "accrete {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `accrete transactor` process, killed when dropped.
#[derive(Debug)]
pub struct TransactorProcess {
    child: Child,
    /// Where it serves the protocol (`host:port`).
    pub endpoint: String,
}

impl TransactorProcess {
    /// Starts `accrete transactor URI --listen 127.0.0.1:0 EXTRA…` and waits
    /// for the line saying where it listens.
    pub fn start(uri: &str, extra: &[&str]) -> TransactorProcess {
        let mut child = Command::new(binary())
            .args(["transactor", uri, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run accrete transactor");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (found, listening) = std::sync::mpsc::channel();
        // Storage drivers may log before the line saying where it listens;
        // stderr is drained to the end so the process never blocks on it.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("endpoint on ")
                    && let Some(found) = found.take()
                {
                    let _ = found.send(line);
                }
            }
        });
        let line = match listening.recv_timeout(COMMAND_LIMIT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("accrete transactor {uri} did not say where it listens");
            }
        };
        let endpoint = line
            .split("endpoint on ")
            .nth(1)
            .and_then(|rest| rest.split([',', ' ']).next())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_string();
        TransactorProcess { child, endpoint }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TransactorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
