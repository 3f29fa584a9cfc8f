//! The log root decoder (the data of `db/<name>/log`, a database's commit
//! point, read from storage that may be damaged): it never panics, and a
//! root it accepts encodes to bytes that decode to the same root.
#![no_main]

use index::LogRoot;
use libfuzzer_sys::fuzz_target;
use storage_core::RootName;

fuzz_target!(|data: &[u8]| {
    let name = RootName::new("db/fuzz/log").unwrap_or_else(|e| panic!("{e}"));
    let Ok(root) = LogRoot::decode(&name, data) else {
        return;
    };
    let _ = root.last_logged_t();
    let _ = root.tail_bytes();
    // A decoded root may be over the root size limit (a storage never
    // hands one back); encoding refuses it with an error.
    if let Ok(bytes) = root.encode() {
        let again = LogRoot::decode(&name, &bytes)
            .unwrap_or_else(|e| panic!("a re-encoded log root does not decode: {e}"));
        assert_eq!(again, root);
    }
});
