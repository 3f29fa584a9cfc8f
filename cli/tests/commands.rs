//! Every `accrete` command end to end, with its exit codes, on file,
//! PostgreSQL and simulated Cassandra storage; creating a Cassandra
//! keyspace; the tour script.
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
    assert_eq!(
        rename.lines().count(),
        6,
        "summary and 5 datoms (the tx id and the principal are two): {rename}"
    );

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

    let emails = ok(
        &["q", uri, "[:find ?email :where [_ :user/email ?email]]"],
        "",
    );
    assert_eq!(emails, "[\"a@x\"]\n[\"b@x\"]\n");
    let friend_of = "[:find ?name . :in $ ?email :where [?b :user/email ?email] [?b :user/friend ?a] [?a :user/name ?name]]";
    assert_eq!(ok(&["q", uri, friend_of, r#""b@x""#], ""), "\"Anne\"\n");
    let data_t = t_of(&data).to_string();
    let then = ok(&["q", uri, friend_of, r#""b@x""#, "--as-of", &data_t], "");
    assert_eq!(then, "\"Ann\"\n");
    let pulled = ok(&["pull", uri, "[:user/name]", r#"[:user/email "a@x"]"#], "");
    assert_eq!(pulled, "{:user/name \"Anne\"}\n");

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
        (
            vec!["q", uri, "[:find ?e :where [?e :no/such]]"],
            "unknown attribute: :no/such",
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
    let gone = accrete(&["q", uri, "[:find ?e :where [?e :db/ident]]"], "");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_keyspace_on_the_cassandra_simulator() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let keyspace = storage_cassandra::testkit::scratch_keyspace();
    let uri = cluster.uri(&keyspace, "db=shop");
    let other = cluster.uri(&storage_cassandra::testkit::scratch_keyspace(), "db=shop");
    tokio::task::spawn_blocking(move || create_keyspaces(&keyspace, &uri, &other))
        .await
        .unwrap();
}

/// `keyspace` (named by `uri`) and `other` do not exist yet.
fn create_keyspaces(keyspace: &str, uri: &str, other: &str) {
    let missing = accrete(&["create-db", uri], "");
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    let why = stderr(&missing);
    assert!(
        why.contains(&format!("keyspace `{keyspace}` does not exist"))
            && why.contains(&format!("accrete create-keyspace '{uri}' --dc DC_NAME=3")),
        "{why}"
    );
    let no_replication = accrete(&["create-keyspace", uri], "");
    assert_eq!(
        code(&no_replication),
        1,
        "nothing silently picks SimpleStrategy"
    );
    let both = accrete(
        &["create-keyspace", uri, "--simple", "3", "--dc", "dc1=3"],
        "",
    );
    assert_eq!(code(&both), 1);
    for (args, why) in [
        (vec!["--dc", "dc1"], "--dc dc1: write NAME=N"),
        (vec!["--dc", "a,b=3"], "--dc a,b=3: write NAME=N"),
        (
            vec!["--dc", "dc1=0"],
            "--dc dc1=0: invalid input: replication `dc1:0`: the factor `0` is not a number in 1..=32",
        ),
        (vec!["--dc", "d'c=3"], "must be 1 to 64 ASCII letters"),
        (
            vec!["--dc", "dc1=3", "--dc", "dc1=2"],
            "data centre `dc1` is given twice",
        ),
        (
            vec!["--dc", "simple=3"],
            "for SimpleStrategy use --simple N",
        ),
        (
            vec!["--simple", "40"],
            "--simple 40: invalid input: replication `simple:40`",
        ),
    ] {
        let out = accrete(&[&["create-keyspace", uri][..], &args].concat(), "");
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let not_cassandra = accrete(
        &[
            "create-keyspace",
            &file_uri(dir.path(), "shop"),
            "--simple",
            "1",
        ],
        "",
    );
    assert_eq!(code(&not_cassandra), 2);
    assert!(
        stderr(&not_cassandra).contains("create-keyspace takes a cassandra:// URI"),
        "{}",
        stderr(&not_cassandra)
    );
    assert_eq!(
        code(&accrete(&["create-db", uri], "")),
        2,
        "nothing was created"
    );

    let created = ok(&["create-keyspace", uri, "--simple", "3"], "");
    assert_eq!(
        created,
        format!(
            "created keyspace {keyspace} with replication {{'class': 'SimpleStrategy', 'replication_factor': '3'}}\n"
        )
    );
    let again = ok(&["create-keyspace", uri, "--simple", "1"], "");
    assert!(
        again.contains(&format!(
            "keyspace {keyspace} exists already and was left as it is"
        )) && again.contains("SimpleStrategy"),
        "{again}"
    );
    assert!(ok(&["create-db", uri], "").starts_with("created database shop"));
    ok(&["transact", uri], SCHEMA);
    ok(&["transact", uri], r#"[{:user/email "a@x"}]"#);
    let emails = ok(
        &["q", uri, "[:find [?m ...] :where [_ :user/email ?m]]"],
        "",
    );
    assert_eq!(emails, "[\"a@x\"]\n");

    let topology = ok(
        &["create-keyspace", other, "--dc", "dc1=3", "--dc", "dc2=2"],
        "",
    );
    assert!(
        topology.contains("{'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '2'}"),
        "{topology}"
    );
    assert!(ok(&["create-db", other], "").starts_with("created database shop"));
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
    // A lease of a few seconds: long enough that a loaded machine's late
    // renewal cannot let it lapse while the transactor is alive.
    let transactor = TransactorProcess::start(&uri, &["--lease-ttl", "4"]);
    transactor.wait_active(&uri);
    let out = accrete(&["-v", "transact", &uri], SCHEMA);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let via = format!("via=transactor at {}", transactor.endpoint);
    assert!(stderr(&out).contains(&via), "{}", stderr(&out));
    drop(transactor); // killed: its lease lapses after four seconds
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
    let transactor =
        TransactorProcess::start(&uri, &["--advertise", "127.0.0.1:1", "--lease-ttl", "10"]);
    // It says where it listens before it takes the lease; a transact started
    // in between would find no live lease and run a transactor itself.
    transactor.wait_active(&uri);
    let out = accrete(&["transact", &uri, "--lease-wait", "2"], SCHEMA);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("held by a live transactor at 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
}

/// `sh tour.sh > tour.log 2>&1`: one file for both streams, written in
/// order (a `tee /dev/stderr` in the tour once reopened, and so truncated,
/// that file in the middle of the run).
#[test]
fn the_tour_writes_a_whole_log_to_a_file() {
    let tour = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tour.sh");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tour.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = std::process::Command::new("sh")
        .arg(tour)
        .env("ACCRETE", ACCRETE)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, std::time::Duration::from_secs(120));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.starts_with("\n== 1. Create a database"), "{text}");
    assert_eq!(text.matches("created database news").count(), 1, "{text}");
    let report = text
        .find("\n{:t ")
        .expect("the transact report is in the log");
    let reading = text
        .find("== 4. Read it back")
        .expect("step 4 is in the log");
    assert!(report < reading, "{text}");
    assert!(!text.contains('\0'), "{text}");
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
        "\n[\"ada@example.com\" \"editor@example.com\"]\n",
        "\n[\"Datalog in practice\"]\n[\"Time travel for auditors\"]\n",
        "\n[\"Ada\" 2]\n[\"Ed\" 1]\n",
        r#"{:story/_author [{:story/title "Datalog in practice"} {:story/title "Time travel for auditors"}], :user/firstName "Ada"}"#,
        "\n[\"Ada\" \"Datalog in practice\"]\n[\"Ada\" \"Time travel for auditors\"]\n[\"Ed\" \"Accretion-only databases\"]\n",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
