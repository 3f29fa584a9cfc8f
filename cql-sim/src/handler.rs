//! Statement requests (QUERY, PREPARE, EXECUTE, BATCH): resolve the
//! statement, apply connection-level faults (dropped connection, slow
//! response) around its execution, and build the response.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{CqlError, WriteType};
use crate::exec::{BatchItem, Bindings, Options, Prepared, run_batch};
use crate::faults::{DropPoint, FaultKind, FaultScope};
use crate::journal::ReceivedStatement;
use crate::node::Node;
use crate::protocol::{
    BatchStatement, BoundValue, Consistency, QueryParams, Request, Response, ResultBody,
    StatementRef,
};

/// Handles one statement request; `None` means the connection must be
/// closed without an answer (an injected fault).
pub(crate) async fn handle_statement(
    node: &Arc<Node>,
    keyspace: &Mutex<Option<String>>,
    request: Request,
) -> Option<Response> {
    let session_keyspace = keyspace.lock().clone();
    let work = match request {
        Request::Prepare { query } => {
            return Some(prepare(node, session_keyspace.as_deref(), &query));
        }
        Request::Query { query, params } => {
            match Prepared::new(&node.cluster, session_keyspace.as_deref(), &query) {
                Ok(prepared) => Work::Single(Arc::new(prepared), params),
                Err(e) => return Some(Response::Error(e)),
            }
        }
        Request::Execute { id, params } => match node.prepared(&id) {
            Some(prepared) => Work::Single(prepared, params),
            None => return Some(Response::Error(CqlError::Unprepared(id))),
        },
        Request::Batch(batch) => {
            match resolve_batch(node, session_keyspace.as_deref(), batch.statements) {
                Ok(statements) => Work::Batch {
                    statements,
                    kind: batch.kind,
                    options: batch_options(
                        batch.consistency,
                        batch.serial_consistency,
                        batch.timestamp,
                    ),
                },
                Err(e) => return Some(Response::Error(e)),
            }
        }
        _ => {
            return Some(Response::Error(CqlError::Server(
                "not a statement request".into(),
            )));
        }
    };
    let scope = work.scope();
    if let FaultScope::User(query) = &scope {
        node.journal.record(work.received(query, node.info.index));
    }
    let faults = &node.cluster.faults;
    if faults
        .fire(&scope, None, |k| {
            *k == FaultKind::DropConnection(DropPoint::BeforeExecute)
        })
        .is_some()
    {
        return None;
    }
    let result = work.run(node).await;
    if faults
        .fire(&scope, None, |k| {
            *k == FaultKind::DropConnection(DropPoint::AfterExecute)
        })
        .is_some()
    {
        return None;
    }
    if let Some(FaultKind::SlowResponse(delay)) =
        faults.fire(&scope, None, |k| matches!(k, FaultKind::SlowResponse(_)))
    {
        tokio::time::sleep(delay).await;
    }
    Some(match result {
        Ok(ResultBody::SetKeyspace(ks)) => {
            *keyspace.lock() = Some(ks.clone());
            Response::Result(ResultBody::SetKeyspace(ks))
        }
        Ok(ResultBody::SchemaChange(change)) => {
            node.announce(change.clone());
            Response::Result(ResultBody::SchemaChange(change))
        }
        Ok(body) => Response::Result(body),
        Err(e) => Response::Error(e),
    })
}

fn prepare(node: &Node, keyspace: Option<&str>, query: &str) -> Response {
    match Prepared::new(&node.cluster, keyspace, query) {
        Ok(prepared) => {
            let prepared = Arc::new(prepared);
            node.remember(Arc::clone(&prepared));
            Response::Result(ResultBody::Prepared {
                id: prepared.id.clone(),
                bind: prepared.bind.clone(),
                pk_indexes: prepared.pk_indexes.clone(),
                result: prepared.result.clone(),
            })
        }
        Err(e) => Response::Error(e),
    }
}

/// The statements of a batch with their values.
type BoundStatements = Vec<(Arc<Prepared>, Vec<BoundValue>)>;

/// A statement (or batch) ready to run.
enum Work {
    Single(Arc<Prepared>, QueryParams),
    Batch {
        statements: Vec<(Arc<Prepared>, Vec<BoundValue>)>,
        kind: u8,
        options: BatchOptions,
    },
}

#[derive(Clone, Copy)]
struct BatchOptions {
    consistency: Consistency,
    serial: Consistency,
    /// The serial consistency as sent (`serial` defaults it).
    serial_sent: Option<Consistency>,
    timestamp: Option<i64>,
}

