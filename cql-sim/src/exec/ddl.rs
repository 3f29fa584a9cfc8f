//! Schema statements: CREATE/DROP KEYSPACE and TABLE, TRUNCATE.

use crate::cluster::Cluster;
use crate::cql::ast::{Statement, TableName};
use crate::error::CqlError;
use crate::protocol::{Consistency, ResultBody, SchemaChange};

/// Applies a schema statement; `keyspace` is the session keyspace.
pub(crate) fn apply(
    cluster: &Cluster,
    statement: &Statement,
    keyspace: Option<&str>,
) -> Result<ResultBody, CqlError> {
    let change = match statement {
        Statement::CreateKeyspace(create) => cluster.schema.write().create_keyspace(create)?,
        Statement::CreateTable(create) => {
            let ks = qualify(&create.table, keyspace)?;
            cluster.schema.write().create_table(ks, create)?
        }
        Statement::DropTable { table, if_exists } => {
            let ks = qualify(table, keyspace)?;
            let dropped = cluster
                .schema
                .write()
                .drop_table(ks, &table.name, *if_exists)?;
            dropped.map(|def| {
                cluster.on_every_replica(|r| r.clear(def.id));
                SchemaChange {
                    change: "DROPPED",
                    keyspace: ks.to_owned(),
                    table: Some(def.name.clone()),
                }
            })
        }
        Statement::DropKeyspace { name, if_exists } => {
            let dropped = cluster.schema.write().drop_keyspace(name, *if_exists)?;
            dropped.map(|ks| {
                for table in ks.tables.values() {
                    cluster.on_every_replica(|r| r.clear(table.id));
                }
                SchemaChange {
                    change: "DROPPED",
                    keyspace: name.clone(),
                    table: None,
                }
            })
        }
        Statement::Truncate(table) => {
            truncate(cluster, table, keyspace)?;
            return Ok(ResultBody::Void);
        }
        other => {
            return Err(CqlError::Server(format!(
                "{} is not a schema statement",
                other.kind()
            )));
        }
    };
    Ok(change.map_or(ResultBody::Void, ResultBody::SchemaChange))
}

/// TRUNCATE needs every replica up, as in Cassandra.
fn truncate(cluster: &Cluster, table: &TableName, keyspace: Option<&str>) -> Result<(), CqlError> {
    let ks = qualify(table, keyspace)?;
    let def = cluster.schema.read().table(ks, &table.name)?;
    let alive = cluster.faults.live_replicas().len();
    if alive < cluster.size() {
        return Err(CqlError::Unavailable {
            consistency: Consistency::All,
            required: cluster.size(),
            alive,
        });
    }
    cluster.on_every_replica(|r| r.clear(def.id));
    Ok(())
}

fn qualify<'a>(table: &'a TableName, keyspace: Option<&'a str>) -> Result<&'a str, CqlError> {
    table.keyspace.as_deref().or(keyspace).ok_or_else(|| {
        CqlError::invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    })
}
