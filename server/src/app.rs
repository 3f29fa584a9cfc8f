//! The way every request goes: who the client is, which database, whether
//! it may, a slot among the requests served at once, the body, the
//! endpoint under the time limit, and the answer (or the error) in the
//! negotiated format. Endpoints themselves live in `read`, `write` and
//! `stream`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use access::{Gate, Identity, Principal, Proof, Role, Secret};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use model::edn::Edn;
use peer::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, Kind};
use crate::format::{self, Format, Params};
use crate::{Limits, Shared};

/// Called after every request with the endpoint's name (`q`, `transact`,
/// …), the HTTP status and how long it took: the hook for metrics.
pub type RequestObserver = Arc<dyn Fn(&str, u16, Duration) + Send + Sync>;

/// Who connected, as the listener saw it (a request extension).
#[derive(Clone, Debug)]
pub(crate) struct ClientInfo {
    pub(crate) addr: SocketAddr,
    /// The subject of a client certificate the TLS handshake verified.
    pub(crate) certificate: Option<Principal>,
}

/// The state every handler shares.
pub(crate) struct App {
    pub(crate) dbs: BTreeMap<String, Connection>,
    pub(crate) limits: Limits,
    pub(crate) gate: Option<Arc<Gate>>,
    permits: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    observer: Option<crate::RequestObserver>,
}

/// The endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Q,
    Pull,
    PullMany,
    Datoms,
    SeekDatoms,
    IndexRange,
    Entity,
    TxRange,
    Transact,
    TxStatus,
    With,
    Schema,
    Stats,
    TxRate,
    Reports,
    Status,
    Health,
    OpenApi,
}

impl Endpoint {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::Q => "q",
            Endpoint::Pull => "pull",
            Endpoint::PullMany => "pull-many",
            Endpoint::Datoms => "datoms",
            Endpoint::SeekDatoms => "seek-datoms",
            Endpoint::IndexRange => "index-range",
            Endpoint::Entity => "entity",
            Endpoint::TxRange => "tx-range",
            Endpoint::Transact => "transact",
            Endpoint::TxStatus => "tx-status",
            Endpoint::With => "with",
            Endpoint::Schema => "schema",
            Endpoint::Stats => "stats",
            Endpoint::TxRate => "tx-rate",
            Endpoint::Reports => "reports",
            Endpoint::Status => "status",
            Endpoint::Health => "health",
            Endpoint::OpenApi => "openapi",
        }
    }

    /// The role the endpoint needs on its database (transact may need
    /// admin on top, by its tx data).
    fn role(self) -> Role {
        match self {
            Endpoint::Transact => Role::Write,
            _ => Role::Read,
        }
    }
}

/// What an endpoint answers: data (rendered in the negotiated format) or
/// a ready response (the report stream, the OpenAPI document).
pub(crate) enum Answer {
    Data(Edn),
    Raw(Response),
}

/// One request, ready for its endpoint.
pub(crate) struct Call {
    pub(crate) app: Shared,
    pub(crate) conn: Connection,
    pub(crate) params: Params,
    pub(crate) identity: Identity,
    pub(crate) headers: HeaderMap,
    pub(crate) format: Format,
    pub(crate) db_name: String,
    /// Set when the request is abandoned (time limit, client gone): reads
    /// in progress stop.
    pub(crate) cancel: Arc<AtomicBool>,
}

impl Call {
    /// Runs a read off the async workers (reads block on storage), and
    /// stops it through [`Call::cancel`] when the request is abandoned.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(Arc<AtomicBool>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let cancel = self.cancel.clone();
        let _stop = CancelOnDrop(self.cancel.clone());
        tokio::task::spawn_blocking(move || read(cancel))
            .await
            .map_err(|e| ApiError::new(Kind::Internal, format!("the read failed: {e}")))?
    }

    /// Authorizes `role` on this call's database for its client.
    pub(crate) async fn authorize(&self, role: Role) -> Result<(), ApiError> {
        self.app
            .authorize(&self.identity, &self.db_name, role)
            .await
    }
}

