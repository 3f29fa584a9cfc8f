//! Opening storage directories: through the registry with absolute and
//! relative `file:` URIs, and every way a path can be wrong.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::fs;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use storage_core::{Error, Registry, RootName, RootValue, Storage, StorageExt};
use storage_file::FileStorage;

fn registry() -> Registry {
    let mut registry = Registry::default();
    storage_file::register(&mut registry);
    registry
}

fn message(result: storage_core::Result<impl std::fmt::Debug>) -> String {
    result.unwrap_err().to_string()
}

/// `to` as a path relative to the current directory.
fn relative_to_cwd(to: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut rel = PathBuf::new();
    for _ in cwd
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
    {
        rel.push("..");
    }
    rel.join(to.strip_prefix("/").unwrap())
}

#[tokio::test]
async fn file_uris_open_absolute_and_relative_paths_to_the_same_storage() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (absolute, uri) = registry()
        .open(&format!("file://{}?db=orders", store.display()))
        .await
        .unwrap();
    assert_eq!(uri.db().unwrap().as_str(), "orders");
    assert_eq!(absolute.backend(), "file");
    let id = absolute.put(Bytes::from_static(b"shared")).await.unwrap();

    let rel = relative_to_cwd(&store);
    assert!(rel.is_relative());
    let (relative, _) = registry()
        .open(&format!("file:{}?db=orders", rel.display()))
        .await
        .unwrap();
    assert!(relative.get_segment(id).await.unwrap().is_some());
    let (localhost, _) = registry()
        .open(&format!("file://localhost{}", store.display()))
        .await
        .unwrap();
    assert!(localhost.get_segment(id).await.unwrap().is_some());
}

#[tokio::test]
async fn unknown_uri_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = message(
        registry()
            .open(&format!("file://{}?db=x&sync=off", dir.path().display()))
            .await,
    );
    assert!(err.contains("unknown parameter `sync`"), "{err}");
}

#[tokio::test]
async fn a_path_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, b"not a directory").unwrap();
    let err = FileStorage::open(&file).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(
        err.to_string().contains("is a file, not a directory"),
        "{err}"
    );
    let below = message(FileStorage::open(file.join("store")).await);
    assert!(below.contains("not a directory"), "{below}");
    assert_eq!(fs::read(&file).unwrap(), b"not a directory");
}

#[tokio::test]
async fn a_missing_directory_is_created_but_a_missing_parent_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("new");
    FileStorage::open(&store).await.unwrap();
    assert!(store.join("ACCRETE-STORAGE").is_file());

    let deep = dir.path().join("no").join("such").join("store");
    let err = FileStorage::open(&deep).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("does not exist")
            && msg.contains(&dir.path().join("no/such").display().to_string()),
        "{msg}"
    );
    assert!(!dir.path().join("no").exists(), "nothing may be created");
}

#[tokio::test]
async fn a_directory_of_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let msg = message(FileStorage::open(dir.path()).await);
    assert!(
        msg.contains("is not an accrete storage") && msg.contains("notes.txt"),
        "{msg}"
    );
    assert!(!dir.path().join("ACCRETE-STORAGE").exists());
    assert!(!dir.path().join("segments").exists());

    let foreign = tempfile::tempdir().unwrap();
    fs::write(foreign.path().join("ACCRETE-STORAGE"), b"something else\n").unwrap();
    let msg = message(FileStorage::open(foreign.path()).await);
    assert!(msg.contains("is not an accrete storage marker"), "{msg}");
}

#[tokio::test]
async fn a_storage_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    FileStorage::open(dir.path()).await.unwrap();
    fs::write(
        dir.path().join("ACCRETE-STORAGE"),
        b"accrete file storage\nformat 3\n",
    )
    .unwrap();
    let msg = message(FileStorage::open(dir.path()).await);
    assert!(
        msg.contains("newer accrete (storage format 3)") && msg.contains("reads format 2"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_interrupted_initialisation_is_completed() {
    let dir = tempfile::tempdir().unwrap();
    // What a crash before the marker was written leaves behind.
    fs::create_dir(dir.path().join("segments")).unwrap();
    fs::create_dir(dir.path().join("tmp")).unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    storage.put(Bytes::from_static(b"x")).await.unwrap();
}

#[tokio::test]
async fn a_storage_missing_its_roots_is_damaged_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::open(dir.path()).await.unwrap();
    let name = RootName::new("db/x/log").unwrap();
    storage
        .cas_root(&name, None, &RootValue::new("v").unwrap())
        .await
        .unwrap();
    fs::remove_dir_all(dir.path().join("roots")).unwrap();
    let err = FileStorage::open(dir.path()).await.unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(
        err.to_string().contains("`roots` subdirectory is missing"),
        "{err}"
    );
}
