//! The test harness itself: a private server never outlives the process
//! that started it, even one killed with SIGKILL, and debris of dead
//! owners is reaped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storage_postgres::testkit::{CONTAINERS_VAR, PgServer, URI_VAR};

const CHILD_VAR: &str = "ACCRETE_HARNESS_CHILD";

fn base_dir() -> PathBuf {
    std::env::temp_dir().join("accrete-pg-test")
}

/// Run only by the test below, as a child process: starts a private
/// server, says where it listens, and waits to be killed.
#[tokio::test]
#[ignore = "a helper process of a_killed_test_process_takes_its_server_along"]
async fn child_holds_a_private_server() {
    assert!(
        std::env::var(CHILD_VAR).is_ok(),
        "run only as a child process"
    );
    let server = PgServer::private().await.unwrap();
    println!("PORT={}", server.port().unwrap());
    tokio::time::sleep(Duration::from_secs(60)).await;
    panic!("the parent should have killed this process long ago");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(15), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_test_process_takes_its_server_along() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_holds_a_private_server",
            "--nocapture",
        ])
        .env(CHILD_VAR, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("PORT=").map(|p| p.parse().unwrap()))
        .expect("the child never reported its server");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the server is up"
    );
    let prefix = format!("run-{}-", child.id());
    let dirs = || -> Vec<PathBuf> {
        std::fs::read_dir(base_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    };
    assert_eq!(dirs().len(), 1, "the child's server directory");

    child.kill().unwrap(); // SIGKILL: no destructor, no panic handler runs
    child.wait().unwrap();
    wait_until(
        "the server still accepts connections 15 s after its owner died",
        || TcpStream::connect(("127.0.0.1", port)).is_err(),
    );
    wait_until("the server directory is still there", || dirs().is_empty());
}

#[tokio::test]
async fn directories_of_dead_owners_are_reaped_and_live_ones_kept() {
    let base = base_dir();
    std::fs::create_dir_all(&base).unwrap();
    let dead = base.join("run-4000000000-0-deadbeef");
    std::fs::create_dir_all(dead.join("data")).unwrap();
    // No process has this pid (above the kernel's limit of 2^22).
    std::fs::write(dead.join("owner"), "4000000000 12345").unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let live = base.join(format!("run-{}-x-live", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(
        live.join("owner"),
        format!("{} {start}", std::process::id()),
    )
    .unwrap();

    let _server = PgServer::private().await.unwrap();
    assert!(!dead.exists(), "a dead owner's directory was not reaped");
    assert!(live.exists(), "a live owner's directory was reaped");
    std::fs::remove_dir_all(&live).unwrap();
}

/// Run only by the test below, as a child process: asks for the shared
/// server and prints what it got.
#[tokio::test]
#[ignore = "a helper process of without_a_server_the_run_fails_and_says_how_to_provide_one"]
async fn child_asks_for_the_shared_server() {
    assert!(
        std::env::var(CHILD_VAR).is_ok(),
        "run only as a child process"
    );
    match PgServer::shared().await {
        Ok(server) => println!("SERVER {server:?}"),
        Err(e) => println!("NO SERVER: {e}"),
    }
}

#[test]
fn without_a_server_the_run_fails_and_says_how_to_provide_one() {
    let cases = [
        (
            "ACCRETE_PG_BINDIR",
            "/nonexistent/bin",
            "ACCRETE_PG_BINDIR=/nonexistent/bin holds no initdb and pg_ctl",
        ),
        // Asked for a container where no Docker daemon answers (DOCKER_HOST
        // points nowhere, below): the run fails and says why, it does not
        // fall back to the private server.
        (CONTAINERS_VAR, "1", "running Docker daemon"),
        (
            CONTAINERS_VAR,
            "yes",
            "use 1 to run the suites against containers",
        ),
        (
            URI_VAR,
            "postgres://u@h/d?db=x",
            "must not name `db=` or `schema=`",
        ),
    ];
    for (var, value, want) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_asks_for_the_shared_server",
                "--nocapture",
            ])
            .env_remove(URI_VAR)
            .env(CHILD_VAR, "1")
            .env("DOCKER_HOST", "unix:///nonexistent/accrete-no-docker.sock")
            .env(var, value)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("NO SERVER: ") && text.contains(want),
            "{var}={value}: {text}"
        );
    }
}

#[test]
fn the_container_path_names_its_images_ports_and_switch() {
    use storage_postgres::testkit::container::{self, IMAGE, PORT, PgVersion, parse_switch};
    assert_eq!(PgVersion::ALL.map(PgVersion::name), ["15", "17"]);
    assert_eq!(
        PgVersion::parse("15").unwrap().image(),
        (IMAGE, "15-alpine")
    );
    assert_eq!(
        PgVersion::parse(" 17 ").unwrap().image(),
        (IMAGE, "17-alpine")
    );
    let err = PgVersion::parse("16").unwrap_err().to_string();
    assert!(
        err.contains("ACCRETE_TEST_CONTAINER_POSTGRES") && err.contains("15, 17"),
        "{err}"
    );
    assert_eq!(PORT, 5432);
    // Published on loopback only, as a URI the harness hands the tests.
    let uri = container::uri_for(40123);
    assert!(uri.starts_with("postgres://postgres:") && uri.ends_with("@127.0.0.1:40123/postgres"));
    assert!(storage_core::StorageUri::parse(&uri).is_ok());
    assert!(parse_switch(Some("1")).unwrap());
    assert!(!parse_switch(None).unwrap() && !parse_switch(Some("0")).unwrap());
    assert!(parse_switch(Some("on")).is_err());
}

/// Says in every run whether the shared server is a container; a pass is a
/// pass of the decision only, never of the container suites.
#[test]
fn status_of_the_container_path() {
    match storage_postgres::testkit::shared_source().unwrap() {
        storage_postgres::testkit::SharedSource::Container(v) => {
            println!(
                "postgres container suites: asked for, PostgreSQL {}",
                v.name()
            )
        }
        storage_postgres::testkit::SharedSource::External(_) => println!(
            "postgres container suites: NOT RUN (ACCRETE_TEST_CONTAINERS is not 1); the suites use the server of ACCRETE_TEST_POSTGRES_URI"
        ),
        storage_postgres::testkit::SharedSource::Private => println!(
            "postgres container suites: NOT RUN (ACCRETE_TEST_CONTAINERS is not 1); the suites use a private server from the system's binaries"
        ),
    }
}
