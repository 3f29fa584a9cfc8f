//! [`PostgresStorage`]: the [`Storage`] trait on a pool of connections.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use storage_core::{
    CasAttempt, CasOutcome, Error, PageToken, Result, RetryBudget, Revision, Root, RootName,
    RootValue, SegmentId, SegmentInfo, SegmentInfoPage, SegmentPage, Storage,
    cas_resolving_ambiguity, check_list_limit, retry_retryable,
};
use tokio_postgres::NoTls;
use tracing::Instrument as _;

use crate::SCHEME;
use crate::config::Settings;
use crate::error::Failure;
use crate::schema::{DDL_LOCK, EXPECTED_COLUMNS, Sql};
use crate::tls;

/// How long past the server's statement timeout the client waits before
/// giving up on a statement itself (the server should have answered
/// `57014` by then).
const GRACE: Duration = Duration::from_secs(2);

/// A storage in one schema of a PostgreSQL database.
///
/// Cheap to share behind an `Arc`; every call takes a connection from the
/// pool (sized by `pool_size=`), runs prepared statements, and gives it
/// back. A connection that died or timed out is dropped, so the pool
/// reconnects after a server restart by itself.
pub struct PostgresStorage {
    settings: Settings,
    pool: Pool,
    sql: Sql,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("uri", &self.settings.uri())
            .field("schema", &self.settings.schema().as_str())
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStorage {
    /// Connects and creates the schema and tables if they are missing.
    pub async fn open(settings: Settings) -> Result<Self> {
        let pool = build_pool(&settings)?;
        let sql = Sql::new(settings.schema());
        let storage = PostgresStorage {
            settings,
            pool,
            sql,
        };
        storage.ensure_tables().await?;
        Ok(storage)
    }

    /// The settings this storage was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Closes every pooled connection; later calls fail.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Runs `work` on a pooled connection within the call's deadlines,
    /// dropping the connection if the failure leaves it unusable.
    async fn call<T>(
        &self,
        work: impl AsyncFnOnce(&ClientWrapper) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> std::result::Result<T, Failure> {
        let wait = self.settings.call_deadline();
        let client = match tokio::time::timeout(wait, self.live_client()).await {
            Err(_) => {
                return Err(Failure::Deadline {
                    seconds: wait.as_secs_f64(),
                    sent: false,
                });
            }
            Ok(Err(e)) => return Err(Failure::Connect(e)),
            Ok(Ok(client)) => client,
        };
        let limit = self.settings.statement_timeout + GRACE;
        let failure = match tokio::time::timeout(limit, work(&client)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => Failure::Statement(e),
            Err(_) => Failure::Deadline {
                seconds: limit.as_secs_f64(),
                sent: true,
            },
        };
        if failure.spoils_connection() {
            drop(Object::take(client));
        }
        Err(failure)
    }

    /// A pooled connection that is not known to be closed: after a restart
    /// or killed sessions, dead connections are dropped here rather than
    /// spending a call (and, for a root write, an ambiguous attempt) on
    /// each.
    async fn live_client(&self) -> std::result::Result<Object, deadpool_postgres::PoolError> {
        for _ in 0..self.settings.pool_size {
            let client = self.pool.get().await?;
            if !client.is_closed() {
                return Ok(client);
            }
            drop(Object::take(client));
        }
        self.pool.get().await
    }

    /// [`Self::call`] for operations whose failures are reported as they are.
    async fn run<T>(
        &self,
        op: &str,
        work: impl AsyncFnOnce(&ClientWrapper) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Result<T> {
        self.call(work)
            .instrument(tracing::debug_span!("postgres", op))
            .await
            .map_err(|f| f.into_error(op, &self.settings))
    }

    async fn ensure_tables(&self) -> Result<()> {
        let (present, missing) = self.inspect_tables().await?;
        if present && missing.is_empty() {
            return self.ensure_written_at().await;
        }
        if present {
            return Err(self.foreign_tables(&missing));
        }
        let ddl = format!(
            "SELECT pg_advisory_xact_lock({DDL_LOCK}); {}",
            self.sql.create
        );
        self.run("open: create tables", async |c| c.batch_execute(&ddl).await)
            .await?;
        let (_, missing) = self.inspect_tables().await?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.foreign_tables(&missing))
    }

    /// Adds `segments.written_at` to tables made before it existed.
    async fn ensure_written_at(&self) -> Result<()> {
        let schema = self.settings.schema().as_str();
        let found = self
            .run("open: inspect segments.written_at", async |c| {
                c.query_opt(
                    "SELECT 1 FROM information_schema.columns
                     WHERE table_schema = $1 AND table_name = 'segments'
                       AND column_name = 'written_at'",
                    &[&schema],
                )
                .await
            })
            .await?;
        if found.is_some() {
            return Ok(());
        }
        let ddl = format!(
            "SELECT pg_advisory_xact_lock({DDL_LOCK}); {}",
            self.sql.add_written_at
        );
        self.run("open: add segments.written_at", async |c| {
            c.batch_execute(&ddl).await
        })
        .await
    }

    fn foreign_tables(&self, missing: &[String]) -> Error {
        Error::invalid(format!(
            "storage URI `{}`: schema `{}` holds tables that are not accrete's (missing {}); choose another schema=",
            self.settings.uri(),
            self.settings.schema(),
            missing.join(", ")
        ))
    }

    /// Whether either table exists, and the expected `table.column type`
    /// entries the schema lacks.
    async fn inspect_tables(&self) -> Result<(bool, Vec<String>)> {
        let schema = self.settings.schema().as_str();
        let rows = self
            .run("open: inspect tables", async |c| {
                c.query(
                    "SELECT table_name::text, column_name::text, data_type::text
                     FROM information_schema.columns
                     WHERE table_schema = $1 AND table_name IN ('segments', 'roots')",
                    &[&schema],
                )
                .await
            })
            .await?;
        let found: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let missing = EXPECTED_COLUMNS
            .iter()
            .filter(|(t, c, ty)| {
                !found
                    .iter()
                    .any(|f| (f.0.as_str(), f.1.as_str(), f.2.as_str()) == (*t, *c, *ty))
            })
            .map(|(t, c, ty)| format!("{t}.{c} {ty}"))
            .collect();
        Ok((!found.is_empty(), missing))
    }

    /// One conditional write from `expected` (absent: a create) to
    /// `target`; `Ambiguous` when the server may have applied it.
    async fn cas_attempt(
        &self,
        name: &RootName,
        (expected, target): (Option<Revision>, Revision),
        encoded: &[u8],
    ) -> Result<CasAttempt> {
        let op = format!("cas_root {name}");
        let key = name.as_str();
        // `cas_root` checked that the revisions fit a bigint.
        let expected_rev = expected.map(|rev| rev.get() as i64);
        let origin = target.get() as i64;
        let written = self
            .call(async |c| match expected_rev {
                None => {
                    let st = c.prepare_cached(&self.sql.create_root).await?;
                    c.execute(&st, &[&key, &origin, &encoded]).await
                }
                Some(rev) => {
                    let st = c.prepare_cached(&self.sql.update_root).await?;
                    c.execute(&st, &[&key, &rev, &encoded]).await
                }
            })
            .instrument(tracing::debug_span!("postgres", op))
            .await;
        match written {
            Ok(1) => Ok(CasAttempt::Decided(CasOutcome::Applied(target))),
            Ok(0) => Ok(CasAttempt::Decided(CasOutcome::Conflict(
                self.read_root(name).await?,
            ))),
            Ok(n) => Err(Error::backend(
                SCHEME,
                op,
                format!("changed {n} rows of one root"),
            )),
            Err(f) if f.is_ambiguous() => Ok(CasAttempt::Ambiguous(Box::new(f))),
            Err(f) => Err(f.into_error(&op, &self.settings)),
        }
    }

    /// The re-read that settles an ambiguous write: a connection that died
    /// mid-write usually means the server is restarting, so retryable
    /// failures are retried for up to `connect_timeout` before the outcome
    /// is given up as unknown (storage-core's [`retry_retryable`] does the
    /// repeating).
    async fn read_root_patiently(&self, name: &RootName) -> Result<Option<Root>> {
        let budget = RetryBudget::within(self.settings.connect_timeout)
            .with_pauses(Duration::from_millis(50), Duration::from_secs(1));
        retry_retryable(budget, "re-read after an ambiguous write", || {
            self.read_root(name)
        })
        .await
    }

    fn segments_table(&self) -> String {
        format!("{}.segments", self.settings.schema())
    }
}

fn build_pool(settings: &Settings) -> Result<Pool> {
    let pg = pg_config(settings);
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls::connector(settings.ssl_mode, &settings.root_certs)? {
        None => Manager::from_config(pg, NoTls, manager_config),
        Some(tls) => Manager::from_config(pg, tls, manager_config),
    };
    let hosts = settings.hosts.len() as u32;
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(settings.connect_timeout * hosts + GRACE))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| Error::backend(SCHEME, "open: connection pool", e.to_string()))
}

