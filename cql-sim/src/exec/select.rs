//! SELECT: the selection, partition iteration (by key, by token range, or
//! the whole ring), row filtering, DISTINCT, count(*), LIMIT and paging.

use std::ops::Bound;
use std::sync::Arc;

use super::bind::{Bindings, Markers};
use super::paging::Cursor;
use super::restrict::{PartitionSelection, Restrictions, RowFilter};
use super::source::Source;
use super::spec_of;
use crate::cluster::unix_seconds;
use crate::cql::ast::{Select, Selector, SelectorKind, Term};
use crate::error::CqlError;
use crate::protocol::{ColumnSpec, RowsPage};
use crate::schema::{ColumnKind, TableDef};
use crate::store::{LiveRow, Partition, PartitionKey};
use crate::types::{CqlType, Value};

/// What one result column computes.
#[derive(Clone, Debug)]
enum Selected {
    Column(usize),
    Token,
    WriteTime(usize),
    Ttl(usize),
    Count,
}

/// A planned SELECT.
#[derive(Debug)]
pub(crate) struct SelectPlan {
    pub(crate) table: Arc<TableDef>,
    selection: Vec<Selected>,
    /// The result columns.
    pub(crate) columns: Vec<ColumnSpec>,
    pub(crate) restrictions: Restrictions,
    distinct: bool,
    limit: Option<Term>,
}

/// Paging parameters of one execution.
pub(crate) struct Paging<'a> {
    pub(crate) page_size: Option<i32>,
    pub(crate) state: Option<&'a [u8]>,
    pub(crate) skip_metadata: bool,
}

impl SelectPlan {
    pub(crate) fn plan(
        select: &Select,
        table: Arc<TableDef>,
        markers: &mut Markers,
    ) -> Result<SelectPlan, CqlError> {
        let mut selection = Vec::new();
        let mut columns = Vec::new();
        for selector in &select.selectors {
            plan_selector(&table, selector, &mut selection, &mut columns)?;
        }
        let counting = selection
            .iter()
            .filter(|s| matches!(s, Selected::Count))
            .count();
        if counting > 0 && counting != selection.len() {
            return Err(CqlError::invalid(
                "Mixing count(*) with other selections is not supported by the simulator",
            ));
        }
        if select.distinct {
            check_distinct(&table, &selection)?;
        }
        let restrictions = Restrictions::plan(&table, &select.relations, markers)?;
        let filters = !restrictions.regular.is_empty()
            || (!restrictions.by_key() && !restrictions.clustering.is_empty());
        if filters && !select.allow_filtering {
            return Err(CqlError::invalid(
                "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. \
                 If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING",
            ));
        }
        if let Some(limit) = &select.limit {
            let spec = ColumnSpec {
                keyspace: table.keyspace.clone(),
                table: table.name.clone(),
                name: "[limit]".into(),
                ty: CqlType::Int,
            };
            markers.note(limit, spec);
        }
        Ok(SelectPlan {
            table,
            selection,
            columns,
            restrictions,
            distinct: select.distinct,
            limit: select.limit.clone(),
        })
    }

    fn is_count(&self) -> bool {
        matches!(self.selection.first(), Some(Selected::Count))
    }

    /// Runs the query over `source` and returns one page.
    pub(crate) async fn run(
        &self,
        source: &Source<'_>,
        bindings: &Bindings<'_>,
        paging: &Paging<'_>,
    ) -> Result<RowsPage, CqlError> {
        let cursor = paging
            .state
            .map(|s| Cursor::decode(s, &self.table))
            .transpose()?;
        let limit = match cursor.as_ref() {
            Some(c) => c.remaining,
            None => self.limit(bindings)?,
        };
        let page_size = if self.is_count() {
            None
        } else {
            paging.page_size.and_then(|s| u32::try_from(s).ok())
        };
        let mut page = PageBuilder {
            plan: self,
            filter: self.restrictions.row_filter(&self.table, bindings)?,
            want: match (page_size, limit) {
                (Some(p), Some(l)) => Some(p.min(l)),
                (p, l) => p.or(l),
            },
            rows: Vec::new(),
            counted: 0,
            last: None,
            now: unix_seconds(),
        };
        match &self.restrictions.partition {
            PartitionSelection::Keys(_) => {
                self.scan_keys(source, bindings, cursor.as_ref(), &mut page)
                    .await?
            }
            _ => {
                self.scan_range(source, bindings, cursor.as_ref(), &mut page)
                    .await?
            }
        }
        Ok(page.finish(limit, paging.skip_metadata))
    }

