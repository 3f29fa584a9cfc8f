//! The lease root's value: who may write a database, under which epoch, and
//! where to reach it.
//!
//! Format 2 (all integers big-endian), written by this build:
//!
//! ```text
//! u8  format version (2)
//! [16] database id: the catalog uuid of the database the lease is for
//! u64 epoch
//! u8  state: 0 released, 1 held
//! [16] holder uuid (only when held)
//! u16 endpoint length, then that many bytes of UTF-8 `host:port` (0: none)
//! u16 protocol version of the endpoint
//! u64 ttl in milliseconds the holder renews within
//! i64 renewed-at, wall-clock milliseconds since 1970 (informational only)
//! ```
//!
//! Format 1 is the same without the database id; it still decodes (with
//! [`LeaseRecord::db_id`] `None`), and a holder never adopts or renews such
//! a record: it cannot prove which database it was for.

use std::fmt;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};

/// The format version this build writes.
const FORMAT: u8 = 2;

/// The format before the database id, still read.
const FORMAT_1: u8 = 1;

/// The generation of a lease: one more with every takeover. The log root
/// carries the epoch of the transactor that wrote it, which fences older
/// holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch of the first lease of a database.
    pub const FIRST: Epoch = Epoch(1);

    /// The epoch of the next holder.
    pub fn next(self) -> Epoch {
        Epoch(self.0.saturating_add(1))
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The longest endpoint text a lease carries.
pub const MAX_ENDPOINT_BYTES: usize = 255;

/// The holder of a held lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    id: Uuid,
    endpoint: Option<String>,
    protocol: u16,
}

impl Holder {
    /// A holder `id` (unique per transactor run) reachable at `endpoint`
    /// (`host:port`, at most [`MAX_ENDPOINT_BYTES`]; `None` for an embedded
    /// transactor without one) speaking `protocol`.
    pub fn new(id: Uuid, endpoint: Option<String>, protocol: u16) -> Result<Self> {
        if let Some(e) = &endpoint
            && (e.is_empty() || e.len() > MAX_ENDPOINT_BYTES)
        {
            return Err(Error::invalid(format!(
                "endpoint `{e}` must be 1 to {MAX_ENDPOINT_BYTES} bytes of host:port"
            )));
        }
        Ok(Holder {
            id,
            endpoint,
            protocol,
        })
    }

    /// Unique per transactor run.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Where the holder's protocol endpoint listens, if it has one.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The protocol version the endpoint speaks.
    pub fn protocol(&self) -> u16 {
        self.protocol
    }
}

/// The value of `db/<name>/lease`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The catalog id of the database the lease is for (`None` only in a
    /// format-1 record, which predates it).
    pub db_id: Option<Uuid>,
    /// The epoch of the current (or last) holder.
    pub epoch: Epoch,
    /// The holder, or `None` when the last holder released the lease.
    pub holder: Option<Holder>,
    /// How long standbys wait without seeing a renewal before taking over.
    pub ttl: Duration,
    /// When the holder last renewed, by its wall clock (for people; never
    /// compared across machines).
    pub renewed_at_ms: i64,
}

impl LeaseRecord {
    /// The record of `holder` of database `db_id` at `epoch`, renewed now.
    pub fn held(db_id: Uuid, epoch: Epoch, holder: Holder, ttl: Duration) -> Self {
        LeaseRecord {
            db_id: Some(db_id),
            epoch,
            holder: Some(holder),
            ttl,
            renewed_at_ms: wall_clock_ms(),
        }
    }

    /// The same record without a holder: the next claimant takes over at
    /// once.
    pub fn released(&self) -> Self {
        LeaseRecord {
            holder: None,
            renewed_at_ms: wall_clock_ms(),
            ..self.clone()
        }
    }

    /// The same record renewed now.
    pub fn renewed(&self) -> Self {
        LeaseRecord {
            renewed_at_ms: wall_clock_ms(),
            ..self.clone()
        }
    }

    /// The stored form (format 2; a record without a database id, read
    /// from format 1, is written with the nil id, which no database has).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(80);
        out.put_u8(FORMAT);
        out.put_slice(self.db_id.unwrap_or_default().as_bytes());
        out.put_u64(self.epoch.0);
        match &self.holder {
            None => out.put_u8(0),
            Some(h) => {
                out.put_u8(1);
                out.put_slice(h.id.as_bytes());
            }
        }
        let endpoint = self
            .holder
            .as_ref()
            .and_then(|h| h.endpoint.as_deref())
            .unwrap_or("");
        // `Holder::new` keeps endpoints at most MAX_ENDPOINT_BYTES long.
        out.put_u16(endpoint.len() as u16);
        out.put_slice(endpoint.as_bytes());
        out.put_u16(self.holder.as_ref().map_or(0, |h| h.protocol));
        out.put_u64(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        out.put_i64(self.renewed_at_ms);
        out.freeze()
    }

