//! WHERE-clause analysis shared by SELECT, UPDATE and DELETE: which
//! partitions a statement touches (keys, a token range, or all) and which
//! clustering and regular-column predicates its rows must meet.

use std::ops::Bound;

use super::bind::{Bindings, Markers};
use super::spec_of;
use crate::cluster::KeyRange;
use crate::cql::ast::{Op, Relation, RelationTarget, Rhs, Term};
use crate::error::CqlError;
use crate::protocol::ColumnSpec;
use crate::schema::{ColumnKind, TableDef};
use crate::store::{ClusteringKey, LiveRow, PartitionKey};
use crate::types::{CqlType, Value};

/// The lower and upper `token(...)` bounds of a WHERE clause.
type TokenBounds = (Option<(Op, Term)>, Option<(Op, Term)>);

/// A restriction of one column.
#[derive(Clone, Debug)]
pub(crate) struct ColumnRestriction {
    pub(crate) column: usize,
    pub(crate) op: Op,
    pub(crate) rhs: Rhs,
}

/// How a statement selects partitions.
#[derive(Clone, Debug)]
pub(crate) enum PartitionSelection {
    /// Every partition key column restricted by `=` or `IN`, in key order.
    Keys(Vec<Rhs>),
    /// `token(pk) > ? AND token(pk) <= ?` (either side optional).
    Tokens {
        lower: Option<(Op, Term)>,
        upper: Option<(Op, Term)>,
    },
    /// No partition restriction: the whole ring.
    All,
}

/// The analysed WHERE clause.
#[derive(Clone, Debug)]
pub(crate) struct Restrictions {
    pub(crate) partition: PartitionSelection,
    pub(crate) clustering: Vec<ColumnRestriction>,
    pub(crate) regular: Vec<ColumnRestriction>,
}

impl Restrictions {
    /// Analyses `relations` against `table`, typing their markers.
    pub(crate) fn plan(
        table: &TableDef,
        relations: &[Relation],
        markers: &mut Markers,
    ) -> Result<Restrictions, CqlError> {
        let mut partition: Vec<Option<Rhs>> = vec![None; table.partition_key.len()];
        let mut token: TokenBounds = (None, None);
        let mut clustering = Vec::new();
        let mut regular = Vec::new();
        for relation in relations {
            match &relation.lhs {
                RelationTarget::Token(columns) => {
                    plan_token(table, columns, relation, &mut token, markers)?;
                }
                RelationTarget::Column(name) => {
                    let column = table.require_column(name)?;
                    let spec = spec_of(table, column);
                    markers.note_rhs(&relation.rhs, &spec);
                    let restriction = ColumnRestriction {
                        column,
                        op: relation.op,
                        rhs: relation.rhs.clone(),
                    };
                    match table.columns[column].kind {
                        ColumnKind::PartitionKey => {
                            plan_partition_column(table, column, restriction, &mut partition)?;
                        }
                        ColumnKind::Clustering => clustering.push(restriction),
                        ColumnKind::Regular => regular.push(restriction),
                    }
                }
            }
        }
        let partition = partition_selection(table, partition, token)?;
        Ok(Restrictions {
            partition,
            clustering,
            regular,
        })
    }

    /// Whether the statement reads exactly the given partitions.
    pub(crate) fn by_key(&self) -> bool {
        matches!(self.partition, PartitionSelection::Keys(_))
    }

