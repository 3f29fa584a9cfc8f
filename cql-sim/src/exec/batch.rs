//! Running resolved writes: plain writes (one statement or a batch) at the
//! request's consistency, or one LWT over a single partition.

use std::sync::Arc;

use super::Options;
use super::lwt;
use super::modify::ModifyPlan;
use super::write::Write;
use crate::cluster::{Cluster, Mutation, unix_seconds};
use crate::error::{CqlError, WriteType};
use crate::faults::FaultScope;
use crate::protocol::ResultBody;

/// One statement of a batch with its values bound.
pub(crate) struct BatchItem<'a> {
    pub(crate) plan: &'a ModifyPlan,
    pub(crate) write: Write,
}

/// Runs the writes: a conditional batch (or statement) as one LWT, any
/// other as plain writes applied together on each replica.
pub(crate) async fn run_batch(
    cluster: &Arc<Cluster>,
    items: Vec<BatchItem<'_>>,
    write_type: WriteType,
    options: &Options<'_>,
    scope: &FaultScope,
) -> Result<ResultBody, CqlError> {
    if items.iter().any(|i| i.plan.is_conditional()) {
        return lwt::run(
            cluster,
            &items,
            write_type != WriteType::Simple,
            options,
            scope,
        )
        .await;
    }
    if options.consistency.is_serial() {
        return Err(CqlError::invalid(
            "You must use conditional updates for serializable writes",
        ));
    }
    let now = unix_seconds();
    let default_timestamp = options
        .timestamp
        .unwrap_or_else(|| cluster.next_timestamp());
    let mut mutations = Vec::new();
    for item in &items {
        let fragment = item
            .write
            .fragment(item.write.timestamp.unwrap_or(default_timestamp), now);
        for key in &item.write.keys {
            mutations.push(Mutation {
                table: item.plan.table.id,
                key: key.clone(),
                update: fragment.clone(),
            });
        }
    }
    cluster
        .write(mutations, options.consistency, write_type, scope)
        .await?;
    Ok(ResultBody::Void)
}
