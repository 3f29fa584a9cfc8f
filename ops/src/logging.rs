//! Log output on stderr: readable text, or one JSON object per line
//! (`--log-format json`) for log shippers.
//!
//! Every JSON line has `timestamp`, `level`, `target`, `fields` (with the
//! `message`) and `spans` (the enclosing spans, each with its fields:
//! a transactor's `db` and `epoch`). Secrets never reach a log: storage
//! URIs are logged in their redacted form (`StorageUri`'s `Display`), and
//! tokens only by their id.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colored on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name a flag or config file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Installs the global subscriber: the filter of `RUST_LOG` when set,
/// else `default_filter`; lines in `format` on stderr. A second call (or a
/// subscriber installed already) leaves the first one in place.
pub fn init(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
