//! Lightweight transactions over one partition, and Cassandra's result
//! shape: one row whose first column is `[applied]`; when not applied, the
//! current values of the rows involved (all columns for IF [NOT] EXISTS,
//! the condition columns otherwise, plus the primary key in a batch), or
//! `[applied]` alone when those rows do not exist.

use std::sync::Arc;

use super::select::column_value;
use super::write::Write;
use super::{BatchItem, Options, spec_of};
use crate::cluster::{CasOutcome, CasRequest, Cluster, unix_seconds};
use crate::error::CqlError;
use crate::faults::FaultScope;
use crate::protocol::{ColumnSpec, ResultBody, RowsPage};
use crate::schema::TableDef;
use crate::store::{Partition, PartitionKey};
use crate::types::{CqlType, Value};

/// Runs conditional writes on one partition as one Paxos round.
pub(crate) async fn run(
    cluster: &Arc<Cluster>,
    items: &[BatchItem<'_>],
    is_batch: bool,
    options: &Options<'_>,
    scope: &FaultScope,
) -> Result<ResultBody, CqlError> {
    if options.consistency.is_serial() {
        return Err(CqlError::invalid(format!(
            "{} is not supported as conditional update commit consistency. Use ANY if you mean \"make sure it is accepted but I don't care how many replicas commit it for non-SERIAL reads\"",
            options.consistency
        )));
    }
    let (table, key) = single_partition(items)?;
    let request = CasRequest {
        table: table.id,
        key: key.clone(),
        serial: options.serial,
        commit: options.consistency,
        scope: scope.clone(),
    };
    let now = unix_seconds();
    let outcome = cluster
        .cas(&request, |current, written| {
            let holds = items.iter().all(|i| i.write.condition_holds(current, now));
            holds.then(|| {
                let mut update = Partition::default();
                for item in items {
                    update.merge(&item.write.fragment(written, now));
                }
                update
            })
        })
        .await?;
    let current = match outcome {
        CasOutcome::Applied => return Ok(applied_rows(table, true, Vec::new(), Vec::new())),
        CasOutcome::NotApplied(current) => current,
    };
    let columns = reported_columns(table, items, is_batch);
    let rows = current_rows(table, &key, &current, items, &columns, now);
    Ok(applied_rows(table, false, columns, rows))
}

/// All conditional writes must touch the same single partition of one table.
fn single_partition<'a>(
    items: &'a [BatchItem<'_>],
) -> Result<(&'a TableDef, PartitionKey), CqlError> {
    let first = items
        .first()
        .ok_or_else(|| CqlError::invalid("Empty batch"))?;
    let table = &first.plan.table;
    let key = first
        .write
        .keys
        .first()
        .cloned()
        .ok_or_else(|| CqlError::invalid("No partition key"))?;
    for item in items {
        if item.plan.table.id != table.id {
            return Err(CqlError::invalid(
                "Batch with conditions cannot span multiple tables",
            ));
        }
        if item.write.keys != [key.clone()] {
            return Err(CqlError::invalid(
                "Batch with conditions cannot span multiple partitions",
            ));
        }
    }
    Ok((table, key))
}

fn reported_columns(table: &TableDef, items: &[BatchItem<'_>], is_batch: bool) -> Vec<usize> {
    let mut columns: Vec<usize> = Vec::new();
    if is_batch {
        columns.extend(table.partition_key.iter().chain(&table.clustering));
    }
    for item in items.iter().filter(|i| i.plan.is_conditional()) {
        for column in item.plan.condition_columns() {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
    }
    columns
}

/// The current values of the rows the conditional writes name.
fn current_rows(
    table: &TableDef,
    key: &PartitionKey,
    current: &Partition,
    items: &[BatchItem<'_>],
    columns: &[usize],
    now: i64,
) -> Vec<Vec<Option<Vec<u8>>>> {
    let mut seen = Vec::new();
    let mut rows = Vec::new();
    for write in items
        .iter()
        .filter(|i| i.plan.is_conditional())
        .map(|i| &i.write)
    {
        let Some(row) = row_of(write, current, now) else {
            continue;
        };
        if seen.contains(&row.clustering) {
            continue;
        }
        seen.push(row.clustering);
        rows.push(
            columns
                .iter()
                .map(|c| column_value(table, *c, key, &row).map(Value::to_bytes))
                .collect(),
        );
    }
    rows
}

fn row_of<'p>(
    write: &Write,
    current: &'p Partition,
    now: i64,
) -> Option<crate::store::LiveRow<'p>> {
    write
        .clustering
        .as_ref()
        .and_then(|ck| current.live_row(ck, now))
}

/// The `[applied]` result: with the given columns and rows when not applied
/// and the rows exist, else `[applied]` alone.
fn applied_rows(
    table: &TableDef,
    applied: bool,
    columns: Vec<usize>,
    rows: Vec<Vec<Option<Vec<u8>>>>,
) -> ResultBody {
    let flag = Some(Value::Boolean(applied).to_bytes());
    let mut specs = vec![ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name: "[applied]".into(),
        ty: CqlType::Boolean,
    }];
    if rows.is_empty() {
        return ResultBody::Rows(RowsPage {
            columns: specs,
            rows: vec![vec![flag]],
            paging_state: None,
            no_metadata: false,
        });
    }
    specs.extend(columns.iter().map(|c| spec_of(table, *c)));
    let rows = rows
        .into_iter()
        .map(|values| std::iter::once(flag.clone()).chain(values).collect())
        .collect();
    ResultBody::Rows(RowsPage {
        columns: specs,
        rows,
        paging_state: None,
        no_metadata: false,
    })
}
