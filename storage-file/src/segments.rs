//! Segments as files: durable puts, verified gets, deletion and paged
//! listing in id order. Blocking code, run off the async workers.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use storage_core::{
    Error, MAX_SEGMENT_BYTES, PageToken, SegmentId, SegmentInfo, SegmentInfoPage, SegmentPage,
};

use crate::durable::{replace_durably, sync_dir};
use crate::error::{FsResult, IoContext};
use crate::layout::Layout;

/// Stores `bytes` as segment `id`.
///
/// An existing file of the right size is kept, its modification time set
/// to now (the write time garbage collection's grace counts from); its
/// directory is still synced, because the put that created it may not
/// have synced it yet. A file of the wrong size is a torn or
/// damaged copy and is replaced.
pub(crate) fn put(layout: &Layout, id: &SegmentId, bytes: &[u8]) -> FsResult<()> {
    id.check_put(bytes)?;
    let path = layout.segment(id);
    match fs::metadata(&path) {
        Ok(meta) if meta.len() == bytes.len() as u64 => {
            touch(&path)?;
            return sync_dir(&layout.fanout(id.as_bytes()[0]));
        }
        Ok(meta) => tracing::warn!(
            path = %path.display(),
            found = meta.len(),
            expected = bytes.len(),
            "replacing a segment file of the wrong size"
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).at("inspect segment file", &path),
    }
    replace_durably(layout.tmp(), &path, bytes)
}

/// Sets the modification time of an existing segment file to now. A file
/// removed meanwhile (by garbage collection) is written again by the put.
fn touch(path: &Path) -> FsResult<()> {
    let file = fs::File::options()
        .write(true)
        .open(path)
        .at("open segment file to refresh its time", path)?;
    file.set_modified(SystemTime::now())
        .at("refresh segment file time", path)
}

/// The verified bytes of segment `id`, or `None`.
pub(crate) fn get(layout: &Layout, id: &SegmentId) -> FsResult<Option<Bytes>> {
    let path = layout.segment(id);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at("open segment file", &path),
    };
    let len = file.metadata().at("inspect segment file", &path)?.len();
    if len > MAX_SEGMENT_BYTES as u64 {
        return Err(Error::corrupt_segment(
            id,
            &path.display().to_string(),
            format!("the file is {len} bytes, over the segment limit of {MAX_SEGMENT_BYTES}"),
        )
        .into());
    }
    // At most MAX_SEGMENT_BYTES, checked just above.
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes)
        .at("read segment file", &path)?;
    id.verify(&bytes, &path.display().to_string())?;
    Ok(Some(bytes.into()))
}

/// Removes segment `id` durably; a missing one is fine.
pub(crate) fn delete(layout: &Layout, id: &SegmentId) -> FsResult<()> {
    let path = layout.segment(id);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(&layout.fanout(id.as_bytes()[0])),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).at("remove segment file", &path),
    }
}

/// Up to `limit` segments after `after`, in id order, with each file's
/// modification time and size. A file removed between listing and
/// inspecting it is left out.
pub(crate) fn list_infos(
    layout: &Layout,
    after: Option<SegmentId>,
    limit: usize,
) -> FsResult<SegmentInfoPage> {
    let page = list(layout, after, limit)?;
    let mut segments = Vec::with_capacity(page.ids.len());
    for id in page.ids {
        let path = layout.segment(&id);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).at("inspect segment file", &path),
        };
        let written_at_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        segments.push(SegmentInfo {
            id,
            written_at_ms,
            bytes: Some(meta.len()),
        });
    }
    Ok(SegmentInfoPage {
        segments,
        next: page.next,
    })
}

/// Reads a page token of this backend: the last id of the previous page.
pub(crate) fn parse_token(token: &PageToken) -> storage_core::Result<SegmentId> {
    token.0.parse().map_err(|_| {
        Error::invalid(format!(
            "file: page token `{}` is not one of mine",
            token.0.escape_debug()
        ))
    })
}

/// Up to `limit` ids after `after`, in id order.
pub(crate) fn list(
    layout: &Layout,
    after: Option<SegmentId>,
    limit: usize,
) -> FsResult<SegmentPage> {
    let start = after.map_or(0, |id| id.as_bytes()[0]);
    let mut ids = Vec::with_capacity(limit + 1);
    for prefix in start..=u8::MAX {
        let mut found = ids_in(&layout.fanout(prefix), prefix)?;
        found.retain(|id| after.is_none_or(|a| *id > a));
        found.sort_unstable();
        let room = limit + 1 - ids.len();
        ids.extend(found.into_iter().take(room));
        if ids.len() > limit {
            break;
        }
    }
    Ok(page(ids, limit))
}

/// The segment ids stored in fan-out directory `dir`. Anything else there
/// (a stray file, an id under the wrong prefix) is not a segment: `get`
/// would never find it.
fn ids_in(dir: &Path, prefix: u8) -> FsResult<Vec<SegmentId>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at("list segment directory", dir),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.at("list segment directory", dir)?;
        let id = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<SegmentId>().ok());
        match id {
            Some(id) if id.as_bytes()[0] == prefix => ids.push(id),
            _ => {}
        }
    }
    Ok(ids)
}

/// A page of at most `limit` ids from `ids` (up to `limit + 1`, the extra
/// one telling that more follow).
fn page(mut ids: Vec<SegmentId>, limit: usize) -> SegmentPage {
    let more = ids.len() > limit;
    ids.truncate(limit);
    let next = match ids.last() {
        Some(last) if more => Some(PageToken(last.to_hex())),
        _ => None,
    };
    SegmentPage { ids, next }
}
