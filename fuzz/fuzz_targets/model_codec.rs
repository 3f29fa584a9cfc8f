//! The model's binary codec (datom runs, log entries, single values: the
//! payloads inside index and log segments and protocol frames) on any
//! bytes, the first byte choosing the decoder: it never panics, and what
//! it accepts encodes to bytes that decode to the same thing, and the
//! lengths counted without writing (`encoded_*_len`) are the lengths
//! written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::codec;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(datoms) = codec::decode_datoms(bytes) {
                let again = codec::decode_datoms(&codec::encode_datoms(&datoms))
                    .unwrap_or_else(|e| panic!("re-encoded datoms do not decode: {e}"));
                assert_eq!(again, datoms);
            }
        }
        1 => {
            if let Ok(entry) = codec::decode_tx_log(bytes) {
                let written = codec::encode_tx_log(&entry);
                assert_eq!(codec::encoded_tx_log_len(&entry), written.len());
                for d in entry.data.iter() {
                    let mut out = Vec::new();
                    codec::encode_datom(&mut out, d);
                    assert_eq!(codec::encoded_datom_len(d), out.len());
                }
                let again = codec::decode_tx_log(&written)
                    .unwrap_or_else(|e| panic!("a re-encoded log entry does not decode: {e}"));
                assert_eq!(again, entry);
            }
        }
        _ => {
            if let Ok(value) = codec::decode_value(bytes) {
                let mut out = Vec::new();
                codec::encode_value(&mut out, &value);
                assert_eq!(codec::encoded_value_len(&value), out.len());
                let again = codec::decode_value(&out)
                    .unwrap_or_else(|e| panic!("a re-encoded value does not decode: {e}"));
                assert_eq!(again, value);
            }
        }
    }
});
