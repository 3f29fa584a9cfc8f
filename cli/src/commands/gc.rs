//! `gc-storage`, `excise-status`, `prune-backups`: thin layers over
//! `backup::gc`.

use std::sync::Arc;
use std::time::Duration;

use backup::gc::{
    ExcisionState, GcOptions, GcReport, PrunePolicy, excise_status, gc_storage, prune_backups,
};
use backup::{Access, BackupLocation, progress};
use clap::Args;
use storage_core::{DbName, Storage};
use tokio_util::sync::CancellationToken;
use transactor::lease::read_lease;

use crate::exit::{Failure, Outcome};
use crate::storage::{open, open_db, registry};

/// How many ids a dry run lists before it only counts.
const LISTED_IDS: usize = 50;

#[derive(Debug, Args)]
pub(crate) struct GcStorageArgs {
    /// Storage URI (`?db=` is ignored: every database of the storage is
    /// marked, and garbage of all of them is collected).
    pub(crate) uri: String,
    /// The grace period: segments unreachable for less than this stay, so
    /// commits in flight and peers holding values from within it never
    /// meet a missing segment (`0`, `90s`, `30m`, `1h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) older_than: Duration,
    /// Only print what would be deleted, and how many bytes.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Deletions in flight at once.
    #[arg(long, default_value_t = 16, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) parallel: u16,
    /// No progress bar or progress lines on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExciseStatusArgs {
    /// Storage URI naming the database.
    pub(crate) uri: String,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("policy").required(true).args(["keep", "older_than"]))]
pub(crate) struct PruneBackupsArgs {
    /// The backup location: a directory, or a storage URI (?db=SET).
    pub(crate) backup_uri: String,
    /// Keep the newest N points.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) keep: Option<u64>,
    /// Remove points taken longer ago than this (the newest always stays).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) older_than: Option<Duration>,
    /// The grace period of the garbage collection that follows (restores
    /// and backups in progress hold the location regardless).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    pub(crate) grace: Duration,
    /// Only print what would be removed.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// A duration: a number and a unit `ms`, `s`, `m`, `h`, `d` or `w`
/// (`0` needs none).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" if n == 0 => 0,
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h, d or w")),
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

fn options(grace: Duration, dry_run: bool, run: &RunArgs) -> GcOptions {
    GcOptions {
        grace,
        dry_run,
        parallel: usize::from(run.parallel),
        progress: match run.quiet {
            true => Arc::new(progress::Silent),
            false => progress::for_stderr(),
        },
    }
}

pub(crate) async fn gc(args: GcStorageArgs) -> Outcome {
    let (storage, _) = open(&args.uri).await?;
    let report = gc_storage(&storage, &options(args.older_than, args.dry_run, &args.run)).await?;
    print_report(&report);
    Ok(())
}

fn print_report(r: &GcReport) {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    if r.dry_run {
        for id in r.deleted.iter().take(LISTED_IDS) {
            println!("{id}");
        }
        if r.deleted.len() > LISTED_IDS {
            println!("… and {} more", r.deleted.len() - LISTED_IDS);
        }
    }
    println!(
        "{} roots, {} databases, {} backup sets; {} segments marked; {} of {} segments ({} bytes) stored are live",
        r.roots, r.databases, r.backup_sets, r.marked, r.live, r.listed, r.listed_bytes
    );
    println!(
        "{verb} {} segments, {} bytes; {} unreachable segments wait for the grace period",
        r.deleted.len(),
        r.deleted_bytes,
        r.waiting
    );
    if !r.deleted_databases.is_empty() {
        println!("deleted databases: {}", r.deleted_databases.join(", "));
    }
    if r.root_values_erased > 0 {
        println!("superseded root values erased: {}", r.root_values_erased);
    }
    if r.excisions_completed > 0 {
        println!("excisions completed: {}", r.excisions_completed);
    }
    if !r.held_by.is_empty() {
        println!(
            "nothing deleted: held by {} (run again when it has finished)",
            r.held_by.join(", ")
        );
    }
}

pub(crate) async fn excise(args: ExciseStatusArgs) -> Outcome {
    let (storage, db) = open_db(&args.uri).await?;
    let statuses = excise_status(&storage, &db).await?;
    if let Some(format) = args.format {
        let kw = model::edn::Edn::keyword;
        let long = |n: u64| model::edn::Edn::Long(i64::try_from(n).unwrap_or(i64::MAX));
        let rows = statuses
            .iter()
            .map(|s| {
                let (state, at) = match s.state {
                    ExcisionState::NotIndexed => (":not-indexed", None),
                    ExcisionState::WaitingForGc { seen_ms } => (":waiting-for-gc", seen_ms),
                    ExcisionState::Complete { at_ms } => (":complete", Some(at_ms)),
                };
                let mut map: std::collections::BTreeMap<_, _> = [
                    (kw(":request"), long(s.request)),
                    (kw(":t"), long(s.t)),
                    (kw(":state"), kw(state)),
                ]
                .into_iter()
                .collect();
                if let Some(ms) = at {
                    map.insert(kw(":at-ms"), long(ms));
                }
                model::edn::Edn::Map(map)
            })
            .collect();
        crate::commands::output::print(format, &model::edn::Edn::Vector(rows), &[]);
        return Ok(());
    }
    if statuses.is_empty() {
        println!("{db} has no excision requests");
        return Ok(());
    }
    println!("# request\tt\tstate");
    for s in statuses {
        let state = match s.state {
            ExcisionState::NotIndexed => "not yet indexed".to_string(),
            ExcisionState::WaitingForGc { seen_ms: None } => {
                "indexed; waiting for gc-storage".to_string()
            }
            ExcisionState::WaitingForGc { seen_ms: Some(ms) } => {
                format!("indexed; gc saw it at {ms} ms, waiting for the grace period")
            }
            ExcisionState::Complete { at_ms } => format!("complete at {at_ms} ms"),
        };
        println!("{}\t{}\t{state}", s.request, s.t);
    }
    Ok(())
}

pub(crate) async fn prune(args: PruneBackupsArgs) -> Outcome {
    let location = BackupLocation::open(&registry(), &args.backup_uri, Access::Existing).await?;
    let policy = match (args.keep, args.older_than) {
        (Some(n), _) => PrunePolicy::Keep(usize::try_from(n).unwrap_or(usize::MAX)),
        (None, Some(age)) => PrunePolicy::OlderThan(age),
        (None, None) => return Err(Failure::invalid("give --keep N or --older-than DURATION")),
    };
    let report = prune_backups(
        &location,
        policy,
        &options(args.grace, args.dry_run, &args.run),
    )
    .await?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for p in &report.dropped {
        println!("{verb} point t={} ({})", p.basis_t, p.manifest);
    }
    println!("{} points kept", report.kept);
    print_report(&report.gc);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}

/// The smallest grace automatic gc accepts: it runs beside the commits and
/// indexing jobs of the transactor that schedules it, and beside peers
/// holding database values, so a grace must outlast all of them.
const AUTO_GC_MIN_GRACE: Duration = Duration::from_secs(60);

/// Automatic garbage collection by `accrete transactor` (off by default).
#[derive(Debug, Args)]
pub(crate) struct AutoGcArgs {
    /// Run gc-storage on each storage this transactor is active for, this
    /// often (`30m`, `1h`, `1d`); off when not given. Standbys never run it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) gc_every: Option<Duration>,
    /// The grace period of automatic gc (at least 1m): see gc-storage's
    /// --older-than.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "1h", requires = "gc_every")]
    pub(crate) gc_older_than: Duration,
}

/// One storage automatic gc collects: a handle, how it is named in
/// messages, and the databases whose active transactor runs it.
pub(crate) struct GcTarget {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) name: String,
    pub(crate) dbs: Vec<DbName>,
}