fn pg_config(settings: &Settings) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    for (host, port) in &settings.hosts {
        pg.host(host).port(*port);
    }
    if let Some(password) = &settings.password {
        pg.password(password.expose());
    }
    let statement_ms = settings.statement_timeout.as_millis();
    pg.user(&settings.user)
        .dbname(&settings.database)
        .application_name(&settings.application_name)
        .ssl_mode(settings.ssl_mode.driver_mode())
        .connect_timeout(settings.connect_timeout)
        // A server that stops answering is noticed within a call's deadline.
        .tcp_user_timeout(settings.call_deadline())
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        // Roots must be written on the primary of a multi-host URI.
        .target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite)
        .options(format!(
            "-c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={statement_ms}"
        ));
    pg
}

/// One connection outside any pool (the test kit's admin sessions).
#[cfg(feature = "testkit")]
pub(crate) async fn connect_one(settings: &Settings) -> Result<tokio_postgres::Client> {
    let pg = pg_config(settings);
    let connected = match tls::connector(settings.ssl_mode, &settings.root_certs)? {
        None => pg.connect(NoTls).await.map(|(client, conn)| {
            tokio::spawn(conn);
            client
        }),
        Some(tls) => pg.connect(tls).await.map(|(client, conn)| {
            tokio::spawn(conn);
            client
        }),
    };
    connected.map_err(|e| Failure::Statement(e).into_error("connect", settings))
}

