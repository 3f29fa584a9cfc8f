//! `import`: tx data files of any size through a transactor in this
//! process (the `import` crate does the work), with a progress bar on a
//! terminal and a summary in EDN.

use std::io::IsTerminal;
use std::time::Duration;

use import::{Options, Progress, Source, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use transactor::lease::Patience;
use transactor::{Config, Transactor};

use crate::args::ImportArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::signals::stop_requested;
use crate::storage::{keyspace_hint, open_db, segments};

/// The lease ttl of the import's transactor.
const IMPORT_LEASE_TTL: Duration = Duration::from_secs(5);

pub(crate) async fn run(args: ImportArgs) -> Outcome {
    let uri = args.uri.clone();
    import_files(args).await.map_err(|f| keyspace_hint(f, &uri))
}

async fn import_files(args: ImportArgs) -> Outcome {
    if args.batch_bytes == 0 || args.in_flight == 0 {
        return Err(Failure::invalid(
            "--batch-bytes and --in-flight must be positive",
        ));
    }
    // Unreadable files are refused before the lease is taken.
    let sources = args
        .files
        .iter()
        .map(|path| Source::read(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failure)?;
    let wait = Duration::try_from_secs_f64(args.lease_wait)
        .map_err(|e| Failure::invalid(format!("--lease-wait {}: {e}", args.lease_wait)))?;
    let (storage, db) = open_db(&args.uri).await?;
    let base = Config {
        patience: Patience::AtMost(wait),
        // An import keeps the machine busy (parsing, applying, indexing):
        // a renewal that waits behind that work must not depose it. A
        // standby takes over later, which an import can afford.
        lease_ttl: IMPORT_LEASE_TTL,
        ..Config::default()
    };
    let config = import::transactor_config(base, args.index_threshold, args.index_growth);
    let seg = segments(storage)?;
    let transactor = Transactor::start(seg, &db, config).await?;
    let options = Options {
        batch_bytes: args.batch_bytes,
        in_flight: args.in_flight,
        index_at_end: true,
    };
    let bar = progress_bar(sources.iter().map(|s| s.text.len() as u64).sum());
    let shown = bar.clone();
    let show = move |p: &Progress| show(&shown, p);
    let outcome = tokio::select! {
        outcome = import::import(&transactor, sources, &options, &show) => outcome.map_err(failure),
        signal = stop_requested() => Err(Failure::new(
            signal.code(),
            "stopped by a signal; the batches committed so far stay, and running the same import again goes on from there",
        )),
    };
    bar.finish_and_clear();
    if let Err(e) = transactor.shutdown().await {
        tracing::warn!(error = %e, "releasing the lease");
    }
    print(&outcome?);
    Ok(())
}

/// A bar over the input's bytes, drawn on stderr only when it is a
/// terminal.
fn progress_bar(bytes: u64) -> ProgressBar {
    let target = match std::io::stderr().is_terminal() {
        true => ProgressDrawTarget::stderr(),
        false => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(Some(bytes), target);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (ETA {eta})",
    );
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

fn show(bar: &ProgressBar, p: &Progress) {
    bar.set_position(p.bytes_done);
    let rate = p.datoms as f64 / p.elapsed.as_secs_f64().max(1e-3);
    let skipped = match p.skipped {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    bar.set_message(format!(
        "{} datoms, {:.0} datoms/s, {} batches{skipped}",
        p.datoms, rate, p.batches
    ));
}

/// The summary as one EDN map on stdout.
fn print(s: &Summary) {
    let seconds = s.elapsed.as_secs_f64();
    let peak = match peak_memory_bytes() {
        Some(bytes) => format!("{:.1}", bytes as f64 / (1024.0 * 1024.0)),
        None => "nil".to_string(),
    };
    let indexed = s.indexed_t.map_or("nil".to_string(), |t| t.to_string());
    println!(
        "{{:batches {} :skipped {} :batch-bytes {} :datoms {} :skipped-datoms {} :bytes {} :tempids {} :basis-t {} :indexed-t {indexed} :seconds {seconds:.3} :datoms-per-second {:.0} :peak-memory-mib {peak}}}",
        s.batches,
        s.skipped,
        s.batch_bytes,
        s.datoms,
        s.skipped_datoms,
        s.bytes,
        s.tempids,
        s.basis_t,
        s.datoms as f64 / seconds.max(1e-9),
    );
}

/// The most memory this process has held (its peak resident set), where
/// the system says (Linux).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn failure(e: import::Error) -> Failure {
    match &e {
        import::Error::Transact { source, .. } => {
            Failure::from(transactor::Error::new(source.kind(), e.to_string()))
        }
        import::Error::Input(message) => Failure::new(Code::Invalid, message.clone()),
    }
}
