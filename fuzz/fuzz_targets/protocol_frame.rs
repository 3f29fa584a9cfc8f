//! The transactor protocol's frame decoder on any frame body: it never
//! panics, and a frame it accepts encodes to a body that decodes to the
//! same frame (decode ∘ encode = id), so what one side sends the other
//! reads as sent.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use transactor::protocol::Frame;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = format!("{frame:?}");
    let mut body = BytesMut::new();
    frame.encode(&mut body);
    let again = Frame::decode(body.freeze())
        .unwrap_or_else(|e| panic!("a re-encoded frame does not decode: {e}\n{frame:?}"));
    assert_eq!(again, frame);
});
