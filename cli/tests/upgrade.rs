//! A database written by an older accrete: this version reads it, its first
//! transactor installs the built-in attributes it lacks in one system
//! transaction (once), and nothing stored before is lost.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;

/// The built-in attributes added after the fixture's version (ids 60–66).
const NEW_BUILTINS: [&str; 7] = [
    ":db/fn",
    ":db/ensure",
    ":db.entity/attrs",
    ":db.entity/preds",
    ":db.pred/query",
    ":db.pred/rules",
    ":db/rules",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}

/// A fresh copy of the fixture written by the old build.
fn old_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre-fn-store");
    let store = dir.path().join("store");
    copy_dir(&fixture, &store);
    // Git keeps no empty directory: the old build's `roots` (empty in a
    // storage of this format) comes back here.
    std::fs::create_dir_all(store.join("roots")).unwrap();
    let uri = file_uri(&store, "clinic");
    (dir, uri)
}

fn q(uri: &str, query: &str) -> String {
    ok(&["q", uri, query], "").trim().to_string()
}

fn ident_of(uri: &str, ident: &str) -> String {
    q(uri, &format!("[:find ?a . :where [?a :db/ident {ident}]]"))
}

fn installed_attributes(uri: &str) -> u64 {
    q(
        uri,
        "[:find (count ?a) . :where [:db.part/db :db.install/attribute ?a]]",
    )
    .parse()
    .unwrap()
}

/// The transactions (by t) that assert `:db/ident` on one of the new
/// built-in entities.
fn upgrade_ts(uri: &str) -> Vec<u64> {
    let log = ok(&["log", uri], "");
    log.lines()
        .filter(|line| line.contains("[60 10 :db/fn "))
        .map(|line| {
            let t = line.split(":t ").nth(1).unwrap();
            t.split([',', ' ', '}']).next().unwrap().parse().unwrap()
        })
        .collect()
}

fn patients(uri: &str) -> String {
    q(
        uri,
        "[:find ?mrn ?visits :where [?p :patient/mrn ?mrn] [?p :patient/visits ?visits]]",
    )
}

#[test]
fn an_old_database_is_upgraded_once_by_its_first_transactor_and_keeps_its_data() {
    let (_dir, uri) = old_database();
    let before = patients(&uri);
    assert_eq!(before.lines().count(), 8, "{before}");
    assert!(before.contains(r#"["m1" 10]"#), "{before}");
    // As written by the old build: the new attributes are not in its data.
    for ident in NEW_BUILTINS {
        assert_eq!(ident_of(&uri, ident), "nil", "{ident} before the upgrade");
    }
    let attributes_before = installed_attributes(&uri);
    assert!(upgrade_ts(&uri).is_empty());

    // A standalone transactor takes the database over and upgrades it
    // before serving anyone.
    let transactor = TransactorProcess::start(&uri, &[]);
    transactor.wait_active(&uri);
    let function = r#"[{:db/ident :patient/visit
        :db/fn "fn main(db, mrn) { let p = db.pull(\"[:patient/visits]\", [kw(\"patient/mrn\"), mrn]); [[kw(\"db/add\"), [kw(\"patient/mrn\"), mrn], kw(\"patient/visits\"), p[\"patient/visits\"] + 1]] }"}]"#;
    ok(&["transact", &uri, "-"], function);
    ok(&["transact", &uri, "-"], r#"[[:patient/visit "m1"]]"#);
    drop(transactor);

    for (id, ident) in (60..).zip(NEW_BUILTINS) {
        assert_eq!(ident_of(&uri, ident), id.to_string(), "{ident} after");
    }
    assert_eq!(installed_attributes(&uri), attributes_before + 7);
    let upgrades = upgrade_ts(&uri);
    assert_eq!(upgrades.len(), 1, "one upgrade transaction: {upgrades:?}");
    // It came first, right after the old build's last transaction, and it
    // is on record as committed by the transactor's process.
    assert_eq!(upgrades[0], 1021);
    let committer = q(
        &uri,
        "[:find ?who . :where [?tx :db/txInstant] [?tx :tx/principal ?who] [60 :db/ident _ ?tx]]",
    );
    assert!(committer.starts_with("\"local"), "{committer}");

    // The data of the old build is all there, history included, and the
    // function installed after the upgrade ran on it.
    let after = patients(&uri);
    assert!(after.contains(r#"["m1" 11]"#), "{after}");
    assert_eq!(
        after
            .replace(r#"["m1" 11]"#, r#"["m1" 10]"#)
            .lines()
            .collect::<std::collections::BTreeSet<_>>(),
        before.lines().collect(),
    );
    let m1_visits = ok(
        &[
            "q",
            &uri,
            "--history",
            "[:find ?v :where [?p :patient/mrn \"m1\"] [?p :patient/visits ?v _ true]]",
        ],
        "",
    );
    for v in ["1", "10", "11"] {
        assert!(
            m1_visits.lines().any(|l| l == format!("[{v}]")),
            "{m1_visits}"
        );
    }
    assert_eq!(code(&accrete(&["verify-db", &uri], "")), 0);

    // Later take-overs (here an embedded transactor) find it current.
    ok(&["transact", &uri, "-"], r#"[[:patient/visit "m2"]]"#);
    assert_eq!(upgrade_ts(&uri).len(), 1);
    assert!(patients(&uri).contains(r#"["m2" 3]"#));
}
