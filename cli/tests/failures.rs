//! How `accrete` fails, seen from a script: the exit code of each cause
//! (only what may cure itself is 3, "try again"), messages that never echo
//! a secret, reading commands that never create storage, a signal that
//! releases an embedded transact's lease, and stderr that holds only the
//! final line unless `-v` asks for more.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cql_sim::{SimCluster, SimConfig};

const SCHEMA: &str =
    "[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

/// Asserts `out` exited with `want` and its stderr is the one line
/// `accrete: …` containing every one of `says`.
fn fails_with(cause: &str, out: &Output, want: i32, says: &[&str]) {
    let err = stderr(out);
    assert_eq!(code(out), want, "{cause}: {err}");
    // Before it, only the notes of what a command waits for (`accrete
    // transact: the transactor at … does not answer; waiting …`).
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("accrete transact: "))
        .collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("accrete: "),
        "{cause}: stderr is not one final line:\n{err}"
    );
    for s in says {
        assert!(err.contains(s), "{cause}: no `{s}` in {err}");
    }
}

#[test]
fn permanent_file_and_network_problems_are_not_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"a file").unwrap();
    let below = file_uri(&plain.join("store"), "x");
    for command in ["list-dbs", "create-db"] {
        fails_with(
            "a path below a file",
            &accrete_env(&[command, &below], &[]),
            2,
            &["a component of the path is a file"],
        );
    }

    let uri = file_uri(&dir.path().join("s"), "x");
    ok(&["create-db", &uri], "");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    fails_with(
        "an address in use",
        &accrete_env(&["transactor", &uri, "--listen", &address], &[]),
        7,
        &["in use"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_postgres_password_and_a_missing_postgres_database_are_not_exit_3() {
    let server = storage_postgres::testkit::PgServer::shared()
        .await
        .expect("a PostgreSQL server for the tests");
    let Some(port) = server.port() else {
        eprintln!("SKIPPED: an external server; this test needs the private one's roles");
        return;
    };
    let user = storage_postgres::testkit::PASSWORD_USER;
    let admin = server.admin().await.unwrap();
    let _exists = admin
        .batch_execute(&format!(
            "CREATE ROLE {user} LOGIN PASSWORD 'correct-horse'"
        ))
        .await;
    let wrong = format!("postgres://{user}@127.0.0.1:{port}/postgres?db=x&connect_timeout=3");
    let missing =
        format!("postgres://postgres@127.0.0.1:{port}/no_such_pg_db?db=x&connect_timeout=3");
    tokio::task::spawn_blocking(move || {
        fails_with(
            "a wrong postgres password",
            &accrete_env(&["list-dbs", &wrong], &[("PGPASSWORD", "wrong-staple")]),
            7,
            &["28P01"],
        );
        fails_with(
            "a missing postgres database",
            &accrete_env(&["list-dbs", &missing], &[]),
            7,
            &["no_such_pg_db", "does not exist"],
        );
    })
    .await
    .unwrap();
}

#[test]
fn uri_userinfo_is_never_echoed() {
    for uri in [
        "file://alice:Pass@/srv/x?db=s9",
        "file://alice:Pass@localhost/srv/x?db=s9",
    ] {
        let out = accrete_env(&["create-db", uri], &[]);
        fails_with(
            "userinfo in a file URI",
            &out,
            2,
            &["no user name or password"],
        );
        assert!(!stderr(&out).contains("Pass"), "{}", stderr(&out));
    }
}

#[test]
fn reading_commands_do_not_create_a_mistyped_file_storage() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let uri = file_uri(&typo, "x");
    let reads: [&[&str]; 4] = [
        &["list-dbs", &uri],
        &["q", &uri, "[:find ?e :where [?e :db/ident]]"],
        &["datoms", &uri, "eavt"],
        &["pull", &uri, "[*]", "1"],
    ];
    for args in reads {
        fails_with(
            args[0],
            &accrete_env(args, &[]),
            2,
            &["no accrete storage", "does not exist"],
        );
        assert!(!typo.exists(), "{} created the storage", args[0]);
    }
    ok(&["create-db", &uri], "");
    assert!(typo.is_dir(), "create-db creates the storage");
    assert_eq!(ok(&["list-dbs", &uri], ""), "x\n");
}

/// The holder the lease of `uri`'s database names right now, if any.
async fn lease_holder(uri: &str) -> Option<String> {
    let (storage, db) = open(uri).await;
    let lease = transactor::lease::read_lease(storage.as_ref(), &db)
        .await
        .unwrap()?;
    lease.holder.map(|h| format!("{h:?}"))
}

/// A big enough transaction that committing it takes a moment.
fn big_tx(n: usize) -> String {
    let forms: Vec<String> = (0..n)
        .map(|i| format!("[:db/add \"e{i}\" :x/n {i}]"))
        .collect();
    format!("[{}]", forms.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_an_embedded_transact_releases_the_lease() {
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let uri = file_uri(dir.path(), "x");
        ok(&["create-db", &uri], "");
        ok(&["transact", &uri], SCHEMA);
        let mut child = Command::new(ACCRETE)
            .args(["transact", &uri])
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            // Its answer lists 20,000 tempids: more than a pipe holds.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It reads all of its input before it takes the lease; it is
        // signalled once the lease names it, while it commits.
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, big_tx(20_000).as_bytes()).unwrap();
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(60);
        while lease_holder(&uri).await.is_none() {
            assert!(
                Instant::now() < deadline,
                "the transact never took the lease"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "it ended before it was signalled"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out =
            tokio::task::spawn_blocking(move || wait_with_deadline(child, Duration::from_secs(60)))
                .await
                .unwrap();
        let want = if signal == "-INT" { 130 } else { 143 };
        assert_eq!(out.status.code(), Some(want), "{signal}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("stopped by a signal"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            lease_holder(&uri).await,
            None,
            "{signal}: the lease is still held"
        );
        // The next writer need not wait for a lease to lapse.
        let started = Instant::now();
        let next = uri.clone();
        tokio::task::spawn_blocking(move || {
            ok(
                &["transact", &next, "--lease-wait", "3"],
                "[[:db/add \"n\" :x/n 1]]",
            )
        })
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_transactor_on_a_missing_database_says_so_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["create-db", &file_uri(dir.path(), "real")], "");
    let out = accrete_env(
        &[
            "transactor",
            &file_uri(dir.path(), "missing"),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    fails_with(
        "a missing database",
        &out,
        2,
        &["database `missing` does not exist"],
    );
    assert!(!stderr(&out).contains("endpoint on"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cassandra_open_prints_only_the_final_line() {
    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("cassandra://127.0.0.1:{port}/ks?db=x");
    let out = tokio::task::spawn_blocking({
        let uri = uri.clone();
        move || accrete_env(&["list-dbs", &uri], &[])
    })
    .await
    .unwrap();
    fails_with("no cassandra", &out, 3, &["127.0.0.1"]);
    let verbose = tokio::task::spawn_blocking(move || accrete_env(&["-v", "list-dbs", &uri], &[]))
        .await
        .unwrap();
    assert!(
        stderr(&verbose).lines().count() > 1,
        "-v shows the driver's lines: {}",
        stderr(&verbose)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_cassandra_credentials_are_not_exit_3_and_say_what_to_set() {
    let sim = SimCluster::start(SimConfig {
        credentials: Some(("alice".into(), "secret".into())),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uri = format!("cassandra://{}/ks?db=x", sim.contact_point());
    tokio::task::spawn_blocking(move || {
        let wrong = accrete_env(
            &["list-dbs", &uri],
            &[
                ("ACCRETE_CASSANDRA_USER", "alice"),
                ("ACCRETE_CASSANDRA_PASSWORD", "bad-pw-7731"),
            ],
        );
        fails_with(
            "wrong cassandra credentials",
            &wrong,
            7,
            &["user `alice`", "ACCRETE_CASSANDRA_PASSWORD"],
        );
        let missing = accrete_env(&["list-dbs", &uri], &[]);
        fails_with(
            "missing cassandra credentials",
            &missing,
            7,
            &["ACCRETE_CASSANDRA_USER", "ACCRETE_CASSANDRA_PASSWORD"],
        );
        for out in [&wrong, &missing] {
            let err = stderr(out);
            assert!(
                !err.contains("SessionBuilder") && !err.contains("bad-pw-7731"),
                "{err}"
            );
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cassandra_commands_print_no_driver_lines_and_name_the_command_first() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let uri = cluster.scratch_uri("shop").await.unwrap();
    let keyspace = storage_cassandra::testkit::scratch_keyspace();
    let missing = cluster.uri(&keyspace, "db=shop");
    tokio::task::spawn_blocking(move || {
        for args in [&["create-db", &uri][..], &["list-dbs", &uri][..]] {
            let out = accrete_env(args, &[]);
            assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
            assert_eq!(stderr(&out), "", "{args:?} wrote to stderr");
        }
        let out = accrete_env(&["list-dbs", &missing], &[]);
        fails_with("a missing keyspace", &out, 2, &["accrete create-keyspace"]);
        let err = stderr(&out);
        assert!(!err.contains("storage_cassandra::"), "{err}");
        let command = err.find("accrete create-keyspace").unwrap();
        assert!(
            command < err.find("cqlsh").unwrap(),
            "the command comes first: {err}"
        );
    })
    .await
    .unwrap();
}

/// A keyspace dropped while `accrete transact` waits for a held lease is
/// the same condition as a keyspace missing when the command starts: the
/// same exit code (2, "no such keyspace") and the command that creates it,
/// not "unavailable, try again" or "refused" after the whole wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyspace_dropped_while_waiting_for_the_lease_exits_as_at_open() {
    let cluster = storage_cassandra::testkit::TestCluster::sim()
        .await
        .unwrap();
    let uri = cluster.scratch_uri("shop").await.unwrap();
    let says = ["does not exist", "accrete create-keyspace"];
    vanishing_while_waiting_exits_as_at_open(&uri, cluster.drop_scratch_keyspaces(), &says).await;
}

/// The same for a file storage whose directory is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_storage_removed_while_waiting_for_the_lease_exits_as_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let uri = file_uri(&store, "shop");
    let says = ["there is no accrete storage", "does not exist"];
    let removed = async move { std::fs::remove_dir_all(&store).map_err(|e| e.to_string()) };
    vanishing_while_waiting_exits_as_at_open(&uri, removed, &says).await;
}

/// Runs `transact` while a dead transactor's lease (ttl 60 s) is held, lets
/// `vanish` remove the storage, and expects the exit code and message of
/// a `transact` started on the missing storage: 2, saying `says`.
async fn vanishing_while_waiting_exits_as_at_open<E: std::fmt::Debug>(
    uri: &str,
    vanish: impl std::future::Future<Output = Result<(), E>>,
    says: &[&str],
) {
    ok(&["create-db", uri], "");
    ok(&["transact", uri], SCHEMA);
    let mut holder = TransactorProcess::start(uri, &["--lease-ttl", "60"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while lease_holder(uri)
        .await
        .is_none_or(|h| !h.contains(&holder.endpoint))
    {
        assert!(
            Instant::now() < deadline,
            "the transactor never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder.kill9();
    let tx = "[[:db/add \"n\" :x/n 1]]";
    let mut waiting = Command::new(ACCRETE)
        .args(["transact", uri, "--lease-wait", "30"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = waiting.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, tx.as_bytes()).unwrap();
    drop(stdin);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "it waits for the lease"
    );
    vanish.await.unwrap();
    let started = Instant::now();
    let vanished =
        tokio::task::spawn_blocking(move || wait_with_deadline(waiting, Duration::from_secs(60)))
            .await
            .unwrap();
    let at_open = {
        let uri = uri.to_string();
        tokio::task::spawn_blocking(move || accrete(&["transact", &uri, "--lease-wait", "30"], tx))
            .await
            .unwrap()
    };
    fails_with("missing at open", &at_open, 2, says);
    fails_with("removed while waiting for the lease", &vanished, 2, says);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it said so at once, not after the whole wait: {:?}",
        started.elapsed()
    );
}

#[test]
fn verify_db_reports_the_segments_its_progress_counted() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let schema =
        "[{:db/ident :x/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";
    ok(&["transact", &uri], schema);
    // Too much to ride inside the log root: it goes to segments.
    let forms: Vec<String> = (0..40)
        .map(|i| format!("[:db/add \"e{i}\" :x/s \"{}\"]", i.to_string().repeat(2000)))
        .collect();
    ok(&["transact", &uri], &format!("[{}]", forms.join(" ")));
    let out = accrete_env(&["verify-db", &uri], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let progress = stderr(&out);
    let last = progress
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("verify leaves: "))
        .unwrap_or_else(|| panic!("no progress line in {progress}"));
    let (done, total) = last
        .split(" segments")
        .next()
        .unwrap()
        .split_once('/')
        .unwrap();
    assert_eq!(done, total, "{progress}");
    let summary = stdout(&out);
    let leaves = if done == "1" {
        "1 leaf".to_string()
    } else {
        format!("{done} leaves")
    };
    assert!(
        summary.contains(&format!("the {leaves} the progress counted")),
        "progress {last:?} against {summary}"
    );
}

#[test]
fn backup_and_restore_help_names_every_scheme() {
    for command in ["backup-db", "restore-db"] {
        let help = ok(&[command, "--help"], "");
        for scheme in ["file:", "postgres://", "cassandra://", "mem://"] {
            assert!(
                help.contains(scheme),
                "{command} --help omits {scheme}: {help}"
            );
        }
    }
}

/// A transactor process whose stderr lines arrive on a channel.
struct Watched {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watched {
    fn start(uri: &str) -> Watched {
        use std::io::BufRead;
        let mut child = Command::new(ACCRETE)
            .args(["transactor", uri, "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watched { child, lines }
    }

    /// Lines until one contains `want` (within 20 s), all of them.
    fn until(&self, want: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let done = line.contains(want);
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("no line with `{want}`; saw {seen:?}");
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_standby_says_it_stands_by_and_the_active_transactor_says_it_is_active() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let active = Watched::start(&uri);
    let lines = active.until("active for `x`");
    assert!(
        lines.iter().all(|l| !l.contains("standing by for")),
        "{lines:?}"
    );
    let standby = Watched::start(&uri);
    let lines = standby.until("standing by for `x`");
    assert!(lines.iter().all(|l| !l.contains("active for")), "{lines:?}");
    // At the default level a standby logs its state changes (info) and
    // no warning or error.
    for line in &lines {
        assert!(line.contains(" INFO "), "{lines:?}");
    }
}

/// A small tmpfs mounted over a directory, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_one_line_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_mount) = Tmpfs::mount(dir.path(), "3m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root, or no mount permission)");
        return;
    };
    let uri = file_uri(&dir.path().join("s"), "x");
    ok(&["create-db", &uri], "");
    let schema =
        "[{:db/ident :x/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";
    ok(&["transact", &uri], schema);
    // Random text, so that compression cannot shrink it.
    let noise = |rng: &mut rand::rngs::ThreadRng| -> String {
        use rand::Rng;
        (0..4000)
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect()
    };
    let mut rng = rand::rng();
    for _ in 0..200 {
        let forms: Vec<String> = (0..40)
            .map(|i| format!("[:db/add \"e{i}\" :x/s \"{}\"]", noise(&mut rng)))
            .collect();
        let out = accrete(&["transact", &uri], &format!("[{}]", forms.join(" ")));
        if code(&out) != 0 {
            fails_with("a full disk", &out, 3, &["disk is full"]);
            return;
        }
    }
    panic!("a 3 MiB file system took 200 transactions of 160 KB");
}
