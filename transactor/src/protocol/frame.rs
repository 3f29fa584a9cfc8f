//! The frames of the protocol and their bytes (PROTOCOL.md is the
//! reference; this file follows it field by field).

use access::Secret;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use model::TxLog;
use uuid::Uuid;

use super::PROTOCOL_VERSION;
use crate::error::{Error, ErrorKind, Result};
use crate::txid::TxStatus;

/// The bytes every HELLO starts with.
pub const MAGIC: &[u8; 4] = b"ACRT";

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Client → server, first frame: the versions the client speaks, its
    /// credentials, and exactly which database it means (a name alone is
    /// not enough: two storages may each hold a database of that name).
    /// The server authenticates before it looks at the database.
    Hello {
        /// Lowest protocol version the client speaks.
        min_version: u16,
        /// Highest protocol version the client speaks.
        max_version: u16,
        /// The client's token (`acrt_…`), if it authenticates by token
        /// (empty text on the wire when not). Never printed.
        token: Option<Secret>,
        /// The database name.
        db: String,
        /// The database's catalog id, as the client read it from storage.
        db_id: Uuid,
        /// The lease epoch the client read from storage.
        epoch: u64,
    },
    /// Server → client, answer to HELLO.
    Welcome {
        /// The version both sides speak from now on.
        version: u16,
        /// The epoch of the serving transactor.
        epoch: u64,
        /// The t of the last committed transaction.
        basis_t: u64,
    },
    /// Client → server: commit this transaction (EDN text of a vector of
    /// forms).
    Transact {
        /// Chosen by the client, unique on the connection.
        id: u64,
        /// The tx data.
        tx: String,
        /// The transaction's id (`:tx/id`), if it has one: a resubmitted
        /// id commits nothing and is answered with the first commit.
        /// Encoded as 16 trailing bytes when present.
        tx_id: Option<Uuid>,
    },
    /// Client → server: what became of transaction `tx_id`.
    TxStatus {
        /// Chosen by the client, unique on the connection.
        id: u64,
        /// The transaction's id.
        tx_id: Uuid,
    },
    /// Server → client: answer to TX_STATUS.
    TxStatusReply {
        /// The TX_STATUS's id.
        id: u64,
        /// The answer.
        status: TxStatus,
    },
    /// Client → server: send every committed transaction with t ≥ `from_t`,
    /// the ones already committed first, then each new one.
    Subscribe {
        /// Chosen by the client, unique on the connection.
        id: u64,
        /// The first t wanted.
        from_t: u64,
    },
    /// Client → server: end the subscription `id`.
    Unsubscribe {
        /// The subscription's id.
        id: u64,
    },
    /// Client → server: the transactor's latest t and epoch.
    Status {
        /// Chosen by the client, unique on the connection.
        id: u64,
    },
    /// Server → client: the transaction `id` committed.
    Committed {
        /// The TRANSACT's id.
        id: u64,
        /// The log entry: t and datoms.
        entry: TxLog,
        /// How tempids resolved.
        tempids: Vec<(String, u64)>,
    },
    /// Server → client: one committed transaction of subscription `id`.
    Tx {
        /// The SUBSCRIBE's id.
        id: u64,
        /// The log entry.
        entry: TxLog,
    },
    /// Server → client: answer to STATUS.
    StatusReply {
        /// The STATUS's id.
        id: u64,
        /// The t of the last committed transaction.
        basis_t: u64,
        /// The epoch of the serving transactor.
        epoch: u64,
    },
    /// Server → client: request `id` failed (0: the connection as a whole).
    /// Ends a subscription.
    Failed {
        /// The failed request's id.
        id: u64,
        /// What the failure means.
        kind: ErrorKind,
        /// For a refused transaction, the `:db.error/...` keyword; else empty.
        tx_code: String,
        /// What happened.
        message: String,
    },
}

const HELLO: u8 = 0x01;
const WELCOME: u8 = 0x02;
const TRANSACT: u8 = 0x10;
const SUBSCRIBE: u8 = 0x11;
const UNSUBSCRIBE: u8 = 0x12;
const STATUS: u8 = 0x13;
const TX_STATUS: u8 = 0x14;
const COMMITTED: u8 = 0x20;
const TX: u8 = 0x21;
const STATUS_REPLY: u8 = 0x22;
const TX_STATUS_REPLY: u8 = 0x23;
const FAILED: u8 = 0x2F;

