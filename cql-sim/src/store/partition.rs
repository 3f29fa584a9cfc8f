//! The data of one partition as a replica holds it: rows with per-cell
//! write timestamps, row and partition tombstones, and TTL expiry. A write is
//! itself a partition fragment, and [`Partition::merge`] (last write wins,
//! tombstones win ties) serves writes, replica merging on reads, read repair
//! and Paxos commits alike.

use std::collections::BTreeMap;

use crate::types::Value;

/// Microseconds since the Unix epoch: the write timestamp of a cell.
pub(crate) type Micros = i64;

/// The clustering key of a row (empty for tables without clustering columns).
pub(crate) type ClusteringKey = Vec<Value>;

/// One cell: a value (or a tombstone) written at a timestamp.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    pub(crate) written: Micros,
    /// `None` is a tombstone.
    pub(crate) value: Option<Value>,
    /// Unix seconds after which the cell counts as deleted.
    pub(crate) expires: Option<i64>,
}

impl Cell {
    fn is_live(&self, shadow: Option<Micros>, now: i64) -> bool {
        self.value.is_some()
            && shadow.is_none_or(|s| self.written > s)
            && self.expires.is_none_or(|e| e > now)
    }

    /// Last write wins; at equal timestamps a tombstone wins, then the larger value.
    fn wins_over(&self, other: &Cell) -> bool {
        (self.written, self.value.is_none(), &self.value)
            > (other.written, other.value.is_none(), &other.value)
    }
}

/// A row: its liveness marker (set by INSERT), its tombstone and its cells
/// keyed by column index.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Row {
    pub(crate) marker: Option<Cell>,
    pub(crate) deleted: Option<Micros>,
    pub(crate) cells: BTreeMap<usize, Cell>,
}

/// A partition: its tombstone and its rows in clustering order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Partition {
    pub(crate) deleted: Option<Micros>,
    pub(crate) rows: BTreeMap<ClusteringKey, Row>,
}

/// A live row as reads see it: its live cells by column index.
#[derive(Debug)]
pub(crate) struct LiveRow<'a> {
    pub(crate) clustering: &'a ClusteringKey,
    pub(crate) cells: BTreeMap<usize, &'a Cell>,
}

impl Partition {
    /// Folds `other` into `self`, keeping the winner of every cell.
    pub(crate) fn merge(&mut self, other: &Partition) {
        self.deleted = self.deleted.max(other.deleted);
        for (key, row) in &other.rows {
            self.rows.entry(key.clone()).or_default().merge(row);
        }
    }

    /// The rows that are live at `now` (Unix seconds), in clustering order.
    pub(crate) fn live_rows(&self, now: i64) -> impl Iterator<Item = LiveRow<'_>> {
        self.rows
            .iter()
            .filter_map(move |(key, row)| row.live(key, self.deleted, now))
    }

    /// Drops the cells and markers that a row or partition tombstone
    /// shadows, as compaction does.
    pub(crate) fn drop_shadowed(&mut self) {
        let partition_deleted = self.deleted;
        for row in self.rows.values_mut() {
            let shadow = row.deleted.max(partition_deleted);
            let Some(shadow) = shadow else { continue };
            row.cells.retain(|_, c| c.written > shadow);
            if row.marker.as_ref().is_some_and(|m| m.written <= shadow) {
                row.marker = None;
            }
        }
    }

    /// The live row at `key`, if any.
    pub(crate) fn live_row(&self, key: &ClusteringKey, now: i64) -> Option<LiveRow<'_>> {
        let (key, row) = self.rows.get_key_value(key)?;
        row.live(key, self.deleted, now)
    }
}

impl Row {
    fn merge(&mut self, other: &Row) {
        self.deleted = self.deleted.max(other.deleted);
        if let Some(marker) = &other.marker
            && self.marker.as_ref().is_none_or(|m| marker.wins_over(m))
        {
            self.marker = Some(marker.clone());
        }
        for (column, cell) in &other.cells {
            match self.cells.get(column) {
                Some(mine) if !cell.wins_over(mine) => {}
                _ => {
                    self.cells.insert(*column, cell.clone());
                }
            }
        }
    }

    fn live<'a>(
        &'a self,
        key: &'a ClusteringKey,
        partition_deleted: Option<Micros>,
        now: i64,
    ) -> Option<LiveRow<'a>> {
        let shadow = self.deleted.max(partition_deleted);
        let cells: BTreeMap<usize, &Cell> = self
            .cells
            .iter()
            .filter(|(_, c)| c.is_live(shadow, now))
            .map(|(i, c)| (*i, c))
            .collect();
        let marked = self.marker.as_ref().is_some_and(|m| m.is_live(shadow, now));
        (marked || !cells.is_empty()).then_some(LiveRow {
            clustering: key,
            cells,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Partition {
        fn has_live_rows(&self, now: i64) -> bool {
            self.live_rows(now).next().is_some()
        }
    }

    fn cell(written: Micros, value: Option<i32>) -> Cell {
        Cell {
            written,
            value: value.map(Value::Int),
            expires: None,
        }
    }

    fn row_with(column: usize, c: Cell) -> Partition {
        let mut row = Row::default();
        row.cells.insert(column, c);
        Partition {
            deleted: None,
            rows: BTreeMap::from([(vec![], row)]),
        }
    }

    #[test]
    fn last_write_wins_in_either_merge_order() {
        let old = row_with(1, cell(10, Some(1)));
        let new = row_with(1, cell(20, Some(2)));
        for (a, b) in [(&old, &new), (&new, &old)] {
            let mut merged = a.clone();
            merged.merge(b);
            let live: Vec<_> = merged.live_rows(0).collect();
            assert_eq!(live[0].cells[&1].value, Some(Value::Int(2)));
        }
    }

    #[test]
    fn tombstones_shadow_older_writes_and_win_ties() {
        let mut p = row_with(1, cell(10, Some(1)));
        p.merge(&row_with(1, cell(10, None)));
        assert!(!p.has_live_rows(0));
        let mut q = row_with(1, cell(10, Some(1)));
        q.deleted = Some(10);
        assert!(
            !q.has_live_rows(0),
            "a partition tombstone at the same timestamp shadows the cell"
        );
        q.merge(&row_with(1, cell(11, Some(3))));
        assert!(q.has_live_rows(0), "a later write is visible again");
    }

    #[test]
    fn expired_cells_are_not_live() {
        let p = row_with(
            1,
            Cell {
                written: 1,
                value: Some(Value::Int(1)),
                expires: Some(100),
            },
        );
        assert!(p.has_live_rows(99));
        assert!(!p.has_live_rows(100));
    }
}
