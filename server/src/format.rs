//! EDN and JSON on the wire: the format of a request body by its
//! `Content-Type`, of a response by `Accept` (else the request's format,
//! else JSON), and the request parameters every endpoint reads from the
//! body map and the query string alike.
//!
//! JSON is [`model::json`]'s lossless mapping. Where EDN text is handier
//! for a JSON client — a query, a pull pattern, tx data, an entity
//! reference — a JSON string holds the EDN text.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use model::edn::{self, Edn};

use crate::error::{ApiError, Kind};

/// `application/edn`
pub const EDN: &str = "application/edn";
/// `application/json`
pub const JSON: &str = "application/json";

/// A wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// EDN text.
    Edn,
    /// JSON under [`model::json`]'s mapping.
    Json,
}

impl Format {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Edn => EDN,
            Format::Json => JSON,
        }
    }

    /// `value` as text of this format.
    pub fn render(self, value: &Edn) -> String {
        match self {
            Format::Edn => value.to_string(),
            Format::Json => model::json::to_string(value),
        }
    }

    /// Parses text of this format.
    pub fn parse(self, text: &str) -> Result<Edn, ApiError> {
        match self {
            Format::Edn => {
                edn::parse(text).map_err(|e| ApiError::invalid(format!("EDN body: {e}")))
            }
            Format::Json => {
                model::json::parse(text).map_err(|e| ApiError::invalid(format!("JSON body: {e}")))
            }
        }
    }

    fn named_in(text: &str) -> Option<Format> {
        let text = text.to_ascii_lowercase();
        let edn = text.find(EDN);
        let json = text.find(JSON);
        match (edn, json) {
            (Some(e), Some(j)) => Some(if e < j { Format::Edn } else { Format::Json }),
            (Some(_), None) => Some(Format::Edn),
            (None, Some(_)) => Some(Format::Json),
            (None, None) => None,
        }
    }
}

/// The format of the request body, by `Content-Type`; `None` without one.
pub fn request_format(headers: &HeaderMap) -> Result<Option<Format>, ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    Format::named_in(text).map(Some).ok_or_else(|| {
        ApiError::invalid(format!("Content-Type `{text}`: send {EDN} or {JSON}"))
            .with_status(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE)
    })
}

/// The format of the response: the one `Accept` names first, else the
/// request body's, else JSON.
pub fn response_format(headers: &HeaderMap, request: Option<Format>) -> Format {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::named_in)
        .or(request)
        .unwrap_or(Format::Json)
}

/// The parameters of one request: the body's map (keyword keys) over the
/// query string's `name=value` pairs (each value read as EDN, falling
/// back to a string).
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: BTreeMap<String, Edn>,
}

impl Params {
    /// The parameters of a request with this query string and body.
    pub fn new(query: Option<&str>, body: Edn) -> Result<Params, ApiError> {
        let mut values = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, "true"));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| {
                        ApiError::invalid(format!("query parameter `{pair}` is not UTF-8"))
                    })
            };
            let (name, value) = (decode(name)?, decode(value)?);
            let parsed = edn::parse(&value).unwrap_or_else(|_| Edn::string(&value));
            values.insert(name, parsed);
        }
        match body {
            Edn::Nil => {}
            Edn::Map(map) => {
                for (key, value) in map {
                    let Edn::Keyword(k) = &key else {
                        return Err(ApiError::invalid(format!(
                            "the body's keys are keywords (JSON: object keys), not {key}"
                        )));
                    };
                    values.insert(k.as_str().to_string(), value);
                }
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "the body is a map of parameters (JSON: an object), not {}",
                    truncate(&other.to_string())
                )));
            }
        }
        Ok(Params { values })
    }

    /// The parameter `name`, if given (and not nil).
    pub fn get(&self, name: &str) -> Option<&Edn> {
        self.values.get(name).filter(|v| !matches!(v, Edn::Nil))
    }

    /// The parameter `name`, which must be given.
    pub fn required(&self, name: &str) -> Result<&Edn, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid(format!("missing parameter `{name}`")))
    }

    /// The parameter `name` as EDN data: a string holds EDN text.
    pub fn edn(&self, name: &str) -> Result<Option<Edn>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Edn::String(text)) => edn::parse(text)
                .map(Some)
                .map_err(|e| ApiError::invalid(format!("parameter `{name}` (EDN text): {e}"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The parameter `name` as a non-negative integer.
    pub fn natural(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Edn::Long(n)) if *n >= 0 => Ok(Some(n.unsigned_abs())),
            Some(other) => Err(ApiError::invalid(format!(
                "parameter `{name}` is a non-negative integer, not {}",
                truncate(&other.to_string())
            ))),
        }
    }

    /// The parameter `name` as a boolean (absent: false).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(Edn::Boolean(b)) => Ok(*b),
            Some(other) => Err(ApiError::invalid(format!(
                "parameter `{name}` is true or false, not {}",
                truncate(&other.to_string())
            ))),
        }
    }

    /// Refuses parameters this endpoint does not know (a typo would
    /// otherwise be silently ignored).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.values.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(unknown) => Err(ApiError::invalid(format!(
                "unknown parameter `{unknown}`; this endpoint takes: {}",
                known.join(", ")
            ))),
        }
    }
}

/// At most 80 characters of `text`, for messages.
pub(crate) fn truncate(text: &str) -> String {
    const KEEP: usize = 80;
    match text.char_indices().nth(KEEP) {
        None => text.to_string(),
        Some((i, _)) => format!("{}…", &text[..i]),
    }
}

/// An error for a body that is not in a known format.
pub(crate) fn unsupported(message: &str) -> ApiError {
    ApiError::new(Kind::Invalid, message.to_string())
        .with_status(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn negotiation_prefers_accept_then_the_body() {
        let mut headers = HeaderMap::new();
        assert_eq!(response_format(&headers, None), Format::Json);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/edn; charset=utf-8"),
        );
        let request = request_format(&headers).unwrap();
        assert_eq!(request, Some(Format::Edn));
        assert_eq!(response_format(&headers, request), Format::Edn);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/edn;q=0.5"),
        );
        assert_eq!(response_format(&headers, request), Format::Json);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(request_format(&headers).unwrap_err().status.as_u16(), 415);
    }

    #[test]
    fn params_merge_query_and_body_and_refuse_typos() {
        let body = edn::parse("{:limit 5 :query \"[:find ?e :where [?e :a]]\"}").unwrap();
        let params = Params::new(Some("as-of=1000&history&limit=7&x=a%20b"), body).unwrap();
        assert_eq!(params.natural("as-of").unwrap(), Some(1000));
        assert!(params.flag("history").unwrap());
        assert_eq!(params.natural("limit").unwrap(), Some(5), "the body wins");
        assert_eq!(params.get("x"), Some(&Edn::string("a b")));
        assert!(matches!(params.edn("query").unwrap(), Some(Edn::Vector(_))));
        assert!(
            params
                .only(&["as-of"])
                .unwrap_err()
                .message
                .contains("unknown parameter")
        );
        assert!(Params::new(None, Edn::Long(1)).is_err());
    }
}