/// Sets the flag when dropped: an abandoned request stops its read.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl App {
    pub(crate) fn new(
        conns: Vec<Connection>,
        limits: Limits,
        gate: Option<Arc<Gate>>,
        observer: Option<crate::RequestObserver>,
    ) -> Result<App, ApiError> {
        let mut dbs = BTreeMap::new();
        for conn in conns {
            let name = conn.db_name().to_string();
            if dbs.insert(name.clone(), conn).is_some() {
                return Err(ApiError::invalid(format!(
                    "two databases named `{name}`: one server serves each name once"
                )));
            }
        }
        Ok(App {
            dbs,
            permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            streams: Arc::new(Semaphore::new(limits.max_streams.max(1))),
            limits,
            gate,
            observer,
        })
    }

    /// The routes.
    pub(crate) fn router(self: Arc<Self>) -> Router {
        let db_routes = [
            ("q", Endpoint::Q),
            ("pull", Endpoint::Pull),
            ("pull-many", Endpoint::PullMany),
            ("datoms", Endpoint::Datoms),
            ("seek-datoms", Endpoint::SeekDatoms),
            ("index-range", Endpoint::IndexRange),
            ("entity", Endpoint::Entity),
            ("tx-range", Endpoint::TxRange),
            ("transact", Endpoint::Transact),
            ("tx-status", Endpoint::TxStatus),
            ("with", Endpoint::With),
            ("schema", Endpoint::Schema),
            ("stats", Endpoint::Stats),
            ("tx-rate", Endpoint::TxRate),
        ];
        let mut router = Router::new();
        for (path, endpoint) in db_routes {
            router = router.route(
                &format!("/dbs/{{db}}/{path}"),
                post(
                    move |State(app): State<Shared>, Path(db): Path<String>, req: Request| {
                        handle(app, endpoint, Some(db), req)
                    },
                ),
            );
        }
        router
            .route(
                "/dbs/{db}/reports",
                get(
                    |State(app): State<Shared>, Path(db): Path<String>, req: Request| {
                        handle(app, Endpoint::Reports, Some(db), req)
                    },
                ),
            )
            .route(
                "/status",
                get(|State(app): State<Shared>, req: Request| {
                    handle(app, Endpoint::Status, None, req)
                }),
            )
            .route(
                "/health",
                get(|State(app): State<Shared>, req: Request| {
                    handle(app, Endpoint::Health, None, req)
                }),
            )
            .route(
                "/openapi.json",
                get(|State(app): State<Shared>, req: Request| {
                    handle(app, Endpoint::OpenApi, None, req)
                }),
            )
            .merge(crate::console::routes(self.clone()))
            .fallback(|req: Request| async move {
                let format = format::response_format(req.headers(), None);
                let error = ApiError::invalid(format!(
                    "no endpoint {} {} (GET /openapi.json lists them)",
                    req.method(),
                    req.uri().path()
                ))
                .with_status(StatusCode::NOT_FOUND);
                error_response(format, &error)
            })
            .with_state(self)
    }

    /// Who the client is: its token (`Authorization: Bearer …`, or the
    /// password of `Basic …` as a browser sends it), else its
    /// client certificate, else nobody (which only an open loopback
    /// server admits).
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        client: &ClientInfo,
    ) -> Result<Identity, ApiError> {
        let token = match headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => {
                let text = value.to_str().unwrap_or("");
                Some(Secret::new(bearer_or_basic(text)?.trim()))
            }
        };
        match &self.gate {
            Some(gate) => Ok(gate
                .authenticate(client.addr.ip(), token.as_ref(), client.certificate.clone())
                .await?),
            None => Ok(Identity {
                principal: Principal::anonymous(),
                proof: Proof::Anonymous,
            }),
        }
    }

    pub(crate) async fn authorize(
        &self,
        who: &Identity,
        db: &str,
        role: Role,
    ) -> Result<(), ApiError> {
        match &self.gate {
            Some(gate) => gate
                .authorize(who, db, role)
                .await
                .map(|_| ())
                .map_err(Into::into),
            None => Ok(()),
        }
    }

    /// The databases `who` may read, by name, with the role it holds on
    /// each (every role without a gate: development mode).
    pub(crate) async fn readable(&self, who: &Identity) -> Vec<(&String, &Connection, Role)> {
        let mut out = Vec::new();
        for (name, conn) in &self.dbs {
            let held = match &self.gate {
                Some(gate) => gate.authorize(who, name, Role::Read).await.ok(),
                None => Some(Role::Admin),
            };
            if let Some(role) = held {
                out.push((name, conn, role));
            }
        }
        out
    }

    /// Tells the observer about a request served outside [`handle`].
    pub(crate) fn observe(&self, endpoint: &str, status: u16, took: Duration) {
        if let Some(observer) = &self.observer {
            observer(endpoint, status, took);
        }
    }

    /// A slot among the requests (or streams) served at once, or a
    /// refusal: a busy server answers at once rather than queue.
    fn slot(&self, endpoint: Endpoint) -> Result<OwnedSemaphorePermit, ApiError> {
        let (pool, what) = match endpoint {
            Endpoint::Reports => (&self.streams, "report streams"),
            _ => (&self.permits, "requests"),
        };
        pool.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                Kind::Unavailable,
                format!("the server is serving as many {what} as it may at once; try again"),
            )
            .with_status(StatusCode::TOO_MANY_REQUESTS)
        })
    }
}

