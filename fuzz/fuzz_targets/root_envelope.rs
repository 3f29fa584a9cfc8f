//! The root envelope every backend stores (version, writer nonce, data):
//! the decoder never panics, and a value it accepts encodes to the same
//! bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use storage_core::{RootName, RootValue};

fuzz_target!(|data: &[u8]| {
    let name = RootName::new("db/fuzz/log").unwrap_or_else(|e| panic!("{e}"));
    let stored = Bytes::copy_from_slice(data);
    let Ok(value) = RootValue::decode(&name, stored.clone()) else {
        return;
    };
    assert_eq!(value.encode(), stored);
    assert_eq!(RootValue::decode(&name, value.encode()).ok(), Some(value));
});
