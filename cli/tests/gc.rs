//! `gc-storage`, `excise-status` and `prune-backups` end to end on a file
//! storage: a deleted database leaves no byte behind, a dry run deletes
//! nothing, live databases and backups keep verifying.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;

const SCHEMA: &str = r#"[{:db/ident :note/text :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one}]"#;

const MARKER: &str = "delete-me-5e2b7d";

/// A transaction of notes big enough to move the log tail into segments.
fn notes(uri: &str, text: &str) {
    let forms: String = (0..400)
        .map(|i| format!(r#"{{:note/text "{text} note {i} with some words to take up room"}}"#))
        .collect();
    ok(&["transact", uri], &format!("[{forms}]"));
}

/// How often `needle` occurs in the files under `dir`.
fn occurrences(dir: &Path, needle: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        n += match path.is_dir() {
            true => occurrences(&path, needle),
            false => {
                let bytes = std::fs::read(&path).unwrap();
                bytes
                    .windows(needle.len())
                    .filter(|w| *w == needle.as_bytes())
                    .count()
            }
        };
    }
    n
}

/// A storage in `store` holding database `kept` (400 notes) and the
/// deleted database `gone`, whose notes carry [`MARKER`]; the URI of
/// `kept`.
fn deleted_beside_kept(store: &Path) -> String {
    let (gone, kept) = (file_uri(store, "gone"), file_uri(store, "kept"));
    for uri in [&gone, &kept] {
        ok(&["create-db", uri], "");
        ok(&["transact", uri], SCHEMA);
    }
    notes(&gone, MARKER);
    notes(&kept, "keep");
    ok(&["delete-db", &gone], "");
    kept
}

#[test]
fn a_deleted_database_leaves_nothing_and_live_ones_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kept = deleted_beside_kept(&store);
    assert!(occurrences(&store, MARKER) > 0, "the scan sees the marker");

    let dry = ok(
        &["gc-storage", &kept, "--older-than", "0", "--dry-run", "-q"],
        "",
    );
    assert!(dry.contains("would delete"), "{dry}");
    assert!(dry.contains("deleted databases: gone"), "{dry}");
    assert!(occurrences(&store, MARKER) > 0, "a dry run deletes nothing");

    let run = ok(&["gc-storage", &kept, "--older-than", "0", "-q"], "");
    assert!(run.contains("deleted "), "{run}");
    assert_eq!(occurrences(&store, MARKER), 0, "{run}");
    ok(&["verify-db", &kept, "-q"], "");
    let listed = ok(
        &["q", &kept, "[:find (count ?n) . :where [?n :note/text]]"],
        "",
    );
    assert_eq!(listed.trim(), "400", "{listed}");

    // A grace longer than the storage's age deletes nothing more.
    let later = ok(&["gc-storage", &kept, "--older-than", "1h", "-q"], "");
    assert!(later.contains("deleted 0 segments"), "{later}");
    ok(&["verify-db", &kept, "-q"], "");
}

#[test]
fn excise_status_and_prune_backups_answer_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(&dir.path().join("store"), "shop");
    let backups = dir.path().join("backups");
    let backups = backups.to_str().unwrap();
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    let none = ok(&["excise-status", &uri], "");
    assert!(none.contains("no excision requests"), "{none}");

    ok(&["backup-db", &uri, backups, "-q"], "");
    notes(&uri, "more");
    ok(&["backup-db", &uri, backups, "-q"], "");
    let listed = ok(&["list-backups", backups], "");
    assert!(listed.contains("predates excisions"), "{listed}");
    let pruned = ok(&["prune-backups", backups, "--keep", "1", "-q"], "");
    assert!(pruned.contains("removed point"), "{pruned}");
    assert!(pruned.contains("1 points kept"), "{pruned}");
    ok(&["verify-backup", backups, "-q"], "");

    for bad in [
        vec!["prune-backups", backups],
        vec!["prune-backups", backups, "--keep", "0"],
        vec!["gc-storage", &uri],
        vec!["gc-storage", &uri, "--older-than", "soon"],
    ] {
        let out = accrete(&bad, "");
        assert_eq!(code(&out), 1, "{bad:?}: {}", stderr(&out));
    }
}

/// Sets the modification time of every file under `store` to two hours
/// ago: the file backend's write time of segments and root revisions, so
/// that a grace of a minute has passed for all of them without the test
/// waiting for it.
fn age_files(store: &Path) {
    let status = std::process::Command::new("find")
        .arg(store)
        .args([
            "-type",
            "f",
            "-exec",
            "touch",
            "-m",
            "-d",
            "2 hours ago",
            "{}",
            "+",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "find … touch");
}

/// Polls `done` for up to `within`.
fn eventually(within: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    done()
}

#[test]
fn an_active_transactor_collects_garbage_when_told_to_and_not_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kept = deleted_beside_kept(&store);
    // A run with a long grace empties the deleted database's log root and
    // deletes nothing: the marker stays in segments and in the superseded
    // revisions of that root.
    let scrub = ok(&["gc-storage", &kept, "--older-than", "1d", "-q"], "");
    assert!(scrub.contains("deleted 0 segments"), "{scrub}");
    let before = occurrences(&store, MARKER);
    assert!(before > 0, "the scan sees the marker");

    // A grace below the floor is refused before anything listens.
    let refused = accrete(
        &[
            "transactor",
            &kept,
            "--gc-every",
            "1s",
            "--gc-older-than",
            "5s",
        ],
        "",
    );
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--gc-older-than"),
        "{}",
        stderr(&refused)
    );

    // Off by default: a transactor without --gc-every deletes nothing.
    {
        let plain = TransactorProcess::start(&kept, &[]);
        plain.wait_active(&kept);
        ok(&["transact", &kept], r#"[{:note/text "while serving"}]"#);
        std::thread::sleep(std::time::Duration::from_secs(3));
        assert_eq!(occurrences(&store, MARKER), before, "gc ran though off");
        drop(plain);
    }

    age_files(&store);
    let active = TransactorProcess::start(
        &kept,
        &[
            "--gc-every",
            "1s",
            "--gc-older-than",
            "1m",
            "--lease-ttl",
            "2",
        ],
    );
    assert!(
        eventually(std::time::Duration::from_secs(30), || occurrences(
            &store, MARKER
        ) == 0),
        "the active transactor's gc left {} copies of the marker",
        occurrences(&store, MARKER)
    );
    // Segments written within the grace stay: the live database is whole
    // and takes writes while gc runs.
    ok(&["transact", &kept], r#"[{:note/text "after gc"}]"#);
    std::thread::sleep(std::time::Duration::from_secs(2));
    drop(active);
    ok(&["verify-db", &kept, "-q"], "");
    let listed = ok(
        &["q", &kept, "[:find (count ?n) . :where [?n :note/text]]"],
        "",
    );
    assert_eq!(listed.trim(), "402", "{listed}");
}
