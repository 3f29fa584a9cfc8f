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
        Ok(match code {
            0x0000 => Any,
            0x0001 => One,
            0x0002 => Two,
            0x0003 => Three,
            0x0004 => Quorum,
            0x0005 => All,
            0x0006 => LocalQuorum,
            0x0007 => EachQuorum,
            0x0008 => Serial,
            0x0009 => LocalSerial,
            0x000A => LocalOne,
            _ => {
                return Err(ProtocolError(format!(
                    "unknown consistency level {code:#06x}"
                )));
            }
        })
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

#[cfg(test)]
mod consistency_tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself_and_others_are_refused() {
        for code in 0..=0x000A {
            assert_eq!(Consistency::from_code(code).unwrap().code(), code);
        }
        let err = Consistency::from_code(0x000B).unwrap_err();
        assert_eq!(err.0, "unknown consistency level 0x000b");
    }
}
