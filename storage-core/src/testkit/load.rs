//! Closed-loop load for the backends' throughput benchmarks: callers that
//! each issue one operation after another for a fixed time.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each measurement runs: `ACCRETE_BENCH_SECONDS`, default 3.
pub fn bench_duration() -> Duration {
    let seconds = std::env::var("ACCRETE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    Duration::from_secs(seconds)
}

/// Runs `op(caller, i)` from `callers` tasks, each calling again as soon as
/// its last call finished, for [`bench_duration`]; returns the operations
/// completed per second. A task that panics panics the measurement.
pub async fn closed_loop<F, Fut>(callers: usize, op: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let until = started + bench_duration();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    op(c, n).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("a benchmark caller panicked");
    }
    total as f64 / started.elapsed().as_secs_f64()
}
