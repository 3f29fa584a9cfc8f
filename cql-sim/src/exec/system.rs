//! The `system` and `system_schema` tables the driver's control connection
//! reads, materialized from the cluster's schema at each query so they go
//! through the ordinary SELECT machinery (selection, WHERE, paging).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use crate::cluster::Cluster;
use crate::error::CqlError;
use crate::ring::{Member, NodeInfo};
use crate::schema::{ColumnKind, KeyspaceDef, SYSTEM_KEYSPACES, TableDef};
use crate::store::{Cell, Partition, PartitionKey, Row};
use crate::types::{CqlType, Value};

type Columns = &'static [(&'static str, fn() -> CqlType)];

fn text() -> CqlType {
    CqlType::Text
}
fn int() -> CqlType {
    CqlType::Int
}
fn uuid() -> CqlType {
    CqlType::Uuid
}
fn inet() -> CqlType {
    CqlType::Inet
}
fn boolean() -> CqlType {
    CqlType::Boolean
}
fn double() -> CqlType {
    CqlType::Double
}
fn blob() -> CqlType {
    CqlType::Blob
}
fn text_set() -> CqlType {
    CqlType::Set(Box::new(CqlType::Text))
}
fn text_list() -> CqlType {
    CqlType::List(Box::new(CqlType::Text))
}
fn text_map() -> CqlType {
    CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Text))
}
fn blob_map() -> CqlType {
    CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Blob))
}

/// `(keyspace, table, partition key, clustering, other columns)`.
const TABLES: &[(&str, &str, Columns, Columns, Columns)] = &[
    (
        "system",
        "local",
        &[("key", text)],
        &[],
        &[
            ("bootstrapped", text),
            ("broadcast_address", inet),
            ("cluster_name", text),
            ("cql_version", text),
            ("data_center", text),
            ("host_id", uuid),
            ("listen_address", inet),
            ("native_protocol_version", text),
            ("partitioner", text),
            ("rack", text),
            ("release_version", text),
            ("rpc_address", inet),
            ("rpc_port", int),
            ("schema_version", uuid),
            ("tokens", text_set),
        ],
    ),
    (
        "system",
        "peers",
        &[("peer", inet)],
        &[],
        &[
            ("data_center", text),
            ("host_id", uuid),
            ("preferred_ip", inet),
            ("rack", text),
            ("release_version", text),
            ("rpc_address", inet),
            ("schema_version", uuid),
            ("tokens", text_set),
        ],
    ),
    (
        "system",
        "peers_v2",
        &[("peer", inet)],
        &[("peer_port", int)],
        &[
            ("data_center", text),
            ("host_id", uuid),
            ("native_address", inet),
            ("native_port", int),
            ("preferred_ip", inet),
            ("preferred_port", int),
            ("rack", text),
            ("release_version", text),
            ("schema_version", uuid),
            ("tokens", text_set),
        ],
    ),
    (
        "system_schema",
        "keyspaces",
        &[("keyspace_name", text)],
        &[],
        &[("durable_writes", boolean), ("replication", text_map)],
    ),
    (
        "system_schema",
        "tables",
        &[("keyspace_name", text)],
        &[("table_name", text)],
        &[
            ("bloom_filter_fp_chance", double),
            ("caching", text_map),
            ("comment", text),
            ("compaction", text_map),
            ("compression", text_map),
            ("crc_check_chance", double),
            ("default_time_to_live", int),
            ("extensions", blob_map),
            ("flags", text_set),
            ("gc_grace_seconds", int),
            ("id", uuid),
            ("max_index_interval", int),
            ("memtable_flush_period_in_ms", int),
            ("min_index_interval", int),
            ("speculative_retry", text),
        ],
    ),
    (
        "system_schema",
        "columns",
        &[("keyspace_name", text)],
        &[("table_name", text), ("column_name", text)],
        &[
            ("clustering_order", text),
            ("column_name_bytes", blob),
            ("kind", text),
            ("position", int),
            ("type", text),
        ],
    ),
    (
        "system_schema",
        "types",
        &[("keyspace_name", text)],
        &[("type_name", text)],
        &[("field_names", text_list), ("field_types", text_list)],
    ),
    (
        "system_schema",
        "views",
        &[("keyspace_name", text)],
        &[("view_name", text)],
        &[
            ("base_table_id", uuid),
            ("base_table_name", text),
            ("include_all_columns", boolean),
            ("where_clause", text),
            ("id", uuid),
        ],
    ),
    (
        "system_schema",
        "indexes",
        &[("keyspace_name", text)],
        &[("table_name", text), ("index_name", text)],
        &[("kind", text), ("options", text_map)],
    ),
    (
        "system_schema",
        "triggers",
        &[("keyspace_name", text)],
        &[("table_name", text), ("trigger_name", text)],
        &[("options", text_map)],
    ),
    (
        "system_schema",
        "functions",
        &[("keyspace_name", text)],
        &[("function_name", text), ("argument_types", text_list)],
        &[
            ("argument_names", text_list),
            ("body", text),
            ("called_on_null_input", boolean),
            ("language", text),
            ("return_type", text),
        ],
    ),
    (
        "system_schema",
        "aggregates",
        &[("keyspace_name", text)],
        &[("aggregate_name", text), ("argument_types", text_list)],
        &[
            ("final_func", text),
            ("initcond", text),
            ("return_type", text),
            ("state_func", text),
            ("state_type", text),
        ],
    ),
];

