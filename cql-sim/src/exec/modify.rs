//! INSERT, UPDATE and DELETE: planning (which columns, which keys, which
//! condition) and resolving bound values into writes, i.e. partition
//! fragments stamped with a write timestamp.

use std::sync::Arc;

use super::bind::{Bindings, Bound, Markers};
use super::restrict::{PartitionSelection, Restrictions};
use super::spec_of;
use super::write::{RowCondition, Write, WriteCells};
use crate::cql::ast::{
    ColumnCondition, Condition, Delete, Insert, Op, Relation, RelationTarget, Rhs, Term, Update,
    Using,
};
use crate::error::CqlError;
use crate::protocol::ColumnSpec;
use crate::schema::TableDef;
use crate::types::{CqlType, Value};

/// What a modification does to the rows it names.
#[derive(Clone, Debug)]
enum Change {
    /// Set columns; INSERT also sets the row marker.
    Upsert {
        marker: bool,
        columns: Vec<(usize, Term)>,
    },
    /// DELETE of the listed columns, or of whole rows when empty.
    Delete { columns: Vec<usize> },
}

/// A planned INSERT, UPDATE or DELETE.
#[derive(Debug)]
pub(crate) struct ModifyPlan {
    pub(crate) table: Arc<TableDef>,
    restrictions: Restrictions,
    change: Change,
    using: Using,
    condition: Option<PlannedCondition>,
}

#[derive(Clone, Debug)]
enum PlannedCondition {
    NotExists,
    Exists,
    Columns(Vec<(usize, Op, Rhs)>),
}

impl ModifyPlan {
    pub(crate) fn insert(
        insert: &Insert,
        table: Arc<TableDef>,
        markers: &mut Markers,
    ) -> Result<ModifyPlan, CqlError> {
        if insert.columns.len() != insert.values.len() {
            return Err(CqlError::invalid("Unmatched column names/values"));
        }
        let mut relations = Vec::new();
        let mut columns = Vec::new();
        for (name, term) in insert.columns.iter().zip(&insert.values) {
            let column = table.require_column(name)?;
            if table.is_key(column) {
                relations.push(Relation {
                    lhs: RelationTarget::Column(name.clone()),
                    op: Op::Eq,
                    rhs: Rhs::Term(term.clone()),
                });
            } else {
                markers.note(term, spec_of(&table, column));
                columns.push((column, term.clone()));
            }
        }
        let restrictions = Restrictions::plan(&table, &relations, markers)?;
        check_full_key(&table, &restrictions, "INSERT")?;
        let condition = insert
            .condition
            .as_ref()
            .map(|_| PlannedCondition::NotExists);
        plan_using(&table, &insert.using, markers);
        Ok(ModifyPlan {
            table,
            restrictions,
            change: Change::Upsert {
                marker: true,
                columns,
            },
            using: insert.using.clone(),
            condition,
        })
    }

    pub(crate) fn update(
        update: &Update,
        table: Arc<TableDef>,
        markers: &mut Markers,
    ) -> Result<ModifyPlan, CqlError> {
        plan_using(&table, &update.using, markers);
        let mut columns = Vec::new();
        for (name, term) in &update.assignments {
            let column = table.require_column(name)?;
            if table.is_key(column) {
                return Err(CqlError::invalid(format!(
                    "PRIMARY KEY part {name} found in SET part"
                )));
            }
            markers.note(term, spec_of(&table, column));
            columns.push((column, term.clone()));
        }
        let restrictions = Restrictions::plan(&table, &update.relations, markers)?;
        check_full_key(&table, &restrictions, "UPDATE")?;
        let condition = plan_condition(&table, update.condition.as_ref(), markers)?;
        Ok(ModifyPlan {
            table,
            restrictions,
            change: Change::Upsert {
                marker: false,
                columns,
            },
            using: update.using.clone(),
            condition,
        })
    }

