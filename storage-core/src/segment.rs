//! Segment ids: the BLAKE3-256 hash of a segment's stored bytes.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The largest segment a storage accepts: 4 MiB. Aim for 64 KiB–1 MiB.
///
/// The limit keeps every backend comfortable (Cassandra splits anything above
/// its chunk size into extra rows; a Postgres `bytea` of this size is cheap)
/// and bounds the memory a single read can take.
pub const MAX_SEGMENT_BYTES: usize = 4 * 1024 * 1024;

/// The id of a segment: the BLAKE3-256 hash of its stored bytes, printed as
/// 64 lowercase hex digits.
///
/// Because the id names exactly one content, puts are idempotent, a reader
/// verifies what it got, and two databases share identical segments.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId([u8; 32]);

impl SegmentId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        SegmentId(*blake3::hash(bytes).as_bytes())
    }

    /// The id with these raw hash bytes.
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        SegmentId(raw)
    }

    /// The raw 32 hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The id as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Checks that `bytes` are the content this id names; `location` (a
    /// path, a row) goes into the corruption error.
    pub fn verify(&self, bytes: &[u8], location: &str) -> Result<()> {
        let actual = SegmentId::of(bytes);
        if actual == *self {
            return Ok(());
        }
        Err(Error::corrupt_segment(
            self,
            location,
            format!(
                "{} bytes hash to {}, not to the segment's id",
                bytes.len(),
                actual
            ),
        ))
    }

    /// Checks what a `put` may accept: at most [`MAX_SEGMENT_BYTES`], and
    /// bytes that hash to this id.
    pub fn check_put(&self, bytes: &[u8]) -> Result<()> {
        check_segment_size(bytes.len())?;
        let actual = SegmentId::of(bytes);
        if actual != *self {
            return Err(Error::invalid(format!(
                "put of segment {self}: the {} bytes given hash to {actual}",
                bytes.len()
            )));
        }
        Ok(())
    }
}

/// Rejects a segment of `len` bytes above [`MAX_SEGMENT_BYTES`].
fn check_segment_size(len: usize) -> Result<()> {
    if len > MAX_SEGMENT_BYTES {
        return Err(Error::invalid(format!(
            "segment of {len} bytes is over the limit of {MAX_SEGMENT_BYTES} bytes"
        )));
    }
    Ok(())
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        // hex::encode_to_slice only fails when the buffer has the wrong size;
        // 64 = 2 * 32 always fits.
        if hex::encode_to_slice(self.0, &mut buf).is_err() {
            return Err(fmt::Error);
        }
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentId({self})")
    }
}

impl FromStr for SegmentId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "segment id `{}` is not 64 lowercase hex digits",
                s.escape_debug()
            ))
        };
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s, &mut raw).map_err(|_| bad())?;
        Ok(SegmentId(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_blake3_and_round_trips_through_hex() {
        let id = SegmentId::of(b"");
        assert_eq!(
            id.to_string(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(id.to_string().parse::<SegmentId>().unwrap(), id);
        assert_eq!(id.to_hex(), id.to_string());
    }

    #[test]
    fn bad_hex_is_rejected_with_the_text() {
        for bad in ["", "zz", &"A".repeat(64), &"0".repeat(63), &"g".repeat(64)] {
            let err = bad.parse::<SegmentId>().unwrap_err().to_string();
            assert!(err.contains("not 64 lowercase hex digits"), "{err}");
        }
    }

    #[test]
    fn verify_names_the_id_and_location() {
        let id = SegmentId::of(b"hello");
        assert!(id.verify(b"hello", "").is_ok());
        let err = id.verify(b"hellO", "/x/y").unwrap_err();
        assert!(err.is_corruption());
        let msg = err.to_string();
        assert!(
            msg.contains(&id.to_string()) && msg.contains("/x/y"),
            "{msg}"
        );
    }

    #[test]
    fn check_put_enforces_limit_and_hash() {
        let big = vec![0u8; MAX_SEGMENT_BYTES + 1];
        let err = SegmentId::of(&big).check_put(&big).unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
        let err = SegmentId::of(b"a").check_put(b"b").unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }
}
