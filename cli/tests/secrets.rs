//! Storage passwords never reach the output, not even at trace level
//! (issue 17, item 5): every line `accrete` logs with `RUST_LOG=trace`,
//! drivers included, is searched for the password, for a login that works
//! and for one that fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use cql_sim::{SimCluster, SimConfig};

/// `accrete ARGS` with `env` and every log line on at trace level.
fn traced(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let child = Command::new(ACCRETE)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "trace")
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_deadline(child, Duration::from_secs(120))
}

/// Asserts `password` is nowhere in `out`, which logged at trace level.
fn never_shows(what: &str, out: &Output, password: &str) {
    let all = format!("{}{}", stdout(out), stderr(out));
    assert!(
        !all.contains(password),
        "{what}: the password is in the output"
    );
}

/// Asserts that `out` did log at trace level (a login that worked does).
fn traced_lines(out: &Output) {
    let lines = stderr(out).lines().count();
    assert!(lines > 5, "expected trace output, got {}", stderr(out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passwords_never_reach_trace_logs() {
    let server = storage_postgres::testkit::PgServer::shared()
        .await
        .expect("a PostgreSQL server for the tests");
    let Some(port) = server.port() else {
        eprintln!("SKIPPED: an external server; this test needs the private one's roles");
        return;
    };
    let user = storage_postgres::testkit::PASSWORD_USER;
    let admin = server.admin().await.unwrap();
    // Another test may have made the role already, with the same password.
    let _exists = admin
        .batch_execute(&format!(
            "CREATE ROLE {user} LOGIN PASSWORD 'correct-horse'; GRANT CREATE ON DATABASE postgres TO {user}"
        ))
        .await;
    let uri = format!(
        "postgres://{user}@127.0.0.1:{port}/postgres?db=x&schema=traced_{}&connect_timeout=3",
        std::process::id()
    );
    tokio::task::spawn_blocking(move || {
        let good = traced(&["list-dbs", &uri], &[("PGPASSWORD", "correct-horse")]);
        assert_eq!(code(&good), 0, "{}", stderr(&good));
        traced_lines(&good);
        never_shows("a postgres login", &good, "correct-horse");
        let bad = traced(&["list-dbs", &uri], &[("PGPASSWORD", "wrong-staple-9d1")]);
        assert_eq!(code(&bad), 7, "{}", stderr(&bad));
        never_shows("a refused postgres login", &bad, "wrong-staple-9d1");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cassandra_passwords_never_reach_trace_logs() {
    let sim = SimCluster::start(SimConfig {
        credentials: Some(("alice".into(), "sim-secret-4e2".into())),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uri = format!("cassandra://{}/ks?db=x", sim.contact_point());
    tokio::task::spawn_blocking(move || {
        for password in ["sim-secret-4e2", "bad-pw-88f1"] {
            let out = traced(
                &["list-dbs", &uri],
                &[
                    ("ACCRETE_CASSANDRA_USER", "alice"),
                    ("ACCRETE_CASSANDRA_PASSWORD", password),
                ],
            );
            if password == "sim-secret-4e2" {
                // Logged in (then found no keyspace `ks`).
                assert!(
                    stderr(&out).contains("keyspace `ks` does not exist"),
                    "{}",
                    stderr(&out)
                );
                traced_lines(&out);
            }
            never_shows("a cassandra login", &out, password);
        }
    })
    .await
    .unwrap();
}
