//! Every statement the backend sends, prepared once at open with its
//! consistency, idempotence and retry policy — the one place that says how
//! each kind of record is written and read.

use std::sync::Arc;

use scylla::client::session::Session;
use scylla::policies::retry::FallthroughRetryPolicy;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use storage_core::Result;

use crate::config::Level;
use crate::error::Failure;
use crate::schema::{Tables, WRITER_SLOTS, writer_column};

/// The prepared statements of one store.
#[derive(Debug)]
pub(crate) struct Statements {
    /// A chunk row, at the write level, idempotent, with the put's one
    /// write timestamp.
    pub(crate) put_chunk: PreparedStatement,
    /// The row of a segment, at the write level, idempotent, with the
    /// put's one write timestamp.
    pub(crate) put_segment: PreparedStatement,
    /// The row of a segment at ONE (LOCAL_ONE), then at the write level.
    pub(crate) get_segment: ByLevel,
    /// A chunk row at ONE (LOCAL_ONE), then at the write level.
    pub(crate) get_chunk: ByLevel,
    /// Removes a segment's row, idempotent.
    pub(crate) delete_segment: PreparedStatement,
    /// Removes a segment's chunk partition, idempotent.
    pub(crate) delete_chunks: PreparedStatement,
    /// Removes a segment's row as written up to a timestamp: a later
    /// write outlives it.
    pub(crate) delete_segment_at: PreparedStatement,
    /// Removes a segment's chunks as written up to a timestamp.
    pub(crate) delete_chunks_at: PreparedStatement,
    /// Segment ids from a token on, in ring order, with each row's write
    /// time and size, at the write level.
    pub(crate) list_segments: PreparedStatement,
    /// Every root's name, at the write level (names are never removed).
    pub(crate) list_roots: PreparedStatement,
    /// A root at SERIAL (LOCAL_SERIAL).
    pub(crate) read_root: PreparedStatement,
    /// A root and the writers of its latest revisions, at SERIAL.
    pub(crate) read_writers: PreparedStatement,
    /// `INSERT … IF NOT EXISTS`, one per writer slot (index: the origin
    /// revision modulo [`WRITER_SLOTS`]): never retried, never speculative.
    pub(crate) create_root: Vec<PreparedStatement>,
    /// `UPDATE … IF rev = ?`, one per writer slot (index: the new revision
    /// modulo [`WRITER_SLOTS`]): never retried, never speculative.
    pub(crate) update_root: Vec<PreparedStatement>,
}

/// One read prepared twice: at ONE first, and at the write level when ONE
/// finds nothing (or bytes that do not match their id).
#[derive(Debug)]
pub(crate) struct ByLevel {
    pub(crate) one: PreparedStatement,
    pub(crate) quorum: PreparedStatement,
}

impl Statements {
    pub(crate) async fn prepare(session: &Session, t: &Tables, level: Level) -> Result<Self> {
        let plain = |consistency: Consistency| Plain {
            session,
            consistency,
        };
        let write = plain(level.consistency());
        let by_level = async |cql: String| {
            Ok::<_, storage_core::Error>(ByLevel {
                one: plain(level.one()).prepare(&cql).await?,
                quorum: write.prepare(&cql).await?,
            })
        };
        let lwt = Lwt {
            session,
            consistency: level.consistency(),
            serial: level.serial(),
        };
        Ok(Statements {
            put_chunk: write
                .prepare(&format!(
                    "INSERT INTO {} (id, idx, bytes) VALUES (?, ?, ?) USING TIMESTAMP ?",
                    t.chunks
                ))
                .await?,
            put_segment: write
                .prepare(&format!(
                    "INSERT INTO {} (id, size, chunks, bytes) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
                    t.segments
                ))
                .await?,
            get_segment: by_level(format!(
                "SELECT size, chunks, bytes FROM {} WHERE id = ?",
                t.segments
            ))
            .await?,
            get_chunk: by_level(format!(
                "SELECT bytes FROM {} WHERE id = ? AND idx = ?",
                t.chunks
            ))
            .await?,
            delete_segment: write
                .prepare(&format!("DELETE FROM {} WHERE id = ?", t.segments))
                .await?,
            delete_chunks: write
                .prepare(&format!("DELETE FROM {} WHERE id = ?", t.chunks))
                .await?,
            delete_segment_at: write
                .prepare(&format!(
                    "DELETE FROM {} USING TIMESTAMP ? WHERE id = ?",
                    t.segments
                ))
                .await?,
            delete_chunks_at: write
                .prepare(&format!(
                    "DELETE FROM {} USING TIMESTAMP ? WHERE id = ?",
                    t.chunks
                ))
                .await?,
            list_segments: write
                .prepare(&format!(
                    "SELECT token(id), id, writetime(size), size FROM {} WHERE token(id) >= ?",
                    t.segments
                ))
                .await?,
            list_roots: write
                .prepare(&format!("SELECT name FROM {}", t.roots))
                .await?,
            read_root: plain(level.serial_read())
                .prepare(&format!(
                    "SELECT rev, value FROM {} WHERE name = ?",
                    t.roots
                ))
                .await?,
            read_writers: plain(level.serial_read())
                .prepare(&format!(
                    "SELECT rev, value, {} FROM {} WHERE name = ?",
                    (0..WRITER_SLOTS)
                        .map(writer_column)
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.roots
                ))
                .await?,
            create_root: create_statements(&lwt, &t.roots).await?,
            update_root: update_statements(&lwt, &t.roots).await?,
        })
    }
}

