//! The size limits of a transaction, checked where tx data enters so that
//! nothing accepted can make a later step fail (DESIGN §5).
//!
//! | limit | bytes | what it bounds |
//! |-------|-------|----------------|
//! | [`MAX_TX_BYTES`] | 3.5 MiB | tx data as the client sends it (EDN text), checked before parsing |
//! | [`MAX_VALUE_BYTES`] | 1 MiB | one value in the binary datom encoding |
//! | [`MAX_TX_DATOM_BYTES`] | 4 MiB − 64 KiB | the datoms a transaction adds to the log (its log entry) |
//!
//! Why these numbers: a transaction's log entry is written as one log
//! segment, pushed to peers as one protocol frame and applied as one unit,
//! so it must fit a segment (4 MiB after compression, and random data does
//! not compress); the room left is for the framing. A value must fit an
//! index leaf of its own, and two of them an index branch (whose keys are
//! at most one datom each), so 1 MiB leaves ample margin. Tx data of
//! 3.5 MiB makes datoms of about the same size for string-heavy data, so
//! the largest transaction of incompressible text fits; tx data of many
//! tiny values makes datoms of up to about three times its size, and a
//! transaction whose datoms come out over their limit that way (or by a
//! retraction of a large entity, or a transaction function) is refused
//! after it is expanded, before anything is written.
//!
//! A log entry never spans segments: it is the unit of atomicity, of replay
//! and of the push to peers, and bulk loads go through many transactions
//! of this size anyway (`accrete import` cuts any file into them, with
//! tempids across the whole file, resumable), so a larger entry would buy
//! nothing but a second way to read the log, a larger protocol frame and
//! a peer that must hold a whole huge transaction in memory to apply it.
//! The refusal names the way out, `accrete import`.

use crate::datom::Datom;
use crate::error::{Error, Result};

/// The most bytes of tx data (EDN text) one transaction may have.
pub const MAX_TX_BYTES: usize = 7 * 512 * 1024;

/// The most bytes one value may take in the binary datom encoding (a
/// string of up to about 1 MiB of UTF-8).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// The most bytes the datoms of one transaction (its log entry, in the
/// binary encoding) may take: what always fits one log segment.
pub const MAX_TX_DATOM_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// What to do about a transaction over a limit: the end of the message of
/// such an error (the importer, which does split, says what to do instead).
pub const SPLIT: &str =
    "split it into smaller transactions, or load it with `accrete import URI FILE`, which does";

/// Refuses tx data of `bytes` bytes over [`MAX_TX_BYTES`]. Callers check
/// before parsing, and while reading a stream (see [`read_tx_text`]).
pub fn check_tx_bytes(bytes: usize) -> Result<()> {
    match bytes > MAX_TX_BYTES {
        true => Err(tx_too_large(bytes)),
        false => Ok(()),
    }
}

/// The error for tx data of (at least) `bytes` bytes.
pub fn tx_too_large(bytes: usize) -> Error {
    Error::TooLarge(format!(
        "transaction of {} is over the limit of {}; {SPLIT}",
        size(bytes),
        size(MAX_TX_BYTES)
    ))
}

/// Refuses a transaction whose datoms are over [`MAX_VALUE_BYTES`] (one
/// value) or [`MAX_TX_DATOM_BYTES`] (all of them); `ident` names
/// attributes for the message.
pub(crate) fn check_datoms(datoms: &[Datom], ident: &dyn Fn(u64) -> Option<String>) -> Result<()> {
    let mut total = 0;
    let mut buf = Vec::new();
    for d in datoms {
        buf.clear();
        crate::codec::encode_value(&mut buf, d.v());
        if buf.len() > MAX_VALUE_BYTES {
            let attr = ident(d.a()).unwrap_or_else(|| d.a().to_string());
            return Err(Error::TooLarge(format!(
                "a value of {} for {attr} is over the limit of {} per value; \
                 keep large values outside the database and store a reference to them",
                size(buf.len()),
                size(MAX_VALUE_BYTES)
            )));
        }
        total += buf.len() + datom_overhead(d);
    }
    match total > MAX_TX_DATOM_BYTES {
        true => Err(Error::TooLarge(format!(
            "transaction of {} of datoms is over the limit of {}; {SPLIT}",
            size(total),
            size(MAX_TX_DATOM_BYTES)
        ))),
        false => Ok(()),
    }
}

