//! The console: a web UI for people (schema, queries, entities, the log,
//! the indexes, live transactions), served at `/console` from files
//! embedded in the binary (`server/console/`: plain HTML, CSS and
//! JavaScript, nothing fetched from elsewhere).
//!
//! Nothing answers off loopback without authentication, the console's own
//! files included: a client that is not on loopback must prove who it is
//! for the page too, with its client certificate (mTLS) or a token. A
//! browser cannot send a bearer token before it has a page, so such a
//! request without credentials gets `401` with `WWW-Authenticate: Basic`:
//! the browser asks for a name (any) and a password (the token), and then
//! sends them with every request to the server, which takes the password
//! of `Authorization: Basic …` as the token. On loopback (development, or
//! a tunnel) the page loads without credentials and asks for the token
//! itself. Everything the console shows comes from the API above, through
//! the same authentication and roles as any client: a token typed into the
//! page is kept in the tab's `sessionStorage` and sent as
//! `Authorization: Bearer …`. A Content-Security-Policy allows the page to
//! load and call only its own origin.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Shared;
use crate::app::ClientInfo;

/// One embedded file: its name under `/console/`, media type and bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

/// The console's files.
const ASSETS: [Asset; 3] = [
    Asset {
        name: "",
        media_type: "text/html; charset=utf-8",
        body: include_str!("../console/index.html"),
    },
    Asset {
        name: "console.css",
        media_type: "text/css; charset=utf-8",
        body: include_str!("../console/console.css"),
    },
    Asset {
        name: "console.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../console/console.js"),
    },
];

/// Only this origin, no inline script, no plugins, no framing.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes of the console: `/console` redirects to `/console/`, which
/// is the page; `/console/NAME` its other files.
pub(crate) fn routes(app: Shared) -> Router<Shared> {
    Router::new()
        .route(
            "/console",
            get(|State(app): State<Shared>| async move {
                let started = Instant::now();
                let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
                response
                    .headers_mut()
                    .insert(LOCATION, HeaderValue::from_static("/console/"));
                app.observe("console", 308, started.elapsed());
                response
            }),
        )
        .route(
            "/console/",
            get(
                |State(app): State<Shared>, req: Request| async move { serve(&app, "", req).await },
            ),
        )
        .route(
            "/console/{file}",
            get(
                |State(app): State<Shared>, Path(file): Path<String>, req: Request| async move {
                    serve(&app, &file, req).await
                },
            ),
        )
        .with_state(app)
}

/// `None` when the client may have the console's files: on loopback, or
/// authenticated; else the answer that asks a browser for credentials.
async fn admitted(app: &Shared, req: Request) -> Option<Response> {
    let Some(client) = req.extensions().get::<ClientInfo>().cloned() else {
        return Some(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    if client.addr.ip().is_loopback() || app.gate.is_none() {
        return None;
    }
    let (parts, _) = req.into_parts();
    match app.authenticate(&parts.headers, &client).await {
        Ok(_) => None,
        Err(e) => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                format!(
                    "the console needs credentials off loopback: a client certificate, or any name and a token as the password ({})",
                    e.message
                ),
            )
                .into_response();
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"accrete\", charset=\"UTF-8\""),
            );
            Some(response)
        }
    }
}

async fn serve(app: &Shared, name: &str, req: Request) -> Response {
    let started = Instant::now();
    if let Some(refused) = admitted(app, req).await {
        app.observe("console", refused.status().as_u16(), started.elapsed());
        return refused;
    }
    let response = match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => {
            let mut response = (StatusCode::OK, Body::from(asset.body)).into_response();
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.media_type));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert("content-security-policy", HeaderValue::from_static(POLICY));
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            format!(
                "no console file `{name}` (the console's files: {})",
                ASSETS
                    .iter()
                    .map(|a| format!("/console/{}", a.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
            .into_response(),
    };
    app.observe("console", response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use access::{Admission, Gate, Principal, create_token};
    use storage_core::{MemStorage, Storage};
    use tower::ServiceExt;

    use crate::app::App;

    async fn get(
        router: &Router,
        from: [u8; 4],
        path: &str,
        authorization: Option<String>,
    ) -> Response {
        let mut request = axum::http::Request::builder().uri(path);
        if let Some(value) = authorization {
            request = request.header(axum::http::header::AUTHORIZATION, value);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request.extensions_mut().insert(ClientInfo {
            addr: SocketAddr::from((from, 40_000)),
            certificate: None,
        });
        router.clone().oneshot(request).await.unwrap()
    }

    /// Off loopback, the console's files need credentials like every other
    /// answer: none → 401 asking the browser for Basic credentials; any
    /// name and the token as password → the page (and the API takes the
    /// same header). On loopback the page loads as before.
    #[tokio::test]
    async fn off_loopback_the_page_itself_needs_a_token() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let gate = Arc::new(Gate::new(storage.clone(), Admission::Authenticated));
        let token = create_token(&storage, &Principal::token_name("ann").unwrap())
            .await
            .unwrap();
        let app =
            Arc::new(App::new(Vec::new(), crate::Limits::default(), Some(gate), None).unwrap());
        let router = app.router();
        let remote = [203, 0, 113, 7];

        let refused = get(&router, remote, "/console/", None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let ask = refused.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(ask.starts_with("Basic realm="), "{ask}");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains("<html"),
            "no page without a token"
        );

        use base64::Engine as _;
        let basic = |password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("anyone:{password}"))
            )
        };
        let wrong = get(
            &router,
            remote,
            "/console/console.js",
            Some(basic("acc_nope")),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

        let secret = token.secret.expose().to_string();
        for file in ["/console/", "/console/console.js", "/console/console.css"] {
            let page = get(&router, remote, file, Some(basic(&secret))).await;
            assert_eq!(page.status(), StatusCode::OK, "{file}");
        }
        let status = get(&router, remote, "/status", Some(basic(&secret))).await;
        assert_eq!(status.status(), StatusCode::OK, "the API takes Basic too");
        let bearer = get(
            &router,
            remote,
            "/console/",
            Some(format!("Bearer {secret}")),
        )
        .await;
        assert_eq!(bearer.status(), StatusCode::OK);

        let local = get(&router, [127, 0, 0, 1], "/console/", None).await;
        assert_eq!(
            local.status(),
            StatusCode::OK,
            "loopback: the page asks for the token itself"
        );
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = ASSETS[0].body;
        assert!(
            page.contains("src=\"console.js\""),
            "the page loads its script"
        );
        assert!(
            page.contains("href=\"console.css\""),
            "the page loads its style"
        );
        for asset in &ASSETS {
            assert!(
                !asset.body.contains("http://") && !asset.body.contains("https://"),
                "{} names no other host",
                asset.name
            );
        }
    }
}