fn batch_options(
    consistency: Consistency,
    serial: Option<Consistency>,
    timestamp: Option<i64>,
) -> BatchOptions {
    BatchOptions {
        consistency,
        serial: serial.unwrap_or(Consistency::Serial),
        serial_sent: serial,
        timestamp,
    }
}

impl Work {
    /// Faults apply to user statements only; a batch is matched on all its texts.
    fn scope(&self) -> FaultScope {
        match self {
            Work::Single(p, _) => p.scope(),
            Work::Batch { statements, .. } => {
                let text: Vec<&str> = statements.iter().map(|(p, _)| &*p.query).collect();
                FaultScope::User(text.join("; ").into())
            }
        }
    }

    /// The journal entry for this work, whose text is `query`, received
    /// by node `node`.
    fn received(&self, query: &Arc<str>, node: usize) -> ReceivedStatement {
        let (consistency, serial_consistency, token) = match self {
            Work::Single(prepared, params) => (
                params.consistency,
                params.serial_consistency,
                named_values(prepared, params)
                    .ok()
                    .and_then(|values| routing_token(prepared, &values)),
            ),
            Work::Batch {
                options,
                statements,
                ..
            } => (
                options.consistency,
                options.serial_sent,
                statements
                    .first()
                    .and_then(|(prepared, values)| routing_token(prepared, values)),
            ),
        };
        ReceivedStatement {
            query: Arc::clone(query),
            consistency,
            serial_consistency,
            node,
            token,
        }
    }

    async fn run(&self, node: &Node) -> Result<ResultBody, CqlError> {
        match self {
            Work::Single(prepared, params) => {
                let values = named_values(prepared, params)?;
                let options = Options {
                    consistency: params.consistency,
                    serial: params.serial_consistency.unwrap_or(Consistency::Serial),
                    timestamp: params.timestamp,
                    page_size: params.page_size,
                    paging_state: params.paging_state.as_deref(),
                    skip_metadata: params.skip_metadata,
                };
                prepared
                    .execute(&node.info, &node.cluster, &values, &options)
                    .await
            }
            Work::Batch {
                statements,
                kind,
                options,
            } => {
                let mut items = Vec::with_capacity(statements.len());
                for (prepared, values) in statements {
                    let plan = prepared.as_batch_statement()?;
                    let bindings = Bindings::new(values, &prepared.bind)?;
                    items.push(BatchItem {
                        plan,
                        write: plan.resolve(&bindings)?,
                    });
                }
                let write_type = match kind {
                    0 => WriteType::Batch,
                    1 => WriteType::UnloggedBatch,
                    _ => {
                        return Err(CqlError::invalid(
                            "Counter batches are not supported by the simulator",
                        ));
                    }
                };
                let options = Options {
                    consistency: options.consistency,
                    serial: options.serial,
                    timestamp: options.timestamp,
                    page_size: None,
                    paging_state: None,
                    skip_metadata: false,
                };
                let scope = self.scope();
                run_batch(&node.cluster, items, write_type, &options, &scope).await
            }
        }
    }
}

fn resolve_batch(
    node: &Node,
    keyspace: Option<&str>,
    statements: Vec<BatchStatement>,
) -> Result<BoundStatements, CqlError> {
    statements
        .into_iter()
        .map(|s| {
            let prepared = match s.statement {
                StatementRef::Text(query) => {
                    Arc::new(Prepared::new(&node.cluster, keyspace, &query)?)
                }
                StatementRef::Prepared(id) => node.prepared(&id).ok_or(CqlError::Unprepared(id))?,
            };
            Ok((prepared, s.values))
        })
        .collect()
}

/// The values in marker order, reordering them when bound by name.
/// The token of the partition a statement's bound values name, when every
/// partition key column is a bind marker with a value.
fn routing_token(prepared: &Prepared, values: &[BoundValue]) -> Option<i64> {
    if prepared.pk_indexes.is_empty() {
        return None;
    }
    let components = prepared
        .pk_indexes
        .iter()
        .map(|i| match values.get(usize::from(*i)) {
            Some(BoundValue::Bytes(bytes)) => Some(bytes.clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(crate::token::token_of(&crate::token::composite_key(
        &components,
    )))
}

fn named_values(prepared: &Prepared, params: &QueryParams) -> Result<Vec<BoundValue>, CqlError> {
    let Some(names) = &params.names else {
        return Ok(params.values.clone());
    };
    prepared
        .bind
        .iter()
        .map(|spec| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(&spec.name))
                .map(|i| params.values[i].clone())
                .ok_or_else(|| {
                    CqlError::invalid(format!("Missing value for named bind marker {}", spec.name))
                })
        })
        .collect()
}
