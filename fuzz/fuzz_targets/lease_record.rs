//! The transactor's lease record decoder (the data of `db/<name>/lease`):
//! it never panics, and a record it accepts encodes to bytes that decode to
//! the same record (a format-1 record, which has no database id, comes
//! back with the nil id its re-encoding writes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use transactor::lease::LeaseRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = LeaseRecord::decode("db/fuzz/lease", data) else {
        return;
    };
    let again = LeaseRecord::decode("db/fuzz/lease", &record.encode())
        .unwrap_or_else(|e| panic!("a re-encoded lease record does not decode: {e}"));
    let expected = LeaseRecord {
        db_id: Some(record.db_id.unwrap_or_default()),
        ..record
    };
    assert_eq!(again, expected);
});
