//! Entry points for the fuzz targets in `fuzz/` (issue 25): the decoders of
//! a backup location's and of garbage collection's JSON records, which are
//! otherwise private to this crate. Not part of the API.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::gc::record::{GcRoot, GcState};
use crate::manifest::{self, LocationRecord, Manifest, PointsList};

/// The records a backup location or a storage's garbage collection keeps
/// as a version byte and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A point's manifest.
    Manifest,
    /// The value of a location's root.
    Location,
    /// A location's list of points.
    Points,
    /// The value of the root `gc/state`.
    GcRoot,
    /// Garbage collection's state segment.
    GcState,
}

impl Record {
    /// Every kind of record.
    pub const ALL: [Record; 5] = [
        Record::Manifest,
        Record::Location,
        Record::Points,
        Record::GcRoot,
        Record::GcState,
    ];
}

/// What [`decode`] made of some bytes.
#[derive(Debug)]
pub struct Decoded {
    /// The record's `Debug` text.
    pub debug: String,
    /// The record encoded again.
    pub reencoded: Vec<u8>,
    /// Whether decoding the re-encoded bytes gave the same record.
    pub round_trips: bool,
}

/// Decodes `bytes` as `record` the way a reader of a location does; for a
/// record that decodes, encodes it again and decodes that. A manifest's
/// log root is decoded as well ([`Manifest::log_root`]).
pub fn decode(record: Record, bytes: &[u8]) -> Result<Decoded> {
    match record {
        Record::Manifest => {
            let decoded = round_trip::<Manifest>(bytes)?;
            if let Ok(m) = manifest::decode::<Manifest>(bytes, "fuzz", "a manifest") {
                let _ = m.log_root();
            }
            Ok(decoded)
        }
        Record::Location => round_trip::<LocationRecord>(bytes),
        Record::Points => round_trip::<PointsList>(bytes),
        Record::GcRoot => round_trip::<GcRoot>(bytes),
        Record::GcState => round_trip::<GcState>(bytes),
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
) -> Result<Decoded> {
    let first: T = manifest::decode(bytes, "fuzz", "a record")?;
    let reencoded = manifest::encode(&first)?;
    let again: T = manifest::decode(&reencoded, "fuzz", "a re-encoded record")?;
    Ok(Decoded {
        debug: format!("{first:?}"),
        round_trips: again == first,
        reencoded,
    })
}
