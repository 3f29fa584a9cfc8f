//! Carrying out excision requests: which datoms go, from the trees and from
//! the log.
//!
//! A request removes the datoms it covers ([`model::ExciseRequest::covers`])
//! that were transacted before the request itself: excision forgets what was
//! known when it was asked for, whenever the job runs. A retraction whose
//! assertion is excised goes too (it would retract nothing, and it carries
//! the value). The request entities themselves remain.

use std::collections::{BTreeMap, HashMap, HashSet};

use model::edn::Instant;
use model::schema::bootstrap::TX_INSTANT;
use model::{Datom, ExciseRequest, Index, Layer, TxLog, Value, t_to_tx};

use crate::error::Result;
use crate::segment::{IndexRoot, TreeRef};
use crate::segments::Segments;
use crate::tree::Cursor;

/// The datoms to remove from the trees, by layer.
pub(crate) struct Excised {
    pub(crate) datoms: Vec<(Datom, Layer)>,
}

/// Reads the trees (just written, covering every datom up to the job's
/// basis) for the datoms `requests` remove.
pub(crate) fn plan(
    seg: &Segments,
    trees: &[Option<TreeRef>; 8],
    requests: &[ExciseRequest],
) -> Result<Excised> {
    let mut instants = Instants {
        seg,
        tree: trees[IndexRoot::slot(Index::Eavt, Layer::Current)],
        known: HashMap::new(),
    };
    let mut seen = HashSet::new();
    let mut datoms = Vec::new();
    for request in requests {
        let (index, from) = match request.target_is_attribute {
            true => (
                Index::Aevt,
                Datom::new(0, request.target, Value::MIN, 0, false),
            ),
            false => (
                Index::Eavt,
                Datom::new(request.target, 0, Value::MIN, 0, false),
            ),
        };
        let subject = |d: &Datom| match request.target_is_attribute {
            true => d.a() == request.target,
            false => d.e() == request.target,
        };
        let mut found: Vec<(Datom, Layer)> = Vec::new();
        for layer in [Layer::Current, Layer::History] {
            let tree = trees[IndexRoot::slot(index, layer)];
            let mut cursor = Cursor::seek(seg, index, layer, tree, &from)?;
            while let Some(d) = cursor.peek()? {
                if !subject(d) {
                    break;
                }
                found.push((d.clone(), layer));
                cursor.step();
            }
        }
        found.sort_by(|(x, _), (y, _)| index.compare(x, y));
        for (d, layer) in removed(request, found, &mut instants)? {
            if seen.insert(d.clone()) {
                datoms.push((d, layer));
            }
        }
    }
    Ok(Excised { datoms })
}

/// The datoms of one subject (sorted, so each fact's datoms are adjacent
/// and oldest first) that `request` removes.
fn removed(
    request: &ExciseRequest,
    found: Vec<(Datom, Layer)>,
    instants: &mut Instants<'_>,
) -> Result<Vec<(Datom, Layer)>> {
    let mut out = Vec::new();
    let mut assertion_gone = false;
    let mut prev: Option<Datom> = None;
    for (d, layer) in found {
        if prev.as_ref().is_none_or(|p| !p.same_fact(&d)) {
            assertion_gone = false;
        }
        let covered = d.t() < request.t && request.covers(&d, instants.of(d.t(), request)?);
        let gone = covered || (!d.added() && assertion_gone);
        if d.added() {
            assertion_gone = covered;
        }
        if gone {
            out.push((d.clone(), layer));
        }
        prev = Some(d);
    }
    Ok(out)
}

/// The `:db/txInstant` of each t, looked up in the EAVT current tree once.
struct Instants<'a> {
    seg: &'a Segments,
    tree: Option<TreeRef>,
    known: HashMap<u64, Instant>,
}

impl Instants<'_> {
    fn of(&mut self, t: u64, request: &ExciseRequest) -> Result<Instant> {
        // Only `:db.excise/before` looks at instants.
        if request.before.is_none() {
            return Ok(Instant(i64::MIN));
        }
        if let Some(i) = self.known.get(&t) {
            return Ok(*i);
        }
        let tx = t_to_tx(t);
        let from = Datom::new(tx, TX_INSTANT, Value::MIN, 0, false);
        let mut cursor = Cursor::seek(self.seg, Index::Eavt, Layer::Current, self.tree, &from)?;
        let instant = match cursor.peek()? {
            Some(d) if d.e() == tx && d.a() == TX_INSTANT => match d.v() {
                Value::Instant(i) => *i,
                _ => Instant(i64::MAX),
            },
            // Without an instant nothing is "before" a date.
            _ => Instant(i64::MAX),
        };
        self.known.insert(t, instant);
        Ok(instant)
    }
}

/// How an indexing job changes the log: excised datoms leave the entries
/// up to its basis, and entries after the previous basis are replaced by the
/// database value's own (which left out retractions of datoms excised
/// earlier; see [`crate::apply_entry`]).
#[derive(Debug, Default)]
pub(crate) struct LogRewrite {
    /// The first t that may change.
    pub(crate) from_t: u64,
    /// The last t that may change: the job's basis.
    pub(crate) upto_t: u64,
    pub(crate) requests: Vec<ExciseRequest>,
    pub(crate) excised: HashSet<Datom>,
    pub(crate) replace: BTreeMap<u64, TxLog>,
}

impl LogRewrite {
    /// The t range it may change.
    pub(crate) fn span(&self) -> crate::log::Span {
        (self.from_t, self.upto_t)
    }

    /// The entry as rewritten, or `None` when it stays as it is.
    pub(crate) fn change(&self, entry: &TxLog) -> Option<TxLog> {
        if entry.t < self.from_t || entry.t > self.upto_t {
            return None;
        }
        let base = self.replace.get(&entry.t).unwrap_or(entry);
        let instant = entry
            .data
            .iter()
            .find(|d| d.e() == entry.tx() && d.a() == TX_INSTANT)
            .and_then(|d| match d.v() {
                Value::Instant(i) => Some(*i),
                _ => None,
            })
            .unwrap_or(Instant(i64::MAX));
        let gone = |d: &Datom| {
            self.excised.contains(d)
                || self
                    .requests
                    .iter()
                    .any(|r| d.t() < r.t && r.covers(d, instant))
        };
        let data: Vec<Datom> = base.data.iter().filter(|d| !gone(d)).cloned().collect();
        match data.as_slice() == entry.data.as_ref() {
            true => None,
            false => Some(TxLog {
                t: entry.t,
                data: data.into(),
            }),
        }
    }
}
