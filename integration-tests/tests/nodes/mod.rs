//! Processes for the process tests: `peer-node` peers and transactors (or
//! `accrete transactor` when `ACCRETE_BIN` names that binary), driven
//! over stdin and stdout with a deadline on every wait.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long any one answer may take.
pub const ANSWER: Duration = Duration::from_secs(60);

/// One child process with line-based stdin and stdout.
pub struct Node {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// `report …` lines (and the `ended …` of a watcher), in arrival order.
    pub reports: Vec<String>,
    /// Answers read while waiting for reports.
    answers: VecDeque<String>,
    stderr: PathBuf,
}

impl Node {
    /// `peer-node peer URI` with extra options.
    pub fn peer(name: &str, uri: &str, options: &[&str], logs: &Path) -> Node {
        let mut args = vec!["peer"];
        args.extend_from_slice(options);
        args.push(uri);
        let mut node = Node::spawn(name, env!("CARGO_BIN_EXE_peer-node"), &args, logs);
        let connected = node.answer();
        assert!(connected.starts_with("connected "), "{name}: {connected}");
        node
    }

    /// A transactor process serving `uri` with lease ttl `ttl_ms`.
    pub fn transactor(name: &str, uri: &str, ttl_ms: u64, logs: &Path) -> Node {
        match std::env::var("ACCRETE_BIN") {
            Ok(accrete) => {
                let ttl = format!("{}", ttl_ms as f64 / 1000.0);
                let args = [
                    "transactor",
                    uri,
                    "--listen",
                    "127.0.0.1:0",
                    "--lease-ttl",
                    &ttl,
                ];
                Node::spawn(name, &accrete, &args, logs)
            }
            Err(_) => {
                let ttl = ttl_ms.to_string();
                let args = ["transactor", "--lease-ttl-ms", &ttl, uri];
                let mut node = Node::spawn(name, env!("CARGO_BIN_EXE_peer-node"), &args, logs);
                let listening = node.answer();
                assert!(listening.starts_with("listening "), "{name}: {listening}");
                node
            }
        }
    }

    fn spawn(name: &str, program: &str, args: &[&str], logs: &Path) -> Node {
        let stderr = logs.join(format!("{name}.stderr"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let mut child = Command::new(program)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tell, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tell.send(line).is_err() {
                    return;
                }
            }
        });
        Node {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            reports: Vec::new(),
            answers: VecDeque::new(),
            stderr,
        }
    }

    /// Sends one command line.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends `command` and returns its answer.
    pub fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }

    /// The next line that is not a report.
    pub fn answer(&mut self) -> String {
        if let Some(answer) = self.answers.pop_front() {
            return answer;
        }
        let deadline = Instant::now() + ANSWER;
        loop {
            let line = self.line_before(deadline, "an answer");
            if !self.keep_report(&line) {
                return line;
            }
        }
    }

    /// Waits until `n` reports have arrived (answers are kept for later).
    pub fn wait_reports(&mut self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.reports.len() < n {
            let line = self.line_before(deadline, &format!("{n} reports"));
            if !self.keep_report(&line) {
                self.answers.push_back(line);
            }
        }
    }

    /// Waits until a report of `t` (or later) has arrived.
    pub fn wait_report_t(&mut self, t: u64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.report_ts().last().is_none_or(|last| *last < t) {
            let line = self.line_before(deadline, &format!("the report of t {t}"));
            if !self.keep_report(&line) {
                self.answers.push_back(line);
            }
        }
    }

    /// The t of every report so far.
    pub fn report_ts(&self) -> Vec<u64> {
        self.reports.iter().filter_map(|r| report_t(r)).collect()
    }

    /// Kills the process at once (SIGKILL): no clean-up of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin (a clean stop) and waits for the exit.
    pub fn stop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + ANSWER;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} did not stop within {ANSWER:?}", self.name);
    }

    fn keep_report(&mut self, line: &str) -> bool {
        let report = line.starts_with("report ") || line.starts_with("ended ");
        if report {
            self.reports.push(line.to_string());
        }
        report
    }

    fn line_before(&mut self, deadline: Instant, waiting_for: &str) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{}: no {waiting_for} in time\n{}",
                    self.name,
                    self.log_tail()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "{}: exited while waiting for {waiting_for}\n{}",
                    self.name,
                    self.log_tail()
                )
            }
        }
    }

    /// The end of the process's stderr.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- {} stderr (tail) ---\n{}", self.name, self.log_tail());
        }
        self.kill();
    }
}

/// The t of a `report T …` line.
pub fn report_t(line: &str) -> Option<u64> {
    line.strip_prefix("report ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// The t of a `committed T …` answer.
pub fn committed_t(answer: &str) -> u64 {
    answer
        .strip_prefix("committed ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a commit: {answer}"))
}

/// The fields of a report line after its t.
const FIELDS: [&str; 4] = ["before", "facts", "before_count", "after_count"];

/// Field `name` of a report line (`report T before=… facts=[…] …`).
pub fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=");
    let start = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + key.len();
    let rest = &line[start..];
    let end = FIELDS
        .iter()
        .filter_map(|f| rest.find(&format!(" {f}=")))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The `[e v]` pairs of a report's `facts` field.
pub fn facts(line: &str) -> Vec<(u64, String)> {
    let text = field(line, "facts");
    let inner = text.trim_start_matches('[').trim_end_matches(']');
    inner
        .split("] [")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (e, v) = pair
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad fact {pair}"));
            (e.parse().unwrap(), v.to_string())
        })
        .collect()
}
