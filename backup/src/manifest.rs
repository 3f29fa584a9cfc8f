//! The records a backup location holds besides the database's segments.
//!
//! # Format, version 1
//!
//! Each record is one version byte (`1`) followed by a JSON object, so a
//! backup stays readable by hand and by other tools years later, and a
//! reader refuses a newer format with a message saying so.
//!
//! - The location root `backups/<set>` ([`crate::BackupLocation`]):
//!   `{"db_uuid", "db_name", "points"}` — the database the location belongs
//!   to and the segment id of its points list.
//! - The points list, a segment of kind [`kind::POINTS`]: `{"points": [...]}`,
//!   one [`Point`] per point in time, by basis t.
//! - A manifest, a segment of kind [`kind::MANIFEST`] per point ([`Manifest`]):
//!   the database, its basis t, the log root value (hex of the `index`
//!   crate's log root encoding), and the count and digest of the segments
//!   that log root reaches.
//!
//! Segments are framed by `storage_core::codec` like every other segment;
//! kinds 16 and 17 are reserved for these records (the `index` crate uses
//! 1–5).

use index::LogRoot;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use storage_core::{RootName, SegmentId};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The frame `kind` bytes of a backup's own segments.
pub mod kind {
    /// A point's manifest.
    pub const MANIFEST: u8 = 16;
    /// The list of a location's points.
    pub const POINTS: u8 = 17;
}

/// The backup format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// One point in time of a backup, as its location lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The last t the point holds.
    pub basis_t: u64,
    /// The segment holding its [`Manifest`].
    #[serde(with = "id_hex")]
    pub manifest: SegmentId,
    /// When the backup finished, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// How many segments its log root reaches.
    pub segments: u64,
    /// How many of them this backup copied (the others were there).
    pub copied_segments: u64,
    /// The bytes it copied.
    pub copied_bytes: u64,
}

/// What one point of a backup holds: enough to restore it without the
/// source and to check that nothing of it is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The database's name when it was backed up.
    pub db_name: String,
    /// The database's identity.
    pub db_uuid: Uuid,
    /// When the database was created (from its catalog entry).
    pub db_created_at_ms: u64,
    /// The last t of the point.
    pub basis_t: u64,
    /// The basis t of its index root, if it has one.
    pub index_basis_t: Option<u64>,
    /// When the backup finished.
    pub created_at_ms: u64,
    /// How many segments the log root reaches.
    pub segments: u64,
    /// BLAKE3 of the sorted ids of those segments ([`digest`]), hex.
    pub digest: String,
    /// The log root value (the `index` crate's encoding), hex.
    pub log_root: String,
    /// The program that wrote it, for the curious.
    pub writer: String,
}

impl Manifest {
    /// The log root the point restores.
    pub fn log_root(&self) -> Result<LogRoot> {
        let bytes = hex::decode(&self.log_root).map_err(|e| {
            Error::damaged(
                format!("manifest of t={}", self.basis_t),
                format!("the log root is not hex: {e}"),
            )
        })?;
        let name = RootName::new(format!("db/{}/log", self.db_name)).map_err(|e| {
            Error::damaged(
                format!("manifest of t={}", self.basis_t),
                format!("database name: {e}"),
            )
        })?;
        Ok(LogRoot::decode(&name, &bytes)?)
    }
}

/// The value of a location's root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LocationRecord {
    pub(crate) db_uuid: Uuid,
    pub(crate) db_name: String,
    #[serde(with = "id_hex")]
    pub(crate) points: SegmentId,
}

/// The points of a location, by basis t then creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PointsList {
    pub(crate) points: Vec<Point>,
}

/// The digest of a set of segment ids: BLAKE3 over the sorted ids, hex.
pub fn digest<'a>(sorted_ids: impl IntoIterator<Item = &'a SegmentId>) -> String {
    let mut hasher = blake3::Hasher::new();
    for id in sorted_ids {
        hasher.update(id.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// A record's stored bytes: the version byte, then JSON.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    serde_json::to_writer(&mut out, record)
        .map_err(|e| Error::Invalid(format!("encoding a backup record: {e}")))?;
    Ok(out)
}

/// Reads a record back; `location` and `what` name it in errors.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], location: &str, what: &str) -> Result<T> {
    let Some((&version, json)) = bytes.split_first() else {
        return Err(Error::damaged(location, format!("{what} is empty")));
    };
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedFormat {
            location: location.to_string(),
            detail: format!(
                "{what} is in backup format {version}; this build reads format {FORMAT_VERSION} (use the accrete version that wrote it, or a newer one)"
            ),
        });
    }
    serde_json::from_slice(json)
        .map_err(|e| Error::damaged(location, format!("{what} does not decode: {e}")))
}

pub(crate) mod id_hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use storage_core::SegmentId;

    pub(crate) fn serialize<S: Serializer>(id: &SegmentId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_hex())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SegmentId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_versions() {
        let list = PointsList {
            points: vec![Point {
                basis_t: 7,
                manifest: SegmentId::of(b"m"),
                created_at_ms: 1,
                segments: 3,
                copied_segments: 2,
                copied_bytes: 100,
            }],
        };
        let bytes = encode(&list).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(
            decode::<PointsList>(&bytes, "here", "points").unwrap(),
            list
        );

        let mut newer = bytes.clone();
        newer[0] = 2;
        let err = decode::<PointsList>(&newer, "here", "points list").unwrap_err();
        assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err}");
        assert!(err.to_string().contains("backup format 2"), "{err}");

        let err =
            decode::<PointsList>(&bytes[..bytes.len() - 3], "here", "points list").unwrap_err();
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
        let err = decode::<PointsList>(&[], "here", "points list").unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn digest_depends_on_every_id() {
        let (a, b) = (SegmentId::of(b"a"), SegmentId::of(b"b"));
        assert_eq!(digest(&[a, b]), digest(&[a, b]));
        assert_ne!(digest(&[a, b]), digest(&[a]));
        assert_ne!(digest(&[a]), digest(&[b]));
    }
}