static SYSTEM_TABLES: LazyLock<Vec<Arc<TableDef>>> =
    LazyLock::new(|| TABLES.iter().map(define).collect());

fn define(
    (keyspace, name, pk, ck, regular): &(&str, &str, Columns, Columns, Columns),
) -> Arc<TableDef> {
    let mut columns = Vec::new();
    for (group, kind) in [
        (*pk, ColumnKind::PartitionKey),
        (*ck, ColumnKind::Clustering),
        (*regular, ColumnKind::Regular),
    ] {
        for (column, ty) in group {
            columns.push(crate::schema::ColumnDef {
                name: (*column).into(),
                ty: ty(),
                kind,
            });
        }
    }
    Arc::new(TableDef {
        id: crate::token::digest(format!("{keyspace}.{name}").as_bytes()),
        keyspace: (*keyspace).into(),
        name: (*name).into(),
        columns,
        partition_key: (0..pk.len()).collect(),
        clustering: (pk.len()..pk.len() + ck.len()).collect(),
    })
}

/// A system table by name: `None` for user keyspaces, an error for unknown
/// system tables (ScyllaDB's own tables among them, as on Cassandra).
pub(crate) fn table(keyspace: &str, name: &str) -> Option<Result<Arc<TableDef>, CqlError>> {
    if !SYSTEM_KEYSPACES.contains(&keyspace) {
        return None;
    }
    let found = SYSTEM_TABLES
        .iter()
        .find(|t| t.keyspace == keyspace && t.name == name)
        .cloned();
    Some(found.ok_or_else(|| CqlError::invalid(format!("unconfigured table {name}"))))
}

/// The rows of a system table, or `None` for a user table.
pub(crate) fn materialize(
    node: &NodeInfo,
    cluster: &Cluster,
    table: &TableDef,
) -> Option<BTreeMap<PartitionKey, Partition>> {
    if !SYSTEM_KEYSPACES.contains(&table.keyspace.as_str()) {
        return None;
    }
    let schema = cluster.schema.read();
    let mut keyspaces: Vec<KeyspaceDef> = SYSTEM_KEYSPACES
        .iter()
        .map(|ks| system_keyspace(ks))
        .collect();
    keyspaces.extend(schema.keyspaces.values().cloned());
    let rows = match table.name.as_str() {
        "local" => vec![local_row(node, schema.version)],
        "peers" => node
            .peers()
            .map(|peer| peer_row(peer, schema.version))
            .collect(),
        "peers_v2" => node
            .peers()
            .map(|peer| peer_v2_row(peer, schema.version))
            .collect(),
        "keyspaces" => keyspaces.iter().map(keyspace_row).collect(),
        "tables" => keyspaces
            .iter()
            .flat_map(|ks| ks.tables.values())
            .map(|t| table_row(t))
            .collect(),
        "columns" => keyspaces
            .iter()
            .flat_map(|ks| ks.tables.values())
            .flat_map(|t| column_rows(t))
            .collect(),
        _ => Vec::new(),
    };
    Some(to_partitions(table, rows))
}

