//! Request messages (spec section 4.1), decoded from frames.

use std::collections::HashMap;

use super::wire::{BoundValue, Reader};
use super::{Consistency, Frame, ProtocolError};

const STARTUP: u8 = 0x01;
const OPTIONS: u8 = 0x05;
const QUERY: u8 = 0x07;
const PREPARE: u8 = 0x09;
const EXECUTE: u8 = 0x0A;
const REGISTER: u8 = 0x0B;
const BATCH: u8 = 0x0D;
const AUTH_RESPONSE: u8 = 0x0F;

const FLAG_VALUES: u8 = 0x01;
const FLAG_SKIP_METADATA: u8 = 0x02;
const FLAG_PAGE_SIZE: u8 = 0x04;
const FLAG_PAGING_STATE: u8 = 0x08;
const FLAG_SERIAL: u8 = 0x10;
const FLAG_TIMESTAMP: u8 = 0x20;
const FLAG_NAMES: u8 = 0x40;

/// A decoded request.
#[derive(Debug)]
pub(crate) enum Request {
    Startup(HashMap<String, String>),
    AuthResponse(Option<Vec<u8>>),
    Options,
    Query { query: String, params: QueryParams },
    Prepare { query: String },
    Execute { id: Vec<u8>, params: QueryParams },
    Batch(BatchRequest),
    Register(Vec<String>),
}

/// `<query_parameters>` of QUERY and EXECUTE (spec 4.1.4).
#[derive(Debug, Clone)]
pub(crate) struct QueryParams {
    pub(crate) consistency: Consistency,
    pub(crate) values: Vec<BoundValue>,
    /// Marker names when the client bound values by name.
    pub(crate) names: Option<Vec<String>>,
    pub(crate) skip_metadata: bool,
    pub(crate) page_size: Option<i32>,
    pub(crate) paging_state: Option<Vec<u8>>,
    pub(crate) serial_consistency: Option<Consistency>,
    pub(crate) timestamp: Option<i64>,
}

/// A BATCH request (spec 4.1.7).
#[derive(Debug)]
pub(crate) struct BatchRequest {
    /// 0 logged, 1 unlogged, 2 counter.
    pub(crate) kind: u8,
    pub(crate) statements: Vec<BatchStatement>,
    pub(crate) consistency: Consistency,
    pub(crate) serial_consistency: Option<Consistency>,
    pub(crate) timestamp: Option<i64>,
}

/// One statement of a batch with its values.
#[derive(Debug)]
pub(crate) struct BatchStatement {
    pub(crate) statement: StatementRef,
    pub(crate) values: Vec<BoundValue>,
}

/// A batch statement is given as query text or as a prepared id.
#[derive(Debug)]
pub(crate) enum StatementRef {
    Text(String),
    Prepared(Vec<u8>),
}

impl Request {
    /// Decodes the request a frame carries.
    pub(crate) fn decode(frame: &Frame) -> Result<Request, ProtocolError> {
        let mut r = Reader::new(&frame.body);
        if frame.has_custom_payload() {
            r.skip_bytes_map()?;
        }
        let request = match frame.opcode {
            STARTUP => Request::Startup(r.string_map("STARTUP options")?),
            AUTH_RESPONSE => Request::AuthResponse(r.bytes("auth token")?),
            OPTIONS => Request::Options,
            QUERY => Request::Query {
                query: r.long_string("query string")?,
                params: QueryParams::read(&mut r)?,
            },
            PREPARE => Request::Prepare {
                query: r.long_string("query string")?,
            },
            EXECUTE => Request::Execute {
                id: r.short_bytes("prepared id")?,
                params: QueryParams::read(&mut r)?,
            },
            BATCH => Request::Batch(BatchRequest::read(&mut r)?),
            REGISTER => Request::Register(r.string_list("event types")?),
            other => {
                return Err(ProtocolError(format!(
                    "unknown or unexpected request opcode {other:#04x}"
                )));
            }
        };
        Ok(request)
    }
}