impl AutoGcArgs {
    /// Refuses a grace below [`AUTO_GC_MIN_GRACE`] or a zero interval.
    pub(crate) fn check(&self) -> Outcome {
        let Some(every) = self.gc_every else {
            return Ok(());
        };
        if every.is_zero() {
            return Err(Failure::invalid(
                "--gc-every 0: give an interval such as 1h",
            ));
        }
        if self.gc_older_than < AUTO_GC_MIN_GRACE {
            return Err(Failure::invalid(format!(
                "--gc-older-than {:?} is below {:?}: automatic gc runs beside commits, indexing jobs and peers holding old values, which a grace must outlast; run `accrete gc-storage URI --older-than …` by hand when nothing is writing",
                self.gc_older_than, AUTO_GC_MIN_GRACE
            )));
        }
        Ok(())
    }

    /// Starts one loop per storage in `targets` when automatic gc is on:
    /// every `gc_every`, while this process (advertising `ours`) holds the
    /// lease of at least one of the storage's databases, a gc run with the
    /// grace `gc_older_than`. Loops end with `stop`.
    pub(crate) fn spawn(&self, targets: Vec<GcTarget>, ours: &str, stop: &CancellationToken) {
        let Some(every) = self.gc_every else {
            return;
        };
        for target in targets {
            tracing::info!(
                "accrete transactor: automatic gc of {} every {every:?} with a grace of {:?}, while active",
                target.name,
                self.gc_older_than
            );
            let options = GcOptions {
                grace: self.gc_older_than,
                ..GcOptions::default()
            };
            tokio::spawn(auto_gc(
                target,
                options,
                every,
                ours.to_string(),
                stop.clone(),
            ));
        }
    }
}

async fn auto_gc(
    target: GcTarget,
    options: GcOptions,
    every: Duration,
    ours: String,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if !holds_a_lease(&target, &ours).await {
            continue;
        }
        let run = gc_storage(&target.storage, &options);
        let report = tokio::select! {
            () = stop.cancelled() => return,
            report = run => report,
        };
        match report {
            Ok(r) => tracing::info!(
                deleted = r.deleted.len(),
                deleted_bytes = r.deleted_bytes,
                "accrete transactor: gc of {}: deleted {} segments ({} bytes), {} unreachable wait for the grace{}, in {:?}",
                target.name,
                r.deleted.len(),
                r.deleted_bytes,
                r.waiting,
                match r.held_by.is_empty() {
                    true => String::new(),
                    false => format!("; held by {}", r.held_by.join(", ")),
                },
                r.elapsed
            ),
            Err(e) => tracing::warn!(
                "accrete transactor: gc of {} failed (tried again in {every:?}): {e}",
                target.name
            ),
        }
    }
}

/// Whether the transactor advertising `ours` holds the lease of one of the
/// target's databases.
async fn holds_a_lease(target: &GcTarget, ours: &str) -> bool {
    for db in &target.dbs {
        if let Ok(Some(lease)) = read_lease(target.storage.as_ref(), db).await
            && lease.holder.as_ref().and_then(|h| h.endpoint()) == Some(ours)
        {
            return true;
        }
    }
    false
}
