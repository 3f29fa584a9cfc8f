//! The index root segment decoder (the index crate's `Node::decode` of a
//! kind-INDEX_ROOT payload) on any bytes: it never panics, and a node it accepts
//! encodes to bytes that decode to the same node (decode ∘ encode = id).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    accrete_fuzz::segment_round_trip(index::segment::kind::INDEX_ROOT, data);
});
