//! `backup-db`, `list-backups`, `restore-db`, `verify-db` and
//! `verify-backup` end to end, with their output and exit codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#;

fn users(uri: &str, from: usize, to: usize) -> u64 {
    let forms: String = (from..to)
        .map(|i| format!(r#"{{:db/id "u{i}" :user/email "u{i}@x" :user/name "User {i}"}}"#))
        .collect();
    t_of(&ok(&["transact", uri], &format!("[{forms}]")))
}

/// Every datom of `uri` (more than a pipe holds: read while it runs;
/// `common::accrete` reads only after the process ends).
fn datoms(uri: &str, extra: &[&str]) -> String {
    let mut child = Command::new(ACCRETE)
        .args(["datoms", uri, "eavt"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("accrete datoms ran longer than 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(child.wait().unwrap().success());
    reader.join().unwrap()
}

/// The path of a segment file named in `text` (the first 64-hex-digit word).
fn segment_in(dir: &Path, text: &str) -> std::path::PathBuf {
    let id = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no segment id in {text}"));
    dir.join("segments").join(&id[..2]).join(id)
}

#[test]
fn backup_list_restore_and_verify_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let shop = file_uri(&live, "shop");
    let backups = dir.path().join("backups");
    let backups = backups.to_str().unwrap();
    ok(&["create-db", &shop], "");
    ok(&["transact", &shop], SCHEMA);
    let t1 = users(&shop, 0, 1500);

    let out = accrete(&["backup-db", &shop, backups], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("backed up shop at t={t1} to file://")),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("segments/s"),
        "progress lines on a pipe: {}",
        stderr(&out)
    );
    let again = ok(&["backup-db", &shop, backups, "--quiet"], "");
    assert!(
        again.contains("unchanged") && again.contains(": 0 copied"),
        "{again}"
    );

    let t2 = users(&shop, 1500, 1510);
    ok(&["backup-db", &shop, backups, "-q"], "");
    let listed = ok(&["list-backups", backups], "");
    let points: Vec<&str> = listed.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(points.len(), 2, "{listed}");
    assert!(
        points[0].starts_with(&format!("{t1}\t")) && points[1].starts_with(&format!("{t2}\t")),
        "{listed}"
    );
    assert!(listed.starts_with("# backups of shop ("), "{listed}");

    // Into another storage: the same datoms; verified.
    let other = file_uri(&dir.path().join("other"), "shop");
    let restored = ok(&["restore-db", backups, &other, "-q"], "");
    assert!(
        restored.starts_with(&format!("restored shop at t={t2}")),
        "{restored}"
    );
    assert_eq!(datoms(&other, &[]), datoms(&shop, &[]));
    assert!(ok(&["verify-db", &other], "").contains("all present and intact"));
    assert!(ok(&["verify-backup", backups], "").contains("all present and intact"));

    // An older point over it: refused (exit 4), then forced.
    let out = accrete(
        &["restore-db", backups, &other, "--t", &t1.to_string(), "-q"],
        "",
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let forced = ok(
        &[
            "restore-db",
            backups,
            &other,
            "--t",
            &t1.to_string(),
            "--force",
            "-q",
        ],
        "",
    );
    assert!(
        forced.contains(&format!(
            "set shop back to t={t1}: discarded its transactions after t={t1} up to t={t2}"
        )),
        "{forced}"
    );
    assert_eq!(
        datoms(&other, &[]),
        datoms(&shop, &["--as-of", &t1.to_string()])
    );

    // A clone next to the original.
    let copy = file_uri(&live, "shop-copy");
    let cloned = ok(&["restore-db", backups, &copy, "-q"], "");
    assert!(
        cloned.contains("as a clone of shop") && cloned.contains(": 0 copied"),
        "{cloned}"
    );
    let all = ok(
        &["verify-db", &format!("file://{}", live.display()), "-q"],
        "",
    );
    assert!(
        all.contains("database `shop`") && all.contains("database `shop-copy`"),
        "{all}"
    );

    // Damage in the backup: named, exit 6.
    let listed_manifest = points[1].rsplit('\t').next().unwrap();
    std::fs::remove_file(segment_in(Path::new(backups), listed_manifest)).unwrap();
    let out = accrete(&["verify-backup", backups, "-q"], "");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("(backup manifest) is missing"),
        "{}",
        stdout(&out)
    );
    let out = accrete(
        &[
            "restore-db",
            backups,
            &file_uri(&dir.path().join("third"), "shop"),
            "-q",
        ],
        "",
    );
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains(listed_manifest), "{}", stderr(&out));

    // What is not there.
    let nowhere = dir.path().join("nowhere");
    let out = accrete(&["list-backups", nowhere.to_str().unwrap()], "");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!nowhere.exists());
    let out = accrete(&["backup-db", &file_uri(&live, "nope"), backups], "");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("database `nope` does not exist"),
        "{}",
        stderr(&out)
    );
    let out = accrete(
        &["restore-db", backups, &format!("file://{}", live.display())],
        "",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names no database"),
        "{}",
        stderr(&out)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable =
        format!("postgres://postgres@127.0.0.1:{port}/postgres?db=set&connect_timeout=1");
    let out = accrete(&["backup-db", &shop, &unreachable], "");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("unavailable"), "{}", stderr(&out));
}

#[test]
fn a_backup_in_postgres_restores_into_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (source, location, target) = runtime.block_on(async {
        (
            postgres_uri("shop").await,
            postgres_uri("set").await,
            postgres_uri("shop").await,
        )
    });
    ok(&["create-db", &source], "");
    ok(&["transact", &source], SCHEMA);
    let t = users(&source, 0, 10);
    assert!(
        ok(&["backup-db", &source, &location, "-q"], "")
            .starts_with(&format!("backed up shop at t={t}"))
    );
    assert!(ok(&["verify-backup", &location, "-q"], "").contains("all present and intact"));
    ok(&["restore-db", &location, &target, "-q"], "");
    assert_eq!(datoms(&target, &[]), datoms(&source, &[]));
    assert!(ok(&["verify-db", &target, "-q"], "").contains("all present and intact"));
}
