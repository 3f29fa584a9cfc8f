//! The tables in the configured schema and every statement run on them.
//!
//! ```sql
//! segments (id bytea PRIMARY KEY, bytes bytea, written_at timestamptz)
//! roots    (name text PRIMARY KEY, rev bigint, value bytea)
//! ```
//!
//! The segment namespace is the whole schema: every accrete database
//! stored in it shares the segments (they are named by content). Roots are
//! named by the layers above (`db/NAME/log`, …).

use crate::config::SchemaName;

/// Serialises table creation across processes (`pg_advisory_xact_lock`):
/// concurrent `CREATE TABLE IF NOT EXISTS` can otherwise fail on the
/// catalog's unique indexes. The bytes spell "accrete".
pub(crate) const DDL_LOCK: i64 = 0x0061_6363_7265_7465;

/// The columns each table must have, with their types as
/// `information_schema.columns.data_type` spells them.
pub(crate) const EXPECTED_COLUMNS: &[(&str, &str, &str)] = &[
    ("segments", "id", "bytea"),
    ("segments", "bytes", "bytea"),
    ("roots", "name", "text"),
    ("roots", "rev", "bigint"),
    ("roots", "value", "bytea"),
];

/// Every statement, with the schema written in (quoted).
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub(crate) create: String,
    pub(crate) put_segment: String,
    pub(crate) get_segment: String,
    pub(crate) delete_segment: String,
    pub(crate) delete_segment_unless_put_since: String,
    pub(crate) segment_exists: String,
    pub(crate) list_segments: String,
    pub(crate) list_segment_infos: String,
    pub(crate) list_roots: String,
    pub(crate) add_written_at: String,
    pub(crate) read_root: String,
    pub(crate) create_root: String,
    pub(crate) update_root: String,
}

impl Sql {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let s = schema.quoted();
        Sql {
            // `SET STORAGE EXTERNAL`: segments are compressed already, so
            // TOAST keeps them out of line without trying to compress.
            create: format!(
                "CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.segments (
                     id bytea PRIMARY KEY CHECK (octet_length(id) = 32),
                     bytes bytea NOT NULL,
                     written_at timestamptz NOT NULL DEFAULT now());
                 ALTER TABLE {s}.segments ALTER COLUMN bytes SET STORAGE EXTERNAL;
                 CREATE TABLE IF NOT EXISTS {s}.roots (
                     name text PRIMARY KEY,
                     rev bigint NOT NULL CHECK (rev > 0),
                     value bytea NOT NULL);"
            ),
            put_segment: format!(
                "INSERT INTO {s}.segments (id, bytes) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET written_at = now()"
            ),
            get_segment: format!("SELECT bytes FROM {s}.segments WHERE id = $1"),
            delete_segment: format!("DELETE FROM {s}.segments WHERE id = $1"),
            // The write time as the listing reports it, so "not put since
            // the listing" is one atomic check with the removal.
            segment_exists: format!("SELECT 1 FROM {s}.segments WHERE id = $1"),
            delete_segment_unless_put_since: format!(
                "DELETE FROM {s}.segments
                 WHERE id = $1 AND (extract(epoch FROM written_at) * 1000)::bigint <= $2"
            ),
            list_segments: format!(
                "SELECT id FROM {s}.segments WHERE id > $1 ORDER BY id LIMIT $2"
            ),
            list_segment_infos: format!(
                "SELECT id, (extract(epoch FROM written_at) * 1000)::bigint,
                        octet_length(bytes)::bigint
                 FROM {s}.segments WHERE id > $1 ORDER BY id LIMIT $2"
            ),
            list_roots: format!("SELECT name FROM {s}.roots"),
            // Tables made before segments had a write time get one: every
            // existing segment counts as written when the column is added.
            add_written_at: format!(
                "ALTER TABLE {s}.segments
                 ADD COLUMN IF NOT EXISTS written_at timestamptz NOT NULL DEFAULT now()"
            ),
            read_root: format!("SELECT rev, value FROM {s}.roots WHERE name = $1"),
            create_root: format!(
                "INSERT INTO {s}.roots (name, rev, value) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"
            ),
            update_root: format!(
                "UPDATE {s}.roots SET rev = rev + 1, value = $3 WHERE name = $1 AND rev = $2"
            ),
        }
    }
}