/// `INSERT … IF NOT EXISTS` for each writer slot: a root is created at a
/// random origin revision, whose writer slot is the origin's.
async fn create_statements(lwt: &Lwt<'_>, roots: &str) -> Result<Vec<PreparedStatement>> {
    let mut statements = Vec::new();
    for slot in 0..WRITER_SLOTS {
        let cql = format!(
            "INSERT INTO {roots} (name, rev, value, {}) VALUES (?, ?, ?, ?) IF NOT EXISTS",
            writer_column(slot)
        );
        statements.push(lwt.prepare(&cql).await?);
    }
    Ok(statements)
}

/// `UPDATE … IF rev = ?` for each writer slot.
///
/// `value != ?` (bound to an empty blob, which no stored envelope is)
/// always holds; it is there so that a write that is not applied reports
/// the current value along with the revision, and a conflict needs no
/// second Paxos round to read it.
async fn update_statements(lwt: &Lwt<'_>, roots: &str) -> Result<Vec<PreparedStatement>> {
    let mut statements = Vec::new();
    for slot in 0..WRITER_SLOTS {
        let cql = format!(
            "UPDATE {roots} SET rev = ?, value = ?, {} = ? WHERE name = ? IF rev = ? AND value != ?",
            writer_column(slot)
        );
        statements.push(lwt.prepare(&cql).await?);
    }
    Ok(statements)
}

/// Prepares ordinary statements: idempotent, so the driver's default policy
/// may retry them on another node.
struct Plain<'a> {
    session: &'a Session,
    consistency: Consistency,
}

impl Plain<'_> {
    async fn prepare(&self, cql: &str) -> Result<PreparedStatement> {
        let mut st = prepare(self.session, cql).await?;
        st.set_consistency(self.consistency);
        st.set_is_idempotent(true);
        Ok(st)
    }
}

/// Prepares lightweight transactions: not idempotent (so never speculative)
/// and with a retry policy that never retries, since a blind retry of a
/// conditional write that did commit reports a false conflict.
struct Lwt<'a> {
    session: &'a Session,
    consistency: Consistency,
    serial: SerialConsistency,
}

impl Lwt<'_> {
    async fn prepare(&self, cql: &str) -> Result<PreparedStatement> {
        let mut st = prepare(self.session, cql).await?;
        st.set_consistency(self.consistency);
        st.set_serial_consistency(Some(self.serial));
        st.set_is_idempotent(false);
        st.set_retry_policy(Some(Arc::new(FallthroughRetryPolicy::new())));
        Ok(st)
    }
}

async fn prepare(session: &Session, cql: &str) -> Result<PreparedStatement> {
    session
        .prepare(cql)
        .await
        .map_err(|e| Failure::from(e).into_error(&format!("open: prepare `{cql}`")))
}
