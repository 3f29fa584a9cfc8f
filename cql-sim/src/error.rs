//! The errors a request can end in, one variant per protocol error code
//! (spec section 9), each carrying the body fields its code requires.

use crate::protocol::Consistency;

/// An error answered to the client as an ERROR message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CqlError {
    /// 0x0000: a bug in the simulator.
    #[error("server error: {0}")]
    Server(String),
    /// 0x000A: the client broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// 0x0100: wrong user name or password.
    #[error("bad credentials: {0}")]
    BadCredentials(String),
    /// 0x1000: too few replicas are up for the consistency level.
    #[error("Cannot achieve consistency level {consistency} (required {required}, alive {alive})")]
    Unavailable {
        /// The level asked for.
        consistency: Consistency,
        /// Replicas it needs.
        required: usize,
        /// Replicas up.
        alive: usize,
    },
    /// 0x1100: too few replicas acknowledged a write in time.
    #[error(
        "Operation timed out - received only {received} responses (blockfor {blockfor}, write type {write_type})"
    )]
    WriteTimeout {
        /// The level asked for.
        consistency: Consistency,
        /// Acknowledgements received.
        received: usize,
        /// Acknowledgements needed.
        blockfor: usize,
        /// `SIMPLE`, `BATCH`, `UNLOGGED_BATCH` or `CAS`.
        write_type: WriteType,
    },
    /// 0x1200: too few replicas answered a read in time.
    #[error("Operation timed out - received only {received} responses (blockfor {blockfor})")]
    ReadTimeout {
        /// The level asked for.
        consistency: Consistency,
        /// Answers received.
        received: usize,
        /// Answers needed.
        blockfor: usize,
        /// Whether the replica asked for data answered.
        data_present: bool,
    },
    /// 0x2000: the statement does not parse.
    #[error("{0}")]
    Syntax(String),
    /// 0x2200: the statement parses but is invalid.
    #[error("{0}")]
    Invalid(String),
    /// 0x2400: the keyspace or table already exists.
    #[error("{message}")]
    AlreadyExists {
        /// The human-readable message.
        message: String,
        /// The keyspace (of the table).
        keyspace: String,
        /// The table, empty for a keyspace.
        table: String,
    },
    /// 0x2500: the prepared id is unknown.
    #[error("Prepared query with ID {} not found", hex_id(.0))]
    Unprepared(Vec<u8>),
}

/// The kind of write a write timeout concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteType {
    /// A single non-batched write.
    Simple,
    /// A logged batch.
    Batch,
    /// An unlogged batch.
    UnloggedBatch,
    /// A Paxos (lightweight transaction) phase.
    Cas,
}

impl std::fmt::Display for WriteType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteType::Simple => "SIMPLE",
            WriteType::Batch => "BATCH",
            WriteType::UnloggedBatch => "UNLOGGED_BATCH",
            WriteType::Cas => "CAS",
        })
    }
}

impl CqlError {
    /// The protocol error code.
    pub fn code(&self) -> i32 {
        match self {
            CqlError::Server(_) => 0x0000,
            CqlError::Protocol(_) => 0x000A,
            CqlError::BadCredentials(_) => 0x0100,
            CqlError::Unavailable { .. } => 0x1000,
            CqlError::WriteTimeout { .. } => 0x1100,
            CqlError::ReadTimeout { .. } => 0x1200,
            CqlError::Syntax(_) => 0x2000,
            CqlError::Invalid(_) => 0x2200,
            CqlError::AlreadyExists { .. } => 0x2400,
            CqlError::Unprepared(_) => 0x2500,
        }
    }

    /// An `Invalid` error from anything printable.
    pub(crate) fn invalid(message: impl Into<String>) -> CqlError {
        CqlError::Invalid(message.into())
    }
}

fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<crate::protocol::ProtocolError> for CqlError {
    fn from(e: crate::protocol::ProtocolError) -> Self {
        CqlError::Protocol(e.0)
    }
}
