//! The process's Prometheus recorder.
//!
//! Library crates record through the `metrics` facade; until [`install`]
//! runs every record is a no-op. Install it before making the things that
//! take metric handles when they are made (the segment cache does).
//!
//! Durations are histograms in seconds (names end in `_seconds`) with the
//! buckets of [`SECONDS_BUCKETS`]; counts of things per call
//! (`accrete_commit_batch_transactions`) use [`COUNT_BUCKETS`].

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;

/// Buckets of every `_seconds` histogram: 100 µs to 10 s.
pub const SECONDS_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets of the histograms that count things per call.
pub const COUNT_BUCKETS: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// How often the recorder drains its histograms when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static INSTALLED: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the process's global recorder (once;
/// later calls return the same handle) and starts its upkeep on the
/// current tokio runtime, when there is one.
pub fn install() -> Result<PrometheusHandle, Error> {
    if let Some(handle) = INSTALLED.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix("_batch_transactions".into()),
                &COUNT_BUCKETS,
            )
        })
        .map_err(|e| Error::invalid(format!("metrics buckets: {e}")))?
        .install_recorder()
        .map_err(|e| Error::unavailable(format!("installing the metrics recorder: {e}")))?;
    let handle = INSTALLED.get_or_init(|| handle).clone();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let upkeep = handle.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(UPKEEP).await;
                upkeep.run_upkeep();
            }
        });
    }
    Ok(handle)
}

/// Records one HTTP request of `accrete serve` (its request observer):
/// `accrete_http_requests_total{endpoint,status}` and the
/// `accrete_http_request_duration_seconds{endpoint}` histogram.
pub fn record_http_request(endpoint: &str, status: u16, took: Duration) {
    let endpoint = endpoint.to_string();
    metrics::counter!(
        "accrete_http_requests_total",
        "endpoint" => endpoint.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("accrete_http_request_duration_seconds", "endpoint" => endpoint)
        .record(took.as_secs_f64());
}
