//! `backup-db`, `list-backups`, `restore-db`, `verify-db`, `verify-backup`:
//! thin layers over the `backup` crate.

use std::sync::Arc;

use backup::{
    Access, BackupLocation, CopyOptions, CopyStats, RestoreOptions, RestoreReport, Restored,
    VerifyReport, progress,
};
use clap::Args;
use model::TimePoint;

use crate::exit::{Code, Failure, Outcome, code_of};
use crate::storage::{open, open_db, open_db_creating, registry, segments};

/// The same help as every other command's database URI.
const DB_HELP: &str = crate::help::URI_HELP;
const BACKUP_HELP: &str = "The backup location: a directory, or a storage URI \
(file:, postgres:, cassandra:; ?db=SET names a backup set within that storage)";

/// How segments are copied or checked.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Segments copied or checked at once.
    #[arg(long, default_value_t = 16, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) parallel: u16,
    /// No progress bar or progress lines on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BackupDbArgs {
    #[arg(help = DB_HELP)]
    pub(crate) db_uri: String,
    #[arg(help = BACKUP_HELP)]
    pub(crate) backup_uri: String,
    #[command(flatten)]
    pub(crate) copy: CopyArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ListBackupsArgs {
    #[arg(help = BACKUP_HELP)]
    pub(crate) backup_uri: String,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreDbArgs {
    #[arg(help = BACKUP_HELP)]
    pub(crate) backup_uri: String,
    #[arg(help = DB_HELP)]
    pub(crate) db_uri: String,
    /// Restore the database as of this t or tx id (default: the latest
    /// point): its log is cut after it.
    #[arg(long, value_name = "T|TX")]
    pub(crate) t: Option<u64>,
    /// Replace another database of that name, or set the same database back
    /// to an earlier t, discarding what it has after.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) copy: CopyArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyDbArgs {
    /// Storage URI naming the database (without `?db=`: every database of
    /// the storage).
    pub(crate) uri: String,
    #[command(flatten)]
    pub(crate) copy: CopyArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyBackupArgs {
    #[arg(help = BACKUP_HELP)]
    pub(crate) backup_uri: String,
    #[command(flatten)]
    pub(crate) copy: CopyArgs,
}

impl From<backup::Error> for Failure {
    fn from(e: backup::Error) -> Self {
        Failure::new(code_of(e.kind()), e.to_string())
    }
}

fn options(args: &CopyArgs) -> CopyOptions {
    CopyOptions {
        parallel: usize::from(args.parallel),
        progress: match args.quiet {
            true => Arc::new(progress::Silent),
            false => progress::for_stderr(),
        },
    }
}

async fn location(text: &str, access: Access) -> Outcome<BackupLocation> {
    Ok(BackupLocation::open(&registry(), text, access).await?)
}

pub(crate) async fn backup_db(args: BackupDbArgs) -> Outcome {
    let (storage, db) = open_db(&args.db_uri).await?;
    let location = location(&args.backup_uri, Access::Create).await?;
    let report =
        backup::backup_db(&segments(storage)?, &db, &location, &options(&args.copy)).await?;
    let basis = report.point.basis_t;
    match report.unchanged {
        true => println!(
            "{db} is unchanged since the point at t={basis} in {}",
            location.name()
        ),
        false => println!("backed up {db} at t={basis} to {}", location.name()),
    }
    println!("{}", copied(&report.copy));
    Ok(())
}

pub(crate) async fn list_backups(args: ListBackupsArgs) -> Outcome {
    let location = location(&args.backup_uri, Access::Existing).await?;
    let Some((uuid, name)) = location.database().await? else {
        return Err(Failure::invalid(format!(
            "no backup at {}: nothing was backed up there",
            location.name()
        )));
    };
    let points = backup::gc::points_predating_excisions(&location).await?;
    if let Some(format) = args.format {
        let kw = model::edn::Edn::keyword;
        let long = |n: u64| model::edn::Edn::Long(i64::try_from(n).unwrap_or(i64::MAX));
        let rows = points
            .iter()
            .map(|(p, predates)| {
                model::edn::Edn::Map(
                    [
                        (kw(":t"), long(p.basis_t)),
                        (
                            kw(":created-at"),
                            model::edn::Edn::Inst(model::edn::Instant(
                                i64::try_from(p.created_at_ms).unwrap_or(i64::MAX),
                            )),
                        ),
                        (kw(":segments"), long(p.segments)),
                        (kw(":copied-segments"), long(p.copied_segments)),
                        (kw(":copied-bytes"), long(p.copied_bytes)),
                        (
                            kw(":predates-excisions"),
                            model::edn::Edn::Vector(predates.iter().map(|t| long(*t)).collect()),
                        ),
                        (
                            kw(":manifest"),
                            model::edn::Edn::string(&p.manifest.to_string()),
                        ),
                    ]
                    .into_iter()
                    .collect(),
                )
            })
            .collect();
        crate::commands::output::print(format, &model::edn::Edn::Vector(rows), &[]);
        return Ok(());
    }
    println!("# backups of {name} ({uuid}) in {}", location.name());
    println!("# t\tcreated\tsegments\tcopied\tcopied bytes\tpredates excisions\tmanifest");
    for (p, predates) in points {
        let predates: Vec<String> = predates.iter().map(u64::to_string).collect();
        let predates = match predates.is_empty() {
            true => "-".to_string(),
            false => predates.join(","),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{predates}\t{}",
            p.basis_t,
            instant(p.created_at_ms),
            p.segments,
            p.copied_segments,
            p.copied_bytes,
            p.manifest
        );
    }
    Ok(())
}

pub(crate) async fn restore_db(args: RestoreDbArgs) -> Outcome {
    let location = location(&args.backup_uri, Access::Existing).await?;
    let (storage, db) = open_db_creating(&args.db_uri).await?;
    let options = RestoreOptions {
        t: args.t.map(to_t),
        force: args.force,
        copy: options(&args.copy),
    };
    let report = backup::restore_db(&location, &segments(storage)?, &db, &options).await?;
    println!("{}", restored(&db, &report));
    if report.cut {
        println!(
            "from the point at t={}, its log cut after t={}",
            report.point.basis_t, report.basis_t
        );
    }
    if report.reindexed {
        println!("its index was rebuilt from the log (the point's covered later transactions)");
    }
    println!("{}", copied(&report.copy));
    Ok(())
}

pub(crate) async fn verify_db(args: VerifyDbArgs) -> Outcome {
    let (storage, uri) = open(&args.uri).await?;
    let names = match uri.db() {
        Some(db) => vec![db.clone()],
        None => index::list_dbs(&storage)
            .await?
            .into_iter()
            .map(|(name, _)| storage_core::DbName::new(name))
            .collect::<Result<_, _>>()?,
    };
    let options = options(&args.copy);
    let mut problems = 0;
    for db in names {
        problems += verdict(&backup::verify_db(&storage, &db, &options).await?);
    }
    finish(problems)
}

pub(crate) async fn verify_backup(args: VerifyBackupArgs) -> Outcome {
    let location = location(&args.backup_uri, Access::Existing).await?;
    let report = backup::verify_backup(&location, &options(&args.copy)).await?;
    for p in location.points().await? {
        println!("point t={}: {} segments", p.basis_t, p.segments);
    }
    finish(verdict(&report))
}

/// Prints a verification's problems and summary; returns the problem count.
fn verdict(report: &VerifyReport) -> usize {
    for problem in &report.problems {
        println!("{problem}");
    }
    let state = match report.is_ok() {
        true => "all present and intact".to_string(),
        false => format!("{} problems", report.problems.len()),
    };
    let others = report.segments - report.leaves;
    let roots = if others == 1 { "root" } else { "roots" };
    println!(
        "{}: {} read (the {} the progress counted, and {} or index {roots}; {} bytes): {state}",
        report.subject,
        count(report.segments, "segment"),
        count(report.leaves, "leaf"),
        count(others, "branch"),
        report.bytes
    );
    report.problems.len()
}

/// `n` and `noun`, plural when `n` is not 1.
fn count(n: u64, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "leaf") => format!("{n} leaves"),
        (_, "branch") => format!("{n} branches"),
        _ => format!("{n} {noun}s"),
    }
}

