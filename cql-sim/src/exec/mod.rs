//! Statement execution: planning a parsed statement against the schema
//! (PREPARE), then running it with bound values (EXECUTE, QUERY, BATCH).

mod batch;
mod bind;
mod ddl;
mod lwt;
mod modify;
mod paging;
mod restrict;
mod select;
mod source;
mod system;
mod write;

use std::sync::Arc;

pub(crate) use batch::{BatchItem, run_batch};
pub(crate) use bind::Bindings;

use bind::Markers;
use modify::ModifyPlan;
use select::{Paging, SelectPlan};
use source::Source;

use crate::cluster::Cluster;
use crate::cql::ast::{Statement, TableName};
use crate::cql::parse;
use crate::error::{CqlError, WriteType};
use crate::faults::FaultScope;
use crate::protocol::{BoundValue, ColumnSpec, Consistency, ResultBody};
use crate::ring::NodeInfo;
use crate::schema::{SYSTEM_KEYSPACES, TableDef};
use crate::token::digest;

/// A statement planned against the schema, ready to run with values.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) id: Vec<u8>,
    pub(crate) query: Arc<str>,
    plan: Plan,
    /// One spec per bind marker.
    pub(crate) bind: Vec<ColumnSpec>,
    /// The result columns (empty for statements that return no rows).
    pub(crate) result: Vec<ColumnSpec>,
    pub(crate) pk_indexes: Vec<u16>,
}

#[derive(Debug)]
enum Plan {
    Select(SelectPlan),
    Modify(ModifyPlan),
    /// `BEGIN BATCH ... APPLY BATCH` in CQL text.
    Batch {
        statements: Vec<ModifyPlan>,
        logged: bool,
    },
    Use(String),
    /// DDL, run against the schema at execution; with the session keyspace.
    Schema(Statement, Option<String>),
}

/// The per-request options of QUERY, EXECUTE and BATCH.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options<'a> {
    pub(crate) consistency: Consistency,
    pub(crate) serial: Consistency,
    pub(crate) timestamp: Option<i64>,
    pub(crate) page_size: Option<i32>,
    pub(crate) paging_state: Option<&'a [u8]>,
    pub(crate) skip_metadata: bool,
}

impl Prepared {
    /// Parses and plans `query` with `keyspace` as the session keyspace.
    pub(crate) fn new(
        cluster: &Cluster,
        keyspace: Option<&str>,
        query: &str,
    ) -> Result<Prepared, CqlError> {
        let statement = parse(query)?;
        let mut markers = Markers::default();
        let plan = plan_statement(cluster, keyspace, statement, &mut markers)?;
        let bind = markers.finish()?;
        let (result, pk_indexes) = match &plan {
            Plan::Select(select) => (
                select.columns.clone(),
                modify::pk_indexes(&select.restrictions),
            ),
            Plan::Modify(modify) => (Vec::new(), modify.pk_indexes()),
            _ => (Vec::new(), Vec::new()),
        };
        let id = digest(format!("{}\0{query}", keyspace.unwrap_or_default()).as_bytes()).to_vec();
        Ok(Prepared {
            id,
            query: query.into(),
            plan,
            bind,
            result,
            pk_indexes,
        })
    }

    /// Whether the tables this statement was planned against still exist
    /// unchanged (a prepared statement on a dropped table must be re-prepared).
    pub(crate) fn is_current(&self, cluster: &Cluster) -> bool {
        let schema = cluster.schema.read();
        let current = |table: &TableDef| {
            SYSTEM_KEYSPACES.contains(&table.keyspace.as_str())
                || schema
                    .table(&table.keyspace, &table.name)
                    .is_ok_and(|t| t.id == table.id)
        };
        match &self.plan {
            Plan::Select(select) => current(&select.table),
            Plan::Modify(modify) => current(&modify.table),
            Plan::Batch { statements, .. } => statements.iter().all(|s| current(&s.table)),
            Plan::Use(_) | Plan::Schema(..) => true,
        }
    }

    /// The modification this statement is, for a protocol BATCH.
    pub(crate) fn as_batch_statement(&self) -> Result<&ModifyPlan, CqlError> {
        match &self.plan {
            Plan::Modify(modify) => Ok(modify),
            _ => Err(CqlError::invalid(format!(
                "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed ({})",
                self.query
            ))),
        }
    }

    /// The statement's fault scope: system queries are never faulted.
    pub(crate) fn scope(&self) -> FaultScope {
        match &self.plan {
            Plan::Select(s) if SYSTEM_KEYSPACES.contains(&s.table.keyspace.as_str()) => {
                FaultScope::Exempt
            }
            _ => FaultScope::User(Arc::clone(&self.query)),
        }
    }

