//! The CQL native protocol v4: frames, primitive notations, requests and
//! responses (apache/cassandra `doc/native_protocol_v4.spec`).

mod frame;
mod request;
mod response;
mod wire;

pub(crate) use frame::{Frame, ReadError, read_frame, write_frame};
pub(crate) use request::{BatchStatement, QueryParams, Request, StatementRef};
pub(crate) use response::{ColumnSpec, Response, ResultBody, RowsPage, SchemaChange};
pub(crate) use wire::BoundValue;

/// A violation of the protocol by the client (answered with error 0x000A).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

/// A consistency level (spec section 3, `[consistency]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// `ANY` (treated as ONE).
    Any,
    /// `ONE`.
    One,
    /// `TWO`.
    Two,
    /// `THREE`.
    Three,
    /// `QUORUM`.
    Quorum,
    /// `ALL`.
    All,
    /// `LOCAL_QUORUM` (one data centre, so QUORUM).
    LocalQuorum,
    /// `EACH_QUORUM` (one data centre, so QUORUM).
    EachQuorum,
    /// `SERIAL`.
    Serial,
    /// `LOCAL_SERIAL` (one data centre, so SERIAL).
    LocalSerial,
    /// `LOCAL_ONE` (one data centre, so ONE).
    LocalOne,
}

impl Consistency {
    /// The consistency for a protocol code.
    pub(crate) fn from_code(code: u16) -> Result<Consistency, ProtocolError> {
        use Consistency::*;
        let levels = [
            Any,
            One,
            Two,
            Three,
            Quorum,
            All,
            LocalQuorum,
            EachQuorum,
            Serial,
            LocalSerial,
            LocalOne,
        ];
        levels
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| ProtocolError(format!("unknown consistency level {code:#06x}")))
    }

    /// The protocol code of this level.
    pub(crate) fn code(self) -> u16 {
        self as u16
    }

    /// Whether this is SERIAL or LOCAL_SERIAL.
    pub fn is_serial(self) -> bool {
        matches!(self, Consistency::Serial | Consistency::LocalSerial)
    }

    /// How many of `replicas` must answer to satisfy this level.
    pub fn required(self, replicas: usize) -> usize {
        let quorum = replicas / 2 + 1;
        match self {
            Consistency::Any | Consistency::One | Consistency::LocalOne => 1,
            Consistency::Two => 2,
            Consistency::Three => 3,
            Consistency::All => replicas,
            Consistency::Quorum
            | Consistency::LocalQuorum
            | Consistency::EachQuorum
            | Consistency::Serial
            | Consistency::LocalSerial => quorum,
        }
    }
}

impl std::fmt::Display for Consistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Consistency::Any => "ANY",
            Consistency::One => "ONE",
            Consistency::Two => "TWO",
            Consistency::Three => "THREE",
            Consistency::Quorum => "QUORUM",
            Consistency::All => "ALL",
            Consistency::LocalQuorum => "LOCAL_QUORUM",
            Consistency::EachQuorum => "EACH_QUORUM",
            Consistency::Serial => "SERIAL",
            Consistency::LocalSerial => "LOCAL_SERIAL",
            Consistency::LocalOne => "LOCAL_ONE",
        };
        f.write_str(name)
    }
}
