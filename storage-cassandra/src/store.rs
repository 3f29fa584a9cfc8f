//! [`CassandraStorage`]: the [`Storage`] trait on one driver session.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::response::query_result::QueryResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use storage_core::{
    CasOutcome, PageToken, Result, Revision, Root, RootName, RootValue, SegmentId, SegmentInfoPage,
    SegmentPage, Storage,
};
use tracing::Instrument as _;

use crate::SCHEME;
use crate::config::Settings;
use crate::error::Failure;
use crate::roots::RootLocks;
use crate::schema::{self, Tables};
use crate::session;
use crate::statements::Statements;

/// A store in one keyspace (and table prefix) of a Cassandra or ScyllaDB
/// cluster.
///
/// Cheap to share behind an `Arc`: one driver session with a connection
/// pool per node, which reconnects by itself. Every request has the
/// client-side `request_timeout=`, so no call hangs.
pub struct CassandraStorage {
    pub(crate) settings: Settings,
    pub(crate) session: Arc<Session>,
    pub(crate) tables: Tables,
    pub(crate) st: Statements,
    pub(crate) root_locks: RootLocks,
}

impl fmt::Debug for CassandraStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CassandraStorage")
            .field("uri", &self.settings.uri())
            .field("keyspace", &self.tables.keyspace)
            .field("table_prefix", &self.settings.table_prefix())
            .field("level", &self.settings.level())
            .finish()
    }
}

impl CassandraStorage {
    /// Connects, checks that the keyspace exists, creates the tables that
    /// are missing and prepares every statement.
    pub async fn open(settings: Settings) -> Result<Self> {
        let session = session::connect(&settings).await?;
        let tables = Tables::new(settings.keyspace(), settings.table_prefix());
        schema::ensure_tables(&session, &tables, settings.uri()).await?;
        let st = Statements::prepare(&session, &tables, settings.level()).await?;
        Ok(CassandraStorage {
            settings,
            session: Arc::new(session),
            tables,
            st,
            root_locks: RootLocks::default(),
        })
    }

    /// The settings this storage was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs one prepared statement within a tracing span naming `op`.
    pub(crate) async fn execute(
        &self,
        op: &str,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> std::result::Result<QueryResult, Failure> {
        self.session
            .execute_unpaged(statement, values)
            .instrument(span(op))
            .await
            .map_err(Failure::from)
    }
}

/// The tracing span of one request: the backend, and the operation with its
/// key.
pub(crate) fn span(op: &str) -> tracing::Span {
    tracing::debug_span!("cassandra", op)
}

/// The first row of `result` as `T`, or `None` when it has no rows.
pub(crate) fn maybe_first_row<T>(result: QueryResult, op: &str) -> Result<Option<T>>
where
    T: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata>,
{
    let rows = result
        .into_rows_result()
        .map_err(|e| Failure::shape(e).into_error(op))?;
    rows.maybe_first_row::<T>()
        .map_err(|e| Failure::shape(e).into_error(op))
}

#[async_trait]
impl Storage for CassandraStorage {
    fn backend(&self) -> &'static str {
        SCHEME
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        self.put(id, bytes).await
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        self.get(id).await
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        self.delete(id).await
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        self.delete_unless_put_since(id, written_at_ms).await
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        self.list(from, limit).await
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        self.list_infos(from, limit).await
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        self.root_names().await
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        self.read(name).await
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        self.cas(name, expected, value).await
    }
}
