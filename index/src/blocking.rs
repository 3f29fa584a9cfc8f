//! Running the crate's blocking reads and writes off the async threads.

use crate::error::{Error, Result};

/// Runs `work` on the blocking pool; a panic in it is an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("a blocking task of the index crate failed: {e}")))?
}
