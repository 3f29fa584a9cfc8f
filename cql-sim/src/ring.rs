//! The ring of a simulated cluster: its coordinators, their tokens, and
//! which node owns a token.

use std::net::SocketAddr;
use std::sync::Arc;

/// One coordinator of the ring, as `system.local` (for itself) and
/// `system.peers` (for the others) describe it.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) address: SocketAddr,
    pub(crate) host_id: [u8; 16],
    /// Its one token: it owns the ring from the previous node's token
    /// (exclusive) to this one (inclusive).
    pub(crate) token: i64,
}

/// What a node knows of itself and its ring.
#[derive(Clone, Debug)]
pub(crate) struct NodeInfo {
    /// Its position in the ring (ascending tokens).
    pub(crate) index: usize,
    /// Every coordinator, this one at `index`.
    pub(crate) ring: Arc<[Member]>,
}

impl NodeInfo {
    /// This node.
    pub(crate) fn me(&self) -> &Member {
        &self.ring[self.index]
    }

    /// The other nodes, as `system.peers` lists them.
    pub(crate) fn peers(&self) -> impl Iterator<Item = &Member> {
        let me = self.index;
        self.ring
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != me)
            .map(|(_, m)| m)
    }
}

/// The token of node `index` of `nodes`: the ring split evenly, the last
/// node at `i64::MAX`, so every token has an owner without wrapping.
pub(crate) fn ring_token(index: usize, nodes: usize) -> i64 {
    let span = 1_i128 << 64;
    let end = i128::from(i64::MIN) + span * (index as i128 + 1) / nodes.max(1) as i128 - 1;
    i64::try_from(end).unwrap_or(i64::MAX)
}

/// The index of the node owning `token` in a ring of ascending tokens:
/// the first whose token is at or after it.
pub(crate) fn owner(ring: &[Member], token: i64) -> usize {
    ring.iter().position(|m| m.token >= token).unwrap_or(0)
}
