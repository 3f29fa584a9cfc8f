//! Progress of a copy or a check: a bar on a terminal, plain log lines
//! otherwise, or nothing.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressStyle};

/// Receives the progress of a task that handles segments one by one.
///
/// Calls come from many tasks at once; implementations synchronise.
pub trait Progress: Send + Sync + fmt::Debug {
    /// A task (`"backup"`, `"restore"`, `"verify"`) begins with `segments`
    /// segments to handle.
    fn start(&self, task: &str, segments: u64);
    /// One segment of `bytes` bytes is done.
    fn segment_done(&self, bytes: u64);
    /// The task has ended (successfully or not).
    fn finish(&self);
}

/// No progress output.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _task: &str, _segments: u64) {}
    fn segment_done(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// A bar on stderr when it is a terminal, else [`LogLines`] on stderr.
pub fn for_stderr() -> Arc<dyn Progress> {
    match std::io::stderr().is_terminal() {
        true => Arc::new(Bar::default()),
        false => Arc::new(LogLines::stderr(Duration::from_secs(10))),
    }
}

/// Counts and rates of the running task.
#[derive(Debug, Clone)]
struct Meter {
    task: String,
    total: u64,
    done: u64,
    bytes: u64,
    started: Instant,
}

impl Meter {
    fn new(task: &str, total: u64) -> Meter {
        Meter {
            task: task.to_string(),
            total,
            done: 0,
            bytes: 0,
            started: Instant::now(),
        }
    }

    fn rates(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{}, {}/s, {:.0} segments/s",
            HumanBytes(self.bytes),
            HumanBytes((self.bytes as f64 / secs) as u64),
            self.done as f64 / secs
        )
    }

    fn eta(&self) -> Option<Duration> {
        if self.done == 0 || self.done >= self.total {
            return None;
        }
        let per_segment = self.started.elapsed().as_secs_f64() / self.done as f64;
        Duration::try_from_secs_f64(per_segment * (self.total - self.done) as f64).ok()
    }

    fn line(&self) -> String {
        let eta = self
            .eta()
            .map_or_else(String::new, |d| format!(", ETA {}", HumanDuration(d)));
        format!(
            "{}: {}/{} segments, {}{eta}",
            self.task,
            self.done,
            self.total,
            self.rates()
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section only updates counters: a panic elsewhere
    // cannot leave them inconsistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A progress bar (segments done of all, bytes, rate, ETA) on stderr.
#[derive(Debug, Default)]
pub struct Bar {
    state: Mutex<Option<(ProgressBar, Meter)>>,
}

impl Progress for Bar {
    fn start(&self, task: &str, segments: u64) {
        if segments == 0 {
            return; // nothing to show
        }
        let bar = ProgressBar::new(segments);
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} segments, {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(task.to_string());
        *lock(&self.state) = Some((bar, Meter::new(task, segments)));
    }

    fn segment_done(&self, bytes: u64) {
        let mut state = lock(&self.state);
        if let Some((bar, meter)) = state.as_mut() {
            meter.done += 1;
            meter.bytes += bytes;
            bar.set_message(meter.rates());
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some((bar, meter)) = lock(&self.state).take() {
            bar.finish_and_clear();
            eprintln!("{}", meter.line());
        }
    }
}

/// A plain line (segments, bytes, rate, ETA) at most every `every`, and
/// one at the end, for logs and pipes.
pub struct LogLines {
    every: Duration,
    out: Mutex<Box<dyn Write + Send>>,
    state: Mutex<Option<(Meter, Instant)>>,
}

impl fmt::Debug for LogLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLines")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl LogLines {
    /// Lines to stderr.
    pub fn stderr(every: Duration) -> LogLines {
        LogLines::to(Box::new(std::io::stderr()), every)
    }

    /// Lines to `out`.
    pub fn to(out: Box<dyn Write + Send>, every: Duration) -> LogLines {
        LogLines {
            every,
            out: Mutex::new(out),
            state: Mutex::new(None),
        }
    }

    fn print(&self, line: &str) {
        // A closed log has nowhere to report to; the task goes on.
        let _ = writeln!(lock(&self.out), "{line}");
    }
}

impl Progress for LogLines {
    fn start(&self, task: &str, segments: u64) {
        if segments == 0 {
            return; // nothing to report
        }
        let meter = Meter::new(task, segments);
        self.print(&format!("{task}: {segments} segments to go"));
        *lock(&self.state) = Some((meter, Instant::now()));
    }

    fn segment_done(&self, bytes: u64) {
        let line = {
            let mut state = lock(&self.state);
            let Some((meter, last)) = state.as_mut() else {
                return;
            };
            meter.done += 1;
            meter.bytes += bytes;
            if last.elapsed() < self.every {
                return;
            }
            *last = Instant::now();
            meter.line()
        };
        self.print(&line);
    }

    fn finish(&self) {
        let taken = lock(&self.state).take();
        if let Some((meter, _)) = taken {
            self.print(&format!(
                "{} in {}",
                meter.line(),
                HumanDuration(meter.started.elapsed())
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_report_counts_bytes_and_rate() {
        let out = Shared::default();
        let lines = LogLines::to(Box::new(out.clone()), Duration::ZERO);
        lines.start("restore", 4);
        lines.segment_done(1024);
        lines.segment_done(1024);
        lines.finish();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("restore: 4 segments to go"), "{text}");
        assert!(text.contains("restore: 2/4 segments, 2.00 KiB"), "{text}");
        assert!(text.contains("segments/s"), "{text}");
        assert!(text.contains("ETA"), "{text}");
        assert_eq!(text.lines().count(), 4, "{text}");

        lines.start("verify", 0);
        lines.finish();
        let after = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(after, text, "a task of nothing prints nothing");
    }
}
