//! A write reaches only the database whose identity the client named
//! (issue 14.1): two storages each holding a database `main`, the killed
//! transactor of one leaving its lease on the port where a transactor of
//! the other now listens — the write meant for the first must never be
//! acknowledged into the second. And one process refuses to serve two
//! databases of one name.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const SCHEMA: &str =
    "[{:db/ident :x/where :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";

/// A loopback port free right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `accrete transactor URI --listen ADDR --lease-ttl 1`, once it says it
/// listens (its stderr drained from then on).
fn transactor_on(uri: &str, listen: &str) -> Child {
    let mut child = Command::new(ACCRETE)
        .args(["transactor", uri, "--listen", listen, "--lease-ttl", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    lines
        .by_ref()
        .map(|line| line.unwrap())
        .find(|line| line.contains("endpoint on "))
        .expect("the transactor says where it listens");
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// Waits until the lease of the database at `uri` names `endpoint`.
async fn wait_for_lease(uri: &str, endpoint: &str) {
    let (storage, db) = open(uri).await;
    for _ in 0..600 {
        let lease = transactor::lease::read_lease(storage.as_ref(), &db)
            .await
            .unwrap();
        if lease
            .and_then(|l| l.holder)
            .and_then(|h| h.endpoint().map(str::to_string))
            == Some(endpoint.to_string())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lease of {uri} never named {endpoint}");
}

fn wheres(uri: &str) -> String {
    ok(&["q", uri, "[:find ?w :where [_ :x/where ?w]]"], "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_for_one_database_is_never_acknowledged_into_another_of_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let prod = file_uri(&dir.path().join("prod"), "main");
    let staging = file_uri(&dir.path().join("staging"), "main");
    for uri in [&prod, &staging] {
        ok(&["create-db", uri], "");
        ok(&["transact", uri], SCHEMA);
    }
    let endpoint = format!("127.0.0.1:{}", free_port());

    // Prod's transactor dies; its lease still names the shared endpoint.
    let mut killed = transactor_on(&prod, &endpoint);
    wait_for_lease(&prod, &endpoint).await;
    killed.kill().unwrap();
    killed.wait().unwrap();
    // Staging's transactor now listens there.
    let mut serving = transactor_on(&staging, &endpoint);
    wait_for_lease(&staging, &endpoint).await;

    let out = accrete(&["transact", &prod], r#"[{:x/where "meant for prod"}]"#);
    let staging_has = wheres(&staging);
    let prod_has = wheres(&prod);
    serving.kill().unwrap();
    serving.wait().unwrap();
    assert!(
        !staging_has.contains("meant for prod"),
        "a write for prod landed in staging (exit {}): {staging_has}",
        code(&out)
    );
    // Prod's lease lapsed, so the write went to prod, in this process.
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(prod_has.contains("meant for prod"), "{prod_has}");
}

#[test]
fn one_process_refuses_two_databases_of_one_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = file_uri(&dir.path().join("a"), "d");
    let b = file_uri(&dir.path().join("b"), "d");
    for uri in [&a, &b] {
        ok(&["create-db", uri], "");
    }
    let out = accrete(&["transactor", &a, &b, "--listen", "127.0.0.1:0"], "");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`d` is given twice"),
        "{}",
        stderr(&out)
    );
}
