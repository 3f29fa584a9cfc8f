//! A single-node ScyllaDB (or Cassandra) container for tests, through the
//! `docker` command: started on a free loopback port, waited for until it
//! answers CQL, and removed when dropped.

use std::process::Command;
use std::time::Duration;

use scylla::client::session_builder::SessionBuilder;

use super::HarnessError;

/// The image started unless `ACCRETE_TEST_DOCKER_IMAGE` names another.
pub const DEFAULT_IMAGE: &str = "scylladb/scylla:6.2";

/// Names the image to start.
pub const IMAGE_VAR: &str = "ACCRETE_TEST_DOCKER_IMAGE";

/// How long a fresh node may take to answer CQL.
const STARTUP: Duration = Duration::from_secs(240);

/// The image to start.
pub fn image() -> String {
    std::env::var(IMAGE_VAR).unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

/// A running container, removed (`docker rm -f`) on drop.
#[derive(Debug)]
pub struct Container {
    id: String,
    contact: String,
}

impl Container {
    /// Starts `image` and waits until it answers CQL.
    pub async fn start(image: &str) -> Result<Container, HarnessError> {
        let mut args = vec![
            "run",
            "-d",
            "--rm",
            "--label",
            "accrete-test=storage-cassandra",
            "-p",
            "127.0.0.1::9042",
            image,
        ];
        if image.contains("scylla") {
            args.extend(["--smp", "1", "--memory", "1G", "--overprovisioned", "1"]);
            args.extend(["--developer-mode", "1"]);
        }
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        // Pulling the image may take minutes: not on a runtime thread.
        let id = tokio::task::spawn_blocking(move || {
            docker(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .map_err(|e| HarnessError::new(format!("docker run panicked: {e}")))??;
        let mut container = Container {
            id,
            contact: String::new(),
        };
        let port = docker(&["port", &container.id, "9042/tcp"])?;
        container.contact = port
            .lines()
            .find(|l| l.starts_with("127.0.0.1:"))
            .ok_or_else(|| HarnessError::new(format!("docker port printed `{port}`")))?
            .to_string();
        container.wait_for_cql().await?;
        Ok(container)
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `127.0.0.1:PORT`.
    pub fn contact_point(&self) -> &str {
        &self.contact
    }

    async fn wait_for_cql(&self) -> Result<(), HarnessError> {
        let started = tokio::time::Instant::now();
        loop {
            let attempt = SessionBuilder::new()
                .known_node(&self.contact)
                .fetch_schema_metadata(false)
                .build()
                .await;
            match attempt {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() > STARTUP => {
                    return Err(HarnessError::new(format!(
                        "container {} did not answer CQL at {} within {STARTUP:?}: {e}",
                        self.id, self.contact
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Err(e) = docker(&["rm", "-f", &self.id]) {
            eprintln!("could not remove test container {}: {e}", self.id);
        }
    }
}

/// Runs `docker ARGS`; its trimmed stdout, or an error with its stderr.
fn docker(args: &[&str]) -> Result<String, HarnessError> {
    let output = Command::new("docker").args(args).output().map_err(|e| {
        HarnessError::new(format!(
            "cannot run `docker` ({e}); {} needs the Docker CLI and a running daemon",
            super::DOCKER_VAR
        ))
    })?;
    if !output.status.success() {
        return Err(HarnessError::new(format!(
            "`docker {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
