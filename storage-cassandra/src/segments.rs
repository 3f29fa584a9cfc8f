//! Segments: written at the write level (QUORUM or LOCAL_QUORUM), chunk
//! rows before the row that lists them; read at ONE first and again at the
//! write level when ONE finds nothing or bytes that do not hash to the id;
//! listed in ring order by token; deleted row first, then chunks.
//!
//! A delete leaves tombstones, and Cassandra orders a delete and a later
//! put of the same id by their write timestamps: a segment deleted and put
//! again is only there if the put's timestamp is the newer one, so the
//! clocks of the writing machines must be synchronized (as Cassandra
//! requires anyway), and garbage collection must not delete a segment that
//! may be written again at the same moment.

use bytes::{Bytes, BytesMut};
use futures::future::try_join_all;
use scylla::response::PagingState;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use storage_core::{
    Error, MAX_SEGMENT_BYTES, PageToken, Result, RootName, SegmentId, SegmentInfo, SegmentInfoPage,
    SegmentPage, check_list_limit,
};
use tracing::Instrument as _;

use crate::error::Failure;
use crate::schema::CHUNK_BYTES;
use crate::statements::ByLevel;
use crate::store::{CassandraStorage, maybe_first_row, span};
use storage_core::truncate_for_message;

/// The most chunks a segment can have.
const MAX_CHUNKS: i32 = MAX_SEGMENT_BYTES.div_ceil(CHUNK_BYTES) as i32;

/// The most rows one listing page asks the cluster for at a time.
const MAX_PAGE_ROWS: usize = 5_000;

/// Which of a [`ByLevel`] pair a read uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    One,
    Quorum,
}

impl Pass {
    fn of(self, by: &ByLevel) -> &PreparedStatement {
        match self {
            Pass::One => &by.one,
            Pass::Quorum => &by.quorum,
        }
    }
}

/// What one read pass found.
enum Found {
    Missing,
    Verified(Bytes),
    /// The row lists chunk `missing` of `chunks`, which is not there.
    Incomplete {
        missing: i32,
        chunks: i32,
    },
    /// Bytes that do not hash to the id, or a row that makes no sense.
    Corrupt(Error),
}

/// The `segments` row of a segment.
type SegmentRow = (Option<i32>, Option<i32>, Option<Bytes>);

impl CassandraStorage {
    pub(crate) async fn put(&self, id: SegmentId, bytes: Bytes) -> Result<()> {
        id.check_put(&bytes)?;
        let op = format!("put_segment {id}");
        let key = id.as_bytes().as_slice();
        // check_put bounds the size by MAX_SEGMENT_BYTES, far below i32::MAX.
        let size = bytes.len() as i32;
        // One write timestamp for every row of this put, so that the time
        // a listing reports (the row's) is that of its chunks too, and a
        // deletion of exactly that write removes all of it and nothing of a
        // later put (`delete_unless_put_since`).
        let at = now_micros();
        if bytes.len() <= CHUNK_BYTES {
            let row = (key, size, 0_i32, MaybeUnset::Set(bytes.as_ref()), at);
            self.execute(&op, &self.st.put_segment, row)
                .await
                .map_err(|f| f.into_error(&op))?;
            return Ok(());
        }
        let writes = bytes.chunks(CHUNK_BYTES).enumerate().map(|(idx, chunk)| {
            self.execute(&op, &self.st.put_chunk, (key, idx as i32, chunk, at))
        });
        try_join_all(writes).await.map_err(|f| f.into_error(&op))?;
        let chunks = bytes.len().div_ceil(CHUNK_BYTES) as i32;
        let row = (key, size, chunks, MaybeUnset::<&[u8]>::Unset, at);
        self.execute(&op, &self.st.put_segment, row)
            .await
            .map_err(|f| f.into_error(&op))?;
        Ok(())
    }

    pub(crate) async fn get(&self, id: SegmentId) -> Result<Option<Bytes>> {
        if let Found::Verified(bytes) = self.fetch(id, Pass::One).await? {
            return Ok(Some(bytes));
        }
        match self.fetch(id, Pass::Quorum).await? {
            Found::Missing => Ok(None),
            Found::Verified(bytes) => Ok(Some(bytes)),
            Found::Corrupt(e) => Err(e),
            Found::Incomplete { missing, chunks } => {
                // A delete removes the row before the chunks: if the row is
                // gone now, the segment was deleted while we read.
                let op = format!("get_segment {id}");
                let row = self.segment_row(id, Pass::Quorum, &op).await?;
                if row.is_none() {
                    return Ok(None);
                }
                Err(Error::corrupt_segment(
                    &id,
                    &self.tables.chunks,
                    format!("chunk {missing} of the {chunks} its row lists is missing"),
                ))
            }
        }
    }

