//! `accrete import` as a user runs it (issue 22 item 1): a file far over
//! the transaction limit, cut into batches with tempids across them; a
//! process killed mid-way and run again ends with exactly the datoms of an
//! uninterrupted import; bad input is refused with its place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use model::{Db, Index, Value};

/// Every datom of the people's attributes as (e, a, v), sorted.
fn people_datoms(db: &Db) -> Vec<(u64, u64, String)> {
    let mut out = Vec::new();
    for attr in [
        ":person/id",
        ":person/name",
        ":person/email",
        ":person/age",
        ":person/salary",
        ":person/dept",
        ":person/friends",
        ":person/manager",
    ] {
        for d in db.datoms(Index::Aevt, &[Value::keyword(attr)]).unwrap() {
            let d = d.unwrap();
            out.push((d.e(), d.a(), format!("{:?}", d.v())));
        }
    }
    out.sort();
    out
}

async fn latest(uri: &str) -> Db {
    let (storage, db) = open(uri).await;
    let seg = index::Segments::new(storage, index::SegmentCache::new(64 << 20).unwrap());
    index::open_db(&seg, &db).await.unwrap().db
}

/// The value of `:key N` in an EDN summary line.
fn field(summary: &str, key: &str) -> u64 {
    summary
        .split(&format!("{key} "))
        .nth(1)
        .and_then(|rest| rest.split([' ', '}']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {summary:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_import_run_again_ends_with_the_datoms_of_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.edn");
    let people = 3_000;
    std::fs::write(&file, import::sample::people_edn(people)).unwrap();
    let file = file.to_str().unwrap();
    let batch = ["--batch-bytes", "8192"];

    let store = dir.path().join("store");
    let whole = file_uri(&store, "whole");
    ok(&["create-db", &whole], "");
    let out = accrete(&[&["import", &whole, file][..], &batch].concat(), "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // No terminal: no progress bar, only the summary.
    assert_eq!(stderr(&out), "", "stderr without a terminal");
    let summary = stdout(&out);
    let batches = field(&summary, ":batches");
    assert!(batches > 40, "{summary}");
    assert!(summary.contains(":peak-memory-mib "), "{summary}");
    assert_eq!(field(&summary, ":indexed-t"), field(&summary, ":basis-t"));
    let expected = people_datoms(&latest(&whole).await);
    assert_eq!(expected.len() as u64, people * 10 - 7);

    // Killed (SIGKILL) once some batches are committed, then run again.
    let cut = file_uri(&store, "cut");
    ok(&["create-db", &cut], "");
    let halfway = field(&summary, ":basis-t") / 2;
    let mut child = Command::new(ACCRETE)
        .args([&["import", &cut, file][..], &batch].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no batch committed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it was killed"
        );
        // The same input makes the same t's (entity ids and t share one
        // counter): past half the uninterrupted run's basis, about half
        // the batches are committed.
        if latest(&cut).await.basis_t() >= halfway {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = accrete(&[&["import", &cut, file][..], &batch].concat(), "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let resumed = stdout(&out);
    let skipped = field(&resumed, ":skipped");
    assert!(skipped >= 4 && skipped < batches, "{resumed}");
    assert_eq!(skipped + field(&resumed, ":batches"), batches, "{resumed}");
    let db = latest(&cut).await;
    assert_eq!(db.novelty_len(), 0, "indexed at the end");
    assert_eq!(
        people_datoms(&db),
        expected,
        "the same datoms, no duplicates"
    );
}

#[test]
fn bad_input_is_refused_with_its_place_and_nothing_is_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "bad");
    ok(&["create-db", &uri], "");
    let file = dir.path().join("bad.edn");
    std::fs::write(&file, "[{:db/ident :x/n :db/valueType :db.type/long\n :db/cardinality :db.cardinality/one}]\n[{:x/n 1}\n{:x/n }]").unwrap();
    let out = accrete(&["import", &uri, file.to_str().unwrap()], "");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.edn: ") && err.contains("line 4"), "{err}");
    let missing = dir.path().join("missing.edn");
    let out = accrete(&["import", &uri, missing.to_str().unwrap()], "");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.edn"), "{}", stderr(&out));
}
