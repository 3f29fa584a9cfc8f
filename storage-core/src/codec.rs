//! The segment frame: every segment is framed so that a reader rejects what
//! it does not understand with a clear error and old segments stay readable
//! as the format grows.
//!
//! # Format, version 1 (all integers little-endian)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | magic `ACSG` (`0x41 0x43 0x53 0x47`) |
//! | 4 | 1 | format version, `1` |
//! | 5 | 1 | codec id: `0` stored as is, `1` LZ4 block (lz4_flex, no frame, no size prefix) |
//! | 6 | 1 | kind: the content type, assigned by the layer above storage (opaque here) |
//! | 7 | 1 | reserved, `0` |
//! | 8 | 4 | payload length after decoding, `u32` |
//! | 12 | 4 | stored length `n`, `u32` |
//! | 16 | n | stored payload |
//!
//! The frame is exactly `16 + n` bytes; anything shorter is truncated and
//! anything longer is garbled. The decoded payload is at most
//! [`MAX_PAYLOAD_BYTES`]. For codec `0`, the two lengths are equal. The
//! segment's id is the BLAKE3 hash of the whole frame, so integrity is
//! checked before a frame is decoded; the frame carries no checksum of its own.
//!
//! Golden files under `storage-core/tests/golden/` pin these bytes.

use std::fmt;

use bytes::Bytes;

use crate::error::Error;
use crate::segment::SegmentId;

/// The four bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"ACSG";
/// The frame format version this build writes.
pub const FORMAT_VERSION: u8 = 1;
/// The size of the fixed header.
pub const HEADER_BYTES: usize = 16;
/// The largest payload a frame may decode to (64 MiB), which bounds the
/// memory a hostile frame can make a reader allocate.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// How a frame's payload is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// The payload as is.
    Stored = 0,
    /// An LZ4 block (lz4_flex).
    Lz4 = 1,
}

impl Codec {
    fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Codec::Stored),
            1 => Some(Codec::Lz4),
            _ => None,
        }
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The content type the writer gave.
    pub kind: u8,
    /// How the payload was stored.
    pub codec: Codec,
    /// The decoded payload.
    pub payload: Bytes,
}

/// Why bytes are not a frame this build can read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the header or the stored length say.
    Truncated {
        /// Bytes present.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The magic is wrong: not an accrete segment.
    BadMagic([u8; 4]),
    /// Written by a newer format version.
    UnknownVersion(u8),
    /// A codec this build does not know.
    UnknownCodec(u8),
    /// Anything else that does not add up.
    Garbled(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { have, need } => {
                write!(f, "truncated frame: {have} bytes, needs {need}")
            }
            FrameError::BadMagic(m) => write!(
                f,
                "not an accrete segment frame: magic {:02x?}, expected {:02x?} (\"ACSG\")",
                m, MAGIC
            ),
            FrameError::UnknownVersion(v) => write!(
                f,
                "frame format version {v} is not supported by this build (it reads version {FORMAT_VERSION})"
            ),
            FrameError::UnknownCodec(c) => {
                write!(
                    f,
                    "unknown codec id {c} (this build knows 0 = stored, 1 = lz4)"
                )
            }
            FrameError::Garbled(detail) => write!(f, "garbled frame: {detail}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl FrameError {
    /// This error as a corruption of segment `id`.
    pub fn for_segment(self, id: &SegmentId) -> Error {
        Error::corrupt_segment(id, "", self.to_string())
    }
}

/// Frames `payload` with `kind`, compressing it with LZ4 when that makes it
/// smaller.
pub fn encode(kind: u8, payload: &[u8]) -> Result<Bytes, Error> {
    let compressed = lz4_flex::block::compress(payload);
    if compressed.len() < payload.len() {
        frame(kind, Codec::Lz4, payload.len(), &compressed)
    } else {
        frame(kind, Codec::Stored, payload.len(), payload)
    }
}

/// Frames `payload` with `kind` and the given codec.
pub fn encode_with(kind: u8, codec: Codec, payload: &[u8]) -> Result<Bytes, Error> {
    match codec {
        Codec::Stored => frame(kind, codec, payload.len(), payload),
        Codec::Lz4 => frame(
            kind,
            codec,
            payload.len(),
            &lz4_flex::block::compress(payload),
        ),
    }
}

fn frame(kind: u8, codec: Codec, decoded_len: usize, stored: &[u8]) -> Result<Bytes, Error> {
    if decoded_len > MAX_PAYLOAD_BYTES {
        return Err(Error::invalid(format!(
            "frame payload of {decoded_len} bytes is over the limit of {MAX_PAYLOAD_BYTES}"
        )));
    }
    // Both lengths are at most MAX_PAYLOAD_BYTES-ish (lz4 output of a bounded
    // input is bounded by about 1.004x), far below u32::MAX.
    let as_u32 = |n: usize| {
        u32::try_from(n).map_err(|_| Error::invalid(format!("frame length {n} overflows u32")))
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + stored.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(codec as u8);
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&as_u32(decoded_len)?.to_le_bytes());
    out.extend_from_slice(&as_u32(stored.len())?.to_le_bytes());
    out.extend_from_slice(stored);
    Ok(Bytes::from(out))
}

/// Decodes a frame. Stored-codec payloads are returned without a copy.
pub fn decode(bytes: &Bytes) -> Result<Frame, FrameError> {
    if bytes.len() < HEADER_BYTES {
        // Report a wrong magic before a short header: it says more.
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(FrameError::BadMagic(first4(bytes)));
        }
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need: HEADER_BYTES,
        });
    }
    if bytes[..4] != MAGIC {
        return Err(FrameError::BadMagic(first4(bytes)));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(FrameError::UnknownVersion(bytes[4]));
    }
    let codec = Codec::from_id(bytes[5]).ok_or(FrameError::UnknownCodec(bytes[5]))?;
    let kind = bytes[6];
    if bytes[7] != 0 {
        return Err(FrameError::Garbled(format!(
            "reserved byte is {}, expected 0",
            bytes[7]
        )));
    }
    let decoded_len = read_u32(bytes, 8);
    let stored_len = read_u32(bytes, 12);
    let need = HEADER_BYTES + stored_len;
    if bytes.len() < need {
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need,
        });
    }
    if bytes.len() > need {
        return Err(FrameError::Garbled(format!(
            "{} trailing bytes after the payload",
            bytes.len() - need
        )));
    }
    if decoded_len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::Garbled(format!(
            "payload length {decoded_len} is over the limit of {MAX_PAYLOAD_BYTES}"
        )));
    }
    let stored = bytes.slice(HEADER_BYTES..need);
    let payload = match codec {
        Codec::Stored if stored_len != decoded_len => {
            return Err(FrameError::Garbled(format!(
                "stored payload of {stored_len} bytes but header says {decoded_len}"
            )));
        }
        Codec::Stored => stored,
        Codec::Lz4 => Bytes::from(
            lz4_flex::block::decompress(&stored, decoded_len)
                .map_err(|e| FrameError::Garbled(format!("lz4 payload: {e}")))?,
        ),
    };
    if payload.len() != decoded_len {
        return Err(FrameError::Garbled(format!(
            "payload decoded to {} bytes but header says {decoded_len}",
            payload.len()
        )));
    }
    Ok(Frame {
        kind,
        codec,
        payload,
    })
}

