//! Attribute statistics (datoms, distinct values) of the current layer,
//! kept in the index root by the indexing job so that a peer opening a
//! database has them without counting.
//!
//! A job keeps them incrementally from its AVET edits: each group of edits
//! with one `[a v]` prefix changes the datom count by its puts minus its
//! deletes, and the distinct values by one when the prefix appears or
//! disappears, which a forward-only cursor over the old tree tells. Roots
//! written before statistics existed have none; the first job on such a
//! root counts them once from the new AVET tree.

use std::collections::BTreeMap;

use model::{AttrStats, Datom, Index, Layer, Value};

use crate::error::Result;
use crate::segment::TreeRef;
use crate::segments::Segments;
use crate::tree::{Cursor, Edit};

/// The statistics after applying `edits` (the current AVET layer's, in
/// AVET order) to a tree whose statistics were `old` and whose current
/// AVET tree is `tree`.
pub(crate) fn apply_edits(
    seg: &Segments,
    tree: Option<TreeRef>,
    old: &[AttrStats],
    edits: &[Edit],
) -> Result<Vec<AttrStats>> {
    let mut stats: BTreeMap<u64, AttrStats> = old.iter().map(|s| (s.attr, *s)).collect();
    let start = Datom::new(0, 0, Value::MIN, 0, false);
    let mut cursor = match tree {
        Some(_) => Some(Cursor::seek(
            seg,
            Index::Avet,
            Layer::Current,
            tree,
            &start,
        )?),
        None => None,
    };
    let mut rest = edits;
    while let Some(first) = rest.first() {
        let (a, v) = (first.datom().a(), first.datom().v().clone());
        let len = rest
            .iter()
            .position(|e| e.datom().a() != a || e.datom().v() != &v)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(len);
        rest = tail;
        let puts = group.iter().filter(|e| matches!(e, Edit::Put(_))).count() as u64;
        let deletes = group.len() as u64 - puts;
        // Old datoms with this prefix, counted up to one more than the
        // deletes: enough to tell whether any remain.
        let old_n = match cursor.as_mut() {
            None => 0,
            Some(c) => {
                c.advance_to(tree, &Datom::new(0, a, v.clone(), 0, false))?;
                let mut n = 0;
                while n <= deletes {
                    match c.peek()? {
                        Some(d) if d.a() == a && d.v() == &v => {
                            n += 1;
                            c.step();
                        }
                        _ => break,
                    }
                }
                n
            }
        };
        let s = stats.entry(a).or_insert(AttrStats {
            attr: a,
            ..AttrStats::default()
        });
        s.datoms = (s.datoms + puts).saturating_sub(deletes);
        let before = old_n > 0;
        let after = old_n + puts > deletes;
        match (before, after) {
            (false, true) => s.values += 1,
            (true, false) => s.values = s.values.saturating_sub(1),
            _ => {}
        }
    }
    Ok(stats.into_values().filter(|s| s.datoms > 0).collect())
}

/// The statistics of a current AVET tree, counted from all its datoms.
pub(crate) fn count(seg: &Segments, tree: Option<TreeRef>) -> Result<Vec<AttrStats>> {
    let Some(_) = tree else {
        return Ok(Vec::new());
    };
    let start = Datom::new(0, 0, Value::MIN, 0, false);
    let mut stats: Vec<AttrStats> = Vec::new();
    let mut prev: Option<Datom> = None;
    for d in Cursor::seek(seg, Index::Avet, Layer::Current, tree, &start)? {
        let d = d?;
        if stats.last().is_none_or(|s| s.attr != d.a()) {
            stats.push(AttrStats {
                attr: d.a(),
                ..AttrStats::default()
            });
        }
        if let Some(s) = stats.last_mut() {
            s.datoms += 1;
            if prev
                .as_ref()
                .is_none_or(|p| p.a() != d.a() || p.v() != d.v())
            {
                s.values += 1;
            }
        }
        prev = Some(d);
    }
    Ok(stats)
}
