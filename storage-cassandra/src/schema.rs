//! The three tables of a store, checked and created on open.
//!
//! ```text
//! {prefix}segments       (id blob PRIMARY KEY, size int, chunks int, bytes blob)
//! {prefix}segment_chunks (id blob, idx int, bytes blob, PRIMARY KEY (id, idx))
//! {prefix}roots          (name text PRIMARY KEY, rev bigint, value blob, w0 blob, …, w15 blob)
//! ```
//!
//! A segment of at most [`CHUNK_BYTES`] lives in its `segments` row
//! (`chunks = 0`); a larger one is split into `chunks` rows of
//! `segment_chunks`, written before the `segments` row that lists them, so a
//! reader that finds the row finds its chunks.
//!
//! Roots are written only by lightweight transactions. Besides the current
//! revision and value, a root row remembers who wrote each of its last
//! [`WRITER_SLOTS`] revisions: the write of revision `r` also sets column
//! `w{r % 16}` to `r` and the writer's nonce. When the outcome of a write
//! is ambiguous and the root has moved past the revision it aimed for by
//! the time it is re-read, that column still tells whether the write won
//! (overwriting one cell per write, so no tombstones pile up).

use std::collections::BTreeMap;

use scylla::client::session::Session;
use storage_core::{Error, Result};

use crate::SCHEME;
use crate::error::Failure;

/// Segments above this size are split into chunk rows of this size: well
/// under Cassandra's 1 MiB cell guidance and ScyllaDB's large-cell warning.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// The qualified names of a store's tables.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) keyspace: String,
    pub(crate) segments: String,
    pub(crate) chunks: String,
    pub(crate) roots: String,
}

/// How many of a root's latest revisions remember their writer.
pub const WRITER_SLOTS: u64 = 16;

/// The column remembering the writer of revision `rev`.
pub(crate) fn writer_column(rev: u64) -> String {
    format!("w{}", rev % WRITER_SLOTS)
}

/// `(table suffix, column, CQL type)` of every column but the writer slots,
/// as `system_schema.columns` spells them.
const COLUMNS: &[(&str, &str, &str)] = &[
    ("segments", "id", "blob"),
    ("segments", "size", "int"),
    ("segments", "chunks", "int"),
    ("segments", "bytes", "blob"),
    ("segment_chunks", "id", "blob"),
    ("segment_chunks", "idx", "int"),
    ("segment_chunks", "bytes", "blob"),
    ("roots", "name", "text"),
    ("roots", "rev", "bigint"),
    ("roots", "value", "blob"),
];

impl Tables {
    /// The tables of `prefix` in `keyspace` (both validated by the config).
    pub(crate) fn new(keyspace: &str, prefix: &str) -> Self {
        let name = |suffix: &str| format!("{keyspace}.{prefix}{suffix}");
        Tables {
            keyspace: keyspace.to_string(),
            segments: name("segments"),
            chunks: name("segment_chunks"),
            roots: name("roots"),
        }
    }

