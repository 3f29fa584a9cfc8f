//! The self-verifying root record: what a root revision file holds.
//!
//! ```text
//! magic     8 bytes   "ACRROOT\0"
//! version   1 byte    2 (1: the records of format-1 storages, still read)
//! revision  8 bytes   little-endian, ≥ 1
//! previous  32 bytes  (version 2 only) the checksum of the record this
//!                     revision replaced; zeros when it created the root
//! name len  2 bytes   little-endian
//! name      the root's name (ASCII)
//! value len 4 bytes   little-endian
//! value     the RootValue envelope (storage-core's, with the writer nonce)
//! checksum  32 bytes  BLAKE3 of everything before it
//! ```
//!
//! The checksum makes a torn or bit-rotted file a corruption error, never a
//! wrong value; the name inside makes a file copied or renamed to another
//! root's place one too. The previous record's checksum chains the
//! revisions, so a writer can tell whether the revision after its own was
//! built on its record (see `roots.rs`).
//! `tests/golden/root-record-v1.bin` and `root-record-v2.bin` pin the
//! formats.

use bytes::{BufMut, Bytes, BytesMut};
use storage_core::{
    Error, MAX_ROOT_NAME_BYTES, MAX_ROOT_VALUE_BYTES, Result, Revision, Root, RootName, RootValue,
};

const MAGIC: &[u8; 8] = b"ACRROOT\0";
/// The version this build writes.
const VERSION: u8 = 2;
/// The version of format-1 storages' single root files.
const VERSION_1: u8 = 1;
const CHECKSUM_LEN: usize = 32;
/// magic, version, revision, name length, value length, checksum.
const FIXED_LEN_V1: usize = 8 + 1 + 8 + 2 + 4 + CHECKSUM_LEN;
/// Version 2 adds the previous record's checksum.
const FIXED_LEN: usize = FIXED_LEN_V1 + CHECKSUM_LEN;
/// No record is longer: the longest name, the largest value and room for
/// the value envelope's header (17 bytes in its version 1).
pub(crate) const MAX_LEN: usize = FIXED_LEN + MAX_ROOT_NAME_BYTES + MAX_ROOT_VALUE_BYTES + 64;

/// The BLAKE3 checksum that ends a record: it names the record.
pub(crate) type Checksum = [u8; CHECKSUM_LEN];

/// The checksum a record has as `previous` when it created its root.
pub(crate) const NO_PREVIOUS: Checksum = [0; CHECKSUM_LEN];

/// A decoded record: the root, and the checksums that chain revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The revision and value.
    pub(crate) root: Root,
    /// The checksum of the record this one replaced ([`NO_PREVIOUS`] for
    /// the first, and unknown — also zeros — in a version 1 record).
    pub(crate) previous: Checksum,
    /// This record's own checksum.
    pub(crate) checksum: Checksum,
}

/// The bytes of the record of root `name` at `revision` holding `value`,
/// replacing the record whose checksum is `previous`.
pub(crate) fn encode(
    name: &RootName,
    revision: Revision,
    previous: &Checksum,
    value: &RootValue,
) -> Bytes {
    let envelope = value.encode();
    let name = name.as_str().as_bytes();
    let mut out = BytesMut::with_capacity(FIXED_LEN + name.len() + envelope.len());
    out.put_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u64_le(revision.get());
    out.put_slice(previous);
    // Root names are at most 200 bytes and values at most 64 KiB plus a
    // small envelope (storage-core enforces both), so the casts are lossless.
    out.put_u16_le(name.len() as u16);
    out.put_slice(name);
    out.put_u32_le(envelope.len() as u32);
    out.put_slice(&envelope);
    let checksum = blake3::hash(&out);
    out.put_slice(checksum.as_bytes());
    out.freeze()
}

/// The checksum of encoded record `bytes` (its last 32 bytes).
pub(crate) fn checksum_of(bytes: &[u8]) -> Checksum {
    let mut out = NO_PREVIOUS;
    if bytes.len() >= CHECKSUM_LEN {
        out.copy_from_slice(&bytes[bytes.len() - CHECKSUM_LEN..]);
    }
    out
}

/// Reads the record of `name` found at `location` (a path, for messages),
/// of either version. Anything but a whole, matching record is
/// [`Error::Corruption`] naming the root and the location.
pub(crate) fn decode(name: &RootName, location: &str, stored: Bytes) -> Result<Record> {
    let corrupt = |detail: String| Error::Corruption {
        what: format!("root `{name}` at {location}"),
        detail,
    };
    let fields = split(&stored).map_err(corrupt)?;
    if fields.name != name.as_str().as_bytes() {
        return Err(corrupt(format!(
            "the file holds the record of root `{}`",
            String::from_utf8_lossy(fields.name).escape_debug()
        )));
    }
    let revision = Revision::new(fields.revision)
        .ok_or_else(|| corrupt("the stored revision is 0".to_string()))?;
    let value = RootValue::decode(name, stored.slice_ref(fields.envelope))?;
    Ok(Record {
        root: Root { revision, value },
        previous: fields.previous,
        checksum: checksum_of(&stored),
    })
}

struct Fields<'a> {
    revision: u64,
    previous: Checksum,
    name: &'a [u8],
    envelope: &'a [u8],
}