/// The bytes of a datom's encoding besides its value: `e`, `a`, `tx_op`.
fn datom_overhead(d: &Datom) -> usize {
    let varint = |n: u64| (64 - n.leading_zeros() as usize).max(1).div_ceil(7);
    varint(d.e()) + varint(d.a()) + varint((d.tx() << 1) | u64::from(d.added()))
}

/// A size for people: bytes, KiB or MiB with one decimal.
pub fn size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", b / KIB),
        _ => format!("{:.1} MiB", b / (KIB * KIB)),
    }
}

/// Reads at most [`MAX_TX_BYTES`] of tx data from `reader`, refusing more
/// as soon as the stream goes past the limit: memory stays bounded by the
/// limit whatever the input. To say how large an oversized input is, the
/// rest is counted (not kept) for at most [`COUNT_FOR`]; `source` names
/// the input in messages.
pub fn read_tx_text(mut reader: impl std::io::Read, source: &str) -> Result<String> {
    use std::io::Read;
    let failed =
        |e: std::io::Error| Error::InvalidArgument(format!("reading tx data from {source}: {e}"));
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_TX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() > MAX_TX_BYTES {
        let (seen, whole) = count_rest(&mut reader, bytes.len()).map_err(failed)?;
        let over = match whole {
            true => size(seen),
            false => format!("more than {}", size(seen)),
        };
        return Err(Error::TooLarge(format!(
            "transaction of {over} (from {source}) is over the limit of {}; {SPLIT}",
            size(MAX_TX_BYTES)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::InvalidArgument(format!(
            "tx data from {source} is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// How long [`read_tx_text`] goes on counting an oversized input.
pub const COUNT_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Counts what is left of `reader` after `seen` bytes, for at most
/// [`COUNT_FOR`]: the total, and whether the end was reached.
fn count_rest(reader: &mut impl std::io::Read, mut seen: usize) -> std::io::Result<(usize, bool)> {
    let deadline = std::time::Instant::now() + COUNT_FOR;
    let mut buf = vec![0u8; 64 * 1024];
    while std::time::Instant::now() < deadline {
        match reader.read(&mut buf) {
            Ok(0) => return Ok((seen, true)),
            Ok(n) => seen += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((seen, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(10), "10 bytes");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(MAX_TX_BYTES), "3.5 MiB");
        assert_eq!(size(10 * 1024 * 1024 + 1), "10.0 MiB");
    }

    #[test]
    fn the_overhead_matches_the_encoding() {
        let tx = crate::t_to_tx(123_456);
        for d in [
            Datom::new(0, 0, crate::Value::Long(1), 0, false),
            Datom::new(u64::MAX >> 1, 300, crate::Value::string("ab"), tx, true),
        ] {
            let mut full = Vec::new();
            crate::codec::encode_datom(&mut full, &d);
            let mut value = Vec::new();
            crate::codec::encode_value(&mut value, d.v());
            assert_eq!(full.len(), value.len() + datom_overhead(&d), "{d}");
        }
    }

    #[test]
    fn a_stream_over_the_limit_is_refused_without_reading_it_all() {
        let started = std::time::Instant::now();
        let err = read_tx_text(std::io::repeat(b' '), "stdin").unwrap_err();
        assert!(started.elapsed() < COUNT_FOR * 3, "{:?}", started.elapsed());
        let message = err.to_string();
        assert!(
            message.starts_with("transaction of more than "),
            "{message}"
        );
        assert!(
            message.ends_with(
                "(from stdin) is over the limit of 3.5 MiB; split it into smaller transactions, \
                 or load it with `accrete import URI FILE`, which does"
            ),
            "{message}"
        );
        let ten = std::io::repeat(b' ').take(10 * 1024 * 1024);
        let ten = read_tx_text(ten, "f.edn").unwrap_err().to_string();
        assert!(
            ten.starts_with("transaction of 10.0 MiB (from f.edn) is over"),
            "{ten}"
        );
        assert!(err.is_invalid_input());
        let text = read_tx_text(&b"[]"[..], "stdin").unwrap();
        assert_eq!(text, "[]");
        let exact = vec![b' '; MAX_TX_BYTES];
        assert_eq!(read_tx_text(&exact[..], "f").unwrap().len(), MAX_TX_BYTES);
        assert!(
            read_tx_text(&b"\xff"[..], "f")
                .unwrap_err()
                .is_invalid_input()
        );
    }
}