fn first4(bytes: &[u8]) -> [u8; 4] {
    let mut m = [0u8; 4];
    let n = bytes.len().min(4);
    m[..n].copy_from_slice(&bytes[..n]);
    m
}

fn read_u32(bytes: &[u8], at: usize) -> usize {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"datom "[i % 6]).collect()
    }

    #[test]
    fn round_trips_both_codecs_and_picks_lz4_when_smaller() {
        for n in [0, 1, 15, 16, 1000, 300_000] {
            let payload = text(n);
            let framed = encode(7, &payload).unwrap();
            let frame = decode(&framed).unwrap();
            assert_eq!(frame.payload, payload);
            assert_eq!(frame.kind, 7);
            if n >= 1000 {
                assert_eq!(frame.codec, Codec::Lz4);
                assert!(framed.len() < n / 4);
            }
            for codec in [Codec::Stored, Codec::Lz4] {
                let framed = encode_with(3, codec, &payload).unwrap();
                assert_eq!(decode(&framed).unwrap().payload, payload);
            }
        }
    }

    #[test]
    fn incompressible_payload_is_stored() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let payload: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let frame = decode(&encode(1, &payload).unwrap()).unwrap();
        assert_eq!(frame.codec, Codec::Stored);
    }

    #[test]
    fn every_bad_input_has_its_own_error() {
        let good = encode_with(1, Codec::Lz4, &text(5000)).unwrap();
        let msg = |b: &[u8]| decode(&Bytes::copy_from_slice(b)).unwrap_err().to_string();
        assert!(msg(&good[..3]).contains("truncated"));
        assert!(msg(&good[..HEADER_BYTES - 1]).contains("truncated"));
        assert!(msg(&good[..good.len() - 1]).contains("truncated"));
        let mut longer = good.to_vec();
        longer.push(0);
        assert!(msg(&longer).contains("trailing"));
        let mut bad = good.to_vec();
        bad[0] = b'X';
        assert!(msg(&bad).contains("not an accrete segment"));
        let mut bad = good.to_vec();
        bad[4] = 2;
        assert!(msg(&bad).contains("version 2 is not supported"));
        let mut bad = good.to_vec();
        bad[5] = 9;
        assert!(msg(&bad).contains("unknown codec id 9"));
        let mut bad = good.to_vec();
        bad[7] = 1;
        assert!(msg(&bad).contains("reserved"));
        let mut bad = good.to_vec();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(msg(&bad).contains("over the limit"));
        let mut bad = good.to_vec();
        bad[8..12].copy_from_slice(&4999u32.to_le_bytes());
        assert!(msg(&bad).contains("garbled"));
        let mut bad = good.to_vec();
        let mid = HEADER_BYTES + 3;
        bad[mid..mid + 8].fill(0xff);
        assert!(msg(&bad).contains("garbled"));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..600usize {
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            if len >= 16 {
                buf[..4].copy_from_slice(&MAGIC);
                buf[4] = 1;
                buf[5] = (len % 2) as u8;
                buf[7] = 0;
                let stored = (len - 16) as u32;
                buf[12..16].copy_from_slice(&stored.to_le_bytes());
                buf[8..12].copy_from_slice(&(stored * 3).to_le_bytes());
            }
            let _ = decode(&Bytes::from(buf));
        }
    }
}
