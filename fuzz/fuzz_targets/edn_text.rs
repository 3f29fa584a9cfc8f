//! The EDN reader on any text: it never panics, and every value it reads
//! prints as text that reads back as the same value (print ∘ read = id),
//! and printing is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::edn;

fuzz_target!(|data: &[u8]| {
    let Some(text) = accrete_fuzz::text(data) else {
        return;
    };
    let _ = edn::parse(text);
    let Ok(values) = edn::parse_all(text) else {
        return;
    };
    for value in values {
        let printed = value.to_string();
        let again = edn::parse(&printed)
            .unwrap_or_else(|e| panic!("{value:?} printed as {printed:?} does not read back: {e}"));
        assert_eq!(again, value, "{printed:?} reads back as another value");
        assert_eq!(again.to_string(), printed, "printing is not stable");
    }
});
