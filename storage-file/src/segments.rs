//! Segments as files: durable puts, verified gets, deletion and paged
//! listing in id order. Blocking code, run off the async workers.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use storage_core::{
    Error, MAX_SEGMENT_BYTES, PageToken, SegmentId, SegmentInfo, SegmentInfoPage, SegmentPage,
};

use crate::durable::{TEMP_SUFFIX, replace_durably, sync_dir};
use crate::error::{FsResult, IoContext};
use crate::layout::Layout;

/// Stores `bytes` as segment `id`.
///
/// An existing file of the right size is kept, its modification time set
/// to now (the write time garbage collection's grace counts from); its
/// directory is still synced, because the put that created it may not
/// have synced it yet. A file that garbage collection removed while it
/// was being touched is written again ([`delete_unless_put_since`]). A
/// file of the wrong size is a torn or damaged copy and is replaced.
pub(crate) fn put(layout: &Layout, id: &SegmentId, bytes: &[u8]) -> FsResult<()> {
    id.check_put(bytes)?;
    let path = layout.segment(id);
    match fs::metadata(&path) {
        Ok(meta) if meta.len() == bytes.len() as u64 => {
            if touch(&path)? {
                return sync_dir(&layout.fanout(id.as_bytes()[0]));
            }
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

/// Sets the modification time of an existing segment file to now, and
/// says whether `path` still names that file afterwards: `false` when it
/// is gone or was moved aside by garbage collection (before or during the
/// touch), and the put must write it again.
///
/// Garbage collection moves a file aside *before* it reads the file's
/// time, so either it reads this touch and puts the file back, or this
/// check runs after the move and sees the path no longer naming the file.
fn touch(path: &Path) -> FsResult<bool> {
    match fs::File::options().write(true).open(path) {
        Ok(file) => refresh(&file, path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at("open segment file to refresh its time", path),
    }
}

/// The second half of [`touch`], on the file opened at `path`.
fn refresh(file: &File, path: &Path) -> FsResult<bool> {
    file.set_modified(SystemTime::now())
        .at("refresh segment file time", path)?;
    let touched = file.metadata().at("inspect segment file", path)?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.dev() == touched.dev() && now.ino() == touched.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at("inspect segment file", path),
    }
}

/// Milliseconds since the Unix epoch of a file's modification time, the
/// segment's write time.
fn written_at_ms(meta: &fs::Metadata) -> Option<u64> {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Removes segment `id` unless a put refreshed it after `written_at`
/// (milliseconds, as [`list_infos`] reports); `true` when it is gone
/// (removed now or missing already), `false` when it was kept.
///
/// The file is first moved aside into the temporary directory (one atomic
/// rename), then its time is read there: a put that touched it before the
/// move shows in that time and the file is linked back (a put that wrote
/// a fresh copy meanwhile wins); a put that touches it after the move
/// finds the path no longer naming it and writes it again ([`touch`]).
/// Between the move and the link back, a reader could miss a segment that
/// was put again in that instant; it is never lost. A crash while the file
/// is aside leaves it to the temporary-file sweep: it was being deleted.
pub(crate) fn delete_unless_put_since(
    layout: &Layout,
    id: &SegmentId,
    written_at: u64,
) -> FsResult<bool> {
    let path = layout.segment(id);
    match fs::metadata(&path) {
        Ok(meta) if written_at_ms(&meta).is_none_or(|t| t > written_at) => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e).at("inspect segment file", &path),
    }
    let fanout = layout.fanout(id.as_bytes()[0]);
    let aside = aside_path(layout);
    match fs::rename(&path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e).at("move segment file aside to delete it", &path),
    }
    let meta = fs::metadata(&aside).at("inspect segment file moved aside", &aside)?;
    if written_at_ms(&meta).is_none_or(|t| t > written_at) {
        match fs::hard_link(&aside, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).at("put back a segment file put again", &path),
        }
        fs::remove_file(&aside).at("remove a temporary file", &aside)?;
        sync_dir(&fanout)?;
        return Ok(false);
    }
    fs::remove_file(&aside).at("remove segment file", &aside)?;
    sync_dir(&fanout)?;
    Ok(true)
}

/// A fresh name in the temporary directory (swept like any temporary file
/// when a crash leaves it).
fn aside_path(layout: &Layout) -> PathBuf {
    layout
        .tmp()
        .join(format!("{:016x}{TEMP_SUFFIX}", rand::random::<u64>()))
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
        segments.push(SegmentInfo {
            id,
            written_at_ms: written_at_ms(&meta),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().expect("temp dir");
        let layout = Layout::new(dir.path().to_path_buf());
        fs::create_dir_all(layout.tmp()).expect("tmp dir");
        let segments = layout.fanout(0);
        fs::create_dir_all(segments.parent().expect("segments dir")).expect("segments dir");
        (dir, layout)
    }

    fn segment(seed: u8) -> (SegmentId, Vec<u8>) {
        let bytes = vec![seed; 100];
        (SegmentId::of(&bytes), bytes)
    }

    fn written(layout: &Layout, id: &SegmentId) -> u64 {
        let meta = fs::metadata(layout.segment(id)).expect("segment file");
        written_at_ms(&meta).expect("mtime")
    }

    /// A put whose touch lands on a file that garbage collection moved aside
    /// between the put's open and its touch sees it and writes it again.
    #[test]
    fn a_touch_of_a_file_moved_aside_is_not_a_put() {
        let (_dir, layout) = layout();
        let (id, bytes) = segment(1);
        put(&layout, &id, &bytes).expect("put");
        let path = layout.segment(&id);
        let opened = File::options().write(true).open(&path).expect("open");
        fs::rename(&path, aside_path(&layout)).expect("move aside");
        assert!(
            !refresh(&opened, &path).expect("refresh"),
            "the touch claimed a file no longer at its path"
        );
        put(&layout, &id, &bytes).expect("put again");
        assert_eq!(get(&layout, &id).expect("get"), Some(Bytes::from(bytes)));
    }

    /// The move-aside deletion keeps a file touched after the listing, puts
    /// nothing back when it is gone, and removes one not put since.
    #[test]
    fn deletion_keeps_a_file_put_since_the_listing() {
        let (_dir, layout) = layout();
        let (id, bytes) = segment(2);
        put(&layout, &id, &bytes).expect("put");
        let listed = written(&layout, &id);
        std::thread::sleep(std::time::Duration::from_millis(5));
        put(&layout, &id, &bytes).expect("put again");
        assert!(!delete_unless_put_since(&layout, &id, listed).expect("delete"));
        assert!(
            get(&layout, &id).expect("get").is_some(),
            "a refreshed segment was removed"
        );
        let listed = written(&layout, &id);
        assert!(delete_unless_put_since(&layout, &id, listed).expect("delete"));
        assert!(
            get(&layout, &id).expect("get").is_none(),
            "a segment not put since stayed"
        );
        assert!(delete_unless_put_since(&layout, &id, listed).expect("delete missing"));
        assert_eq!(
            fs::read_dir(layout.tmp()).expect("tmp").count(),
            0,
            "a file left aside"
        );
    }
}
