//! Runs a simulated Cassandra cluster as its own process, for tests that
//! need one outside their own runtime. Prints the address to connect to on
//! the first line of stdout, then serves until interrupted (Ctrl-C) or until
//! its standard input is closed.
//!
//! ```text
//! cql-sim [--address 127.0.0.1:0] [--replicas 3] [--nodes 1] [--seed 0] [--credentials user:password]
//! ```

use std::process::ExitCode;

use cql_sim::{SimCluster, SimConfig};
use tokio::io::AsyncReadExt;

fn parse(args: &[String]) -> Result<SimConfig, String> {
    let mut config = SimConfig::default();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--address" => {
                config.address = value
                    .parse()
                    .map_err(|e| format!("--address {value}: {e}"))?
            }
            "--replicas" => {
                config.replicas = value
                    .parse()
                    .map_err(|e| format!("--replicas {value}: {e}"))?
            }
            "--nodes" => {
                config.nodes = value.parse().map_err(|e| format!("--nodes {value}: {e}"))?
            }
            "--seed" => config.seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
            "--credentials" => {
                let (user, password) = value
                    .split_once(':')
                    .ok_or("--credentials takes user:password")?;
                config.credentials = Some((user.to_owned(), password.to_owned()));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!(
                "cql-sim: {e}\nusage: cql-sim [--address ADDR] [--replicas N] [--nodes N] [--seed N] [--credentials user:password]"
            );
            return ExitCode::from(2);
        }
    };
    let sim = match SimCluster::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cql-sim: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", sim.contact_point());
    let stdin_closed = async {
        let mut sink = [0; 256];
        let mut stdin = tokio::io::stdin();
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = stdin_closed => {}
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}