    pub(crate) fn delete(
        delete: &Delete,
        table: Arc<TableDef>,
        markers: &mut Markers,
    ) -> Result<ModifyPlan, CqlError> {
        let mut columns = Vec::new();
        for name in &delete.columns {
            let column = table.require_column(name)?;
            if table.is_key(column) {
                return Err(CqlError::invalid(format!(
                    "Invalid identifier {name} for deletion (should not be a PRIMARY KEY part)"
                )));
            }
            columns.push(column);
        }
        plan_using(&table, &delete.using, markers);
        let restrictions = Restrictions::plan(&table, &delete.relations, markers)?;
        if !restrictions.by_key() {
            return Err(CqlError::invalid(
                "Some partition key parts are missing: DELETE must name its partitions with = or IN",
            ));
        }
        if delete.using.ttl.is_some() {
            return Err(CqlError::invalid("TTL is not allowed on DELETE"));
        }
        let condition = plan_condition(&table, delete.condition.as_ref(), markers)?;
        if condition.is_some()
            && !table.clustering.is_empty()
            && restrictions.clustering.len() != table.clustering.len()
        {
            return Err(CqlError::invalid(
                "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF conditions",
            ));
        }
        Ok(ModifyPlan {
            table,
            restrictions,
            change: Change::Delete { columns },
            using: delete.using.clone(),
            condition,
        })
    }

    /// Takes the batch's `USING TIMESTAMP` unless the statement has its own.
    pub(crate) fn inherit_timestamp(&mut self, batch: &Using) {
        if self.using.timestamp.is_none() {
            self.using.timestamp = batch.timestamp.clone();
        }
    }

    /// Whether this is a lightweight transaction.
    pub(crate) fn is_conditional(&self) -> bool {
        self.condition.is_some()
    }

    /// The columns a not-applied LWT reports besides `[applied]`: every
    /// column for IF [NOT] EXISTS, else the condition columns.
    pub(crate) fn condition_columns(&self) -> Vec<usize> {
        match &self.condition {
            Some(PlannedCondition::Columns(conditions)) => {
                let mut columns: Vec<usize> = Vec::new();
                for (column, _, _) in conditions {
                    if !columns.contains(column) {
                        columns.push(*column);
                    }
                }
                columns
            }
            _ => self.table.star_order(),
        }
    }

    /// The partition key marker indexes in key order, when every key column
    /// is bound by `= ?` (for token-aware drivers).
    pub(crate) fn pk_indexes(&self) -> Vec<u16> {
        pk_indexes(&self.restrictions)
    }

    /// Binds values: the partitions and row this write touches and its cells.
    pub(crate) fn resolve(&self, bindings: &Bindings<'_>) -> Result<Write, CqlError> {
        let table = &self.table;
        let keys = self.restrictions.partition_keys(table, bindings)?;
        let clustering = self.restrictions.exact_clustering(table, bindings)?;
        let cells = match (&self.change, &clustering) {
            (Change::Upsert { .. }, None) => {
                return Err(CqlError::invalid("Some clustering keys are missing"));
            }
            (Change::Upsert { marker, columns }, Some(_)) => WriteCells::Upsert {
                marker: *marker,
                cells: self.bind_cells(columns, bindings)?,
            },
            (Change::Delete { columns }, _) if columns.is_empty() => WriteCells::DeleteRow,
            (Change::Delete { .. }, None) => {
                return Err(CqlError::invalid(
                    "Column deletions need the full primary key",
                ));
            }
            (Change::Delete { columns }, Some(_)) => WriteCells::DeleteCells(columns.clone()),
        };
        let timestamp = self.using_value(&self.using.timestamp, "[timestamp]", bindings)?;
        let ttl = match self.using_value(&self.using.ttl, "[ttl]", bindings)? {
            Some(ttl) if !(0..=630_720_000).contains(&ttl) => {
                return Err(CqlError::invalid(format!(
                    "ttl is out of range [0, 630720000]: {ttl}"
                )));
            }
            ttl => ttl.and_then(|t| i32::try_from(t).ok()).filter(|t| *t > 0),
        };
        let condition = self.bind_condition(bindings)?;
        if condition.is_some() && timestamp.is_some() {
            return Err(CqlError::invalid(
                "Cannot provide custom timestamp for conditional updates",
            ));
        }
        if condition.is_some() && keys.len() != 1 {
            return Err(CqlError::invalid(
                "IN on the partition key is not supported with conditional updates",
            ));
        }
        Ok(Write {
            keys,
            clustering,
            cells,
            ttl,
            timestamp,
            condition,
        })
    }

    fn bind_cells(
        &self,
        columns: &[(usize, Term)],
        bindings: &Bindings<'_>,
    ) -> Result<Vec<(usize, Option<Value>)>, CqlError> {
        let mut cells = Vec::new();
        for (column, term) in columns {
            let def = &self.table.columns[*column];
            match bindings.bound(term, &def.ty, &def.name)? {
                Bound::Value(v) => cells.push((*column, Some(v))),
                Bound::Null => cells.push((*column, None)),
                Bound::Unset => {}
            }
        }
        Ok(cells)
    }

