//! A modification with its values bound: the partitions and row it
//! touches, the partition fragment it writes (stamped with a write
//! timestamp), and its condition, checked against the current row.

use std::collections::BTreeMap;

use super::restrict::satisfies;
use crate::cql::ast::Op;
use crate::store::{Cell, ClusteringKey, Micros, Partition, PartitionKey, Row};
use crate::types::Value;

/// A condition with its values bound.
#[derive(Clone, Debug)]
pub(crate) enum RowCondition {
    NotExists,
    Exists,
    Columns(Vec<(usize, Op, Vec<Option<Value>>)>),
}

/// One resolved write: the rows it touches and what it sets.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub(crate) keys: Vec<PartitionKey>,
    /// `None` deletes whole partitions.
    pub(crate) clustering: Option<ClusteringKey>,
    pub(crate) cells: WriteCells,
    pub(crate) ttl: Option<i32>,
    pub(crate) timestamp: Option<Micros>,
    pub(crate) condition: Option<RowCondition>,
}

#[derive(Clone, Debug)]
pub(crate) enum WriteCells {
    Upsert {
        marker: bool,
        cells: Vec<(usize, Option<Value>)>,
    },
    DeleteCells(Vec<usize>),
    DeleteRow,
}
impl Write {
    /// The partition fragment this write applies to `key`, stamped `written`.
    pub(crate) fn fragment(&self, written: Micros, now: i64) -> Partition {
        let expires = self.ttl.map(|t| now + i64::from(t));
        let cell = |value: Option<Value>| Cell {
            written,
            expires: value.as_ref().and(expires),
            value,
        };
        let Some(clustering) = &self.clustering else {
            return Partition {
                deleted: Some(written),
                rows: BTreeMap::new(),
            };
        };
        let row = match &self.cells {
            WriteCells::Upsert { marker, cells } => Row {
                marker: marker.then(|| Cell {
                    written,
                    value: Some(Value::Boolean(true)),
                    expires,
                }),
                deleted: None,
                cells: cells.iter().map(|(c, v)| (*c, cell(v.clone()))).collect(),
            },
            WriteCells::DeleteCells(columns) => Row {
                marker: None,
                deleted: None,
                cells: columns.iter().map(|c| (*c, cell(None))).collect(),
            },
            WriteCells::DeleteRow => Row {
                marker: None,
                deleted: Some(written),
                cells: BTreeMap::new(),
            },
        };
        Partition {
            deleted: None,
            rows: BTreeMap::from([(clustering.clone(), row)]),
        }
    }

    /// Whether the condition holds on the current partition.
    pub(crate) fn condition_holds(&self, current: &Partition, now: i64) -> bool {
        let row = self
            .clustering
            .as_ref()
            .and_then(|ck| current.live_row(ck, now));
        match &self.condition {
            None => true,
            Some(RowCondition::NotExists) => row.is_none(),
            Some(RowCondition::Exists) => row.is_some(),
            Some(RowCondition::Columns(conditions)) => {
                conditions.iter().all(|(column, op, operands)| {
                    let current = row
                        .as_ref()
                        .and_then(|r| r.cells.get(column))
                        .and_then(|c| c.value.as_ref());
                    satisfies(current, *op, operands)
                })
            }
        }
    }
}