type SystemRow = Vec<(&'static str, Value)>;

fn text_value(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn local_row(node: &NodeInfo, schema_version: [u8; 16]) -> SystemRow {
    let me = node.me();
    let ip: IpAddr = me.address.ip();
    vec![
        ("key", text_value("local")),
        ("bootstrapped", text_value("COMPLETED")),
        ("broadcast_address", Value::Inet(ip)),
        ("cluster_name", text_value("cql-sim")),
        ("cql_version", text_value("3.4.5")),
        ("data_center", text_value("datacenter1")),
        ("host_id", Value::Uuid(me.host_id)),
        ("listen_address", Value::Inet(ip)),
        ("native_protocol_version", text_value("4")),
        (
            "partitioner",
            text_value("org.apache.cassandra.dht.Murmur3Partitioner"),
        ),
        ("rack", text_value("rack1")),
        ("release_version", text_value("4.0.11")),
        ("rpc_address", Value::Inet(ip)),
        ("rpc_port", Value::Int(i32::from(me.address.port()))),
        ("schema_version", Value::Uuid(schema_version)),
        (
            "tokens",
            Value::Set([text_value(&me.token.to_string())].into()),
        ),
    ]
}

/// Another node as Cassandra 4's `system.peers` lists it.
fn peer_row(peer: &Member, schema_version: [u8; 16]) -> SystemRow {
    let ip: IpAddr = peer.address.ip();
    vec![
        ("peer", Value::Inet(ip)),
        ("data_center", text_value("datacenter1")),
        ("host_id", Value::Uuid(peer.host_id)),
        ("preferred_ip", Value::Inet(ip)),
        ("rack", text_value("rack1")),
        ("release_version", text_value("4.0.11")),
        ("rpc_address", Value::Inet(ip)),
        ("schema_version", Value::Uuid(schema_version)),
        (
            "tokens",
            Value::Set([text_value(&peer.token.to_string())].into()),
        ),
    ]
}

/// Another node as Cassandra 4's `system.peers_v2` lists it (with ports,
/// which drivers for Cassandra 4 read first).
fn peer_v2_row(peer: &Member, schema_version: [u8; 16]) -> SystemRow {
    let ip: IpAddr = peer.address.ip();
    let port = Value::Int(i32::from(peer.address.port()));
    vec![
        ("peer", Value::Inet(ip)),
        ("peer_port", Value::Int(7000)),
        ("data_center", text_value("datacenter1")),
        ("host_id", Value::Uuid(peer.host_id)),
        ("native_address", Value::Inet(ip)),
        ("native_port", port),
        ("preferred_ip", Value::Inet(ip)),
        ("preferred_port", Value::Int(7000)),
        ("rack", text_value("rack1")),
        ("release_version", text_value("4.0.11")),
        ("schema_version", Value::Uuid(schema_version)),
        (
            "tokens",
            Value::Set([text_value(&peer.token.to_string())].into()),
        ),
    ]
}

fn system_keyspace(name: &str) -> KeyspaceDef {
    let tables = SYSTEM_TABLES
        .iter()
        .filter(|t| t.keyspace == name)
        .map(|t| (t.name.clone(), Arc::clone(t)))
        .collect();
    let replication = BTreeMap::from([(
        "class".to_owned(),
        "org.apache.cassandra.locator.LocalStrategy".to_owned(),
    )]);
    KeyspaceDef {
        name: name.into(),
        replication,
        durable_writes: true,
        tables,
    }
}

fn keyspace_row(ks: &KeyspaceDef) -> SystemRow {
    let replication = ks
        .replication
        .iter()
        .map(|(k, v)| {
            let v = if k == "class" && !v.contains('.') {
                format!("org.apache.cassandra.locator.{v}")
            } else {
                v.clone()
            };
            (text_value(k), Value::Text(v))
        })
        .collect();
    vec![
        ("keyspace_name", text_value(&ks.name)),
        ("durable_writes", Value::Boolean(ks.durable_writes)),
        ("replication", Value::Map(replication)),
    ]
}

fn table_row(table: &TableDef) -> SystemRow {
    vec![
        ("keyspace_name", text_value(&table.keyspace)),
        ("table_name", text_value(&table.name)),
        ("comment", text_value("")),
        ("default_time_to_live", Value::Int(0)),
        ("flags", Value::Set([text_value("compound")].into())),
        ("gc_grace_seconds", Value::Int(864_000)),
        ("id", Value::Uuid(table.id)),
    ]
}

fn column_rows(table: &TableDef) -> Vec<SystemRow> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let (kind, position, order) = match column.kind {
                ColumnKind::PartitionKey => (
                    "partition_key",
                    table.partition_key.iter().position(|c| *c == index),
                    "none",
                ),
                ColumnKind::Clustering => (
                    "clustering",
                    table.clustering.iter().position(|c| *c == index),
                    "asc",
                ),
                ColumnKind::Regular => ("regular", None, "none"),
            };
            vec![
                ("keyspace_name", text_value(&table.keyspace)),
                ("table_name", text_value(&table.name)),
                ("column_name", text_value(&column.name)),
                ("clustering_order", text_value(order)),
                (
                    "column_name_bytes",
                    Value::Blob(column.name.as_bytes().to_vec()),
                ),
                ("kind", text_value(kind)),
                (
                    "position",
                    Value::Int(position.map_or(-1, |p| i32::try_from(p).unwrap_or(-1))),
                ),
                ("type", Value::Text(column.ty.to_string())),
            ]
        })
        .collect()
}

fn to_partitions(table: &TableDef, rows: Vec<SystemRow>) -> BTreeMap<PartitionKey, Partition> {
    let mut partitions: BTreeMap<PartitionKey, Partition> = BTreeMap::new();
    for row in rows {
        let value_of = |column: usize| {
            let name = &table.columns[column].name;
            row.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        let key: Option<Vec<Value>> = table.partition_key.iter().map(|c| value_of(*c)).collect();
        let clustering: Option<Vec<Value>> =
            table.clustering.iter().map(|c| value_of(*c)).collect();
        let (Some(key), Some(clustering)) = (key, clustering) else {
            continue;
        };
        let cell = |value| Cell {
            written: 0,
            value: Some(value),
            expires: None,
        };
        let cells = (0..table.columns.len())
            .filter(|c| !table.is_key(*c))
            .filter_map(|c| value_of(c).map(|v| (c, cell(v))))
            .collect();
        let row = Row {
            marker: Some(cell(Value::Boolean(true))),
            deleted: None,
            cells,
        };
        partitions
            .entry(PartitionKey::new(key))
            .or_default()
            .rows
            .insert(clustering, row);
    }
    partitions
}
