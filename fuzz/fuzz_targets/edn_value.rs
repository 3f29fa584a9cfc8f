//! EDN values built from the fuzzer's bytes (every kind, nested): each
//! prints as text the reader reads back as the same value, also inside a
//! vector and after a comment.
#![no_main]

use accrete_fuzz::edn_gen::ArbEdn;
use libfuzzer_sys::fuzz_target;
use model::edn;

fuzz_target!(|value: ArbEdn| {
    let value = value.0;
    let printed = value.to_string();
    let again = edn::parse(&printed)
        .unwrap_or_else(|e| panic!("{value:?} printed as {printed:?} does not read back: {e}"));
    assert_eq!(again, value, "{printed:?} reads back as another value");
    let wrapped = format!("; a comment\n[{printed}]");
    let all =
        edn::parse_all(&wrapped).unwrap_or_else(|e| panic!("{wrapped:?} does not read back: {e}"));
    assert_eq!(all, vec![edn::Edn::Vector(vec![value])]);
});