fn root_from_row(name: &RootName, rev: i64, value: Vec<u8>) -> Result<Root> {
    let revision = u64::try_from(rev)
        .ok()
        .and_then(Revision::new)
        .ok_or_else(|| Error::Corruption {
            what: format!("root `{name}`"),
            detail: format!("stored revision {rev} is not positive"),
        })?;
    Ok(Root {
        revision,
        value: RootValue::decode(name, Bytes::from(value))?,
    })
}

fn segment_id_from_row(raw: &[u8], table: &str) -> Result<SegmentId> {
    let raw: [u8; 32] = raw.try_into().map_err(|_| Error::Corruption {
        what: table.to_string(),
        detail: format!("a segment id of {} bytes, not 32", raw.len()),
    })?;
    Ok(SegmentId::from_bytes(raw))
}

/// The id a listing page starts after (empty: from the first).
fn page_start(from: Option<&PageToken>) -> Result<Vec<u8>> {
    let Some(token) = from else {
        return Ok(Vec::new());
    };
    let id = token.0.parse::<SegmentId>().map_err(|_| {
        Error::invalid(format!(
            "postgres: page token `{}` is not one of mine",
            storage_core::truncate_for_message(&token.0)
        ))
    })?;
    Ok(id.as_bytes().to_vec())
}

