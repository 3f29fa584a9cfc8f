//! The coordinator's clock: strictly increasing microsecond timestamps for
//! writes and Paxos ballots.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::Ballot;

#[derive(Default)]
pub(super) struct Clock {
    last: AtomicI64,
    proposers: AtomicU64,
}

impl Clock {
    /// A timestamp later than every earlier one and than `above`.
    pub(super) fn next_micros(&self, above: Option<i64>) -> i64 {
        let now = unix_micros();
        let mut last = self.last.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1).max(above.map_or(i64::MIN, |a| a + 1));
            match self
                .last
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// A ballot higher than `above` and than every ballot chosen before.
    pub(super) fn next_ballot(&self, above: Option<Ballot>) -> Ballot {
        let micros = self.next_micros(above.map(|b| b.micros));
        Ballot {
            micros,
            proposer: self.proposers.fetch_add(1, Ordering::SeqCst),
        }
    }
}

fn unix_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch (TTL expiry).
pub(crate) fn unix_seconds() -> i64 {
    unix_micros() / 1_000_000
}