    /// One read pass: the row, then its chunks, all at one level.
    async fn fetch(&self, id: SegmentId, pass: Pass) -> Result<Found> {
        let op = format!("get_segment {id}");
        let Some((size, chunks, inline)) = self.segment_row(id, pass, &op).await? else {
            return Ok(Found::Missing);
        };
        let corrupt = |detail: String| {
            Ok(Found::Corrupt(Error::corrupt_segment(
                &id,
                &self.tables.segments,
                detail,
            )))
        };
        let (Some(size), Some(chunks)) = (size, chunks) else {
            return corrupt("the row has no size or chunk count".into());
        };
        if !(0..=MAX_CHUNKS).contains(&chunks) || size < 0 {
            return corrupt(format!("the row says {size} bytes in {chunks} chunks"));
        }
        let bytes = if chunks == 0 {
            inline.unwrap_or_default()
        } else {
            let mut whole = BytesMut::with_capacity(size as usize);
            let parts = (0..chunks).map(|idx| self.chunk(id, idx, pass, &op));
            for (idx, part) in (0..).zip(try_join_all(parts).await?) {
                let Some(part) = part else {
                    return Ok(Found::Incomplete {
                        missing: idx,
                        chunks,
                    });
                };
                whole.extend_from_slice(&part);
            }
            whole.freeze()
        };
        match id.verify(&bytes, &self.tables.segments) {
            Ok(()) => Ok(Found::Verified(bytes)),
            Err(e) => Ok(Found::Corrupt(e)),
        }
    }

    async fn segment_row(&self, id: SegmentId, pass: Pass, op: &str) -> Result<Option<SegmentRow>> {
        let key = id.as_bytes().as_slice();
        let result = self
            .execute(op, pass.of(&self.st.get_segment), (key,))
            .await
            .map_err(|f| f.into_error(op))?;
        maybe_first_row(result, op)
    }

    async fn chunk(&self, id: SegmentId, idx: i32, pass: Pass, op: &str) -> Result<Option<Bytes>> {
        let key = id.as_bytes().as_slice();
        let result = self
            .execute(op, pass.of(&self.st.get_chunk), (key, idx))
            .await
            .map_err(|f| f.into_error(op))?;
        let row = maybe_first_row::<(Option<Bytes>,)>(result, op)?;
        Ok(row.map(|(bytes,)| bytes.unwrap_or_default()))
    }

    pub(crate) async fn delete(&self, id: SegmentId) -> Result<()> {
        let op = format!("delete_segment {id}");
        let key = id.as_bytes().as_slice();
        for statement in [&self.st.delete_segment, &self.st.delete_chunks] {
            self.execute(&op, statement, (key,))
                .await
                .map_err(|f| f.into_error(&op))?;
        }
        Ok(())
    }

    /// Removes segment `id` as written by puts up to `written_at_ms` (the
    /// millisecond a listing reported), leaving any later put: the
    /// deletion is stamped with the last microsecond of that millisecond,
    /// and Cassandra resolves a write against a deletion by timestamp,
    /// whatever order they arrive in. Every put stamps all its rows with
    /// one client timestamp, so a later put (a later millisecond, given
    /// clocks that agree as garbage collection requires) keeps its rows
    /// and chunks whole. Then reads the row back at the write level:
    /// `true` when it is gone.
    pub(crate) async fn delete_unless_put_since(
        &self,
        id: SegmentId,
        written_at_ms: u64,
    ) -> Result<bool> {
        let op = format!("delete_segment {id}");
        let key = id.as_bytes().as_slice();
        let at = i64::try_from(written_at_ms)
            .ok()
            .and_then(|ms| ms.checked_add(1))
            .and_then(|ms| ms.checked_mul(1000))
            .map(|us| us - 1)
            .ok_or_else(|| {
                storage_core::Error::invalid(format!(
                    "{op}: write time {written_at_ms} ms is out of range"
                ))
            })?;
        for statement in [&self.st.delete_segment_at, &self.st.delete_chunks_at] {
            self.execute(&op, statement, (at, key))
                .await
                .map_err(|f| f.into_error(&op))?;
        }
        Ok(self.segment_row(id, Pass::Quorum, &op).await?.is_none())
    }

