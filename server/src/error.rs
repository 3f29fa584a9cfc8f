//! The one error of the HTTP API: a kind with the same meaning (and exit
//! code) as the `accrete` command line's, an HTTP status, and a message
//! that says what was wrong and where. Every failure becomes this body:
//!
//! ```text
//! {:error {:kind "invalid" :exit-code 2 :message "…"}}
//! ```
//!
//! plus `:tx-id` (and `:committed-t` when known) for a transaction.

use axum::http::StatusCode;
use model::edn::Edn;
use uuid::Uuid;

/// What a failure means for the client; each kind has the exit code the
/// `accrete` command line uses for it (`accrete --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Bad input: a bad body, EDN, JSON, query, pattern, index or basis;
    /// a transaction refused by the rules; no such database. Exit code 2.
    Invalid,
    /// The response (or an intermediate result) would be over the
    /// server's size limit: narrow the request. Exit code 2.
    TooLarge,
    /// Storage or transactor unavailable, or the server busy: nothing was
    /// changed, try again. Exit code 3.
    Unavailable,
    /// The request ran past the server's time limit and was stopped
    /// (reads only: nothing was changed). Exit code 3.
    Timeout,
    /// The transaction may or may not have committed: send it again under
    /// the same `tx-id` (it never commits twice), or read first. Exit code 5.
    Unknown,
    /// Stored data could not be read or decoded. Exit code 6.
    Corruption,
    /// Missing or wrong credentials, or no role for this. Exit code 7.
    Refused,
    /// A failure of the server itself (a task that panicked, a request in
    /// a state the server does not expect): not the client's input, and
    /// not known to cure itself; report it. Like the command line's other
    /// failures that trying again will not cure, exit code 7.
    Internal,
}

impl Kind {
    /// The kind's name in error bodies.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invalid => "invalid",
            Kind::TooLarge => "too-large",
            Kind::Unavailable => "unavailable",
            Kind::Timeout => "timeout",
            Kind::Unknown => "unknown",
            Kind::Corruption => "corruption",
            Kind::Refused => "refused",
            Kind::Internal => "internal",
        }
    }

    /// The exit code of the command line for the same failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Invalid | Kind::TooLarge => 2,
            Kind::Unavailable | Kind::Timeout => 3,
            Kind::Unknown => 5,
            Kind::Corruption => 6,
            Kind::Refused | Kind::Internal => 7,
        }
    }
}

/// A failed request.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// What it means.
    pub kind: Kind,
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, and where.
    pub message: String,
    /// The transaction's id, for transact.
    pub tx_id: Option<Uuid>,
    /// The t the transaction committed at, when that is known although the
    /// request failed.
    pub committed_t: Option<u64>,
}

impl ApiError {
    /// An error of `kind` with its usual status.
    pub fn new(kind: Kind, message: impl Into<String>) -> ApiError {
        let status = match kind {
            Kind::Invalid => StatusCode::BAD_REQUEST,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Kind::Unknown => StatusCode::BAD_GATEWAY,
            Kind::Corruption => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Refused => StatusCode::FORBIDDEN,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            kind,
            status,
            message: message.into(),
            tx_id: None,
            committed_t: None,
        }
    }

    /// Bad input.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Invalid, message)
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// The body, as EDN (rendered in the negotiated format).
    pub fn to_edn(&self) -> Edn {
        let mut fields = vec![
            (Edn::keyword("kind"), Edn::string(self.kind.name())),
            (
                Edn::keyword("exit-code"),
                Edn::Long(i64::from(self.kind.exit_code())),
            ),
            (Edn::keyword("message"), Edn::string(&self.message)),
        ];
        if let Some(id) = self.tx_id {
            fields.push((Edn::keyword("tx-id"), Edn::Uuid(id)));
        }
        if let Some(t) = self.committed_t {
            fields.push((Edn::keyword("committed-t"), long(t)));
        }
        Edn::map([(Edn::keyword("error"), Edn::map(fields))])
    }
}