impl Frame {
    /// The frame's body (what goes inside the length prefix).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Hello {
                min_version,
                max_version,
                token,
                db,
                db_id,
                epoch,
            } => {
                out.put_u8(HELLO);
                out.put_slice(MAGIC);
                out.put_u16(*min_version);
                out.put_u16(*max_version);
                put_text(out, token.as_ref().map_or("", Secret::expose));
                put_text(out, db);
                out.put_slice(db_id.as_bytes());
                out.put_u64(*epoch);
            }
            Frame::Welcome {
                version,
                epoch,
                basis_t,
            } => {
                out.put_u8(WELCOME);
                out.put_u16(*version);
                out.put_u64(*epoch);
                out.put_u64(*basis_t);
            }
            Frame::Transact { id, tx, tx_id } => {
                out.put_u8(TRANSACT);
                out.put_u64(*id);
                put_text(out, tx);
                if let Some(tx_id) = tx_id {
                    out.put_slice(tx_id.as_bytes());
                }
            }
            Frame::TxStatus { id, tx_id } => {
                out.put_u8(TX_STATUS);
                out.put_u64(*id);
                out.put_slice(tx_id.as_bytes());
            }
            Frame::TxStatusReply { id, status } => {
                out.put_u8(TX_STATUS_REPLY);
                out.put_u64(*id);
                let (code, t, detail) = match status {
                    TxStatus::Committed { t } => (1, *t, ""),
                    TxStatus::NotCommitted => (2, 0, ""),
                    TxStatus::Unknown(why) => (3, 0, why.as_str()),
                };
                out.put_u8(code);
                out.put_u64(t);
                put_text(out, detail);
            }
            Frame::Subscribe { id, from_t } => {
                out.put_u8(SUBSCRIBE);
                out.put_u64(*id);
                out.put_u64(*from_t);
            }
            Frame::Unsubscribe { id } => {
                out.put_u8(UNSUBSCRIBE);
                out.put_u64(*id);
            }
            Frame::Status { id } => {
                out.put_u8(STATUS);
                out.put_u64(*id);
            }
            Frame::Committed { id, entry, tempids } => {
                out.put_u8(COMMITTED);
                out.put_u64(*id);
                put_entry(out, entry);
                out.put_u32(tempids.len() as u32);
                for (tempid, e) in tempids {
                    put_text(out, tempid);
                    out.put_u64(*e);
                }
            }
            Frame::Tx { id, entry } => {
                out.put_u8(TX);
                out.put_u64(*id);
                put_entry(out, entry);
            }
            Frame::StatusReply { id, basis_t, epoch } => {
                out.put_u8(STATUS_REPLY);
                out.put_u64(*id);
                out.put_u64(*basis_t);
                out.put_u64(*epoch);
            }
            Frame::Failed {
                id,
                kind,
                tx_code,
                message,
            } => {
                out.put_u8(FAILED);
                out.put_u64(*id);
                let code = crate::error::protocol_code(*kind);
                out.put_u8(code);
                put_text(out, tx_code);
                // A kind sent as a nearby one keeps its name in the text.
                match crate::error::kind_of_protocol_code(code) == Some(*kind) {
                    true => put_text(out, message),
                    false => put_text(out, &format!("{kind}: {message}")),
                }
            }
        }
    }

    /// Reads one frame's body.
    pub fn decode(body: Bytes) -> Result<Frame> {
        let mut r = Reader(body);
        let frame = match r.u8()? {
            HELLO => r.hello()?,
            WELCOME => Frame::Welcome {
                version: r.u16()?,
                epoch: r.u64()?,
                basis_t: r.u64()?,
            },
            TRANSACT => Frame::Transact {
                id: r.u64()?,
                tx: r.text()?,
                tx_id: match r.0.has_remaining() {
                    true => Some(r.uuid()?),
                    false => None,
                },
            },
            TX_STATUS => Frame::TxStatus {
                id: r.u64()?,
                tx_id: r.uuid()?,
            },
            TX_STATUS_REPLY => Frame::TxStatusReply {
                id: r.u64()?,
                status: r.tx_status()?,
            },
            SUBSCRIBE => Frame::Subscribe {
                id: r.u64()?,
                from_t: r.u64()?,
            },
            UNSUBSCRIBE => Frame::Unsubscribe { id: r.u64()? },
            STATUS => Frame::Status { id: r.u64()? },
            COMMITTED => Frame::Committed {
                id: r.u64()?,
                entry: r.entry()?,
                tempids: r.tempids()?,
            },
            TX => Frame::Tx {
                id: r.u64()?,
                entry: r.entry()?,
            },
            STATUS_REPLY => Frame::StatusReply {
                id: r.u64()?,
                basis_t: r.u64()?,
                epoch: r.u64()?,
            },
            FAILED => Frame::Failed {
                id: r.u64()?,
                kind: r.kind()?,
                tx_code: r.text()?,
                message: r.text()?,
            },
            other => return Err(Error::protocol(format!("unknown frame type 0x{other:02x}"))),
        };
        if r.0.has_remaining() {
            return Err(Error::protocol(format!(
                "{} trailing bytes after a frame",
                r.0.remaining()
            )));
        }
        Ok(frame)
    }
}

