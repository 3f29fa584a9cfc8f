//! The `cql-sim` binary: prints its address, serves the driver, exits when
//! its standard input closes.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::within;
use scylla::client::session_builder::SessionBuilder;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_driver_and_stops_when_stdin_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cql-sim"))
        .args(["--replicas", "5", "--seed", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = within(30, lines.next_line())
        .await
        .unwrap()
        .expect("an address line");
    let address: std::net::SocketAddr = address.parse().unwrap();
    let session = within(30, SessionBuilder::new().known_node_addr(address).build())
        .await
        .unwrap();
    let rows = session
        .query_unpaged("SELECT release_version FROM system.local", ())
        .await
        .unwrap();
    assert_eq!(
        rows.into_rows_result()
            .unwrap()
            .first_row::<(String,)>()
            .unwrap()
            .0,
        "4.0.11"
    );
    drop(child.stdin.take());
    let status = within(30, child.wait()).await.unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn the_binary_rejects_unknown_options() {
    let output = Command::new(env!("CARGO_BIN_EXE_cql-sim"))
        .arg("--bogus")
        .arg("1")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown option --bogus"));
}
