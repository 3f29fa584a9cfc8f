//! What accrete's fuzz targets share: structure-aware generators of EDN
//! values ([`edn_gen`]) and tx data ([`tx_gen`]) built from the fuzzer's
//! bytes with `arbitrary`, the small database that transactions, queries
//! and pulls run against ([`fixture`]), and the text helpers of the
//! text-reading targets.
//!
//! The targets themselves are in `fuzz_targets/`; `README.md` says how to
//! run them.

pub mod edn_gen;
pub mod fixture;
pub mod tx_gen;

/// The fuzzer's bytes as text, or `None` when they are not UTF-8 (every
/// text decoder of accrete takes `&str`: the bytes-to-text step belongs to
/// the caller, and the fuzzer quickly learns to stay in UTF-8).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Decodes `payload` as a segment of `kind`; a node that decodes must
/// encode to bytes that decode to the same node, and weigh without panic.
pub fn segment_round_trip(kind: u8, payload: &[u8]) {
    use index::segment::Node;
    let Ok(node) = Node::decode(kind, payload) else {
        return;
    };
    let _ = node.weight();
    assert_eq!(node.kind(), kind);
    let encoded = node.encode();
    let again = Node::decode(kind, &encoded).unwrap_or_else(|e| {
        panic!(
            "a decoded {} does not decode after encoding: {e}",
            Node::describe(kind)
        )
    });
    assert_eq!(
        again,
        node,
        "a {} changes in a round trip",
        Node::describe(kind)
    );
}
