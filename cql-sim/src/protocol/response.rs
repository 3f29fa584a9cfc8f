//! Response messages (spec section 4.2), encoded into frame bodies.

use std::collections::BTreeMap;

use super::wire::Writer;
use crate::error::CqlError;
use crate::types::CqlType;

const ERROR: u8 = 0x00;
const READY: u8 = 0x02;
const AUTHENTICATE: u8 = 0x03;
const SUPPORTED: u8 = 0x06;
const RESULT: u8 = 0x08;
const EVENT: u8 = 0x0C;
const AUTH_SUCCESS: u8 = 0x10;

const GLOBAL_TABLES_SPEC: i32 = 0x0001;
const HAS_MORE_PAGES: i32 = 0x0002;
const NO_METADATA: i32 = 0x0004;

/// A response to send.
#[derive(Debug)]
pub(crate) enum Response {
    Error(CqlError),
    Ready,
    Authenticate(&'static str),
    Supported(BTreeMap<&'static str, Vec<&'static str>>),
    Result(ResultBody),
    AuthSuccess,
    /// A SCHEMA_CHANGE event pushed to connections that registered for it.
    SchemaEvent(SchemaChange),
}

/// The body of a RESULT message (spec 4.2.5).
#[derive(Debug)]
pub(crate) enum ResultBody {
    Void,
    Rows(RowsPage),
    SetKeyspace(String),
    Prepared {
        id: Vec<u8>,
        bind: Vec<ColumnSpec>,
        pk_indexes: Vec<u16>,
        result: Vec<ColumnSpec>,
    },
    SchemaChange(SchemaChange),
}

/// What a schema change touched: `(change, keyspace, table)`; `table` is
/// `None` for a keyspace change.
#[derive(Clone, Debug)]
pub(crate) struct SchemaChange {
    pub(crate) change: &'static str,
    pub(crate) keyspace: String,
    pub(crate) table: Option<String>,
}

/// One page of rows with its column metadata.
#[derive(Debug, Default)]
pub(crate) struct RowsPage {
    pub(crate) columns: Vec<ColumnSpec>,
    pub(crate) rows: Vec<Vec<Option<Vec<u8>>>>,
    pub(crate) paging_state: Option<Vec<u8>>,
    /// The client asked to skip metadata.
    pub(crate) no_metadata: bool,
}

/// A result column or bind marker: where it comes from, its name and type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnSpec {
    pub(crate) keyspace: String,
    pub(crate) table: String,
    pub(crate) name: String,
    pub(crate) ty: CqlType,
}

impl Response {
    /// The opcode and body of this response.
    pub(crate) fn encode(&self) -> (u8, Vec<u8>) {
        let mut body = Vec::new();
        let opcode = match self {
            Response::Error(e) => {
                encode_error(e, &mut body);
                ERROR
            }
            Response::Ready => READY,
            Response::Authenticate(class) => {
                body.put_string(class);
                AUTHENTICATE
            }
            Response::Supported(options) => {
                body.put_short(u16::try_from(options.len()).unwrap_or(u16::MAX));
                for (key, values) in options {
                    body.put_string(key);
                    body.put_string_list(values);
                }
                SUPPORTED
            }
            Response::Result(result) => {
                encode_result(result, &mut body);
                RESULT
            }
            Response::AuthSuccess => {
                body.put_bytes(None);
                AUTH_SUCCESS
            }
            Response::SchemaEvent(change) => {
                body.put_string("SCHEMA_CHANGE");
                encode_schema_change(change, &mut body);
                EVENT
            }
        };
        (opcode, body)
    }
}

fn encode_error(e: &CqlError, out: &mut Vec<u8>) {
    out.put_int(e.code());
    out.put_string(&e.to_string());
    match e {
        CqlError::Unavailable {
            consistency,
            required,
            alive,
        } => {
            out.put_short(consistency.code());
            out.put_int(count(*required));
            out.put_int(count(*alive));
        }
        CqlError::WriteTimeout {
            consistency,
            received,
            blockfor,
            write_type,
        } => {
            out.put_short(consistency.code());
            out.put_int(count(*received));
            out.put_int(count(*blockfor));
            out.put_string(&write_type.to_string());
        }
        CqlError::ReadTimeout {
            consistency,
            received,
            blockfor,
            data_present,
        } => {
            out.put_short(consistency.code());
            out.put_int(count(*received));
            out.put_int(count(*blockfor));
            out.push(u8::from(*data_present));
        }
        CqlError::AlreadyExists {
            keyspace, table, ..
        } => {
            out.put_string(keyspace);
            out.put_string(table);
        }
        CqlError::Unprepared(id) => out.put_short_bytes(id),
        _ => {}
    }
}