    /// Runs the statement with the client's values.
    pub(crate) async fn execute(
        &self,
        node: &NodeInfo,
        cluster: &Arc<Cluster>,
        values: &[BoundValue],
        options: &Options<'_>,
    ) -> Result<ResultBody, CqlError> {
        let bindings = Bindings::new(values, &self.bind)?;
        let scope = self.scope();
        match &self.plan {
            Plan::Select(select) => {
                let source = match system::materialize(node, cluster, &select.table) {
                    Some(data) => Source::Virtual(data),
                    None => {
                        cluster.read_timeout_fault(options.consistency, &scope)?;
                        Source::Cluster {
                            cluster,
                            consistency: options.consistency,
                            scope,
                        }
                    }
                };
                let paging = Paging {
                    page_size: options.page_size,
                    state: options.paging_state,
                    skip_metadata: options.skip_metadata,
                };
                select
                    .run(&source, &bindings, &paging)
                    .await
                    .map(ResultBody::Rows)
            }
            Plan::Modify(modify) => {
                let item = BatchItem {
                    plan: modify,
                    write: modify.resolve(&bindings)?,
                };
                run_batch(cluster, vec![item], WriteType::Simple, options, &scope).await
            }
            Plan::Batch { statements, logged } => {
                let items = statements
                    .iter()
                    .map(|plan| {
                        Ok(BatchItem {
                            plan,
                            write: plan.resolve(&bindings)?,
                        })
                    })
                    .collect::<Result<Vec<_>, CqlError>>()?;
                let kind = if *logged {
                    WriteType::Batch
                } else {
                    WriteType::UnloggedBatch
                };
                run_batch(cluster, items, kind, options, &scope).await
            }
            Plan::Use(keyspace) => {
                cluster.schema.read().keyspace(keyspace).map_err(|_| {
                    CqlError::invalid(format!("Keyspace '{keyspace}' does not exist"))
                })?;
                Ok(ResultBody::SetKeyspace(keyspace.clone()))
            }
            Plan::Schema(statement, keyspace) => {
                ddl::apply(cluster, statement, keyspace.as_deref())
            }
        }
    }
}

fn plan_statement(
    cluster: &Cluster,
    keyspace: Option<&str>,
    statement: Statement,
    markers: &mut Markers,
) -> Result<Plan, CqlError> {
    let table = |name: &TableName| resolve_table(cluster, keyspace, name);
    let plan = match statement {
        Statement::Select(select) => {
            Plan::Select(SelectPlan::plan(&select, table(&select.table)?, markers)?)
        }
        Statement::Insert(insert) => Plan::Modify(ModifyPlan::insert(
            &insert,
            writable(table(&insert.table)?)?,
            markers,
        )?),
        Statement::Update(update) => Plan::Modify(ModifyPlan::update(
            &update,
            writable(table(&update.table)?)?,
            markers,
        )?),
        Statement::Delete(delete) => Plan::Modify(ModifyPlan::delete(
            &delete,
            writable(table(&delete.table)?)?,
            markers,
        )?),
        Statement::Batch(batch) => {
            if let Some(timestamp) = &batch.using.timestamp {
                let keyspace = keyspace.unwrap_or_default().to_owned();
                markers.note(
                    timestamp,
                    ColumnSpec {
                        keyspace,
                        table: String::new(),
                        name: "[timestamp]".into(),
                        ty: crate::types::CqlType::BigInt,
                    },
                );
            }
            if batch.using.ttl.is_some() {
                return Err(CqlError::invalid(
                    "A TTL can only be given on the statements of a batch, not on the batch",
                ));
            }
            let mut statements = Vec::new();
            for statement in batch.statements {
                match plan_statement(cluster, keyspace, statement, markers)? {
                    Plan::Modify(mut modify) => {
                        modify.inherit_timestamp(&batch.using);
                        statements.push(modify);
                    }
                    _ => {
                        return Err(CqlError::invalid(
                            "Only INSERT, UPDATE and DELETE are allowed in a batch",
                        ));
                    }
                }
            }
            Plan::Batch {
                statements,
                logged: batch.logged,
            }
        }
        Statement::Use(name) => Plan::Use(name),
        ddl => Plan::Schema(ddl, keyspace.map(str::to_owned)),
    };
    Ok(plan)
}

/// Finds a table, qualifying it with the session keyspace when needed.
fn resolve_table(
    cluster: &Cluster,
    keyspace: Option<&str>,
    name: &TableName,
) -> Result<Arc<TableDef>, CqlError> {
    let keyspace = name.keyspace.as_deref().or(keyspace).ok_or_else(|| {
        CqlError::invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    })?;
    if let Some(table) = system::table(keyspace, &name.name) {
        return table;
    }
    cluster.schema.read().table(keyspace, &name.name)
}

fn writable(table: Arc<TableDef>) -> Result<Arc<TableDef>, CqlError> {
    if SYSTEM_KEYSPACES.contains(&table.keyspace.as_str()) {
        return Err(CqlError::invalid(format!(
            "{} keyspace is not user-modifiable",
            table.keyspace
        )));
    }
    Ok(table)
}

/// The result column (or bind marker) spec of a table column.
pub(crate) fn spec_of(table: &TableDef, column: usize) -> ColumnSpec {
    let def = &table.columns[column];
    ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name: def.name.clone(),
        ty: def.ty.clone(),
    }
}