#[async_trait]
impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        SCHEME
    }

    async fn put_segment(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        id.check_put(&bytes)?;
        let key = id.as_bytes().as_slice();
        let bytes = bytes.as_ref();
        self.run(&format!("put_segment {id}"), async |c| {
            let st = c.prepare_cached(&self.sql.put_segment).await?;
            c.execute(&st, &[&key, &bytes]).await
        })
        .await?;
        Ok(())
    }

    async fn get_segment(&self, id: SegmentId) -> Result<Option<Bytes>> {
        let key = id.as_bytes().as_slice();
        let row = self
            .run(&format!("get_segment {id}"), async |c| {
                let st = c.prepare_cached(&self.sql.get_segment).await?;
                c.query_opt(&st, &[&key]).await
            })
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let bytes = Bytes::from(row.get::<_, Vec<u8>>(0));
        id.verify(&bytes, &self.segments_table())?;
        Ok(Some(bytes))
    }

    async fn delete_segment(&self, id: SegmentId) -> Result<()> {
        let key = id.as_bytes().as_slice();
        self.run(&format!("delete_segment {id}"), async |c| {
            let st = c.prepare_cached(&self.sql.delete_segment).await?;
            c.execute(&st, &[&key]).await
        })
        .await?;
        Ok(())
    }

    async fn delete_segment_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        let key = id.as_bytes().as_slice();
        let at = i64::try_from(written_at_ms).unwrap_or(i64::MAX);
        let op = format!("delete_segment {id}");
        let deleted = self
            .run(&op, async |c| {
                let st = c
                    .prepare_cached(&self.sql.delete_segment_unless_put_since)
                    .await?;
                c.execute(&st, &[&key, &at]).await
            })
            .await?;
        if deleted > 0 {
            return Ok(true);
        }
        // Nothing deleted: kept because a later put refreshed it, or gone.
        let found = self
            .run(&op, async |c| {
                let st = c.prepare_cached(&self.sql.segment_exists).await?;
                c.query_opt(&st, &[&key]).await
            })
            .await?;
        Ok(found.is_none())
    }

    async fn list_segments(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        check_list_limit(limit)?;
        let after = page_start(from.as_ref())?;
        // One more than asked, to tell whether another page follows.
        let fetch = limit as i64 + 1;
        let rows = self
            .run("list_segments", async |c| {
                let st = c.prepare_cached(&self.sql.list_segments).await?;
                c.query(&st, &[&after, &fetch]).await
            })
            .await?;
        let table = self.segments_table();
        let mut ids = rows
            .iter()
            .map(|row| segment_id_from_row(row.get::<_, &[u8]>(0), &table))
            .collect::<Result<Vec<_>>>()?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        let next = match ids.last() {
            Some(last) if more => Some(PageToken(last.to_string())),
            _ => None,
        };
        Ok(SegmentPage { ids, next })
    }

    async fn list_segment_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        check_list_limit(limit)?;
        let after = page_start(from.as_ref())?;
        let fetch = limit as i64 + 1;
        let rows = self
            .run("list_segment_infos", async |c| {
                let st = c.prepare_cached(&self.sql.list_segment_infos).await?;
                c.query(&st, &[&after, &fetch]).await
            })
            .await?;
        let table = self.segments_table();
        let mut segments = rows
            .iter()
            .map(|row| {
                Ok(SegmentInfo {
                    id: segment_id_from_row(row.get::<_, &[u8]>(0), &table)?,
                    written_at_ms: row.get::<_, Option<i64>>(1).map(|ms| ms.max(0) as u64),
                    bytes: row.get::<_, Option<i64>>(2).map(|b| b.max(0) as u64),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let more = segments.len() > limit;
        segments.truncate(limit);
        let next = match segments.last() {
            Some(last) if more => Some(PageToken(last.id.to_string())),
            _ => None,
        };
        Ok(SegmentInfoPage { segments, next })
    }

    async fn list_roots(&self) -> Result<Vec<RootName>> {
        let rows = self
            .run("list_roots", async |c| {
                let st = c.prepare_cached(&self.sql.list_roots).await?;
                c.query(&st, &[]).await
            })
            .await?;
        rows.iter()
            .map(|row| RootName::new(row.get::<_, String>(0)))
            .collect()
    }

    async fn read_root(&self, name: &RootName) -> Result<Option<Root>> {
        let key = name.as_str();
        let row = self
            .run(&format!("read_root {name}"), async |c| {
                let st = c.prepare_cached(&self.sql.read_root).await?;
                c.query_opt(&st, &[&key]).await
            })
            .await?;
        row.map(|row| root_from_row(name, row.get(0), row.get(1)))
            .transpose()
    }

    async fn cas_root(
        &self,
        name: &RootName,
        expected: Option<Revision>,
        value: &RootValue,
    ) -> Result<CasOutcome> {
        let target = Revision::after(expected, value.nonce())?;
        for rev in expected.into_iter().chain([target]) {
            if i64::try_from(rev.get()).is_err() {
                return Err(Error::invalid(format!(
                    "cas_root {name}: revision {rev} is beyond what PostgreSQL's bigint can hold"
                )));
            }
        }
        let encoded = value.encode();
        cas_resolving_ambiguity(
            SCHEME,
            name,
            expected,
            value,
            || self.cas_attempt(name, (expected, target), &encoded),
            || self.read_root_patiently(name),
        )
        .await
    }
}
