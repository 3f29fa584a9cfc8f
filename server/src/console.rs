//! The console: a web UI for people (schema, queries, entities, the log,
//! the indexes, live transactions), served at `/console` from files
//! embedded in the binary (`server/console/`: plain HTML, CSS and
//! JavaScript, nothing fetched from elsewhere).
//!
//! The page and its script hold no data and are the same bytes for every
//! visitor (they ship inside the binary), so they are served without
//! credentials: a browser cannot send a token before it has the page
//! that asks for one. Everything the console shows comes from the API
//! above, through the same authentication and roles as any client: the
//! token the user types is kept in the tab's `sessionStorage` and sent as
//! `Authorization: Bearer …`. A Content-Security-Policy allows the page to
//! load and call only its own origin.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Shared;

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
            get(|State(app): State<Shared>| async move { serve(&app, "") }),
        )
        .route(
            "/console/{file}",
            get(|State(app): State<Shared>, Path(file): Path<String>| async move {
                serve(&app, &file)
            }),
        )
        .with_state(app)
}

fn serve(app: &Shared, name: &str) -> Response {
    let started = Instant::now();
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
