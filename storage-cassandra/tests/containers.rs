//! The container path's harness, tested without Docker: the decision from
//! the environment, image names and tags, ports, the readiness checks, and
//! the failure (never a silent skip) when containers are asked for and no
//! daemon answers. The container suites themselves are the ignored tests of
//! `real_cluster.rs` and the suites that follow `ACCRETE_TEST_CONTAINERS=1`;
//! the status test below says whether they were asked for in this run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::process::Command;
use std::time::Duration;

use storage_cassandra::testkit::container::{
    self, CASSANDRA_IMAGE, CQL_PORT, Flavour, SCYLLA_IMAGE, wait_for_cql,
};
use storage_cassandra::testkit::{
    CONTAINERS_VAR, FLAVOUR_VAR, SuiteBackend, TestCluster, parse_switch, suite_backend,
};

/// Says, in every run, whether the container suites were asked for; a
/// pass of this test is a pass of the decision logic only, never of the
/// suites.
#[test]
fn status_of_the_container_suites() {
    match suite_backend() {
        Ok(SuiteBackend::Simulator) => println!(
            "container suites: NOT RUN ({CONTAINERS_VAR} is not 1): the storage suites ran against cql-sim only"
        ),
        Ok(SuiteBackend::Container(f)) => {
            println!("container suites: asked for, on {}", f.name())
        }
        Err(e) => panic!("the container switch is set badly: {e}"),
    }
}

#[test]
fn the_switch_is_1_or_off_and_nothing_else() {
    assert!(!parse_switch(None).unwrap());
    assert!(!parse_switch(Some("")).unwrap());
    assert!(!parse_switch(Some("0")).unwrap());
    assert!(parse_switch(Some("1")).unwrap());
    assert!(parse_switch(Some(" 1 ")).unwrap());
    for bad in ["yes", "true", "2", "on"] {
        let err = parse_switch(Some(bad)).unwrap_err().to_string();
        assert!(err.contains(CONTAINERS_VAR) && err.contains(bad), "{err}");
    }
}

#[test]
fn flavours_name_their_images_and_readiness_lines() {
    assert_eq!(
        Flavour::ALL.map(Flavour::name),
        ["cassandra-4.1", "cassandra-5.0", "scylla"]
    );
    for f in Flavour::ALL {
        assert_eq!(Flavour::parse(f.name()).unwrap(), f);
    }
    assert_eq!(Flavour::Cassandra41.image(), (CASSANDRA_IMAGE, "4.1"));
    assert_eq!(Flavour::Cassandra50.image(), (CASSANDRA_IMAGE, "5.0"));
    assert_eq!(Flavour::Scylla.image().0, SCYLLA_IMAGE);
    assert_eq!(CQL_PORT, 9042);
    let err = Flavour::parse("cassandra-3.11").unwrap_err().to_string();
    assert!(
        err.contains(FLAVOUR_VAR) && err.contains("cassandra-4.1, cassandra-5.0, scylla"),
        "{err}"
    );
    // The log lines each server prints once it accepts CQL clients.
    assert!(Flavour::Cassandra41.is_ready_line(
        "INFO  [main] 2024-01-01 00:00:00,000 PipelineConfigurator.java:125 - Starting listening for CQL clients on /0.0.0.0:9042 (unencrypted)..."
    ));
    assert!(
        Flavour::Scylla
            .is_ready_line("INFO  2024-01-01 00:00:00,000 [shard 0:main] init - serving")
    );
    assert!(!Flavour::Cassandra50.is_ready_line("INFO  Starting Messaging Service"));
}

#[test]
fn nodes_are_configured_for_a_test_machine_and_seeded_on_a_network() {
    let alone = Flavour::Cassandra50.env(None);
    assert!(
        alone
            .iter()
            .any(|(k, v)| k == "MAX_HEAP_SIZE" && v == "512M")
    );
    assert!(!alone.iter().any(|(k, _)| k == "CASSANDRA_SEEDS"));
    let seeded = Flavour::Cassandra41.env(Some("net-n1"));
    assert!(
        seeded
            .iter()
            .any(|(k, v)| k == "CASSANDRA_SEEDS" && v == "net-n1")
    );
    let args = Flavour::Scylla.args(Some("net-n1"));
    assert!(
        args.windows(2).any(|w| w == ["--seeds", "net-n1"]),
        "{args:?}"
    );
    assert!(args.windows(2).any(|w| w == ["--smp", "1"]), "{args:?}");
    assert!(Flavour::Cassandra50.args(Some("x")).is_empty());
    assert_eq!(container::contact_for(32768), "127.0.0.1:32768");
}

#[tokio::test]
async fn readiness_waits_for_a_cql_session() {
    // Something that speaks CQL: ready at once.
    let sim = TestCluster::sim().await.unwrap();
    wait_for_cql(sim.contact_point(), Duration::from_secs(20))
        .await
        .unwrap();
    // A port nobody listens on: not ready, and the error says where.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let contact = container::contact_for(port);
    let started = std::time::Instant::now();
    let err = wait_for_cql(&contact, Duration::from_secs(2))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&contact) && err.contains("within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

const CHILD_VAR: &str = "ACCRETE_CONTAINERS_TEST_CHILD";

#[tokio::test]
#[ignore = "run only as the child process of asking_for_containers_without_a_daemon_fails_with_the_reason"]
async fn child_asks_for_the_suite_cluster() {
    assert!(
        std::env::var(CHILD_VAR).is_ok(),
        "run only as a child process"
    );
    match TestCluster::for_suites().await {
        Ok(c) => println!("CLUSTER {c:?}"),
        Err(e) => println!("NO CLUSTER: {e}"),
    }
}

/// `ACCRETE_TEST_CONTAINERS=1` where no daemon answers (`DOCKER_HOST`
/// points at a socket that does not exist): the suite cluster is refused
/// with the reason, never replaced by the simulator.
#[test]
fn asking_for_containers_without_a_daemon_fails_with_the_reason() {
    let cases = [
        ("1", "cassandra-4.1", "running Docker daemon"),
        ("1", "scylla", "running Docker daemon"),
        ("1", "cassandra-3.0", "is none of"),
        (
            "yes",
            "scylla",
            "use 1 to run the suites against containers",
        ),
    ];
    for (switch, flavour, want) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_asks_for_the_suite_cluster",
                "--nocapture",
            ])
            .env(CHILD_VAR, "1")
            .env("DOCKER_HOST", "unix:///nonexistent/accrete-no-docker.sock")
            .env(CONTAINERS_VAR, switch)
            .env(FLAVOUR_VAR, flavour)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("NO CLUSTER: ") && text.contains(want),
            "{switch} {flavour}: {text}"
        );
    }
}
