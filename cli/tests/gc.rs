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

#[test]
fn a_deleted_database_leaves_nothing_and_live_ones_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (gone, kept) = (file_uri(&store, "gone"), file_uri(&store, "kept"));
    for uri in [&gone, &kept] {
        ok(&["create-db", uri], "");
        ok(&["transact", uri], SCHEMA);
    }
    notes(&gone, MARKER);
    notes(&kept, "keep");
    ok(&["delete-db", &gone], "");
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
