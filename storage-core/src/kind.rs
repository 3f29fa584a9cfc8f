//! The one vocabulary of failure kinds that every layer above storage
//! speaks: storage, index, transactor, peer, backup, access and operations
//! each keep their own error type (with its detail), and each sorts its
//! errors into these kinds, variant by variant.
//!
//! A kind says what the *caller* should do: fix the input, retry, re-read
//! the lease, ask for a transaction's status, or report a bug. The command
//! line's exit codes, the HTTP API's statuses and the transactor protocol's
//! error codes are each one explicit table over this enum (in `cli`,
//! `server` and `transactor::protocol`).

use std::fmt;

/// What a failure means for the caller, and what to do about it.
///
/// [`ErrorKind::not_committed`] tells whether a transaction that failed
/// with the kind is proven not to have committed;
/// [`ErrorKind::is_retryable`] whether the same request may simply be sent
/// again.
///
/// Deliberately not `#[non_exhaustive]`: every table over the kinds (exit
/// codes, HTTP statuses, protocol codes, one crate's kinds into another's)
/// matches every kind by name, so a new kind does not compile until each
/// table says what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input was refused (tx data that breaks a rule, bad EDN, a bad
    /// URI, request, setting or argument): fix it. Nothing was committed.
    Invalid,
    /// What was asked for does not exist (a database, a backup, a point).
    NotFound,
    /// A concurrent change won (a compare-and-swap lost, a database that
    /// already exists, a restore that needs `force`): look at the current
    /// state, then decide. Nothing was changed by this call.
    Conflict,
    /// Another transactor holds the database now; this one was deposed and
    /// did not commit the transaction. Re-read the lease and retry there.
    Fenced,
    /// Another live transactor holds the database's lease and the caller
    /// would not wait for it to lapse.
    LeaseHeld,
    /// Novelty is over its hard cap while an indexing job catches up: retry
    /// later. Nothing was committed.
    Overloaded,
    /// Storage, the transactor or a system resource could not be reached;
    /// nothing was committed, the same request may be repeated.
    Unavailable,
    /// A wait ran out (a read past its time limit, a `sync` for a t that did
    /// not arrive, a transact whose answer did not come): a transaction may
    /// have committed, so read (or ask its status) before retrying.
    Timeout,
    /// The transactor is stopping; nothing was committed. Re-read the lease
    /// and retry.
    ShuttingDown,
    /// This endpoint does not serve that database (any more): re-read the
    /// lease root for the current transactor.
    NotServing,
    /// The connection was released (or every handle to it dropped); nothing
    /// more comes through it. Open a new one.
    Closed,
    /// The transaction may or may not have committed (the connection or the
    /// storage failed after it was sent): ask `tx-status` for its id, or
    /// resubmit it under the same id (which commits at most once).
    OutcomeUnknown,
    /// The other end broke the protocol or speaks another version.
    Protocol,
    /// Stored data could not be decoded or is missing: report it.
    Corruption,
    /// The client did not prove who it is (no credentials, a wrong,
    /// revoked or expired token or certificate, or too many failed
    /// attempts): present valid credentials. Nothing was committed.
    Unauthenticated,
    /// The client is known but lacks the role this needs: ask for a grant.
    /// Nothing was committed.
    Forbidden,
    /// A failure that is neither the caller's input nor transient: a task
    /// that panicked (a bug), or a backend error the backend could not
    /// classify (wrong credentials at the driver, a missing server-side
    /// database). Retrying the same request is not known to help: change
    /// what the message names, or report it. A transaction is not proven
    /// uncommitted: ask `tx-status`.
    Internal,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Fenced,
        ErrorKind::LeaseHeld,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::ShuttingDown,
        ErrorKind::NotServing,
        ErrorKind::Closed,
        ErrorKind::OutcomeUnknown,
        ErrorKind::Protocol,
        ErrorKind::Corruption,
        ErrorKind::Unauthenticated,
        ErrorKind::Forbidden,
        ErrorKind::Internal,
    ];

    /// True when a transaction that failed with this kind is proven not to
    /// have committed. False for an unknown outcome, a wait that ran out
    /// and an internal failure: ask for the transaction's status.
    pub fn not_committed(self) -> bool {
        match self {
            ErrorKind::OutcomeUnknown | ErrorKind::Timeout | ErrorKind::Internal => false,
            ErrorKind::Invalid
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::Fenced
            | ErrorKind::LeaseHeld
            | ErrorKind::Overloaded
            | ErrorKind::Unavailable
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
            | ErrorKind::Closed
            | ErrorKind::Protocol
            | ErrorKind::Corruption
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden => true,
        }
    }

    /// True when sending the same request again, later or to the current
    /// transactor, may succeed without changing anything first.
    pub fn is_retryable(self) -> bool {
        match self {
            ErrorKind::Fenced
            | ErrorKind::Overloaded
            | ErrorKind::Unavailable
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing => true,
            ErrorKind::Invalid
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::LeaseHeld
            | ErrorKind::Timeout
            | ErrorKind::Closed
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Protocol
            | ErrorKind::Corruption
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden
            | ErrorKind::Internal => false,
        }
    }

    /// The kind's short name (`"invalid"`, `"lease held"`), without what it
    /// means for a transaction.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Fenced => "fenced",
            ErrorKind::LeaseHeld => "lease held",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timed out",
            ErrorKind::ShuttingDown => "shutting down",
            ErrorKind::NotServing => "not serving",
            ErrorKind::Closed => "connection closed",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Corruption => "corruption",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Internal => "internal error",
        }
    }
}

/// The kind as a transaction's failure reads: the name, followed by
/// "not committed" where a refusal proves it and the name alone does not
/// say it (`"fenced: not committed"`).
impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let says_not_committed = match self {
            ErrorKind::Fenced
            | ErrorKind::Overloaded
            | ErrorKind::ShuttingDown
            | ErrorKind::Unauthenticated
            | ErrorKind::Forbidden => true,
            ErrorKind::Invalid
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::LeaseHeld
            | ErrorKind::Unavailable
            | ErrorKind::Timeout
            | ErrorKind::NotServing
            | ErrorKind::Closed
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Protocol
            | ErrorKind::Corruption
            | ErrorKind::Internal => false,
        };
        match says_not_committed {
            true => write!(f, "{}: not committed", self.name()),
            false => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_proven_refusals_say_not_committed() {
        for kind in ErrorKind::ALL {
            if kind.to_string().ends_with("not committed") {
                assert!(kind.not_committed(), "{kind:?}");
            }
            // A request worth retrying unchanged never left a commit behind.
            if kind.is_retryable() {
                assert!(kind.not_committed(), "{kind:?}");
            }
        }
        assert!(!ErrorKind::OutcomeUnknown.not_committed());
        assert!(!ErrorKind::Internal.not_committed());
        assert!(!ErrorKind::Internal.is_retryable());
        assert_eq!(ErrorKind::Fenced.to_string(), "fenced: not committed");
        assert_eq!(ErrorKind::Invalid.to_string(), "invalid");
    }
}