    /// The partition keys of a `Keys` selection, sorted and deduplicated.
    pub(crate) fn partition_keys(
        &self,
        table: &TableDef,
        bindings: &Bindings<'_>,
    ) -> Result<Vec<PartitionKey>, CqlError> {
        let PartitionSelection::Keys(rhs) = &self.partition else {
            return Err(CqlError::invalid("Some partition key parts are missing"));
        };
        let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
        for (rhs, column) in rhs.iter().zip(&table.partition_key) {
            let def = &table.columns[*column];
            let values = bindings.values(rhs, &def.ty, &def.name)?;
            let values: Vec<Value> = values
                .into_iter()
                .map(|v| {
                    v.ok_or_else(|| {
                        CqlError::invalid(format!(
                            "Invalid null value in condition for column {}",
                            def.name
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            combos = combos
                .iter()
                .flat_map(|prefix| {
                    values
                        .iter()
                        .map(move |v| [prefix.clone(), vec![v.clone()]].concat())
                })
                .collect();
        }
        let mut keys: Vec<PartitionKey> = combos.into_iter().map(PartitionKey::new).collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The ring range of a `Tokens` or `All` selection.
    pub(crate) fn token_range(&self, bindings: &Bindings<'_>) -> Result<KeyRange, CqlError> {
        let PartitionSelection::Tokens { lower, upper } = &self.partition else {
            return Ok((Bound::Unbounded, Bound::Unbounded));
        };
        let token =
            |term: &Term| match bindings.value(term, &CqlType::BigInt, "partition key token")? {
                Value::BigInt(t) => Ok(t),
                _ => Err(CqlError::invalid("token bounds must be bigint")),
            };
        let start = match lower {
            Some((Op::Gt, term)) => match token(term)?.checked_add(1) {
                Some(t) => Bound::Included(PartitionKey::token_start(t)),
                // Nothing lies beyond the largest token: an empty range.
                None => {
                    return Ok((
                        Bound::Included(PartitionKey::token_start(i64::MAX)),
                        Bound::Excluded(PartitionKey::token_start(i64::MAX)),
                    ));
                }
            },
            Some((_, term)) => Bound::Included(PartitionKey::token_start(token(term)?)),
            None => Bound::Unbounded,
        };
        let end = match upper {
            Some((Op::Lt, term)) => Bound::Excluded(PartitionKey::token_start(token(term)?)),
            Some((_, term)) => token(term)?.checked_add(1).map_or(Bound::Unbounded, |t| {
                Bound::Excluded(PartitionKey::token_start(t))
            }),
            None => Bound::Unbounded,
        };
        Ok((start, end))
    }

    /// The exact clustering key the statement names (every clustering column
    /// restricted by `=`), or `None` when it names none at all.
    pub(crate) fn exact_clustering(
        &self,
        table: &TableDef,
        bindings: &Bindings<'_>,
    ) -> Result<Option<ClusteringKey>, CqlError> {
        if self.clustering.is_empty() {
            return Ok(if table.clustering.is_empty() {
                Some(Vec::new())
            } else {
                None
            });
        }
        let mut key = Vec::new();
        for column in &table.clustering {
            let def = &table.columns[*column];
            let restriction = self
                .clustering
                .iter()
                .find(|r| r.column == *column && r.op == Op::Eq)
                .ok_or_else(|| {
                    CqlError::invalid(format!("Missing mandatory PRIMARY KEY part {}", def.name))
                })?;
            let Rhs::Term(term) = &restriction.rhs else {
                return Err(CqlError::invalid(format!(
                    "IN on clustering column {} is not supported by the simulator",
                    def.name
                )));
            };
            key.push(bindings.value(term, &def.ty, &def.name)?);
        }
        if self.clustering.len() != key.len() {
            return Err(CqlError::invalid(
                "Only equality relations on clustering columns are supported here",
            ));
        }
        Ok(Some(key))
    }

    /// Resolves the clustering and regular predicates for row filtering.
    pub(crate) fn row_filter(
        &self,
        table: &TableDef,
        bindings: &Bindings<'_>,
    ) -> Result<RowFilter, CqlError> {
        let resolve = |r: &ColumnRestriction| -> Result<(usize, Op, Vec<Option<Value>>), CqlError> {
            let def = &table.columns[r.column];
            Ok((r.column, r.op, bindings.values(&r.rhs, &def.ty, &def.name)?))
        };
        Ok(RowFilter {
            clustering: self
                .clustering
                .iter()
                .map(resolve)
                .collect::<Result<_, _>>()?,
            regular: self.regular.iter().map(resolve).collect::<Result<_, _>>()?,
            clustering_columns: table.clustering.clone(),
        })
    }
}

/// Resolved row predicates.
pub(crate) struct RowFilter {
    clustering: Vec<(usize, Op, Vec<Option<Value>>)>,
    regular: Vec<(usize, Op, Vec<Option<Value>>)>,
    clustering_columns: Vec<usize>,
}

impl RowFilter {
    /// Whether a live row meets every predicate.
    pub(crate) fn accepts(&self, row: &LiveRow<'_>) -> bool {
        let clustering_ok = self.clustering.iter().all(|(column, op, values)| {
            let position = self.clustering_columns.iter().position(|c| c == column);
            let current = position.and_then(|p| row.clustering.get(p));
            satisfies(current, *op, values)
        });
        clustering_ok
            && self.regular.iter().all(|(column, op, values)| {
                let current = row.cells.get(column).and_then(|c| c.value.as_ref());
                satisfies(current, *op, values)
            })
    }
}

/// Whether `current` meets `op` against the operand(s) (`IN` takes several).
pub(crate) fn satisfies(current: Option<&Value>, op: Op, operands: &[Option<Value>]) -> bool {
    match op {
        Op::In => operands.iter().any(|o| o.as_ref() == current),
        Op::Eq => operands.first().is_some_and(|o| o.as_ref() == current),
        Op::Ne => operands.first().is_some_and(|o| o.as_ref() != current),
        _ => match (current, operands.first()) {
            (Some(c), Some(Some(o))) => op.holds(c.cmp(o)),
            _ => false,
        },
    }
}

fn plan_partition_column(
    table: &TableDef,
    column: usize,
    r: ColumnRestriction,
    partition: &mut [Option<Rhs>],
) -> Result<(), CqlError> {
    let position = table
        .partition_key
        .iter()
        .position(|c| *c == column)
        .unwrap_or(0);
    let name = &table.columns[column].name;
    if !matches!(r.op, Op::Eq | Op::In) {
        return Err(CqlError::invalid(format!(
            "Only EQ and IN relation are supported on the partition key {name} (unless you use the token() function)"
        )));
    }
    if partition[position].replace(r.rhs).is_some() {
        return Err(CqlError::invalid(format!(
            "{name} cannot be restricted by more than one relation if it includes an Equal"
        )));
    }
    Ok(())
}

fn plan_token(
    table: &TableDef,
    columns: &[String],
    relation: &Relation,
    token: &mut TokenBounds,
    markers: &mut Markers,
) -> Result<(), CqlError> {
    let key_names: Vec<&str> = table
        .partition_key
        .iter()
        .map(|c| table.columns[*c].name.as_str())
        .collect();
    if columns
        .iter()
        .map(String::as_str)
        .ne(key_names.iter().copied())
    {
        return Err(CqlError::invalid(format!(
            "The token function arguments must be the partition key columns in order: token({})",
            key_names.join(", ")
        )));
    }
    let Rhs::Term(term) = &relation.rhs else {
        return Err(CqlError::invalid("IN is not supported on token()"));
    };
    let spec = ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name: "partition key token".into(),
        ty: CqlType::BigInt,
    };
    markers.note(term, spec);
    let bound = Some((relation.op, term.clone()));
    match relation.op {
        Op::Gt | Op::Ge => token.0 = bound,
        Op::Lt | Op::Le => token.1 = bound,
        Op::Eq => {
            token.0 = Some((Op::Ge, term.clone()));
            token.1 = Some((Op::Le, term.clone()));
        }
        _ => {
            return Err(CqlError::invalid(
                "Only =, <, <=, > and >= are supported on token()",
            ));
        }
    }
    Ok(())
}

fn partition_selection(
    table: &TableDef,
    partition: Vec<Option<Rhs>>,
    token: TokenBounds,
) -> Result<PartitionSelection, CqlError> {
    let restricted = partition.iter().filter(|p| p.is_some()).count();
    if restricted > 0 && (token.0.is_some() || token.1.is_some()) {
        return Err(CqlError::invalid(
            "Partition key columns cannot be restricted both by value and by token()",
        ));
    }
    if restricted == partition.len() {
        return Ok(PartitionSelection::Keys(
            partition.into_iter().flatten().collect(),
        ));
    }
    if restricted > 0 {
        let missing: Vec<&str> = table
            .partition_key
            .iter()
            .zip(&partition)
            .filter(|(_, p)| p.is_none())
            .map(|(c, _)| table.columns[*c].name.as_str())
            .collect();
        return Err(CqlError::invalid(format!(
            "Cannot execute this query as it might involve data filtering: partition key parts {} must be restricted as other parts are",
            missing.join(", ")
        )));
    }
    match token {
        (None, None) => Ok(PartitionSelection::All),
        (lower, upper) => Ok(PartitionSelection::Tokens { lower, upper }),
    }
}