impl QueryParams {
    fn read(r: &mut Reader<'_>) -> Result<QueryParams, ProtocolError> {
        let consistency = Consistency::from_code(r.short("consistency")?)?;
        let flags = r.byte("query flags")?;
        let named = flags & FLAG_NAMES != 0;
        let (values, names) = if flags & FLAG_VALUES != 0 {
            read_values(r, named)?
        } else {
            (Vec::new(), None)
        };
        let page_size = flag(flags, FLAG_PAGE_SIZE, || r.int("page size"))?;
        let paging_state = flag(flags, FLAG_PAGING_STATE, || r.bytes("paging state"))?.flatten();
        let serial_consistency = flag(flags, FLAG_SERIAL, || read_serial(r))?;
        let timestamp = flag(flags, FLAG_TIMESTAMP, || r.long("default timestamp"))?;
        Ok(QueryParams {
            consistency,
            values,
            names,
            skip_metadata: flags & FLAG_SKIP_METADATA != 0,
            page_size: page_size.filter(|size| *size > 0),
            paging_state,
            serial_consistency,
            timestamp,
        })
    }
}

impl BatchRequest {
    fn read(r: &mut Reader<'_>) -> Result<BatchRequest, ProtocolError> {
        let kind = r.byte("batch type")?;
        if kind > 2 {
            return Err(ProtocolError(format!("unknown batch type {kind}")));
        }
        let count = r.short("batch statement count")?;
        let mut raw = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            raw.push(read_batch_entry(r)?);
        }
        let consistency = Consistency::from_code(r.short("consistency")?)?;
        let flags = r.byte("batch flags")?;
        if flags & FLAG_NAMES != 0 {
            return Err(ProtocolError(
                "named values in BATCH are not supported by protocol v4".into(),
            ));
        }
        let serial_consistency = flag(flags, FLAG_SERIAL, || read_serial(r))?;
        let timestamp = flag(flags, FLAG_TIMESTAMP, || r.long("default timestamp"))?;
        Ok(BatchRequest {
            kind,
            statements: raw,
            consistency,
            serial_consistency,
            timestamp,
        })
    }
}

fn read_batch_entry(r: &mut Reader<'_>) -> Result<BatchStatement, ProtocolError> {
    let statement = match r.byte("batch statement kind")? {
        0 => StatementRef::Text(r.long_string("batch query string")?),
        1 => StatementRef::Prepared(r.short_bytes("batch prepared id")?),
        other => {
            return Err(ProtocolError(format!(
                "unknown batch statement kind {other}"
            )));
        }
    };
    let count = r.short("batch value count")?;
    let values = (0..count)
        .map(|_| r.value("batch value"))
        .collect::<Result<_, _>>()?;
    Ok(BatchStatement { statement, values })
}

fn read_values(
    r: &mut Reader<'_>,
    named: bool,
) -> Result<(Vec<BoundValue>, Option<Vec<String>>), ProtocolError> {
    let count = r.short("value count")?;
    let mut values = Vec::with_capacity(usize::from(count));
    let mut names = Vec::new();
    for _ in 0..count {
        if named {
            names.push(r.string("value name")?);
        }
        values.push(r.value("bound value")?);
    }
    Ok((values, named.then_some(names)))
}

fn read_serial(r: &mut Reader<'_>) -> Result<Consistency, ProtocolError> {
    let level = Consistency::from_code(r.short("serial consistency")?)?;
    if !level.is_serial() {
        return Err(ProtocolError(format!(
            "serial consistency must be SERIAL or LOCAL_SERIAL, got {level}"
        )));
    }
    Ok(level)
}

fn flag<T>(
    flags: u8,
    mask: u8,
    read: impl FnOnce() -> Result<T, ProtocolError>,
) -> Result<Option<T>, ProtocolError> {
    if flags & mask != 0 {
        read().map(Some)
    } else {
        Ok(None)
    }
}
