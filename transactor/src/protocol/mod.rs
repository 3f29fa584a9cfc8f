//! The transactor's network protocol: length-prefixed binary frames over
//! TCP, a versioned handshake, requests with ids so that many may be in
//! flight on one connection. `PROTOCOL.md` at the crate root is the
//! reference.

mod frame;

pub use frame::{Frame, MAGIC};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, Framed, LengthDelimitedCodec};

use crate::error::{Error, Result};

/// The protocol version this build speaks: 3, whose HELLO carries the
/// client's credentials before the database (named by its catalog id and
/// lease epoch as well as its name).
pub const PROTOCOL_VERSION: u16 = 3;

/// The largest frame body either side accepts: 16 MiB.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The most tx data a TRANSACT frame carries: the one limit of every path
/// ([`model::limits::MAX_TX_BYTES`]); clients and the transactor refuse
/// more before parsing it.
pub const MAX_TX_BYTES: usize = model::limits::MAX_TX_BYTES;

// Every frame a transaction of the largest size makes fits a frame:
// TRANSACT (the text), COMMITTED (its datoms and tempids, which come from
// the text), TX (its datoms).
const _: () =
    assert!(MAX_TX_BYTES + model::limits::MAX_TX_DATOM_BYTES + 64 * 1024 <= MAX_FRAME_BYTES);

/// A connection's byte stream, TLS or not.
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// Frames on a connection of either kind.
pub(crate) type Framing = Framed<Box<dyn ByteStream>, FrameCodec>;

/// Frames on a byte stream: a 4-byte big-endian length, then the body.
#[derive(Debug)]
pub struct FrameCodec(LengthDelimitedCodec);

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec(
            LengthDelimitedCodec::builder()
                .length_field_length(4)
                .max_frame_length(MAX_FRAME_BYTES)
                .new_codec(),
        )
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        match self.0.decode(src) {
            Ok(Some(body)) => Frame::decode(body.freeze()).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<()> {
        let mut body = BytesMut::new();
        frame.encode(&mut body);
        if body.len() > MAX_FRAME_BYTES {
            return Err(Error::invalid(format!(
                "a frame of {} bytes is over the protocol's limit of {MAX_FRAME_BYTES} bytes",
                body.len()
            )));
        }
        self.0
            .encode(body.freeze(), dst)
            .map_err(|e| Error::io("writing a frame", e))
    }
}