/// Serves one request and tells the observer.
async fn handle(app: Shared, endpoint: Endpoint, db: Option<String>, req: Request) -> Response {
    let started = Instant::now();
    let response = match prepare_and_run(&app, endpoint, db, req).await {
        Ok(response) => response,
        Err((format, error)) => error_response(format, &error),
    };
    if let Some(observer) = &app.observer {
        observer(
            endpoint.name(),
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    response
}

async fn prepare_and_run(
    app: &Shared,
    endpoint: Endpoint,
    db: Option<String>,
    req: Request,
) -> Result<Response, (Format, ApiError)> {
    let (parts, body) = req.into_parts();
    let request_format = format::request_format(&parts.headers);
    let format = format::response_format(&parts.headers, request_format.clone().ok().flatten());
    let fail = |e: ApiError| (format, e);
    let client = parts
        .extensions
        .get::<ClientInfo>()
        .cloned()
        .ok_or_else(|| {
            fail(ApiError::new(
                Kind::Internal,
                "a request without its connection",
            ))
        })?;
    let identity = app
        .authenticate(&parts.headers, &client)
        .await
        .map_err(fail)?;
    let request_format = request_format.map_err(fail)?;
    let Some(name) = db else {
        let _slot = app.slot(endpoint).map_err(fail)?;
        return crate::read::server_wide(app, endpoint, &identity, format)
            .await
            .map(|answer| render(format, answer, app.limits.max_response_bytes))
            .map_err(fail)?
            .map_err(fail);
    };
    let conn = app.dbs.get(&name).cloned().ok_or_else(|| {
        let served: Vec<&str> = app.dbs.keys().map(String::as_str).collect();
        fail(
            ApiError::invalid(format!(
                "no database `{name}` is served here (served: {})",
                served.join(", ")
            ))
            .with_status(StatusCode::NOT_FOUND),
        )
    })?;
    app.authorize(&identity, &name, endpoint.role())
        .await
        .map_err(fail)?;
    let slot = app.slot(endpoint).map_err(fail)?;
    let bytes = axum::body::to_bytes(body, app.limits.max_body_bytes)
        .await
        .map_err(|e| {
            fail(ApiError::new(
                Kind::TooLarge,
                format!(
                    "the request body is over {} bytes, or broke off: {e}",
                    app.limits.max_body_bytes
                ),
            ))
        })?;
    let body = body_edn(&bytes, request_format).map_err(fail)?;
    let params = Params::new(parts.uri.query(), body).map_err(fail)?;
    let call = Call {
        app: app.clone(),
        conn,
        params,
        identity,
        headers: parts.headers,
        format,
        db_name: name,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let answer = match endpoint {
        // A transaction is never abandoned half way by the server: its
        // own limit (the peer's transact timeout) ends in an answer that
        // says whether it committed.
        Endpoint::Transact => crate::write::transact(&call).await,
        Endpoint::TxStatus => crate::write::tx_status(&call).await,
        Endpoint::Reports => crate::stream::reports(&call, slot).await,
        _ => {
            let limit = app.limits.request_timeout;
            match tokio::time::timeout(limit, crate::read::endpoint(endpoint, &call)).await {
                Ok(answer) => answer,
                Err(_) => Err(ApiError::new(
                    Kind::Timeout,
                    format!("the request ran past the server's limit of {limit:?} and was stopped"),
                )),
            }
        }
    };
    answer
        .and_then(|a| render(format, a, app.limits.max_response_bytes))
        .map_err(fail)
}

/// The body as EDN: nil when empty; a body needs a `Content-Type`.
fn body_edn(bytes: &[u8], format: Option<Format>) -> Result<Edn, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Edn::Nil);
    }
    let format = format.ok_or_else(|| {
        format::unsupported(&format!(
            "a request body needs Content-Type {} or {}",
            format::EDN,
            format::JSON
        ))
    })?;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not UTF-8: {e}")))?;
    format.parse(text)
}

fn render(format: Format, answer: Answer, max_bytes: usize) -> Result<Response, ApiError> {
    let data = match answer {
        Answer::Raw(response) => return Ok(response),
        Answer::Data(data) => data,
    };
    let text = format.render(&data);
    if text.len() > max_bytes {
        return Err(ApiError::new(
            Kind::TooLarge,
            format!(
                "the answer is {} bytes, over the server's limit of {max_bytes}: ask for less (a smaller limit, a narrower query)",
                text.len()
            ),
        ));
    }
    Ok(with_type(StatusCode::OK, format, text))
}

pub(crate) fn error_response(format: Format, error: &ApiError) -> Response {
    with_type(error.status, format, format.render(&error.to_edn()))
}

fn with_type(status: StatusCode, format: Format, text: String) -> Response {
    let mut response = (status, Body::from(text)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    response
}

/// The token of an `Authorization` header: `Bearer TOKEN`, or `Basic`
/// with base64 of `NAME:TOKEN` (what a browser sends after asking; the
/// name is not used).
fn bearer_or_basic(text: &str) -> Result<String, ApiError> {
    let refused = |why: &str| {
        ApiError::invalid(format!(
            "Authorization: {why}; send `Bearer TOKEN` (or `Basic` with any name and the token as the password)"
        ))
        .with_status(StatusCode::UNAUTHORIZED)
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(rest.to_string());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused("unknown scheme"));
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| refused("Basic credentials are not base64"))?;
    let text =
        String::from_utf8(decoded).map_err(|_| refused("Basic credentials are not UTF-8"))?;
    let (_, token) = text
        .split_once(':')
        .ok_or_else(|| refused("Basic credentials have no `:`"))?;
    Ok(token.to_string())
}