/// Replica counts are tiny; saturate rather than fail on the impossible.
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn encode_result(result: &ResultBody, out: &mut Vec<u8>) {
    match result {
        ResultBody::Void => out.put_int(0x0001),
        ResultBody::Rows(page) => {
            out.put_int(0x0002);
            encode_rows(page, out);
        }
        ResultBody::SetKeyspace(keyspace) => {
            out.put_int(0x0003);
            out.put_string(keyspace);
        }
        ResultBody::Prepared {
            id,
            bind,
            pk_indexes,
            result,
        } => {
            out.put_int(0x0004);
            out.put_short_bytes(id);
            encode_bind_metadata(bind, pk_indexes, out);
            encode_metadata(result, None, result.is_empty(), out);
        }
        ResultBody::SchemaChange(change) => {
            out.put_int(0x0005);
            encode_schema_change(change, out);
        }
    }
}

fn encode_rows(page: &RowsPage, out: &mut Vec<u8>) {
    encode_metadata(
        &page.columns,
        page.paging_state.as_deref(),
        page.no_metadata,
        out,
    );
    out.put_int(count(page.rows.len()));
    for row in &page.rows {
        for cell in row {
            out.put_bytes(cell.as_deref());
        }
    }
}

/// `<flags><columns_count>[<paging_state>][<global_table_spec>?<col_spec_i>...]`
fn encode_metadata(
    columns: &[ColumnSpec],
    paging: Option<&[u8]>,
    no_metadata: bool,
    out: &mut Vec<u8>,
) {
    let global = global_table(columns);
    let mut flags = 0;
    if paging.is_some() {
        flags |= HAS_MORE_PAGES;
    }
    if no_metadata {
        flags |= NO_METADATA;
    } else if global.is_some() {
        flags |= GLOBAL_TABLES_SPEC;
    }
    out.put_int(flags);
    out.put_int(count(columns.len()));
    if let Some(state) = paging {
        out.put_bytes(Some(state));
    }
    if !no_metadata {
        encode_column_specs(columns, global, out);
    }
}

fn encode_bind_metadata(bind: &[ColumnSpec], pk_indexes: &[u16], out: &mut Vec<u8>) {
    let global = global_table(bind);
    out.put_int(if global.is_some() {
        GLOBAL_TABLES_SPEC
    } else {
        0
    });
    out.put_int(count(bind.len()));
    out.put_int(count(pk_indexes.len()));
    for index in pk_indexes {
        out.put_short(*index);
    }
    encode_column_specs(bind, global, out);
}

fn encode_column_specs(columns: &[ColumnSpec], global: Option<(&str, &str)>, out: &mut Vec<u8>) {
    if let Some((keyspace, table)) = global {
        out.put_string(keyspace);
        out.put_string(table);
    }
    for column in columns {
        if global.is_none() {
            out.put_string(&column.keyspace);
            out.put_string(&column.table);
        }
        out.put_string(&column.name);
        column.ty.write_option(out);
    }
}

/// The one keyspace and table all columns belong to, if there is one.
fn global_table(columns: &[ColumnSpec]) -> Option<(&str, &str)> {
    let first = columns.first()?;
    columns
        .iter()
        .all(|c| c.keyspace == first.keyspace && c.table == first.table)
        .then_some((first.keyspace.as_str(), first.table.as_str()))
}

fn encode_schema_change(change: &SchemaChange, out: &mut Vec<u8>) {
    out.put_string(change.change);
    match &change.table {
        None => {
            out.put_string("KEYSPACE");
            out.put_string(&change.keyspace);
        }
        Some(table) => {
            out.put_string("TABLE");
            out.put_string(&change.keyspace);
            out.put_string(table);
        }
    }
}