    /// A page of ids in ring order: those from the token in `from` on,
    /// skipping the ids at that token up to and including the one in
    /// `from` (several ids may share a token).
    pub(crate) async fn list(&self, from: Option<PageToken>, limit: usize) -> Result<SegmentPage> {
        let page = self.list_infos(from, limit).await?;
        Ok(SegmentPage {
            ids: page.segments.into_iter().map(|s| s.id).collect(),
            next: page.next,
        })
    }

    /// [`Self::list`] with each segment's write time (`writetime(size)`,
    /// which every put rewrites) and size.
    pub(crate) async fn list_infos(
        &self,
        from: Option<PageToken>,
        limit: usize,
    ) -> Result<SegmentInfoPage> {
        check_list_limit(limit)?;
        let after = from.as_ref().map(parse_token).transpose()?;
        let start = after.as_ref().map_or(i64::MIN, |(token, _)| *token);
        let mut statement = self.st.list_segments.clone();
        statement.set_page_size((limit + 2).min(MAX_PAGE_ROWS) as i32);
        let mut paging = PagingState::start();
        let mut found: Vec<(i64, SegmentInfo)> = Vec::with_capacity(limit + 1);
        let op = "list_segments";
        while found.len() <= limit {
            let (result, more) = self
                .session
                .execute_single_page(&statement, (start,), paging)
                .instrument(span(op))
                .await
                .map_err(|e| Failure::from(e).into_error(op))?;
            let rows = result
                .into_rows_result()
                .map_err(|e| Failure::shape(e).into_error(op))?;
            for row in rows
                .rows::<ListedRow>()
                .map_err(|e| Failure::shape(e).into_error(op))?
            {
                let (token, raw, written_us, size) =
                    row.map_err(|e| Failure::shape(e).into_error(op))?;
                let id = segment_id(&raw, &self.tables.segments)?;
                let seen = after.is_some_and(|(t, last)| token == t && id <= last);
                if !seen {
                    let info = SegmentInfo {
                        id,
                        written_at_ms: written_us.map(|us| (us / 1000).max(0) as u64),
                        bytes: size.map(|b| b.max(0) as u64),
                    };
                    found.push((token, info));
                }
            }
            match more.into_paging_control_flow() {
                std::ops::ControlFlow::Break(()) => break,
                std::ops::ControlFlow::Continue(next) => paging = next,
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        let next = match found.last() {
            Some((token, info)) if more => Some(PageToken(format!("{token}:{}", info.id))),
            _ => None,
        };
        Ok(SegmentInfoPage {
            segments: found.into_iter().map(|(_, info)| info).collect(),
            next,
        })
    }

    /// The names of every root, paged through the whole table.
    pub(crate) async fn root_names(&self) -> Result<Vec<RootName>> {
        let op = "list_roots";
        let mut statement = self.st.list_roots.clone();
        statement.set_page_size(MAX_PAGE_ROWS as i32);
        let mut paging = PagingState::start();
        let mut names = Vec::new();
        loop {
            let (result, more) = self
                .session
                .execute_single_page(&statement, (), paging)
                .instrument(span(op))
                .await
                .map_err(|e| Failure::from(e).into_error(op))?;
            let rows = result
                .into_rows_result()
                .map_err(|e| Failure::shape(e).into_error(op))?;
            for row in rows
                .rows::<(String,)>()
                .map_err(|e| Failure::shape(e).into_error(op))?
            {
                let (name,) = row.map_err(|e| Failure::shape(e).into_error(op))?;
                names.push(RootName::new(name)?);
            }
            match more.into_paging_control_flow() {
                std::ops::ControlFlow::Break(()) => return Ok(names),
                std::ops::ControlFlow::Continue(next) => paging = next,
            }
        }
    }
}

/// A listed segment row: ring token, id, `writetime(size)` in
/// microseconds, size.
type ListedRow = (i64, Bytes, Option<i64>, Option<i32>);

/// A page token: the ring token and id of the last id listed.
fn parse_token(token: &PageToken) -> Result<(i64, SegmentId)> {
    let bad = || {
        Error::invalid(format!(
            "cassandra: page token `{}` is not one of mine",
            truncate_for_message(&token.0)
        ))
    };
    let (ring, id) = token.0.split_once(':').ok_or_else(bad)?;
    Ok((
        ring.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

fn segment_id(raw: &[u8], table: &str) -> Result<SegmentId> {
    let raw: [u8; 32] = raw.try_into().map_err(|_| Error::Corruption {
        what: table.to_string(),
        detail: format!("a segment id of {} bytes, not 32", raw.len()),
    })?;
    Ok(SegmentId::from_bytes(raw))
}

/// Microseconds since the Unix epoch by this process's clock, the write
/// timestamp of a put.
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