fn put_text(out: &mut BytesMut, text: &str) {
    // Frames are at most MAX_FRAME_BYTES (16 MiB), so lengths fit in u32.
    out.put_u32(text.len() as u32);
    out.put_slice(text.as_bytes());
}

fn put_entry(out: &mut BytesMut, entry: &TxLog) {
    let bytes = model::codec::encode_tx_log(entry);
    out.put_u32(bytes.len() as u32);
    out.put_slice(&bytes);
}

/// Reads fields off a frame body, failing with a protocol error when short.
struct Reader(Bytes);

impl Reader {
    /// HELLO's fields. The HELLO of a client that cannot speak this
    /// version (1 and 2 laid their fields out otherwise) is refused by its
    /// versions, before any other field is read.
    fn hello(&mut self) -> Result<Frame> {
        if self.take(4)?.as_ref() != MAGIC {
            return Err(Error::protocol(
                "HELLO without the ACRT magic: not an accrete client",
            ));
        }
        let (min_version, max_version) = (self.u16()?, self.u16()?);
        if max_version < PROTOCOL_VERSION {
            return Err(Error::protocol(format!(
                "the client speaks versions {min_version}..={max_version}, this transactor speaks {PROTOCOL_VERSION} (which authenticates the client in the HELLO): upgrade the client"
            )));
        }
        let token = self.text()?;
        Ok(Frame::Hello {
            min_version,
            max_version,
            token: (!token.is_empty()).then(|| Secret::new(token)),
            db: self.text()?,
            db_id: self.uuid()?,
            epoch: self.u64()?,
        })
    }

    fn need(&self, n: usize) -> Result<()> {
        match self.0.remaining() >= n {
            true => Ok(()),
            false => Err(Error::protocol("frame ends in the middle of a field")),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self) -> Result<u16> {
        self.need(2)?;
        Ok(self.0.get_u16())
    }

    fn u64(&mut self) -> Result<u64> {
        self.need(8)?;
        Ok(self.0.get_u64())
    }

    fn take(&mut self, n: usize) -> Result<Bytes> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }

    fn sized(&mut self) -> Result<Bytes> {
        self.need(4)?;
        let len = self.0.get_u32() as usize;
        self.take(len)
    }

    fn text(&mut self) -> Result<String> {
        let bytes = self.sized()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::protocol("text field is not UTF-8"))
    }

    fn entry(&mut self) -> Result<TxLog> {
        let bytes = self.sized()?;
        model::codec::decode_tx_log(&bytes)
            .map_err(|e| Error::protocol(format!("bad log entry: {e}")))
    }

    fn uuid(&mut self) -> Result<Uuid> {
        let raw = self.take(16)?;
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&raw);
        Ok(Uuid::from_bytes(bytes))
    }

    fn tx_status(&mut self) -> Result<TxStatus> {
        let (code, t, detail) = (self.u8()?, self.u64()?, self.text()?);
        match code {
            1 => Ok(TxStatus::Committed { t }),
            2 => Ok(TxStatus::NotCommitted),
            3 => Ok(TxStatus::Unknown(detail)),
            other => Err(Error::protocol(format!("unknown tx status {other}"))),
        }
    }

    fn kind(&mut self) -> Result<ErrorKind> {
        let code = self.u8()?;
        crate::error::kind_of_protocol_code(code)
            .ok_or_else(|| Error::protocol(format!("unknown error kind {code}")))
    }

    fn tempids(&mut self) -> Result<Vec<(String, u64)>> {
        self.need(4)?;
        let n = self.0.get_u32() as usize;
        // Each tempid takes at least 12 bytes: never trust a count beyond that.
        let mut tempids = Vec::with_capacity(n.min(self.0.remaining() / 12));
        for _ in 0..n {
            tempids.push((self.text()?, self.u64()?));
        }
        Ok(tempids)
    }
}
