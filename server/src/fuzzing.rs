//! The routes without a socket, for the fuzz targets (`fuzz/`): a request
//! goes straight to the router as if a loopback client had sent it. Not a
//! stable API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use peer::Connection;
use tower::ServiceExt;

use crate::Limits;
use crate::app::{App, ClientInfo};

/// The server's routes over `databases`, with no authentication (loopback
/// development mode) and `limits`.
#[derive(Clone)]
pub struct Routes {
    router: axum::Router,
}

impl Routes {
    /// Routes over `databases`.
    pub fn new(databases: Vec<Connection>, limits: Limits) -> Result<Routes, crate::ApiError> {
        let app = Arc::new(App::new(databases, limits, None, None)?);
        Ok(Routes {
            router: app.router(),
        })
    }

    /// Sends one request (`content_type` and `accept` as headers when
    /// given) and returns the status and body of the answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            request = request.header(axum::http::header::CONTENT_TYPE, content_type);
        }
        if let Some(accept) = accept {
            request = request.header(axum::http::header::ACCEPT, accept);
        }
        let mut request = request
            .body(Body::from(body))
            .map_err(|e| format!("not a request: {e}"))?;
        request.extensions_mut().insert(ClientInfo {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            certificate: None,
        });
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| format!("the router failed: {e}"))?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok((status, bytes.to_vec()))
    }
}
