//! Frames (spec section 2): the 9-byte header, the body, and lz4 body
//! compression (section 5: a 4-byte big-endian uncompressed length, then an
//! lz4 block).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ProtocolError;

/// The version byte of a v4 request frame.
pub(crate) const REQUEST_VERSION: u8 = 0x04;
/// The version byte of a v4 response frame.
pub(crate) const RESPONSE_VERSION: u8 = 0x84;
const FLAG_COMPRESSED: u8 = 0x01;
const FLAG_CUSTOM_PAYLOAD: u8 = 0x04;
const HEADER_LEN: usize = 9;
/// The largest body the simulator accepts (the spec's 256 MB frame limit).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One frame: its header fields and its (uncompressed) body.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) flags: u8,
    pub(crate) stream: i16,
    pub(crate) opcode: u8,
    pub(crate) body: Vec<u8>,
}

impl Frame {
    /// Whether the request carries a custom payload before its body.
    pub(crate) fn has_custom_payload(&self) -> bool {
        self.flags & FLAG_CUSTOM_PAYLOAD != 0
    }
}

/// Why reading a frame stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection or the socket failed.
    Closed,
    /// The header was malformed; the stream id is known so an ERROR can answer it.
    Protocol(i16, ProtocolError),
}

/// Reads one request frame, decompressing its body when it is flagged.
pub(crate) async fn read_frame(
    socket: &mut (impl AsyncRead + Unpin),
    lz4: bool,
) -> Result<Frame, ReadError> {
    let mut header = [0; HEADER_LEN];
    socket
        .read_exact(&mut header)
        .await
        .map_err(|_| ReadError::Closed)?;
    let [version, flags, s0, s1, opcode, l0, l1, l2, l3] = header;
    let stream = i16::from_be_bytes([s0, s1]);
    let fail = |msg: String| ReadError::Protocol(stream, ProtocolError(msg));
    if version != REQUEST_VERSION {
        return Err(fail(format!(
            "Invalid or unsupported protocol version ({version:#04x}); the simulator speaks v4 only"
        )));
    }
    let len = usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).unwrap_or(usize::MAX);
    if len > MAX_BODY {
        return Err(fail(format!(
            "frame body of {len} bytes exceeds the 256 MB limit"
        )));
    }
    let mut body = vec![0; len];
    socket
        .read_exact(&mut body)
        .await
        .map_err(|_| ReadError::Closed)?;
    if flags & FLAG_COMPRESSED != 0 {
        if !lz4 {
            return Err(fail(
                "compressed frame received but no compression was negotiated".into(),
            ));
        }
        body = decompress(&body).map_err(|e| ReadError::Protocol(stream, e))?;
    }
    Ok(Frame {
        flags: flags & !FLAG_COMPRESSED,
        stream,
        opcode,
        body,
    })
}

/// Writes one response frame, compressing its body when lz4 was negotiated.
pub(crate) async fn write_frame(
    socket: &mut (impl AsyncWrite + Unpin),
    stream: i16,
    opcode: u8,
    body: &[u8],
    lz4: bool,
) -> std::io::Result<()> {
    let (flags, body) = if lz4 {
        (FLAG_COMPRESSED, compress(body))
    } else {
        (0, body.to_vec())
    };
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.push(RESPONSE_VERSION);
    frame.push(flags);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.push(opcode);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    socket.write_all(&frame).await
}

fn compress(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&lz4_flex::block::compress(body));
    out
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let (len, block) = body
        .split_first_chunk::<4>()
        .ok_or_else(|| ProtocolError("compressed body shorter than its length prefix".into()))?;
    let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
    if len > MAX_BODY {
        return Err(ProtocolError(format!(
            "uncompressed body of {len} bytes exceeds the limit"
        )));
    }
    let body = lz4_flex::block::decompress(block, len)
        .map_err(|e| ProtocolError(format!("invalid lz4 body: {e}")))?;
    if body.len() != len {
        return Err(ProtocolError(format!(
            "lz4 body decompressed to {} bytes, its header said {len}",
            body.len()
        )));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_bodies_round_trip() {
        let body = b"SELECT * FROM ks.t WHERE k = ? ".repeat(20);
        assert_eq!(decompress(&compress(&body)).unwrap(), body);
        assert!(decompress(&[0, 0, 0, 9, 1]).is_err());
    }

    #[tokio::test]
    async fn frames_with_another_version_are_refused() {
        let bytes = [0x03, 0, 0, 7, 0x05, 0, 0, 0, 0];
        match read_frame(&mut &bytes[..], false).await {
            Err(ReadError::Protocol(7, e)) => assert!(e.0.contains("v4 only")),
            other => panic!("unexpected {other:?}"),
        }
    }
}