fn finish(problems: usize) -> Outcome {
    match problems {
        0 => Ok(()),
        n => Err(Failure::new(
            Code::Corruption,
            format!("{n} segments or records are missing or corrupt (listed above)"),
        )),
    }
}

fn restored(db: &storage_core::DbName, r: &RestoreReport) -> String {
    let t = r.basis_t;
    match &r.outcome {
        Restored::Created => format!("restored {db} at t={t} ({})", r.db_uuid),
        Restored::Cloned { original } => {
            format!(
                "restored {db} at t={t} as a clone of {original}, with an identity of its own ({})",
                r.db_uuid
            )
        }
        Restored::Advanced { from_t } => format!("moved {db} forward from t={from_t} to t={t}"),
        Restored::UpToDate => format!("{db} is already at t={t}: nothing to do"),
        Restored::Rewound { discarded_to_t } => {
            format!(
                "set {db} back to t={t}: discarded its transactions after t={t} up to t={discarded_to_t}"
            )
        }
        Restored::Replaced {
            old_uuid,
            old_basis_t,
        } => {
            format!(
                "replaced {db} ({old_uuid} at t={old_basis_t}) with the backup's at t={t} ({})",
                r.db_uuid
            )
        }
        other => format!("restored {db} at t={t}: {other:?}"),
    }
}

fn copied(c: &CopyStats) -> String {
    format!(
        "{} segments: {} copied ({} bytes), {} already there, in {:.1} s",
        c.wanted,
        c.copied,
        c.bytes,
        c.present,
        c.elapsed.as_secs_f64()
    )
}

/// A t from a t or a tx id.
fn to_t(n: u64) -> u64 {
    match TimePoint::from(n) {
        TimePoint::Tx(tx) => model::tx_to_t(tx),
        _ => n,
    }
}

/// Milliseconds since the epoch as an instant (`2024-01-01T00:00:00.000Z`).
fn instant(ms: u64) -> String {
    model::edn::Instant(i64::try_from(ms).unwrap_or(i64::MAX)).to_string()
}
