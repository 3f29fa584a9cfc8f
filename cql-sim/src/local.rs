//! In-process statements: a session that runs CQL on the simulated cluster
//! without a socket or a driver, under the same fault rules as a
//! connection (dropped connections, slow responses, every replica fault).
//!
//! This is what deterministic tests drive. On a current-thread runtime with
//! paused time (`tokio::runtime::Builder::start_paused`) nothing but the
//! tasks themselves decides the order of events: the replicas' messages,
//! delays and timeouts run on simulated time, the fault choices come from
//! [`crate::SimConfig::seed`], and the test's own choices from its seed.
//! One seed then replays one history exactly.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::CqlError;
use crate::handler::handle_statement;
use crate::node::Node;
use crate::protocol::{BoundValue, Consistency, QueryParams, Request, Response, ResultBody};
use crate::types::Value;

/// A session on the cluster in this process (see the module docs).
pub struct LocalSession {
    node: Arc<Node>,
    keyspace: Mutex<Option<String>>,
}

/// What a statement run in process answered.
#[derive(Clone, Debug, PartialEq)]
pub enum LocalResult {
    /// Rows: the column names and each row's values (`None`: null).
    Rows {
        /// The result columns, in order.
        columns: Vec<String>,
        /// The rows of the first page.
        rows: Vec<Vec<Option<Value>>>,
    },
    /// A statement that returns no rows succeeded.
    Done,
}

/// Why a statement run in process gave no result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LocalError {
    /// The cluster answered with an error.
    #[error(transparent)]
    Cql(#[from] CqlError),
    /// The connection was dropped (an injected fault) before the answer:
    /// the statement may or may not have been carried out.
    #[error("the connection was dropped before the answer")]
    ConnectionDropped,
}

impl LocalSession {
    pub(crate) fn new(node: Arc<Node>) -> LocalSession {
        LocalSession {
            node,
            keyspace: Mutex::new(None),
        }
    }

    /// Runs `query` with `values` bound to its markers, at `consistency`
    /// (and `serial` for the Paxos phases of a lightweight transaction or
    /// a SERIAL read).
    pub async fn execute(
        &self,
        query: &str,
        values: &[Value],
        consistency: Consistency,
        serial: Consistency,
    ) -> Result<LocalResult, LocalError> {
        let params = QueryParams {
            consistency,
            values: values.iter().map(bound).collect(),
            names: None,
            skip_metadata: false,
            page_size: None,
            paging_state: None,
            serial_consistency: Some(serial),
            timestamp: None,
        };
        let request = Request::Query {
            query: query.to_owned(),
            params,
        };
        match handle_statement(&self.node, &self.keyspace, request).await {
            None => Err(LocalError::ConnectionDropped),
            Some(Response::Error(e)) => Err(LocalError::Cql(e)),
            Some(Response::Result(ResultBody::Rows(page))) => {
                let columns = page.columns.iter().map(|c| c.name.clone()).collect();
                let mut rows = Vec::with_capacity(page.rows.len());
                for row in page.rows {
                    let decoded = row.iter().zip(&page.columns).map(|(cell, spec)| {
                        cell.as_deref()
                            .map(|bytes| spec.ty.decode(bytes))
                            .transpose()
                    });
                    rows.push(
                        decoded
                            .collect::<Result<_, _>>()
                            .map_err(|e| LocalError::Cql(CqlError::Server(e)))?,
                    );
                }
                Ok(LocalResult::Rows { columns, rows })
            }
            Some(_) => Ok(LocalResult::Done),
        }
    }
}

fn bound(value: &Value) -> BoundValue {
    let mut bytes = Vec::new();
    value.encode(&mut bytes);
    BoundValue::Bytes(bytes)
}
