//! What an operator sees of a running `accrete transactor` (issue 21):
//! `/metrics`, `/health` and `/ready` of `--metrics-listen` on real
//! processes, under load and across a takeover; the loopback-only rule of
//! that listener; the log lines of state changes, and JSON logs that parse
//! line by line.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A free loopback port (bound and released; the transactor binds it next).
fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Polls `GET path` until `done` holds (at most 30 s).
fn until(addr: &str, path: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let started = Instant::now();
    loop {
        if let Some((status, body)) = http_get(addr, path)
            && done(status, &body)
        {
            return (status, body);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "GET {path} on {addr} never answered as expected: {:?}",
            http_get(addr, path)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scrape(addr: &str) -> String {
    let (status, body) = http_get(addr, "/metrics").expect("scrape");
    assert_eq!(status, 200, "{body}");
    body
}

const SCHEMA: &str =
    "[{:db/ident :n/v :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

#[test]
fn metrics_move_under_load_and_the_epoch_moves_with_a_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let primary_metrics = free_port();
    let primary = TransactorProcess::start(&uri, &["--metrics-listen", &primary_metrics]);
    primary.wait_active(&uri);
    let (_, body) = until(&primary_metrics, "/ready", |status, _| status == 200);
    assert!(body.contains("active for `x` (lease epoch 1)"), "{body}");
    assert_eq!(http_get(&primary_metrics, "/health").unwrap().0, 200);

    let standby_metrics = free_port();
    let mut standby = TransactorProcess::start(&uri, &["--metrics-listen", &standby_metrics]);
    let (status, body) = until(&standby_metrics, "/ready", |_, body| {
        body.contains("the transactor at")
    });
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("standing by for `x`"), "{body}");
    let waiting = scrape(&standby_metrics);
    assert_eq!(series(&waiting, "accrete_lease_state{db=\"x\"}"), Some(0.0));
    assert!(series(&waiting, "accrete_standby_age_seconds{db=\"x\"}").is_some());

    // Load: 4 writers, 5 transactions each, through the primary.
    let before = scrape(&primary_metrics);
    let commits_before = series(&before, "accrete_commits_total{db=\"x\"}").unwrap_or(0.0);
    ok(&["transact", &uri], SCHEMA);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let uri = uri.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    ok(&["transact", &uri], &format!("[{{:n/v {}}}]", w * 100 + i));
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let after = scrape(&primary_metrics);
    let transactions = series(&after, "accrete_transactions_total{db=\"x\"}").unwrap();
    assert_eq!(transactions, 21.0, "every transaction is counted once");
    let commits = series(&after, "accrete_commits_total{db=\"x\"}").unwrap();
    assert!(
        commits > commits_before && commits <= commits_before + 21.0,
        "{commits_before} -> {commits}"
    );
    assert!(series(&after, "accrete_datoms_total{db=\"x\"}").unwrap() >= 21.0 * 2.0);
    assert!(series(&after, "accrete_commit_duration_seconds_count{db=\"x\"}").unwrap() >= 1.0);
    assert!(
        series(
            &after,
            "accrete_root_cas_total{backend=\"file\",outcome=\"applied\"}"
        )
        .unwrap()
            >= commits
    );
    assert!(series(&after, "accrete_indexing_backlog_datoms{db=\"x\"}").unwrap() > 0.0);
    assert_eq!(series(&after, "accrete_lease_state{db=\"x\"}"), Some(1.0));
    assert_eq!(series(&after, "accrete_lease_epoch{db=\"x\"}"), Some(1.0));

    // The primary dies: the standby takes over at the next epoch.
    drop(primary);
    let (_, body) = until(&standby_metrics, "/ready", |status, _| status == 200);
    assert!(body.contains("active for `x` (lease epoch 2)"), "{body}");
    let taken = scrape(&standby_metrics);
    assert_eq!(series(&taken, "accrete_lease_epoch{db=\"x\"}"), Some(2.0));
    assert_eq!(series(&taken, "accrete_lease_state{db=\"x\"}"), Some(1.0));
    ok(&["transact", &uri], "[{:n/v 1000}]");
    let served = scrape(&standby_metrics);
    assert_eq!(
        series(&served, "accrete_transactions_total{db=\"x\"}"),
        Some(1.0)
    );
    standby.kill9();
}

#[test]
fn the_metrics_listener_answers_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    for addr in ["0.0.0.0:0", "[::]:9464"] {
        let out = accrete(&["transactor", &uri, "--metrics-listen", addr], "");
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("is not a loopback address"),
            "{}",
            stderr(&out)
        );
    }
}

/// Runs `accrete transactor URI EXTRA…` with `env`, waits until `until`
/// is in a stderr line, then stops it (SIGTERM) and returns every line.
/// The stderr lines of `accrete transactor URI EXTRA…` until every one of
/// `until` has appeared in some line (the role line comes from polling the
/// lease, so it may come before or after the transactor's own lines).
fn transactor_lines(
    uri: &str,
    extra: &[&str],
    env: &[(&str, &str)],
    until: &[&str],
) -> Vec<String> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(ACCRETE)
        .args(["transactor", uri, "--listen", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = send.send(line);
        }
    });
    let mut seen = Vec::new();
    let started = Instant::now();
    while !until
        .iter()
        .all(|marker| seen.iter().any(|l: &String| l.contains(marker)))
    {
        assert!(started.elapsed() < Duration::from_secs(30), "{seen:#?}");
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            seen.push(line);
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
    seen.extend(lines.try_iter());
    seen
}

