//! Damage underneath the storage: corrupted segment and root files, leftover
//! temporary files and strays, and two open handles racing in one process.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use storage_core::{Revision, RootName, RootValue, SegmentId, Storage, StorageExt};
use storage_file::FileStorage;

use common::tmp_entries;

/// The file of revision `revision` of root `name`.
fn root_file(storage: &FileStorage, name: &str, revision: u64) -> PathBuf {
    storage
        .path()
        .join("revisions")
        .join(name.replace('/', "~"))
        .join(format!("{revision:020}"))
}

#[tokio::test]
async fn a_corrupt_segment_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let id = storage.put(Bytes::from_static(b"precious")).await.unwrap();
    let path = storage.segment_path(&id);
    fs::write(&path, b"precioos").unwrap();
    let err = storage.get_segment(id).await.unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    // A put of the same id keeps a same-size file (puts do not read back)…
    storage.put(Bytes::from_static(b"precious")).await.unwrap();
    assert!(storage.get_segment(id).await.unwrap_err().is_corruption());
    // …but replaces a torn one of another size.
    fs::write(&path, b"prec").unwrap();
    storage.put(Bytes::from_static(b"precious")).await.unwrap();
    assert_eq!(
        storage.get_segment(id).await.unwrap().unwrap().as_ref(),
        b"precious"
    );
}

#[tokio::test]
async fn a_torn_or_corrupt_root_is_an_error_naming_its_file_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let name = RootName::new("db/orders/log").unwrap();
    let head = RootValue::new("head").unwrap();
    let origin = Revision::origin(head.nonce());
    storage.cas_root(&name, None, &head).await.unwrap();
    // A new root's record is in the creation slot, file 0.
    let path = root_file(&storage, name.as_str(), 0);
    let whole = fs::read(&path).unwrap();

    let mut flipped = whole.clone();
    let last = flipped.len() - 40;
    flipped[last] ^= 0x10;
    let oversized = vec![0u8; 1 << 20];
    for damaged in [
        whole[..whole.len() / 2].to_vec(),
        flipped,
        Vec::new(),
        oversized,
    ] {
        fs::write(&path, &damaged).unwrap();
        let err = storage.read_root(&name).await.unwrap_err();
        assert!(err.is_corruption(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("db/orders/log") && msg.contains(&path.display().to_string()),
            "{msg}"
        );
        let cas = storage
            .cas_root(&name, Some(origin), &RootValue::new("next").unwrap())
            .await
            .unwrap_err();
        assert!(cas.is_corruption(), "{cas}");
        assert_eq!(
            fs::read(&path).unwrap(),
            damaged,
            "a CAS overwrote a damaged root"
        );
    }
    // A root file copied into another root's place is not taken for it.
    let other = RootName::new("db/orders/index").unwrap();
    fs::write(&path, &whole).unwrap();
    let other_file = root_file(&storage, other.as_str(), 0);
    fs::create_dir_all(other_file.parent().unwrap()).unwrap();
    fs::copy(&path, &other_file).unwrap();
    let err = storage.read_root(&other).await.unwrap_err().to_string();
    assert!(
        err.contains("holds the record of root `db/orders/log`"),
        "{err}"
    );
}

#[tokio::test]
async fn leftover_temporary_and_stray_files_are_ignored_and_swept() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let id = storage.put(Bytes::from_static(b"real")).await.unwrap();
    let fake = SegmentId::of(b"half written");
    // A crashed writer's temporary file, and strays in the segment tree.
    fs::write(
        storage.path().join("tmp").join("0123456789abcdef.tmp"),
        b"half",
    )
    .unwrap();
    let fanout = storage.segment_path(&fake).parent().unwrap().to_path_buf();
    fs::create_dir_all(&fanout).unwrap();
    fs::write(fanout.join("notes"), b"x").unwrap();
    let misplaced = storage.path().join("segments").join("00").join(id.to_hex());
    if id.as_bytes()[0] != 0 {
        fs::create_dir_all(misplaced.parent().unwrap()).unwrap();
        fs::write(&misplaced, b"real").unwrap();
    }

    let page = storage.list_segments(None, 100).await.unwrap();
    assert_eq!(page.ids, vec![id], "only real segments are listed");
    assert!(storage.get_segment(fake).await.unwrap().is_none());

    // A recent temporary file may belong to a live writer: open keeps it.
    let reopened = FileStorage::open(dir.path()).await.unwrap();
    assert_eq!(tmp_entries(&reopened), 1);
    assert_eq!(reopened.sweep_temp_files(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(tmp_entries(&reopened), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_in_one_process_take_turns_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let a = FileStorage::open(dir.path()).await.unwrap();
    let b = FileStorage::open(dir.path()).await.unwrap();
    let name = RootName::new("counter").unwrap();
    let zero = RootValue::new("0").unwrap();
    let origin = Revision::origin(zero.nonce()).get();
    a.cas_root(&name, None, &zero).await.unwrap();
    let mut tasks = Vec::new();
    for handle in [a.clone(), b.clone(), a.clone(), b.clone()] {
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            while won < 50 {
                let root = handle.read_root(&name).await.unwrap().unwrap();
                let n: u64 = std::str::from_utf8(root.value.data())
                    .unwrap()
                    .parse()
                    .unwrap();
                let next = RootValue::new((n + 1).to_string()).unwrap();
                if handle
                    .cas_root(&name, Some(root.revision), &next)
                    .await
                    .unwrap()
                    .is_applied()
                {
                    won += 1;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = b.read_root(&name).await.unwrap().unwrap();
    assert_eq!(last.revision.get(), origin + 200);
    assert_eq!(last.value.data().as_ref(), b"200");
}
