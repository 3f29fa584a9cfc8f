//! The records of a backup location (manifests, the location root, the
//! points list) and of garbage collection (its root and state segment),
//! read from another machine's storage: the first byte picks the record,
//! the rest is decoded. Nothing panics, a manifest's log root decodes or
//! fails cleanly, and a record that decodes encodes to bytes that decode to
//! the same record.
#![no_main]

use backup::fuzzing::{Record, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let record = Record::ALL[usize::from(which) % Record::ALL.len()];
    if let Ok(decoded) = decode(record, bytes) {
        assert!(
            decoded.round_trips,
            "{record:?} changes in a round trip: {}",
            decoded.debug
        );
    }
});