fn read_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidData => Error::protocol(format!(
            "frame over the limit of {MAX_FRAME_BYTES} bytes: {e}"
        )),
        _ => Error::io("reading a frame", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use model::{Datom, TxLog, Value, t_to_tx};

    fn entry() -> TxLog {
        let tx = t_to_tx(1001);
        TxLog {
            t: 1001,
            data: vec![
                Datom::new(tx, 50, Value::Instant(model::edn::Instant(7)), tx, true),
                Datom::new(17, 10, Value::string("ed"), tx, true),
            ]
            .into(),
        }
    }

    fn every_frame() -> Vec<Frame> {
        vec![
            Frame::Hello {
                min_version: 3,
                max_version: 4,
                token: Some(access::Secret::new("acrt_0011_2233")),
                db: "orders".into(),
                db_id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
                epoch: 4,
            },
            Frame::Welcome {
                version: 1,
                epoch: 4,
                basis_t: 1009,
            },
            Frame::Transact {
                id: 1,
                tx: "[[:db/add \"x\" :a 1]]".into(),
                tx_id: None,
            },
            Frame::Subscribe {
                id: 2,
                from_t: 1000,
            },
            Frame::Unsubscribe { id: 2 },
            Frame::Status { id: 3 },
            Frame::Committed {
                id: 1,
                entry: entry(),
                tempids: vec![("x".into(), 17)],
            },
            Frame::Tx {
                id: 2,
                entry: entry(),
            },
            Frame::StatusReply {
                id: 3,
                basis_t: 1001,
                epoch: 4,
            },
            Frame::Failed {
                id: 1,
                kind: ErrorKind::Invalid,
                tx_code: ":db.error/not-an-attribute".into(),
                message: "no".into(),
            },
            Frame::Transact {
                id: 4,
                tx: "[]".into(),
                tx_id: Some(uuid::Uuid::from_u128(7)),
            },
            Frame::TxStatus {
                id: 5,
                tx_id: uuid::Uuid::from_u128(7),
            },
            Frame::TxStatusReply {
                id: 5,
                status: crate::TxStatus::Committed { t: 1001 },
            },
            Frame::TxStatusReply {
                id: 6,
                status: crate::TxStatus::NotCommitted,
            },
            Frame::TxStatusReply {
                id: 7,
                status: crate::TxStatus::Unknown("in flight".into()),
            },
        ]
    }

    #[test]
    fn every_frame_round_trips_through_the_codec() {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for frame in every_frame() {
            codec.encode(frame, &mut wire).unwrap();
        }
        for frame in every_frame() {
            assert_eq!(codec.decode(&mut wire).unwrap(), Some(frame));
        }
        assert_eq!(codec.decode(&mut wire).unwrap(), None);
    }

    /// Version 3 has no code for an internal failure (a panicked task):
    /// it is heard as an unknown outcome, never "not committed", and the
    /// text keeps its name.
    #[test]
    fn an_internal_failure_is_heard_as_an_unknown_outcome() {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        let internal = Frame::Failed {
            id: 1,
            kind: ErrorKind::Internal,
            tx_code: String::new(),
            message: "applying transactions panicked".into(),
        };
        codec.encode(internal, &mut wire).unwrap();
        let heard = codec.decode(&mut wire).unwrap();
        assert_eq!(
            heard,
            Some(Frame::Failed {
                id: 1,
                kind: ErrorKind::OutcomeUnknown,
                tx_code: String::new(),
                message: "internal error: applying transactions panicked".into(),
            })
        );
    }

    /// Version 2 changed only HELLO (the database id and lease epoch after
    /// the name); every other frame keeps its version-1 bytes.
    #[test]
    fn golden_bytes_pin_version_2() {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        let hello = Frame::Hello {
            min_version: 3,
            max_version: 3,
            token: None,
            db: "db".into(),
            db_id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            epoch: 3,
        };
        codec.encode(hello, &mut wire).unwrap();
        assert_eq!(
            hex::encode(&wire),
            "0000002b01414352540003000300000000000000026462\
             0123456789abcdef0123456789abcdef0000000000000003"
        );
        wire.clear();
        codec.encode(Frame::Status { id: 258 }, &mut wire).unwrap();
        assert_eq!(hex::encode(&wire), "00000009130000000000000102");
        // A TRANSACT without a tx id is byte for byte what it always was;
        // the id rides as 16 bytes at the end.
        wire.clear();
        let plain = Frame::Transact {
            id: 1,
            tx: "[]".into(),
            tx_id: None,
        };
        codec.encode(plain, &mut wire).unwrap();
        assert_eq!(hex::encode(&wire), "0000000f100000000000000001000000025b5d");
        wire.clear();
        let with_id = Frame::Transact {
            id: 1,
            tx: "[]".into(),
            tx_id: Some(uuid::Uuid::from_u128(0x0102)),
        };
        codec.encode(with_id, &mut wire).unwrap();
        assert!(hex::encode(&wire).ends_with("5b5d00000000000000000000000000000102"));
    }

    #[test]
    fn damaged_frames_are_protocol_errors() {
        let mut body = BytesMut::new();
        every_frame()[6].encode(&mut body);
        for cut in 0..body.len() {
            let err = Frame::decode(body.clone().freeze().slice(..cut)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "cut at {cut}: {err}");
        }
        let mut longer = body.clone();
        longer.extend_from_slice(b"x");
        assert!(
            Frame::decode(longer.freeze())
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
        let err = Frame::decode(bytes::Bytes::from_static(&[0x99])).unwrap_err();
        assert!(err.to_string().contains("unknown frame type 0x99"), "{err}");
        let err = Frame::decode(bytes::Bytes::from_static(b"\x01HTTP/1.1")).unwrap_err();
        assert!(err.to_string().contains("not an accrete client"), "{err}");
        // The version-1 HELLO of an older client: refused by its versions.
        let v1 = hex::decode("014143525400010001000000026462").unwrap();
        let err = Frame::decode(v1.into()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        assert!(err.to_string().contains("versions 1..=1"), "{err}");
        // The version-2 HELLO (no credentials): refused by its versions too.
        let v2 = hex::decode(
            "01414352540002000200000002646201234567\
             89abcdef0123456789abcdef0000000000000003",
        )
        .unwrap();
        let err = Frame::decode(v2.into()).unwrap_err();
        assert!(err.to_string().contains("versions 2..=2"), "{err}");
        assert!(err.to_string().contains("upgrade the client"), "{err}");
        // A token never shows in a printed HELLO.
        let printed = format!("{:?}", every_frame()[0]);
        assert!(!printed.contains("acrt_0011"), "{printed}");
        let mut huge = BytesMut::new();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = FrameCodec::default().decode(&mut huge).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    }
}