/// A t, id or count as an EDN long (they are below 2^63).
pub(crate) fn long(n: u64) -> Edn {
    Edn::Long(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Kind {
    /// The answer's kind for every shared error kind: the one table behind
    /// the `:kind` of error bodies (and so their exit codes).
    pub fn of(kind: peer::ErrorKind) -> Kind {
        use peer::ErrorKind as K;
        match kind {
            K::Invalid | K::NotFound => Kind::Invalid,
            // Nothing was changed; the peer retries on another transactor
            // or later, and so may the client.
            K::Unavailable
            | K::Overloaded
            | K::Closed
            | K::Fenced
            | K::ShuttingDown
            | K::NotServing
            | K::LeaseHeld
            | K::Conflict => Kind::Unavailable,
            K::Timeout => Kind::Timeout,
            K::OutcomeUnknown => Kind::Unknown,
            K::Corruption | K::Protocol => Kind::Corruption,
            K::Unauthenticated | K::Forbidden => Kind::Refused,
            K::Internal => Kind::Internal,
        }
    }
}

impl From<peer::Error> for ApiError {
    fn from(e: peer::Error) -> Self {
        let kind = match e.kind() {
            // A wait that ran out: for a transaction, its fate is open.
            peer::ErrorKind::Timeout if e.committed_t().is_some() => Kind::Unknown,
            kind => Kind::of(kind),
        };
        // The kind is in the body already; the message says the rest.
        let mut error = ApiError::new(kind, e.message());
        error.committed_t = e.committed_t();
        error
    }
}

impl From<query::Error> for ApiError {
    fn from(e: query::Error) -> Self {
        // Over the row limit: invalid input, said more precisely (413).
        let kind = match e.kind() == query::ErrorKind::TooLarge {
            true => Kind::TooLarge,
            false => Kind::of(e.shared_kind()),
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<model::Error> for ApiError {
    fn from(e: model::Error) -> Self {
        ApiError::new(Kind::of(index::model_kind(&e)), e.to_string())
    }
}

impl From<access::Error> for ApiError {
    fn from(e: access::Error) -> Self {
        match e.kind() {
            peer::ErrorKind::Unauthenticated => {
                ApiError::new(Kind::Refused, e.message()).with_status(StatusCode::UNAUTHORIZED)
            }
            kind => ApiError::new(Kind::of(kind), e.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_the_command_lines_exit_codes() {
        let cases = [
            (Kind::Invalid, 2, 400),
            (Kind::TooLarge, 2, 413),
            (Kind::Unavailable, 3, 503),
            (Kind::Timeout, 3, 504),
            (Kind::Unknown, 5, 502),
            (Kind::Corruption, 6, 500),
            (Kind::Refused, 7, 403),
            (Kind::Internal, 7, 500),
        ];
        for (kind, code, status) in cases {
            let e = ApiError::new(kind, "x");
            assert_eq!((kind.exit_code(), e.status.as_u16()), (code, status));
            let body = e.to_edn().to_string();
            assert!(body.contains(&format!(":exit-code {code}")), "{body}");
        }
        let unknown = ApiError::from(peer::Error::new(peer::ErrorKind::OutcomeUnknown, "cut"));
        assert_eq!(
            unknown.kind,
            Kind::Unknown,
            "never reported as not committed"
        );
    }

    #[test]
    fn internal_failures_are_neither_corruption_nor_invalid() {
        let e = ApiError::new(Kind::Internal, "a task panicked");
        assert_eq!((e.kind.exit_code(), e.status.as_u16()), (7, 500));
        let body = e.to_edn().to_string();
        assert!(body.contains(r#":kind "internal""#), "{body}");
        let panicked = ApiError::from(peer::Error::new(peer::ErrorKind::Internal, "x"));
        assert_eq!(panicked.kind, Kind::Internal);
    }

    /// The statuses and kinds answers had before the kinds were shared.
    #[test]
    fn shared_kinds_keep_their_answers() {
        use peer::ErrorKind as P;
        let cases = [
            (P::Invalid, Kind::Invalid, 400),
            (P::NotFound, Kind::Invalid, 400),
            (P::Unavailable, Kind::Unavailable, 503),
            (P::Overloaded, Kind::Unavailable, 503),
            (P::Closed, Kind::Unavailable, 503),
            (P::Timeout, Kind::Timeout, 504),
            (P::OutcomeUnknown, Kind::Unknown, 502),
            (P::Corruption, Kind::Corruption, 500),
            (P::Protocol, Kind::Corruption, 500),
            (P::Unauthenticated, Kind::Refused, 403),
            (P::Forbidden, Kind::Refused, 403),
        ];
        for (theirs, kind, status) in cases {
            let e = ApiError::from(peer::Error::new(theirs, "x"));
            assert_eq!((e.kind, e.status.as_u16()), (kind, status), "{theirs:?}");
        }
        let e = ApiError::from(access::Error::unauthenticated("no token"));
        assert_eq!((e.kind, e.status.as_u16()), (Kind::Refused, 401));
        let e = ApiError::from(access::Error::forbidden("no role"));
        assert_eq!((e.kind, e.status.as_u16()), (Kind::Refused, 403));
        let too_large = query::Error::new(query::ErrorKind::TooLarge, "rows", "");
        assert_eq!(ApiError::from(too_large).kind, Kind::TooLarge);
        let cancelled = query::Error::new(query::ErrorKind::Cancelled, "gone", "");
        assert_eq!(ApiError::from(cancelled).kind, Kind::Timeout);
    }

    /// Undecodable access records were "unavailable" (503, "try again")
    /// before the kinds were shared: a retry reads the same bytes.
    #[test]
    fn corrupt_access_records_are_corruption() {
        let e = ApiError::from(access::Error::new(
            peer::ErrorKind::Corruption,
            "access records in storage: bad frame",
        ));
        assert_eq!((e.kind, e.status.as_u16()), (Kind::Corruption, 500));
    }
}
