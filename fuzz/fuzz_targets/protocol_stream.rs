//! A connection's bytes as the transactor and its clients read them: the
//! length-prefixed frame codec fed the fuzzer's bytes in pieces (the
//! first byte sets the piece size, as a network splits a stream), then the
//! handshake's rules applied to what comes out — the first frame must be
//! a HELLO with this build's magic and a version range that includes
//! PROTOCOL_VERSION, else the connection is refused. Nothing panics, every
//! frame read re-encodes (through the same codec) to bytes that read back
//! as that frame, and reading stops at the first error as a connection
//! does.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use transactor::protocol::{Frame, FrameCodec, PROTOCOL_VERSION};

/// Whether the handshake accepts `first` as a connection's first frame.
fn handshake_accepts(first: &Frame) -> bool {
    matches!(first, Frame::Hello { min_version, max_version, .. }
        if (*min_version..=*max_version).contains(&PROTOCOL_VERSION))
}

fn round_trip(frame: &Frame) {
    let mut codec = FrameCodec::default();
    let mut wire = BytesMut::new();
    codec
        .encode(frame.clone(), &mut wire)
        .unwrap_or_else(|e| panic!("a decoded frame does not encode: {e}"));
    let again = codec
        .decode(&mut wire)
        .unwrap_or_else(|e| panic!("a re-encoded frame does not decode: {e}"));
    assert_eq!(again.as_ref(), Some(frame));
    assert!(wire.is_empty(), "the codec left bytes of a whole frame");
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let mut codec = FrameCodec::default();
    let mut buffer = BytesMut::new();
    let mut frames = 0usize;
    for chunk in stream.chunks(piece) {
        buffer.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    round_trip(&frame);
                    if frames == 0 && !handshake_accepts(&frame) {
                        return;
                    }
                    frames += 1;
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = codec.decode_eof(&mut buffer);
});
