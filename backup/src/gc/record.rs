//! What garbage collection keeps in a storage between runs: the root
//! `gc/state` (holds of restores and backups in progress, the lease of a
//! sweep under way, and the id of the state segment), the state segment
//! (when the last mark ran and what it found unreachable, and when each
//! excision was first seen carried out), and the lists of condemned ids.
//!
//! # Format, version 1
//!
//! The root and the state segment are the version byte `1` and JSON, like
//! the backup records ([`crate::manifest`]); a condemned list is a segment
//! of kind [`kind::IDS`] whose payload is 32-byte ids back to back, sorted.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use storage_core::{CasOutcome, Revision, RootName, RootValue, SegmentId, Storage, StorageExt};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::manifest::{self, id_hex};

/// The frame kinds of garbage collection's own segments.
pub mod kind {
    /// The state segment.
    pub const STATE: u8 = 18;
    /// A list of condemned segment ids.
    pub const IDS: u8 = 19;
}

/// The ids one condemned list segment holds at most (1 MiB of ids).
const IDS_PER_SEGMENT: usize = 32 * 1024;

/// How often a change of the root is tried when others keep winning.
const CAS_ATTEMPTS: usize = 64;

/// The name of the root.
pub(crate) fn gc_root_name() -> RootName {
    RootName::new("gc/state").unwrap_or_else(|_| unreachable!("`gc/state` is a valid root name"))
}

/// A restore or backup in progress: while one is held, nothing is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Who holds it.
    pub id: Uuid,
    /// What it is, for messages (`restore of orders`).
    pub what: String,
    /// When it began, in ms since the Unix epoch.
    pub started_ms: u64,
    /// When it lapses if never released (a crashed restore).
    pub expires_ms: u64,
}

/// A sweep under way: holders wait for it to notice them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SweepLease {
    pub(crate) id: Uuid,
    pub(crate) until_ms: u64,
}

/// The value of `gc/state`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GcRoot {
    #[serde(default, with = "opt_id_hex")]
    pub(crate) state: Option<SegmentId>,
    #[serde(default)]
    pub(crate) holds: Vec<Hold>,
    #[serde(default)]
    pub(crate) sweep: Option<SweepLease>,
}

impl GcRoot {
    /// The holds that have not lapsed at `now_ms`.
    pub(crate) fn live_holds(&self, now_ms: u64) -> Vec<&Hold> {
        self.holds
            .iter()
            .filter(|h| h.expires_ms > now_ms)
            .collect()
    }
}

/// One excision seen carried out in a database's index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcisionRecord {
    /// The database.
    pub db_uuid: Uuid,
    /// Its name when first seen.
    pub db_name: String,
    /// The excision request entity.
    pub request: u64,
    /// When a mark first found it in the database's index root.
    pub first_seen_ms: u64,
    /// When a sweep removed every segment that could still hold what it
    /// excised; `None` while that waits for the grace period.
    pub complete_ms: Option<u64>,
}

/// The state segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GcState {
    /// When the roots were read for the mark whose unreachable segments
    /// `condemned` lists.
    pub(crate) marked_at_ms: u64,
    /// The condemned lists, each a segment of sorted ids.
    #[serde(default)]
    pub(crate) condemned: Vec<HexId>,
    /// Excisions seen carried out, and whether they are complete.
    #[serde(default)]
    pub(crate) excisions: Vec<ExcisionRecord>,
}

/// A segment id as hex in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct HexId(#[serde(with = "id_hex")] pub(crate) SegmentId);

mod opt_id_hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use storage_core::SegmentId;

    pub(crate) fn serialize<S: Serializer>(
        id: &Option<SegmentId>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_some(&id.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SegmentId>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The root as of now and its revision.
pub(crate) async fn read_root(storage: &Arc<dyn Storage>) -> Result<(GcRoot, Option<Revision>)> {
    let name = gc_root_name();
    match storage.read_root(&name).await? {
        None => Ok((GcRoot::default(), None)),
        Some(root) => Ok((
            manifest::decode(root.value.data(), &where_(storage), "the gc root")?,
            Some(root.revision),
        )),
    }
}

fn where_(storage: &Arc<dyn Storage>) -> String {
    format!("root `gc/state` of the {} storage", storage.backend())
}

/// Changes the root by compare-and-swap: `change` returns `None` to leave
/// it as it is, else the value to write and a result.
pub(crate) async fn update_root<T>(
    storage: &Arc<dyn Storage>,
    mut change: impl FnMut(&GcRoot) -> Result<Option<(GcRoot, T)>>,
) -> Result<Option<T>> {
    let name = gc_root_name();
    for _ in 0..CAS_ATTEMPTS {
        let (current, revision) = read_root(storage).await?;
        let Some((next, result)) = change(&current)? else {
            return Ok(None);
        };
        let value = RootValue::new(manifest::encode(&next)?)?;
        if let CasOutcome::Applied(_) = storage.cas_root(&name, revision, &value).await? {
            return Ok(Some(result));
        }
    }
    Err(Error::Raced(format!(
        "{}: other writers kept changing it ({CAS_ATTEMPTS} attempts); run again",
        where_(storage)
    )))
}

/// The state segment `id` names.
pub(crate) async fn read_state(storage: &Arc<dyn Storage>, id: SegmentId) -> Result<GcState> {
    let what = format!("gc state segment {id}");
    let frame = storage
        .get_frame(id)
        .await?
        .ok_or_else(|| Error::damaged(&what, "it is missing"))?;
    manifest::decode(&frame.payload, &what, "the gc state")
}

/// Stores a state segment and returns its id.
pub(crate) async fn write_state(storage: &Arc<dyn Storage>, state: &GcState) -> Result<SegmentId> {
    Ok(storage
        .put_frame(kind::STATE, &manifest::encode(state)?)
        .await?)
}

/// Stores sorted `ids` as condemned list segments.
pub(crate) async fn write_ids(storage: &Arc<dyn Storage>, ids: &[SegmentId]) -> Result<Vec<HexId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_SEGMENT) {
        let payload: Vec<u8> = chunk.iter().flat_map(|id| *id.as_bytes()).collect();
        out.push(HexId(storage.put_frame(kind::IDS, &payload).await?));
    }
    Ok(out)
}

/// Reads condemned lists back, sorted.
pub(crate) async fn read_ids(
    storage: &Arc<dyn Storage>,
    lists: &[HexId],
) -> Result<Vec<SegmentId>> {
    let mut ids = Vec::new();
    for list in lists {
        let what = format!("gc condemned list {}", list.0);
        let frame = storage
            .get_frame(list.0)
            .await?
            .ok_or_else(|| Error::damaged(&what, "it is missing"))?;
        if frame.kind != kind::IDS || frame.payload.len() % 32 != 0 {
            return Err(Error::damaged(&what, "not a list of segment ids"));
        }
        for raw in frame.payload.chunks_exact(32) {
            let mut id = [0u8; 32];
            id.copy_from_slice(raw);
            ids.push(SegmentId::from_bytes(id));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
