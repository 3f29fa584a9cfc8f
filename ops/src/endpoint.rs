//! The HTTP listener of `--metrics-listen`: `GET /metrics` (Prometheus
//! text), `GET /health` (200 while the process runs) and `GET /ready` (200
//! or 503 with the caller's [`Readiness`] in the body).
//!
//! # Loopback only
//!
//! Nothing but loopback answers without authentication, and this listener
//! has none: an address that is not loopback (`0.0.0.0:9100`, a public
//! IP, a host name that resolves to one) is refused before anything
//! listens. Scrape it from the same machine (a local Prometheus agent, or
//! a reverse proxy that authenticates and forwards), never over the
//! network directly. A future authenticated listener would take the
//! `access` crate's tokens and TLS, as the transactor's endpoint does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// Whether the process does its job now, and what it is doing (the body
/// of `/ready`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// 200 when true, 503 when false.
    pub ready: bool,
    /// One or more lines saying the state, e.g. `active for `shop` (lease
    /// epoch 3)` or `standby for `shop`: the transactor at … holds its
    /// lease`.
    pub state: String,
}

impl Readiness {
    /// Ready, in `state`.
    pub fn ready(state: impl Into<String>) -> Readiness {
        Readiness {
            ready: true,
            state: state.into(),
        }
    }

    /// Not ready, in `state`.
    pub fn not_ready(state: impl Into<String>) -> Readiness {
        Readiness {
            ready: false,
            state: state.into(),
        }
    }
}

/// Computes the [`Readiness`] of the process on each `/ready` request (it
/// must be cheap: read a state the process keeps, never storage).
pub type ReadinessProbe = Arc<dyn Fn() -> Readiness + Send + Sync>;

/// A running listener. It stops when the stop token given to
/// [`serve_ops`] is cancelled.
#[derive(Debug)]
pub struct OpsListener {
    local_addr: SocketAddr,
}

impl OpsListener {
    /// The address it listens on (the port chosen for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Listens on `addr` (loopback only, see the module docs) and serves
/// `/metrics` from `metrics` (404 when `None`), `/health` and `/ready` from
/// `ready`, until `stop` is cancelled.
pub async fn serve_ops(
    addr: &str,
    metrics: Option<PrometheusHandle>,
    ready: ReadinessProbe,
    stop: CancellationToken,
) -> Result<OpsListener, Error> {
    let resolved = loopback(addr).await?;
    let listener = TcpListener::bind(resolved.as_slice())
        .await
        .map_err(|e| Error::unavailable(format!("--metrics-listen {addr}: cannot listen: {e}")))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::unavailable(format!("--metrics-listen {addr}: {e}")))?;
    let app = Router::new()
        .route("/metrics", get(move || render(metrics.clone())))
        .route("/health", get(|| async { (StatusCode::OK, "alive\n") }))
        .route("/ready", get(move || answer_ready(ready.clone())));
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(%local_addr, error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(%local_addr, "metrics, health and readiness listening (/metrics, /health, /ready)");
    Ok(OpsListener { local_addr })
}

/// The addresses `addr` names, all of them loopback, or why not.
pub async fn loopback(addr: &str) -> Result<Vec<SocketAddr>, Error> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| {
            Error::invalid(format!(
                "--metrics-listen {addr}: not an address (HOST:PORT, e.g. 127.0.0.1:9464): {e}"
            ))
        })?
        .collect();
    if resolved.is_empty() {
        return Err(Error::invalid(format!(
            "--metrics-listen {addr}: names no address"
        )));
    }
    if let Some(open) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        return Err(Error::invalid(format!(
            "--metrics-listen {addr}: {} is not a loopback address. The metrics endpoint has no authentication, and nothing but loopback answers without it: listen on 127.0.0.1 or [::1] and scrape from this machine (a local agent, or a reverse proxy that authenticates)",
            open.ip()
        )));
    }
    Ok(resolved)
}

async fn render(metrics: Option<PrometheusHandle>) -> Response {
    match metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics recorder\n").into_response(),
    }
}

async fn answer_ready(ready: ReadinessProbe) -> Response {
    let readiness = ready();
    let status = match readiness.ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut body = readiness.state;
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (status, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        socket.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn refuses_every_address_but_loopback() {
        for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9464"] {
            let e = loopback(addr).await.expect_err(addr);
            assert!(e.message().contains("not a loopback address"), "{e}");
        }
        let e = loopback("nonsense").await.expect_err("no port");
        assert!(e.message().contains("not an address"), "{e}");
        assert!(loopback("127.0.0.1:0").await.is_ok());
        assert!(loopback("localhost:0").await.is_ok());
    }

    #[tokio::test]
    async fn answers_health_ready_and_not_found() {
        let state = Arc::new(parking_free::Flag::default());
        let probe_state = state.clone();
        let probe: ReadinessProbe = Arc::new(move || match probe_state.get() {
            true => Readiness::ready("active"),
            false => Readiness::not_ready("standby for `x`"),
        });
        let stop = CancellationToken::new();
        let listening = serve_ops("127.0.0.1:0", None, probe, stop.clone())
            .await
            .expect("listen");
        let addr = listening.local_addr();
        assert!(get(addr, "/health").await.starts_with("HTTP/1.1 200"));
        let standby = get(addr, "/ready").await;
        assert!(standby.starts_with("HTTP/1.1 503"), "{standby}");
        assert!(standby.ends_with("standby for `x`\n"), "{standby}");
        state.set(true);
        let active = get(addr, "/ready").await;
        assert!(active.starts_with("HTTP/1.1 200"), "{active}");
        assert!(get(addr, "/metrics").await.starts_with("HTTP/1.1 404"));
        assert!(get(addr, "/other").await.starts_with("HTTP/1.1 404"));
        stop.cancel();
    }

    /// A flag the probe reads (std only).
    mod parking_free {
        use std::sync::atomic::{AtomicBool, Ordering};

        #[derive(Default)]
        pub(super) struct Flag(AtomicBool);

        impl Flag {
            pub(super) fn get(&self) -> bool {
                self.0.load(Ordering::Relaxed)
            }
            pub(super) fn set(&self, on: bool) {
                self.0.store(on, Ordering::Relaxed)
            }
        }
    }
}