    fn using_value(
        &self,
        term: &Option<Term>,
        name: &str,
        bindings: &Bindings<'_>,
    ) -> Result<Option<i64>, CqlError> {
        let Some(term) = term else { return Ok(None) };
        let ty = if name == "[ttl]" {
            CqlType::Int
        } else {
            CqlType::BigInt
        };
        match bindings.bound(term, &ty, name)? {
            Bound::Value(Value::Int(n)) => Ok(Some(i64::from(n))),
            Bound::Value(Value::BigInt(n)) => Ok(Some(n)),
            Bound::Unset => Ok(None),
            _ => Err(CqlError::invalid(format!("Invalid null value of {name}"))),
        }
    }

    fn bind_condition(&self, bindings: &Bindings<'_>) -> Result<Option<RowCondition>, CqlError> {
        let condition = match &self.condition {
            None => return Ok(None),
            Some(PlannedCondition::NotExists) => RowCondition::NotExists,
            Some(PlannedCondition::Exists) => RowCondition::Exists,
            Some(PlannedCondition::Columns(conditions)) => {
                let mut bound = Vec::new();
                for (column, op, rhs) in conditions {
                    let def = &self.table.columns[*column];
                    bound.push((*column, *op, bindings.values(rhs, &def.ty, &def.name)?));
                }
                RowCondition::Columns(bound)
            }
        };
        Ok(Some(condition))
    }
}

fn check_full_key(
    table: &TableDef,
    restrictions: &Restrictions,
    statement: &str,
) -> Result<(), CqlError> {
    let PartitionSelection::Keys(_) = restrictions.partition else {
        let names: Vec<&str> = table
            .partition_key
            .iter()
            .map(|c| table.columns[*c].name.as_str())
            .collect();
        return Err(CqlError::invalid(format!(
            "Some partition key parts are missing: {} ({statement})",
            names.join(", ")
        )));
    };
    if restrictions.clustering.len() != table.clustering.len()
        || restrictions.clustering.iter().any(|r| r.op != Op::Eq)
    {
        let names: Vec<&str> = table
            .clustering
            .iter()
            .map(|c| table.columns[*c].name.as_str())
            .collect();
        return Err(CqlError::invalid(format!(
            "Some clustering keys are missing: {} ({statement})",
            names.join(", ")
        )));
    }
    if !restrictions.regular.is_empty() {
        return Err(CqlError::invalid(format!(
            "Non PRIMARY KEY columns found in where clause of {statement}"
        )));
    }
    Ok(())
}

fn plan_using(table: &TableDef, using: &Using, markers: &mut Markers) {
    let spec = |name: &str, ty: CqlType| ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name: name.into(),
        ty,
    };
    if let Some(ttl) = &using.ttl {
        markers.note(ttl, spec("[ttl]", CqlType::Int));
    }
    if let Some(timestamp) = &using.timestamp {
        markers.note(timestamp, spec("[timestamp]", CqlType::BigInt));
    }
}

fn plan_condition(
    table: &TableDef,
    condition: Option<&Condition>,
    markers: &mut Markers,
) -> Result<Option<PlannedCondition>, CqlError> {
    let planned = match condition {
        None => return Ok(None),
        Some(Condition::NotExists) => PlannedCondition::NotExists,
        Some(Condition::Exists) => PlannedCondition::Exists,
        Some(Condition::Columns(conditions)) => {
            let mut planned = Vec::new();
            for ColumnCondition { column, op, rhs } in conditions {
                let index = table.require_column(column)?;
                if table.is_key(index) {
                    return Err(CqlError::invalid(format!(
                        "PRIMARY KEY column '{column}' cannot have IF conditions"
                    )));
                }
                markers.note_rhs(rhs, &spec_of(table, index));
                planned.push((index, *op, rhs.clone()));
            }
            PlannedCondition::Columns(planned)
        }
    };
    Ok(Some(planned))
}

/// Marker indexes of the partition key columns when all are `= ?`.
pub(crate) fn pk_indexes(restrictions: &Restrictions) -> Vec<u16> {
    let PartitionSelection::Keys(rhs) = &restrictions.partition else {
        return Vec::new();
    };
    let indexes: Option<Vec<u16>> = rhs
        .iter()
        .map(|r| match r {
            Rhs::Term(Term::Marker { index, .. }) => u16::try_from(*index).ok(),
            _ => None,
        })
        .collect();
    indexes.unwrap_or_default()
}
