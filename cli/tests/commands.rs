//! Every `accrete` command end to end, with its exit codes, on file and
//! PostgreSQL storage; the tour script.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :user/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

fn exercise(uri: &str, storage_uri: &str) {
    assert!(ok(&["create-db", uri], "").starts_with("created database shop"));
    assert_eq!(code(&accrete(&["create-db", uri], "")), 4, "exists");
    assert_eq!(ok(&["list-dbs", storage_uri], ""), "shop\n");

    let schema = ok(&["transact", uri], SCHEMA);
    let data = ok(
        &["transact", uri, "-"],
        r#"[{:db/id "a" :user/email "a@x" :user/name "Ann"} {:db/id "b" :user/email "b@x" :user/friend "a"}]"#,
    );
    assert!(t_of(&data) > t_of(&schema));
    assert!(
        data.contains(r#""a" "#) && data.contains(r#""b" "#),
        "{data}"
    );
    let rename = ok(
        &["transact", uri, "--datoms"],
        r#"[[:db/add [:user/email "a@x"] :user/name "Anne"]]"#,
    );
    assert_eq!(rename.lines().count(), 4, "summary and 3 datoms: {rename}");

    let names = ok(&["datoms", uri, "aevt", ":user/name"], "");
    assert!(
        names.contains(r#":user/name "Anne""#) && !names.contains(r#""Ann" "#),
        "{names}"
    );
    let then = ok(
        &[
            "datoms",
            uri,
            "aevt",
            ":user/name",
            "--as-of",
            &t_of(&data).to_string(),
        ],
        "",
    );
    assert!(
        then.contains(r#""Ann" "#) && !then.contains("Anne"),
        "{then}"
    );
    let since = ok(
        &[
            "datoms",
            uri,
            "aevt",
            ":user/name",
            "--since",
            &t_of(&data).to_string(),
        ],
        "",
    );
    assert_eq!(since.lines().count(), 1, "{since}");
    let history = ok(&["datoms", uri, "aevt", ":user/name", "--history"], "");
    assert!(
        history.contains(r#""Ann" "#) && history.contains(" false]"),
        "{history}"
    );
    let by_value = ok(&["datoms", uri, "avet", ":user/email", r#""b@x""#], "");
    assert_eq!(by_value.lines().count(), 1, "{by_value}");
    let refs = ok(&["datoms", uri, "vaet", r#"[:user/email "a@x"]"#], "");
    assert!(refs.contains(":user/friend"), "{refs}");
    let none = ok(&["datoms", uri, "eavt", r#"[:user/email "nobody@x"]"#], "");
    assert_eq!(none, "");
    let limited = ok(&["datoms", uri, "eavt", "--limit", "3"], "");
    assert_eq!(limited.lines().count(), 3);

    let refused = accrete(&["transact", uri], r#"[{:db/id "c" :user/email 42}]"#);
    assert_eq!(code(&refused), 2);
    assert!(
        stderr(&refused).contains(":db.error/wrong-type-for-attribute"),
        "{}",
        stderr(&refused)
    );
    let bad_edn = accrete(&["transact", uri], "[[:db/add");
    assert_eq!(code(&bad_edn), 2);
    assert!(
        stderr(&bad_edn).contains("EDN syntax error at line 1"),
        "{}",
        stderr(&bad_edn)
    );
    for (args, why) in [
        (vec!["datoms", uri, "aevt", ":no/such"], "names no entity"),
        (
            vec!["datoms", uri, "aevt", ":user/name", "--as-of", "yesterday"],
            "not a t",
        ),
        (
            vec!["datoms", uri, "avet", ":user/email", "42"],
            "not a :db.type/string",
        ),
    ] {
        let out = accrete(&args, "");
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
    let after = ok(&["datoms", uri, "aevt", ":user/name"], "");
    assert_eq!(after, names, "refused transactions changed nothing");

    assert!(ok(&["delete-db", uri], "").contains("deleted database shop"));
    assert_eq!(ok(&["list-dbs", storage_uri], ""), "");
    let gone = accrete(&["datoms", uri, "eavt"], "");
    assert_eq!(code(&gone), 2);
    assert!(
        stderr(&gone).contains("database `shop` does not exist"),
        "{}",
        stderr(&gone)
    );
    assert_eq!(code(&accrete(&["delete-db", uri], "")), 2);
}

#[test]
fn every_command_on_file_storage() {
    let dir = tempfile::tempdir().unwrap();
    let storage_uri = format!("file://{}", dir.path().display());
    exercise(&file_uri(dir.path(), "shop"), &storage_uri);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_postgres() {
    let uri = postgres_uri("shop").await;
    let storage_uri = uri.replace("db=shop&", "");
    tokio::task::spawn_blocking(move || exercise(&uri, &storage_uri))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_the_cassandra_simulator() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let uri = cluster.scratch_uri("shop").await.unwrap();
    // The keyspace holds the catalog; list-dbs ignores the database named.
    let storage_uri = uri.replace("db=shop", "db=other");
    tokio::task::spawn_blocking(move || exercise(&uri, &storage_uri))
        .await
        .unwrap();
}

#[test]
fn usage_errors_and_help() {
    assert_eq!(code(&accrete(&["--help"], "")), 0);
    assert!(stdout(&accrete(&["transact", "--help"], "")).contains("Exit codes:"));
    assert_eq!(code(&accrete(&[], "")), 1);
    assert_eq!(code(&accrete(&["no-such-command"], "")), 1);
    assert_eq!(code(&accrete(&["datoms", "file:x?db=a", "xyz"], "")), 1);
    let no_db = accrete(&["datoms", "file:x", "eavt"], "");
    assert_eq!(code(&no_db), 2);
    assert!(
        stderr(&no_db).contains("add `?db=NAME`"),
        "{}",
        stderr(&no_db)
    );
    let unknown = accrete(&["list-dbs", "nosuch://h/ks"], "");
    assert_eq!(code(&unknown), 2);
    assert!(
        stderr(&unknown).contains("unknown scheme `nosuch`"),
        "{}",
        stderr(&unknown)
    );
    let secret = accrete(
        &[
            "list-dbs",
            "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1",
        ],
        "",
    );
    assert_eq!(code(&secret), 3, "{}", stderr(&secret));
    assert!(!stderr(&secret).contains("hunter2"), "{}", stderr(&secret));
}

#[test]
fn transact_goes_to_the_live_transactor() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "live");
    ok(&["create-db", &uri], "");
    let transactor = TransactorProcess::start(&uri, &["--lease-ttl", "1"]);
    let out = accrete(&["-v", "transact", &uri], SCHEMA);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let via = format!("via=transactor at {}", transactor.endpoint);
    assert!(stderr(&out).contains(&via), "{}", stderr(&out));
    drop(transactor); // killed: its lease lapses after a second
    let out = accrete(
        &["-v", "transact", &uri],
        r#"[{:db/id "x" :user/email "x@x"}]"#,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a transactor in this process"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn transact_gives_up_on_a_live_lease_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "far");
    ok(&["create-db", &uri], "");
    let _transactor =
        TransactorProcess::start(&uri, &["--advertise", "127.0.0.1:1", "--lease-ttl", "1"]);
    let out = accrete(&["transact", &uri, "--lease-wait", "2"], SCHEMA);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("held by a live transactor at 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_tour_runs() {
    let tour = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tour.sh");
    let child = std::process::Command::new("sh")
        .arg(tour)
        .env("ACCRETE", ACCRETE)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, std::time::Duration::from_secs(120));
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for expected in [
        "created database news",
        r#":user/firstName "Edward""#,
        r#":user/firstName "Ed" "#,
        " false]",
        ":story/author",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
