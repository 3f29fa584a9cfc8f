//! `create-keyspace`: the explicit step that creates a Cassandra keyspace
//! with the replication the operator chose. Opening a store never creates
//! one (that would silently pick a replication), and neither does this
//! command without `--simple` or `--dc`.

use std::collections::BTreeMap;

use storage_cassandra::{KeyspaceStatus, Replication, create_keyspace};
use storage_core::StorageUri;

use crate::args::KeyspaceArgs;
use crate::exit::{Failure, Outcome};

pub(crate) async fn create(args: KeyspaceArgs) -> Outcome {
    let uri = StorageUri::parse(&args.uri)?;
    if uri.scheme() != storage_cassandra::SCHEME {
        return Err(Failure::invalid(format!(
            "storage URI `{uri}`: create-keyspace takes a cassandra:// URI; {} storage has no keyspaces",
            uri.scheme()
        )));
    }
    let replication = replication(&args)?;
    let keyspace = uri.path();
    match create_keyspace(&uri, &replication).await? {
        KeyspaceStatus::Created => {
            println!("created keyspace {keyspace} with replication {replication}")
        }
        KeyspaceStatus::AlreadyExisted(existing) => println!(
            "keyspace {keyspace} exists already and was left as it is, with replication {}; its tables are in place",
            cql_map(&existing)
        ),
    }
    Ok(())
}

/// The replication `--simple N` or the `--dc NAME=N` options ask for.
fn replication(args: &KeyspaceArgs) -> Outcome<Replication> {
    if let Some(n) = args.simple {
        return parse(&format!("--simple {n}"), &format!("simple:{n}"));
    }
    let mut factors = BTreeMap::new();
    for given in &args.dc {
        let option = format!("--dc {given}");
        let (name, n) = given
            .split_once('=')
            .filter(|(name, _)| !name.contains([',', ':']))
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "{option}: write NAME=N, a data centre name and its replication factor"
                ))
            })?;
        let Replication::NetworkTopology(one) = parse(&option, &format!("{name}:{n}"))? else {
            return Err(Failure::invalid(format!(
                "{option}: `simple` is not a data centre name here; for SimpleStrategy use --simple N"
            )));
        };
        for (dc, n) in one {
            if factors.insert(dc, n).is_some() {
                return Err(Failure::invalid(format!(
                    "{option}: data centre `{name}` is given twice"
                )));
            }
        }
    }
    if factors.is_empty() {
        return Err(Failure::invalid(
            "give the replication: --simple N or --dc NAME=N (repeatable)",
        ));
    }
    Ok(Replication::NetworkTopology(factors))
}

/// The storage crate's reading (and checking) of one replication setting.
fn parse(option: &str, text: &str) -> Outcome<Replication> {
    text.parse()
        .map_err(|e| Failure::invalid(format!("{option}: {e}")))
}

/// A replication map as CQL writes it.
fn cql_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
    format!("{{{}}}", entries.join(", "))
}
