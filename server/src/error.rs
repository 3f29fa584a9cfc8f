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
        }
    }

    /// The exit code of the command line for the same failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Invalid | Kind::TooLarge => 2,
            Kind::Unavailable | Kind::Timeout => 3,
            Kind::Unknown => 5,
            Kind::Corruption => 6,
            Kind::Refused => 7,
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

impl From<peer::Error> for ApiError {
    fn from(e: peer::Error) -> Self {
        use peer::ErrorKind as P;
        let kind = match e.kind() {
            P::Invalid | P::NotFound => Kind::Invalid,
            P::Unavailable | P::Overloaded | P::Closed => Kind::Unavailable,
            P::OutcomeUnknown => Kind::Unknown,
            // A wait that ran out: for a transaction, its fate is open.
            P::Timeout if e.committed_t().is_some() => Kind::Unknown,
            P::Timeout => Kind::Timeout,
            P::Refused => Kind::Refused,
            _ => Kind::Corruption,
        };
        // The kind is in the body already; the message says the rest.
        let mut error = ApiError::new(kind, e.message());
        error.committed_t = e.committed_t();
        error
    }
}

impl From<query::Error> for ApiError {
    fn from(e: query::Error) -> Self {
        use query::ErrorKind as Q;
        let kind = match e.kind() {
            Q::Timeout | Q::Cancelled => Kind::Timeout,
            Q::TooLarge => Kind::TooLarge,
            _ if e.is_invalid_input() => Kind::Invalid,
            _ => {
                let model =
                    std::error::Error::source(&e).and_then(|s| s.downcast_ref::<model::Error>());
                match model {
                    Some(m) if !m.is_storage() => Kind::Corruption,
                    _ => Kind::Unavailable,
                }
            }
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<model::Error> for ApiError {
    fn from(e: model::Error) -> Self {
        let kind = if e.is_invalid_input() {
            Kind::Invalid
        } else if e.is_storage() {
            Kind::Unavailable
        } else {
            Kind::Corruption
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<access::Error> for ApiError {
    fn from(e: access::Error) -> Self {
        use access::ErrorKind as A;
        match e.kind() {
            A::Unauthenticated => {
                ApiError::new(Kind::Refused, e.message()).with_status(StatusCode::UNAUTHORIZED)
            }
            A::Forbidden => ApiError::new(Kind::Refused, e.message()),
            A::Invalid => ApiError::invalid(e.message()),
            _ => ApiError::new(Kind::Unavailable, e.message()),
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
}
