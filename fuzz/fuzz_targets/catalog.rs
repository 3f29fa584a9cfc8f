//! The catalog decoder (the root listing a storage's databases): it never
//! panics, and a catalog it accepts encodes to bytes that decode to it.
#![no_main]

use index::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(catalog) = Catalog::decode(data) else {
        return;
    };
    let again = Catalog::decode(&catalog.encode())
        .unwrap_or_else(|e| panic!("a re-encoded catalog does not decode: {e}"));
    assert_eq!(again, catalog);
});