/// Checks framing and checksum and splits a record into its fields.
fn split(stored: &[u8]) -> std::result::Result<Fields<'_>, String> {
    if stored.len() < FIXED_LEN_V1 {
        return Err(format!(
            "the file is {} bytes, shorter than the smallest record ({FIXED_LEN_V1} bytes): torn or truncated",
            stored.len()
        ));
    }
    let (body, checksum) = stored.split_at(stored.len() - CHECKSUM_LEN);
    if body[..8] != MAGIC[..] {
        return Err("the file does not start with the root record magic".into());
    }
    let version = body[8];
    if version != VERSION && version != VERSION_1 {
        return Err(format!(
            "root record version {version} is not supported (this build reads {VERSION_1} and {VERSION})"
        ));
    }
    if blake3::hash(body).as_bytes()[..] != checksum[..] {
        return Err("the checksum does not match the contents: torn or corrupted".into());
    }
    let mut reader = Reader { rest: &body[9..] };
    let revision = u64::from_le_bytes(reader.array()?);
    let previous = match version {
        VERSION_1 => NO_PREVIOUS,
        _ => reader.array()?,
    };
    let name_len = u16::from_le_bytes(reader.array()?) as usize;
    let name = reader.take(name_len)?;
    let envelope_len = u32::from_le_bytes(reader.array()?) as usize;
    let envelope = reader.take(envelope_len)?;
    if !reader.rest.is_empty() {
        return Err(format!(
            "{} bytes follow the value inside the checksum",
            reader.rest.len()
        ));
    }
    Ok(Fields {
        revision,
        previous,
        name,
        envelope,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!(
                "a field of {n} bytes runs past the end of the record"
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_core::Nonce;

    fn sample() -> (RootName, Root) {
        let name = RootName::new("db/orders/log").unwrap();
        let value = RootValue::with_nonce(Nonce::random(), &b"head"[..]).unwrap();
        let root = Root {
            revision: Revision::new(42).unwrap(),
            value,
        };
        (name, root)
    }

    /// A record with a fixed nonce, built through the public envelope
    /// format (version byte, 16 nonce bytes, data).
    fn golden_root() -> (RootName, Root) {
        let name = RootName::new("db/golden/log").unwrap();
        let mut envelope = vec![1u8];
        envelope.extend(0u8..16);
        envelope.extend_from_slice(b"golden head");
        let value = RootValue::decode(&name, envelope.into()).unwrap();
        let revision = Revision::new(7).unwrap();
        (name, Root { revision, value })
    }

    fn golden(file: &str) -> String {
        format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"))
    }

    /// Format-1 storages hold version 1 records; they must keep reading.
    #[test]
    fn format_v1_records_still_decode() {
        let (name, root) = golden_root();
        let path = golden("root-record-v1.bin");
        let pinned = std::fs::read(&path).unwrap();
        let record = decode(&name, &path, pinned.clone().into()).unwrap();
        assert_eq!(record.root, root);
        assert_eq!(record.previous, NO_PREVIOUS);
        assert_eq!(record.checksum, checksum_of(&pinned));
    }

    /// Pins the version 2 record. After a deliberate format change (which
    /// must bump the version and keep reading this file), write it anew with
    /// `ACCRETE_BLESS=1`.
    #[test]
    fn format_v2_is_pinned_by_a_golden_file() {
        let (name, root) = golden_root();
        let previous = [0xab; 32];
        let bytes = encode(&name, root.revision, &previous, &root.value);
        let path = golden("root-record-v2.bin");
        if std::env::var_os("ACCRETE_BLESS").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let pinned = std::fs::read(&path).unwrap();
        assert_eq!(pinned, bytes, "the root record encoding changed");
        let record = decode(&name, &path, pinned.into()).unwrap();
        assert_eq!((record.root, record.previous), (root, previous));
    }

    #[test]
    fn round_trips() {
        let (name, root) = sample();
        let bytes = encode(&name, root.revision, &NO_PREVIOUS, &root.value);
        let record = decode(&name, "p", bytes.clone()).unwrap();
        assert_eq!(record.root, root);
        assert_eq!(record.checksum, checksum_of(&bytes));
        assert_eq!(
            record.checksum,
            *blake3::hash(&bytes[..bytes.len() - 32]).as_bytes()
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_bit_is_corruption() {
        let (name, root) = sample();
        let bytes = encode(&name, root.revision, &[7; 32], &root.value);
        for len in 0..bytes.len() {
            let err = decode(&name, "/s/roots/x", bytes.slice(..len)).unwrap_err();
            assert!(err.is_corruption(), "truncated to {len}: {err}");
            assert!(err.to_string().contains("/s/roots/x"), "{err}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = decode(&name, "p", bad.into()).unwrap_err();
            assert!(err.is_corruption(), "bit {bit}: {err}");
        }
    }

    #[test]
    fn a_record_of_another_root_is_corruption() {
        let (name, root) = sample();
        let bytes = encode(&name, root.revision, &NO_PREVIOUS, &root.value);
        let other = RootName::new("db/orders/index").unwrap();
        let err = decode(&other, "p", bytes).unwrap_err().to_string();
        assert!(
            err.contains("holds the record of root `db/orders/log`"),
            "{err}"
        );
    }

    #[test]
    fn a_newer_version_is_refused_by_name() {
        let (name, root) = sample();
        let mut bytes = encode(&name, root.revision, &NO_PREVIOUS, &root.value).to_vec();
        bytes[8] = 3;
        let err = decode(&name, "p", bytes.into()).unwrap_err().to_string();
        assert!(err.contains("version 3 is not supported"), "{err}");
    }
}