    fn limit(&self, bindings: &Bindings<'_>) -> Result<Option<u32>, CqlError> {
        let Some(term) = &self.limit else {
            return Ok(None);
        };
        match bindings.value(term, &CqlType::Int, "[limit]")? {
            Value::Int(n) if n > 0 => Ok(u32::try_from(n).ok()),
            _ => Err(CqlError::invalid("LIMIT must be strictly positive")),
        }
    }

    async fn scan_keys(
        &self,
        source: &Source<'_>,
        bindings: &Bindings<'_>,
        cursor: Option<&Cursor>,
        page: &mut PageBuilder<'_>,
    ) -> Result<(), CqlError> {
        for key in self.restrictions.partition_keys(&self.table, bindings)? {
            let resume = match cursor {
                Some(c) if key < c.key => continue,
                Some(c) if key == c.key => match &c.clustering {
                    Some(ck) => Some(ck),
                    None => continue,
                },
                _ => None,
            };
            let partition = source.partition(&self.table, &key).await?;
            if page.take(&key, &partition, resume) {
                break;
            }
        }
        Ok(())
    }

    async fn scan_range(
        &self,
        source: &Source<'_>,
        bindings: &Bindings<'_>,
        cursor: Option<&Cursor>,
        page: &mut PageBuilder<'_>,
    ) -> Result<(), CqlError> {
        let (mut start, end) = self.restrictions.token_range(bindings)?;
        let mut resume = None;
        if let Some(c) = cursor {
            start = match &c.clustering {
                Some(ck) => {
                    resume = Some((c.key.clone(), ck.clone()));
                    Bound::Included(c.key.clone())
                }
                None => Bound::Excluded(c.key.clone()),
            };
        }
        loop {
            let batch = page.want.map_or(1000, |w| {
                (w as usize).saturating_sub(page.rows.len()).clamp(1, 1000)
            });
            let read = source
                .range(&self.table, (start.clone(), end.clone()), batch)
                .await?;
            for (key, partition) in &read.partitions {
                let after = resume.as_ref().filter(|(k, _)| k == key).map(|(_, ck)| ck);
                if page.take(key, partition, after) {
                    return Ok(());
                }
            }
            match read.partitions.last() {
                Some((key, _)) if !read.exhausted => start = Bound::Excluded(key.clone()),
                _ => return Ok(()),
            }
        }
    }
}

/// Accumulates the rows of one page.
struct PageBuilder<'a> {
    plan: &'a SelectPlan,
    filter: RowFilter,
    want: Option<u32>,
    rows: Vec<Vec<Option<Vec<u8>>>>,
    counted: i64,
    /// Where the last returned row was: its partition and clustering key
    /// (`None` for DISTINCT, which consumes whole partitions).
    last: Option<(PartitionKey, Option<Vec<Value>>)>,
    now: i64,
}

impl PageBuilder<'_> {
    fn full(&self) -> bool {
        self.want.is_some_and(|w| self.rows.len() >= w as usize)
    }

    /// Adds the matching rows of a partition; `true` once the page is full.
    fn take(
        &mut self,
        key: &PartitionKey,
        partition: &Partition,
        resume_after: Option<&Vec<Value>>,
    ) -> bool {
        for row in partition.live_rows(self.now) {
            if resume_after.is_some_and(|ck| row.clustering <= ck) || !self.filter.accepts(&row) {
                continue;
            }
            if self.plan.is_count() {
                self.counted += 1;
                continue;
            }
            self.rows.push(self.plan.row_values(key, &row, self.now));
            if self.plan.distinct {
                self.last = Some((key.clone(), None));
                return self.full();
            }
            self.last = Some((key.clone(), Some(row.clustering.clone())));
            if self.full() {
                return true;
            }
        }
        false
    }

    fn finish(self, limit: Option<u32>, skip_metadata: bool) -> RowsPage {
        if self.plan.is_count() {
            let count = Some(Value::BigInt(self.counted).to_bytes());
            return RowsPage {
                columns: self.plan.columns.clone(),
                rows: vec![vec![count; self.plan.columns.len()]],
                paging_state: None,
                no_metadata: skip_metadata,
            };
        }
        let returned = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        let remaining = limit.map(|l| l.saturating_sub(returned));
        let more = self.full() && remaining != Some(0);
        let paging_state = match (more, self.last) {
            (true, Some((key, clustering))) => Some(
                Cursor {
                    key,
                    clustering,
                    remaining,
                }
                .encode(),
            ),
            _ => None,
        };
        RowsPage {
            columns: self.plan.columns.clone(),
            rows: self.rows,
            paging_state,
            no_metadata: skip_metadata,
        }
    }
}

