//! How a peer behaves: its cache, its report buffers, how long it waits,
//! how often it looks at storage.

use std::time::Duration;

use transactor::client::Connector;

use crate::error::{Error, Result};

/// Settings of a [`crate::Peer`] and the connections it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bytes of decoded segments the segment cache holds, shared by every
    /// connection and database value of the peer.
    pub cache_bytes: u64,
    /// Reports each [`crate::TxReportQueue`] buffers for a consumer that
    /// does not keep up; past it, that queue reads the log instead (see
    /// [`crate::TxReportQueue`]).
    pub report_buffer: usize,
    /// How long [`crate::Connection::sync_t`] and [`crate::Connection::sync`]
    /// wait before [`crate::ErrorKind::Timeout`].
    pub sync_timeout: Duration,
    /// How long [`crate::Connection::transact`] may take in all: waiting
    /// for a transactor to reach (also across a restart or takeover) and for
    /// its answer.
    pub transact_timeout: Duration,
    /// While connected, how often the peer reads the log root to follow
    /// indexing (a newer index root) and to notice a transactor that was
    /// replaced without closing its connections.
    pub root_poll: Duration,
    /// Novelty growth (datoms) that makes the peer read the log root before
    /// `root_poll` is up, so its memory follows the transactor's indexing.
    pub root_check_datoms: usize,
    /// The longest pause between attempts to reach a transactor; while none
    /// is reachable the peer follows the log in storage at this pace.
    pub reconnect_delay: Duration,
    /// How the peer authenticates to transactors and secures the
    /// connection (a token, TLS): none by default, which only a
    /// development endpoint on loopback admits.
    /// [`Connector::from_env`](transactor::client::Connector::from_env)
    /// reads `ACCRETE_TOKEN`, `ACCRETE_TLS_CA` and the like. Reads come
    /// from storage either way.
    pub connector: Connector,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_bytes: 256 << 20,
            report_buffer: 1024,
            sync_timeout: Duration::from_secs(60),
            transact_timeout: Duration::from_secs(60),
            root_poll: Duration::from_secs(2),
            root_check_datoms: 16 * 1024,
            reconnect_delay: Duration::from_secs(1),
            connector: Connector::default(),
        }
    }
}

impl Config {
    /// Checks that every setting is usable.
    pub fn check(&self) -> Result<()> {
        let zero = [
            (self.cache_bytes == 0, "cache_bytes"),
            (self.report_buffer == 0, "report_buffer"),
            (self.sync_timeout.is_zero(), "sync_timeout"),
            (self.transact_timeout.is_zero(), "transact_timeout"),
            (self.root_poll.is_zero(), "root_poll"),
            (self.root_check_datoms == 0, "root_check_datoms"),
            (self.reconnect_delay.is_zero(), "reconnect_delay"),
        ];
        match zero.iter().find(|(is_zero, _)| *is_zero) {
            Some((_, name)) => Err(Error::invalid(format!(
                "peer config: `{name}` must be positive"
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_zeros_are_named() {
        Config::default().check().unwrap();
        let bad = Config {
            report_buffer: 0,
            ..Config::default()
        };
        let e = bad.check().unwrap_err();
        assert!(e.to_string().contains("`report_buffer`"), "{e}");
    }
}