#[test]
fn json_logs_parse_line_by_line_and_carry_the_database_and_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let lines = transactor_lines(&uri, &["--log-format", "json"], &[], &["active for `x`"]);
    assert!(lines.len() >= 4, "{lines:#?}");
    let mut spans_with_epoch = 0;
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
        let spans = event["spans"].as_array().cloned().unwrap_or_default();
        if spans
            .iter()
            .any(|s| s["name"] == "transactor" && s["db"] == "x" && s["epoch"] == "1")
        {
            spans_with_epoch += 1;
        }
    }
    assert!(
        spans_with_epoch > 0,
        "no event in the transactor{{db,epoch}} span: {lines:#?}"
    );
    let messages: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["fields"]["message"].to_string()
        })
        .collect();
    let said = |text: &str| messages.iter().position(|m| m.contains(text));
    let endpoint = said("endpoint on").expect("the endpoint line");
    let acquired = said("lease acquired").expect("the lease acquired line");
    assert!(endpoint < acquired, "{messages:#?}");
    assert!(said("standing by until").is_some(), "{messages:#?}");
    assert!(
        !messages[..acquired].iter().any(|m| m.contains("listening")),
        "nothing claims to listen before the lease: {messages:#?}"
    );
}

#[test]
fn text_logs_say_standing_by_and_the_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let primary = TransactorProcess::start(&uri, &[]);
    primary.wait_active(&uri);
    let standby = std::thread::spawn({
        let uri = uri.clone();
        move || {
            transactor_lines(
                &uri,
                &[],
                &[],
                &["active for `x` (lease epoch 2)", "transactor started"],
            )
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    drop(primary);
    let lines = standby.join().unwrap().join("\n");
    for expected in [
        "standing by: another transactor holds the lease",
        "standing by for `x`: the transactor at",
        "lease lapsed; taking over",
        "lease acquired",
        "epoch=2",
        "transactor started",
    ] {
        assert!(
            lines.contains(expected),
            "{expected:?} missing from:\n{lines}"
        );
    }
}

#[test]
fn a_wrong_token_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let secret = "acrt_0011223344556677_thisisnotarealsecretbutlongenough0123456789";
    let transactor = std::thread::spawn({
        let uri = uri.clone();
        move || {
            transactor_lines(
                &uri,
                &["--auth", "--log-format", "json"],
                &[],
                &["handshake refused"],
            )
        }
    });
    let started = Instant::now();
    loop {
        let out = accrete_env(
            &[
                "tx-status",
                &uri,
                "00000000-0000-0000-0000-000000000001",
                "--lease-wait",
                "1",
            ],
            &[("ACCRETE_TOKEN", secret)],
        );
        assert!(
            !stderr(&out).contains("thisisnotarealsecret"),
            "{}",
            stderr(&out)
        );
        if code(&out) == 7 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = transactor.join().unwrap().join("\n");
    assert!(lines.contains("handshake refused"), "{lines}");
    assert!(
        !lines.contains("thisisnotarealsecret"),
        "the token is in the log:\n{lines}"
    );
}

#[test]
fn config_files_env_and_flags_take_precedence_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("transactor.toml");
    std::fs::write(
        &file,
        r#"uris = ["postgres://ann:hunter2@127.0.0.1:5432/pg?db=shop"]
listen = "127.0.0.1:5001"
lease-ttl = 7
index-threshold = 1000
auth = true
metrics-listen = "127.0.0.1:9464"
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let env = [
        ("ACCRETE_TRANSACTOR_LEASE_TTL", "3"),
        ("ACCRETE_TRANSACTOR_INDEX_THRESHOLD", "2000"),
    ];
    let out = accrete_env(&["config", "check", path], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed = stdout(&out);
    for line in [
        "listen = \"127.0.0.1:5001\"  # file",
        "lease-ttl = 3  # env",
        "index-threshold = 2000  # env",
        "auth = true  # file",
        "novelty-cap = 1048576  # default",
        "metrics-listen = \"127.0.0.1:9464\"  # file",
    ] {
        assert!(printed.contains(line), "{line:?} missing from:\n{printed}");
    }
    assert!(printed.contains("postgres://ann:***@"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");

    // A flag wins over the variable and the file: the transactor checks
    // the flag's value (and refuses it) before it opens any storage.
    let out = accrete_env(
        &[
            "transactor",
            "--config",
            path,
            "--metrics-listen",
            "0.0.0.0:1",
        ],
        &[("ACCRETE_TRANSACTOR_METRICS_LISTEN", "127.0.0.1:2")],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--metrics-listen 0.0.0.0:1"),
        "{}",
        stderr(&out)
    );
    let out = accrete_env(
        &["transactor", "--config", path],
        &[("ACCRETE_TRANSACTOR_METRICS_LISTEN", "0.0.0.0:2")],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--metrics-listen 0.0.0.0:2"),
        "{}",
        stderr(&out)
    );

    // Bad files say what is wrong and where.
    std::fs::write(&file, "listn = \"x\"\n").unwrap();
    let out = accrete(&["config", "check", path], "");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`listn` is not a setting of `accrete transactor`"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&file, "uris = [\"file:x?db=a\"]\nlease-ttl = \"soon\"\n").unwrap();
    let out = accrete(&["config", "check", path], "");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("soon"), "{}", stderr(&out));
    std::fs::write(
        &file,
        "uris = [\"file:x?db=a\"]\nmetrics-listen = \"0.0.0.0:9464\"\n",
    )
    .unwrap();
    let out = accrete(&["config", "check", path], "");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
}
