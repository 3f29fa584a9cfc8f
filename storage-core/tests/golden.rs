//! Golden files pin the segment frame and root envelope formats: these bytes
//! were written by format version 1 and must decode the same way forever.
//!
//! A missing golden file fails the test. To write them anew after a
//! deliberate format change (which must bump the version and keep decoding
//! the old files), run with `ACCRETE_BLESS=1`: that is the only switch that
//! writes them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;

use bytes::Bytes;
use storage_core::codec::{self, Codec};
use storage_core::{RootName, RootValue, SegmentId};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn payload() -> Vec<u8> {
    let mut p = b"accrete golden payload: ".to_vec();
    for i in 0..200u32 {
        p.extend_from_slice(
            format!("[{i} :user/email \"u{i}@example.com\" {}]", 1000 + i / 7).as_bytes(),
        );
    }
    p
}

/// True when the golden files are to be written anew (`ACCRETE_BLESS=1`).
fn blessing() -> bool {
    std::env::var("ACCRETE_BLESS").is_ok_and(|v| v == "1")
}

/// The pinned bytes of golden file `name`; a missing file fails.
fn pinned(name: &str) -> Vec<u8> {
    let path = golden(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: a golden file is missing (write it with ACCRETE_BLESS=1 only after a deliberate format change)",
            path.display()
        )
    })
}

fn check(name: &str, bytes: &[u8]) {
    if blessing() {
        std::fs::write(golden(name), bytes).unwrap();
    }
    let pinned = pinned(name);
    assert_eq!(
        pinned, bytes,
        "{name}: the encoding changed; old files must keep decoding"
    );
}

#[test]
fn frame_v1_stored_and_lz4_are_pinned() {
    let stored = codec::encode_with(3, Codec::Stored, &payload()).unwrap();
    let lz4 = codec::encode_with(3, Codec::Lz4, &payload()).unwrap();
    check("frame-v1-stored.bin", &stored);
    check("frame-v1-lz4.bin", &lz4);
    for name in ["frame-v1-stored.bin", "frame-v1-lz4.bin"] {
        let bytes = Bytes::from(pinned(name));
        let frame = codec::decode(&bytes).unwrap();
        assert_eq!(frame.kind, 3);
        assert_eq!(frame.payload, payload());
    }
    // Ids are over the framed bytes, and pinned too.
    let id = SegmentId::of(&pinned("frame-v1-lz4.bin"));
    check("frame-v1-lz4.id", id.to_string().as_bytes());
}

#[test]
fn empty_frame_is_pinned_byte_for_byte() {
    let bytes = codec::encode(0, b"").unwrap();
    assert_eq!(
        bytes.as_ref(),
        &[b'A', b'C', b'S', b'G', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn root_envelope_v1_is_pinned() {
    let name = RootName::new("db/golden/log").unwrap();
    if blessing() {
        // The nonce is random: a blessed file pins one envelope of it.
        let v = RootValue::new(&b"golden root data"[..]).unwrap();
        std::fs::write(golden("root-v1.bin"), v.encode()).unwrap();
    }
    let stored = Bytes::from(pinned("root-v1.bin"));
    assert_eq!(stored[0], 1, "envelope version");
    let value = RootValue::decode(&name, stored.clone()).unwrap();
    assert_eq!(value.data().as_ref(), b"golden root data");
    assert_eq!(value.nonce().as_bytes(), &stored[1..17]);
    assert_eq!(value.encode(), stored, "re-encoding is byte-identical");
}

#[test]
fn a_missing_golden_file_fails_instead_of_being_written() {
    let missing = std::panic::catch_unwind(|| pinned("no-such-golden-file.bin"));
    assert!(missing.is_err(), "a missing golden file passed");
    assert!(!golden("no-such-golden-file.bin").exists());
}
