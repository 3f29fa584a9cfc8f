//! The wall clock the transactor stamps transactions and leases with.

use std::time::{SystemTime, UNIX_EPOCH};

use model::edn::Instant;

/// Milliseconds since 1970 by this machine's clock.
pub fn system_clock() -> Instant {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Instant(ms)
}
