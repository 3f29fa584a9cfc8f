//! One maximum transaction size on every path (issue 14 item 5): an
//! oversized transaction is refused in seconds, in user terms, with
//! nothing committed, whether `accrete transact` runs the transactor
//! itself or sends to a running one, from a file or from stdin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use model::limits::MAX_TX_BYTES;

const SCHEMA: &str =
    r#"[{:db/ident :x/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]"#;

/// Tx data of about `bytes` bytes: one entity with strings of random
/// letters (incompressible), each at most 1,000,000 bytes.
fn tx_of(bytes: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005) | 1;
    let mut letter = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (b'a' + (state % 26) as u8) as char
    };
    let mut text = String::from(r#"[{:db/id "big" :x/s ["#);
    let end = r#"]}]"#;
    while text.len() + end.len() + 4 < bytes {
        let room = bytes - text.len() - end.len() - 3;
        let len = room.min(1_000_000);
        text.push('"');
        text.extend((0..len).map(|_| letter()));
        text.push_str("\" ");
    }
    // Exactly `bytes`: pad with whitespace.
    text.extend(std::iter::repeat_n(
        ' ',
        bytes.saturating_sub(text.len() + end.len()),
    ));
    text.push_str(end);
    text
}

/// Runs `accrete ARGS` with `stdin` written from another thread (the
/// command may stop reading early) and returns its output and how long it
/// took.
fn timed(args: &[&str], stdin: String) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(ACCRETE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // A refusal closes stdin early: a broken pipe is expected then.
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = wait_with_deadline(child, Duration::from_secs(120));
    writer.join().unwrap();
    (out, started.elapsed())
}

/// Asserts a refusal of an oversized transaction, in seconds.
fn assert_refused(out: &Output, took: Duration, what: &str) {
    assert_eq!(code(out), 2, "{what}: {}", stderr(out));
    let err = stderr(out);
    assert!(
        err.contains("is over the limit of 3.5 MiB; split it into smaller transactions"),
        "{what}: {err}"
    );
    // The way out, in the user's terms (issue 22 item 2).
    assert!(
        err.contains("or load it with `accrete import URI FILE`"),
        "{what}: {err}"
    );
    assert!(
        !err.contains("segment") && !err.contains("frame"),
        "{what}: {err}"
    );
    assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
}

/// How many `:x/s` values the database holds, as `q` prints it.
fn strings(uri: &str) -> String {
    ok(&["q", uri, "[:find (count ?s) :where [_ :x/s ?s]]"], "")
}

#[test]
fn an_oversized_transaction_is_refused_in_seconds_embedded_and_through_a_transactor() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "big");
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    let before = strings(&uri);
    let over = tx_of(20_000_000, 1);
    let file = dir.path().join("over.edn");
    std::fs::write(&file, &over).unwrap();
    let file = file.to_str().unwrap();

    // Embedded: a file refused by its size, stdin as it streams.
    let (out, took) = timed(&["transact", &uri, file], String::new());
    assert_refused(&out, took, "embedded, file");
    assert!(
        stderr(&out).contains("transaction of 19.1 MiB"),
        "{}",
        stderr(&out)
    );
    let (out, took) = timed(&["transact", &uri], over.clone());
    assert_refused(&out, took, "embedded, stdin");

    // Through a running transactor: the same limit and message, where the
    // frame limit used to speak first.
    let transactor = TransactorProcess::start(&uri, &["--lease-ttl", "4"]);
    transactor.wait_active(&uri);
    let (out, took) = timed(&["transact", &uri, file], String::new());
    assert_refused(&out, took, "through a transactor, file");
    let (out, took) = timed(&["transact", &uri], over);
    assert_refused(&out, took, "through a transactor, stdin");

    // Just under the limit commits through the transactor.
    let (out, _) = timed(&["-v", "transact", &uri], tx_of(MAX_TX_BYTES, 2));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let via = format!("via=transactor at {}", transactor.endpoint);
    assert!(stderr(&out).contains(&via), "{}", stderr(&out));
    drop(transactor);
    assert_ne!(strings(&uri), before);
}

#[test]
fn the_largest_transaction_commits_embedded_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "largest");
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    let text = tx_of(MAX_TX_BYTES, 3);
    assert_eq!(text.len(), MAX_TX_BYTES);
    let (out, _) = timed(&["transact", &uri], text.clone());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Every `" ` ends a string of `:x/s`, but for the one after "big".
    let expected = text.matches("\" ").count() - 1;
    assert_eq!(strings(&uri).trim(), format!("[{expected}]"));
    let (out, took) = timed(&["transact", &uri], tx_of(MAX_TX_BYTES + 1, 4));
    assert_refused(&out, took, "one byte over");
}