impl SelectPlan {
    fn row_values(&self, key: &PartitionKey, row: &LiveRow<'_>, now: i64) -> Vec<Option<Vec<u8>>> {
        let table = &self.table;
        self.selection
            .iter()
            .map(|selected| match selected {
                Selected::Column(c) => column_value(table, *c, key, row).map(Value::to_bytes),
                Selected::Token => Some(Value::BigInt(key.token).to_bytes()),
                Selected::WriteTime(c) => row
                    .cells
                    .get(c)
                    .map(|cell| Value::BigInt(cell.written).to_bytes()),
                Selected::Ttl(c) => row
                    .cells
                    .get(c)
                    .and_then(|cell| cell.expires)
                    .map(|e| Value::Int(i32::try_from(e - now).unwrap_or(i32::MAX)).to_bytes()),
                Selected::Count => None,
            })
            .collect()
    }
}

/// The value of a column in a live row (key columns come from the keys).
pub(crate) fn column_value<'r>(
    table: &TableDef,
    column: usize,
    key: &'r PartitionKey,
    row: &'r LiveRow<'_>,
) -> Option<&'r Value> {
    let position = |keys: &[usize]| keys.iter().position(|k| *k == column);
    match table.columns[column].kind {
        ColumnKind::PartitionKey => position(&table.partition_key).and_then(|p| key.values.get(p)),
        ColumnKind::Clustering => position(&table.clustering).and_then(|p| row.clustering.get(p)),
        ColumnKind::Regular => row.cells.get(&column).and_then(|c| c.value.as_ref()),
    }
}

fn plan_selector(
    table: &TableDef,
    selector: &Selector,
    selection: &mut Vec<Selected>,
    columns: &mut Vec<ColumnSpec>,
) -> Result<(), CqlError> {
    let Selector::Item { kind, alias } = selector else {
        for column in table.star_order() {
            selection.push(Selected::Column(column));
            columns.push(spec_of(table, column));
        }
        return Ok(());
    };
    let regular = |name: &str, function: &str| -> Result<usize, CqlError> {
        let column = table.require_column(name)?;
        if table.is_key(column) {
            return Err(CqlError::invalid(format!(
                "Cannot use selection function {function} on PRIMARY KEY part {name}"
            )));
        }
        Ok(column)
    };
    let (selected, mut spec) = match kind {
        SelectorKind::Column(name) => {
            let column = table.require_column(name)?;
            (Selected::Column(column), spec_of(table, column))
        }
        SelectorKind::Token(args) => {
            let keys: Vec<&str> = table
                .partition_key
                .iter()
                .map(|c| table.columns[*c].name.as_str())
                .collect();
            if args.iter().map(String::as_str).ne(keys.iter().copied()) {
                return Err(CqlError::invalid(format!(
                    "token() must be given the partition key columns in order: {}",
                    keys.join(", ")
                )));
            }
            (
                Selected::Token,
                derived(
                    table,
                    format!("system.token({})", args.join(", ")),
                    CqlType::BigInt,
                ),
            )
        }
        SelectorKind::WriteTime(name) => (
            Selected::WriteTime(regular(name, "writetime")?),
            derived(table, format!("writetime({name})"), CqlType::BigInt),
        ),
        SelectorKind::Ttl(name) => (
            Selected::Ttl(regular(name, "ttl")?),
            derived(table, format!("ttl({name})"), CqlType::Int),
        ),
        SelectorKind::CountRows => (
            Selected::Count,
            derived(table, "count".into(), CqlType::BigInt),
        ),
    };
    if let Some(alias) = alias {
        spec.name = alias.clone();
    }
    selection.push(selected);
    columns.push(spec);
    Ok(())
}

fn derived(table: &TableDef, name: String, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name,
        ty,
    }
}

fn check_distinct(table: &TableDef, selection: &[Selected]) -> Result<(), CqlError> {
    for selected in selection {
        match selected {
            Selected::Token => {}
            Selected::Column(c) if table.columns[*c].kind == ColumnKind::PartitionKey => {}
            Selected::Column(c) => {
                return Err(CqlError::invalid(format!(
                    "SELECT DISTINCT queries must only request partition key columns and/or static columns (not {})",
                    table.columns[*c].name
                )));
            }
            _ => {
                return Err(CqlError::invalid(
                    "SELECT DISTINCT supports only partition key columns and token()",
                ));
            }
        }
    }
    Ok(())
}
