//! The segment frame decoder (storage-core's codec) on any bytes: it never
//! panics and never allocates more than the frame's payload limit; a frame
//! it accepts encodes again (same kind, codec and payload) to bytes that
//! decode to the same frame — byte for byte for a stored payload. And any
//! bytes framed as a payload decode back (decode ∘ encode = id).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use storage_core::codec::{self, Codec};

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(frame) = codec::decode(&input) {
        let again = codec::encode_with(frame.kind, frame.codec, &frame.payload)
            .unwrap_or_else(|e| panic!("a decoded frame does not encode: {e}"));
        if frame.codec == Codec::Stored {
            assert_eq!(again, input, "a stored frame encodes to other bytes");
        }
        assert_eq!(codec::decode(&again).as_ref(), Ok(&frame));
    }
    let kind = data.first().copied().unwrap_or(0);
    for framed in [
        codec::encode(kind, data),
        codec::encode_with(kind, Codec::Lz4, data),
        codec::encode_with(kind, Codec::Stored, data),
    ] {
        let framed = framed.unwrap_or_else(|e| panic!("framing {} bytes failed: {e}", data.len()));
        let frame =
            codec::decode(&framed).unwrap_or_else(|e| panic!("a fresh frame does not decode: {e}"));
        assert_eq!(frame.payload.as_ref(), data);
        assert_eq!(frame.kind, kind);
    }
});