    /// Reads what [`LeaseRecord::encode`] wrote; `root` names the root in
    /// errors.
    pub fn decode(root: &str, mut bytes: &[u8]) -> Result<Self> {
        let corrupt =
            |why: &str| Error::new(ErrorKind::Corruption, format!("lease root `{root}`: {why}"));
        let need = |bytes: &[u8], n: usize| match bytes.remaining() >= n {
            true => Ok(()),
            false => Err(corrupt("truncated")),
        };
        need(bytes, 1)?;
        let db_id = match bytes.get_u8() {
            FORMAT_1 => None,
            FORMAT => {
                need(bytes, 16)?;
                let mut raw = [0u8; 16];
                bytes.copy_to_slice(&mut raw);
                Some(Uuid::from_bytes(raw))
            }
            format => {
                return Err(corrupt(&format!(
                    "format version {format} is not supported (this build reads {FORMAT_1} and {FORMAT})"
                )));
            }
        };
        need(bytes, 8 + 1)?;
        let epoch = Epoch(bytes.get_u64());
        let held = match bytes.get_u8() {
            0 => false,
            1 => true,
            other => return Err(corrupt(&format!("state byte {other}"))),
        };
        let id = if held {
            need(bytes, 16)?;
            let mut raw = [0u8; 16];
            bytes.copy_to_slice(&mut raw);
            Some(Uuid::from_bytes(raw))
        } else {
            None
        };
        need(bytes, 2)?;
        let len = usize::from(bytes.get_u16());
        need(bytes, len + 2 + 8 + 8)?;
        let endpoint = std::str::from_utf8(&bytes[..len])
            .map_err(|_| corrupt("endpoint is not UTF-8"))?
            .to_string();
        bytes.advance(len);
        let protocol = bytes.get_u16();
        let ttl = Duration::from_millis(bytes.get_u64());
        let renewed_at_ms = bytes.get_i64();
        if bytes.has_remaining() {
            return Err(corrupt("trailing bytes"));
        }
        let holder = id.map(|id| Holder {
            id,
            endpoint: (!endpoint.is_empty()).then_some(endpoint),
            protocol,
        });
        Ok(LeaseRecord {
            db_id,
            epoch,
            holder,
            ttl,
            renewed_at_ms,
        })
    }
}

fn wall_clock_ms() -> i64 {
    crate::clock::system_clock().0
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: Uuid = Uuid::from_u128(0xfedc_ba98_7654_3210_fedc_ba98_7654_3210);

    fn holder(endpoint: Option<&str>) -> Holder {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        Holder::new(id, endpoint.map(str::to_string), 1).unwrap()
    }

    #[test]
    fn records_round_trip() {
        let held = LeaseRecord::held(
            DB,
            Epoch(7),
            holder(Some("10.0.0.1:4334")),
            Duration::from_secs(5),
        );
        let back = LeaseRecord::decode("r", &held.encode()).unwrap();
        assert_eq!(back, held);
        let embedded = LeaseRecord::held(DB, Epoch(1), holder(None), Duration::from_millis(1500));
        assert_eq!(
            LeaseRecord::decode("r", &embedded.encode()).unwrap(),
            embedded
        );
        let released = held.released();
        let back = LeaseRecord::decode("r", &released.encode()).unwrap();
        assert_eq!(
            (back.db_id, back.epoch, back.holder),
            (Some(DB), Epoch(7), None)
        );
    }

    #[test]
    fn endpoints_are_checked() {
        let id = Uuid::nil();
        assert!(Holder::new(id, Some("h:1".into()), 1).is_ok());
        let err = Holder::new(id, Some(String::new()), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        let long = "h".repeat(MAX_ENDPOINT_BYTES + 1);
        assert!(Holder::new(id, Some(long), 1).is_err());
    }

    fn pinned() -> LeaseRecord {
        LeaseRecord {
            db_id: Some(DB),
            epoch: Epoch(2),
            holder: Some(holder(Some("h:1"))),
            ttl: Duration::from_millis(10_000),
            renewed_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn golden_bytes_pin_format_2() {
        let expected = "02\
            fedcba9876543210fedcba9876543210\
            0000000000000002\
            01\
            0123456789abcdef0123456789abcdef\
            0003683a31\
            0001\
            0000000000002710\
            0000018bcfe56800";
        assert_eq!(hex::encode(pinned().encode()), expected);
        let stored = hex::decode(expected).unwrap();
        assert_eq!(LeaseRecord::decode("r", &stored).unwrap(), pinned());
    }

    #[test]
    fn format_1_still_decodes_without_a_database_id() {
        let stored = hex::decode(
            "01\
            0000000000000002\
            01\
            0123456789abcdef0123456789abcdef\
            0003683a31\
            0001\
            0000000000002710\
            0000018bcfe56800",
        )
        .unwrap();
        let record = LeaseRecord::decode("r", &stored).unwrap();
        assert_eq!(
            record,
            LeaseRecord {
                db_id: None,
                ..pinned()
            }
        );
    }

    #[test]
    fn damage_is_reported_not_panicked() {
        let good =
            LeaseRecord::held(DB, Epoch(3), holder(Some("a:1")), Duration::from_secs(1)).encode();
        for cut in 0..good.len() {
            let err = LeaseRecord::decode("db/x/lease", &good[..cut]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Corruption, "cut at {cut}");
            assert!(err.to_string().contains("db/x/lease"), "{err}");
        }
        let mut newer = good.to_vec();
        newer[0] = 9;
        let err = LeaseRecord::decode("r", &newer).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");
        let mut bad_state = good.to_vec();
        bad_state[25] = 5;
        assert!(LeaseRecord::decode("r", &bad_state).is_err());
        let mut longer = good.to_vec();
        longer.push(0);
        assert!(
            LeaseRecord::decode("r", &longer)
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
    }
}
