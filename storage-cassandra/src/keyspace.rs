//! Creating the keyspace: the one explicit step that takes replication
//! settings. Opening a store never creates a keyspace (that would silently
//! pick a replication), only the tables inside one.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use storage_core::{Error, Result, StorageUri};

use crate::config::Settings;
use crate::error::Failure;
use crate::schema::{self, Tables};
use crate::session;
use storage_core::truncate_for_message;

/// The most copies of the data a data centre may be asked to keep.
const MAX_REPLICATION_FACTOR: u32 = 32;

/// How a keyspace is replicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `NetworkTopologyStrategy`: a replication factor per data centre
    /// (production; `dc1:3,dc2:3`).
    NetworkTopology(BTreeMap<String, u32>),
    /// `SimpleStrategy`: one factor, no notion of data centres (a single
    /// data centre in development and tests; `simple:3`).
    Simple(u32),
}

impl FromStr for Replication {
    type Err = Error;

    /// Parses `simple:N` or `DC:N[,DC:N…]`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::invalid(format!(
                "replication `{}`: {why}; write `DC:N[,DC:N…]` (NetworkTopologyStrategy) or `simple:N`",
                truncate_for_message(text)
            ))
        };
        let mut factors = BTreeMap::new();
        for part in text.split(',') {
            let (dc, n) = part
                .split_once(':')
                .ok_or_else(|| bad(format!("`{}` has no `:N`", truncate_for_message(part))))?;
            let n = match n.parse::<u32>() {
                Ok(n) if (1..=MAX_REPLICATION_FACTOR).contains(&n) => n,
                _ => {
                    return Err(bad(format!(
                        "the factor `{}` is not a number in 1..={MAX_REPLICATION_FACTOR}",
                        truncate_for_message(n)
                    )));
                }
            };
            if dc == "simple" {
                if text.contains(',') {
                    return Err(bad("`simple:N` stands alone".into()));
                }
                return Ok(Replication::Simple(n));
            }
            let valid_dc = !dc.is_empty()
                && dc.len() <= 64
                && dc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_dc {
                return Err(bad(format!(
                    "the data centre `{}` must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`",
                    truncate_for_message(dc)
                )));
            }
            if factors.insert(dc.to_string(), n).is_some() {
                return Err(bad(format!("data centre `{dc}` is named twice")));
            }
        }
        Ok(Replication::NetworkTopology(factors))
    }
}

impl fmt::Display for Replication {
    /// The CQL replication map.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replication::Simple(n) => write!(
                f,
                "{{'class': 'SimpleStrategy', 'replication_factor': '{n}'}}"
            ),
            Replication::NetworkTopology(factors) => {
                f.write_str("{'class': 'NetworkTopologyStrategy'")?;
                for (dc, n) in factors {
                    // Validation admits no quote in a data centre name.
                    write!(f, ", '{dc}': '{n}'")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// What [`create_keyspace`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyspaceStatus {
    /// The keyspace was created with the replication asked for.
    Created,
    /// It existed already and was left as it is; its replication map.
    AlreadyExisted(BTreeMap<String, String>),
}

/// Creates the keyspace that `uri` names, with `replication`, and the
/// store's tables in it (with the URI's `table_prefix`), so that stores
/// opened concurrently later never race to create them. An existing
/// keyspace is left as it is ([`KeyspaceStatus::AlreadyExisted`]); its
/// tables are still checked and created.
///
/// The URI supplies the contact points, credentials and TLS settings as
/// for opening a store; its `db=` is not needed.
pub async fn create_keyspace(
    uri: &StorageUri,
    replication: &Replication,
) -> Result<KeyspaceStatus> {
    let settings = Settings::from_uri(uri)?;
    let session = session::connect(&settings).await?;
    let keyspace = settings.keyspace();
    let status = match schema::keyspace_replication(&session, keyspace).await? {
        Some(existing) => KeyspaceStatus::AlreadyExisted(existing),
        None => {
            let ddl = format!(
                "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication} AND durable_writes = true"
            );
            session
                .query_unpaged(ddl, ())
                .await
                .map_err(|e| Failure::from(e).into_error(&format!("create keyspace {keyspace}")))?;
            KeyspaceStatus::Created
        }
    };
    let tables = Tables::new(keyspace, settings.table_prefix());
    schema::ensure_tables(&session, &tables, settings.uri()).await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_parses_and_prints_as_cql() {
        let nts: Replication = "dc1:3,eu-west.2:5".parse().unwrap();
        assert_eq!(
            nts.to_string(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': '3', 'eu-west.2': '5'}"
        );
        let simple: Replication = "simple:1".parse().unwrap();
        assert_eq!(simple, Replication::Simple(1));
        assert_eq!(
            simple.to_string(),
            "{'class': 'SimpleStrategy', 'replication_factor': '1'}"
        );
    }

    #[test]
    fn bad_replication_is_explained() {
        let cases = [
            ("", "has no `:N`"),
            ("dc1", "has no `:N`"),
            ("dc1:0", "not a number in 1..=32"),
            ("dc1:x", "`x`"),
            ("dc1:3,dc1:2", "named twice"),
            ("d'c:3", "data centre `d\\'c`"),
            ("simple:3,dc1:3", "stands alone"),
            ("dc1:3,", "has no `:N`"),
        ];
        for (text, want) in cases {
            let err = text.parse::<Replication>().unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("DC:N"),
                "{text:?}: {err}"
            );
        }
    }
}
