//! Running the `accrete` binary in tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod failover;
pub mod serve;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storage_core::{DbName, Registry, Storage};

pub const ACCRETE: &str = env!("CARGO_BIN_EXE_accrete");

/// Runs `accrete ARGS` with `stdin` and returns its output.
///
/// It runs in a scratch working directory of its own, so a relative `file:`
/// URI in a test never reads or writes inside the repository.
pub fn accrete(args: &[&str], stdin: &str) -> Output {
    let cwd = tempfile::tempdir().expect("scratch working directory");
    let mut child = Command::new(ACCRETE)
        .args(args)
        .current_dir(cwd.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run accrete");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    wait_with_deadline(child, Duration::from_secs(120))
}

/// Runs `accrete ARGS` with the environment variables `env` set.
pub fn accrete_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let child = Command::new(ACCRETE)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_deadline(child, Duration::from_secs(120))
}

/// The child's output, killing it after `deadline`: no test hangs.
pub fn wait_with_deadline(mut child: Child, deadline: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > deadline {
            child.kill().unwrap();
            panic!("accrete ran longer than {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts `accrete ARGS` succeeds and returns its stdout.
pub fn ok(args: &[&str], stdin: &str) -> String {
    let out = accrete(args, stdin);
    assert_eq!(code(&out), 0, "accrete {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The t of a transact summary line `{:t 1005 …}`.
pub fn t_of(summary: &str) -> u64 {
    summary
        .strip_prefix("{:t ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no t in {summary:?}"))
}

/// A `file:` URI for database `db` in `dir`.
pub fn file_uri(dir: &Path, db: &str) -> String {
    format!("file://{}?db={db}", dir.display())
}

/// A running `accrete transactor` process.
pub struct TransactorProcess {
    pub child: Child,
    /// Where it listens.
    pub endpoint: String,
    /// What it names in the lease (`--advertise`, else where it listens).
    pub advertised: String,
}

impl TransactorProcess {
    /// Starts `accrete transactor URI --listen 127.0.0.1:0 EXTRA…` and waits
    /// for the line saying where it listens.
    pub fn start(uri: &str, extra: &[&str]) -> TransactorProcess {
        let mut child = Command::new(ACCRETE)
            .args(["transactor", uri, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run accrete transactor");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Storage drivers may log before the line saying where it listens.
        let listening = lines
            .by_ref()
            .map(|line| line.expect("utf-8"))
            .find(|line| line.contains("endpoint on "))
            .expect("accrete transactor said where it listens");
        // "… endpoint on ADDR, advertising ENDPOINT, for …"
        let field = |label: &str| {
            listening
                .split(label)
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_else(|| panic!("unexpected line {listening:?}"))
                .to_string()
        };
        let (endpoint, advertised) = (field("endpoint on "), field("advertising "));
        // Keep draining stderr so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        TransactorProcess {
            child,
            endpoint,
            advertised,
        }
    }

    /// Waits (at most 30 s) until the lease of the database at `uri` names
    /// this transactor (by the endpoint it advertises): it says where it
    /// listens before it takes the lease.
    pub async fn until_active(&self, uri: &str) {
        let (storage, db) = open(uri).await;
        let started = Instant::now();
        loop {
            let lease = transactor::lease::read_lease(storage.as_ref(), &db).await;
            let holder = lease.ok().flatten().and_then(|l| l.holder);
            if holder.is_some_and(|h| h.endpoint() == Some(self.advertised.as_str())) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the transactor at {} never took the lease",
                self.advertised
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// [`TransactorProcess::until_active`] for tests without a runtime.
    pub fn wait_active(&self, uri: &str) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(self.until_active(uri));
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for TransactorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn registry() -> Registry {
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    storage_postgres::register(&mut registry);
    storage_cassandra::register(&mut registry);
    registry
}

pub async fn open(uri: &str) -> (Arc<dyn Storage>, DbName) {
    let (storage, parsed) = registry().open(uri).await.unwrap();
    (storage, parsed.require_db().unwrap().clone())
}

/// A PostgreSQL URI of a fresh schema for database `db`.
pub async fn postgres_uri(db: &str) -> String {
    storage_postgres::testkit::PgServer::shared()
        .await
        .expect("a PostgreSQL server for the tests")
        .scratch_uri(db)
}

/// `GET path` on `addr`: the status code and the body.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut socket = TcpStream::connect(addr).ok()?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The value of the series `name` (with its labels, as rendered) in a
/// Prometheus text scrape.
pub fn series(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}