    fn create_statements(&self) -> [String; 3] {
        [
            format!(
                "CREATE TABLE IF NOT EXISTS {} (id blob PRIMARY KEY, size int, chunks int, bytes blob)",
                self.segments
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (id blob, idx int, bytes blob, PRIMARY KEY (id, idx))",
                self.chunks
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, rev bigint, value blob, {})",
                self.roots,
                (0..WRITER_SLOTS)
                    .map(|slot| format!("{} blob", writer_column(slot)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ]
    }

    /// The unqualified table name of `suffix`.
    fn table_name(&self, suffix: &str) -> String {
        let qualified = match suffix {
            "segments" => &self.segments,
            "segment_chunks" => &self.chunks,
            _ => &self.roots,
        };
        qualified[self.keyspace.len() + 1..].to_string()
    }
}

/// Checks that the keyspace exists and that the tables are accrete's,
/// creating the missing ones. `uri` goes into the errors.
pub(crate) async fn ensure_tables(session: &Session, tables: &Tables, uri: &str) -> Result<()> {
    if keyspace_replication(session, &tables.keyspace)
        .await?
        .is_none()
    {
        return Err(missing_keyspace(&tables.keyspace, uri));
    }
    let (present, wrong) = inspect(session, tables).await?;
    if !wrong.is_empty() {
        return Err(foreign_tables(&wrong, uri));
    }
    if present.len() == 3 {
        return Ok(());
    }
    for ddl in tables.create_statements() {
        session
            .query_unpaged(ddl, ())
            .await
            .map_err(|e| Failure::from(e).into_error(&format!("open {uri}: create tables")))?;
    }
    let (present, wrong) = inspect(session, tables).await?;
    if wrong.is_empty() && present.len() == 3 {
        return Ok(());
    }
    Err(foreign_tables(&wrong, uri))
}

/// The replication map of `keyspace`, or `None` if it does not exist.
pub(crate) async fn keyspace_replication(
    session: &Session,
    keyspace: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let rows = session
        .query_unpaged(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
            (keyspace,),
        )
        .await
        .map_err(|e| Failure::from(e).into_error(&format!("open: look up keyspace {keyspace}")))?
        .into_rows_result()
        .map_err(|e| shape("system_schema.keyspaces", e))?;
    let row = rows
        .maybe_first_row::<(BTreeMap<String, String>,)>()
        .map_err(|e| shape("system_schema.keyspaces", e))?;
    Ok(row.map(|(map,)| map))
}

/// The columns of table `suffix` with their types.
fn expected_columns(suffix: &str) -> Vec<(String, &'static str)> {
    let mut columns: Vec<(String, &str)> = COLUMNS
        .iter()
        .filter(|(s, _, _)| *s == suffix)
        .map(|(_, c, t)| (c.to_string(), *t))
        .collect();
    if suffix == "roots" {
        columns.extend((0..WRITER_SLOTS).map(|slot| (writer_column(slot), "blob")));
    }
    columns
}

/// The tables present, and the expected columns that are missing or of
/// another type in tables that exist.
async fn inspect(session: &Session, tables: &Tables) -> Result<(Vec<String>, Vec<String>)> {
    let rows = session
        .query_unpaged(
            "SELECT table_name, column_name, type FROM system_schema.columns WHERE keyspace_name = ?",
            (tables.keyspace.as_str(),),
        )
        .await
        .map_err(|e| {
            Failure::from(e).into_error(&format!("open: inspect the tables of {}", tables.keyspace))
        })?
        .into_rows_result()
        .map_err(|e| shape("system_schema.columns", e))?;
    let found: Vec<(String, String, String)> = rows
        .rows::<(String, String, String)>()
        .map_err(|e| shape("system_schema.columns", e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| shape("system_schema.columns", e))?;
    let mut present = Vec::new();
    let mut wrong = Vec::new();
    for suffix in ["segments", "segment_chunks", "roots"] {
        let table = tables.table_name(suffix);
        let columns: Vec<&(String, String, String)> =
            found.iter().filter(|(t, _, _)| *t == table).collect();
        if columns.is_empty() {
            continue;
        }
        present.push(table.clone());
        for (column, ty) in expected_columns(suffix) {
            let matches = columns.iter().any(|(_, c, t)| *c == column && t == ty);
            if !matches {
                wrong.push(format!("{table}.{column} {ty}"));
            }
        }
    }
    Ok((present, wrong))
}

fn missing_keyspace(keyspace: &str, uri: &str) -> Error {
    Error::invalid(format!(
        "storage URI `{uri}`: keyspace `{keyspace}` does not exist; create it first with its replication, for example in cqlsh: CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'NetworkTopologyStrategy', 'DC_NAME': 3}}"
    ))
}

fn foreign_tables(wrong: &[String], uri: &str) -> Error {
    Error::invalid(format!(
        "storage URI `{uri}`: tables with these names exist but are not accrete's (missing or different columns: {}); choose another table_prefix=",
        wrong.join(", ")
    ))
}

fn shape(table: &str, e: impl std::fmt::Display) -> Error {
    Error::backend(
        SCHEME,
        format!("open: read {table}"),
        format!("unexpected result: {e}"),
    )
}
