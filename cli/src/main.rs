//! `accrete`: the command-line tool of the accrete database. Every command
//! is a thin layer over the library crates: databases and their catalog
//! (`index`), transactions and the transactor process (`transactor`),
//! datoms of a database value (`model`), one-shot Datalog queries and
//! pulls (`query`), Cassandra keyspaces (`storage-cassandra`).
//!
//! It is not an interactive query shell: each `q` reads the database's
//! latest value from storage, answers, and exits; applications query
//! through the peer library.
//!
//! ```text
//! accrete create-db 'file:data?db=shop'
//! echo '[{:db/ident :item/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]' \
//!   | accrete transact 'file:data?db=shop'
//! accrete datoms 'file:data?db=shop' aevt :item/name
//! accrete q 'file:data?db=shop' '[:find ?name :where [_ :item/name ?name]]'
//! accrete transactor 'file:data?db=shop' --listen 127.0.0.1:4334
//! ```
//!
//! Storage backends are cargo features (`file`, `postgres`, `cassandra`; all
//! on by default);
//! a URI whose scheme was not built in is refused with the feature to
//! enable. Exit codes are in [`exit::EXIT_CODES`].

mod args;
mod commands;
mod exit;
mod help;
mod signals;
mod storage;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use args::{Cli, Command};
use exit::{Code, Failure};

/// How long the runtime waits for background work after a command.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let server = matches!(cli.command, Command::Transactor(_) | Command::Serve(_));
    ops::logging::init(&default_filter(cli.verbose, server), cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("accrete: cannot start the runtime: {e}");
            return ExitCode::from(Code::Unavailable as u8);
        }
    };
    let outcome = runtime.block_on(run(cli.command));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("accrete: {failure}");
            failure.exit_code()
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        #[cfg(feature = "cassandra")]
        Command::CreateKeyspace(a) => commands::keyspace::create(a).await,
        Command::CreateDb(a) => commands::dbs::create(a).await,
        Command::DeleteDb(a) => commands::dbs::delete(a).await,
        Command::ListDbs(a) => commands::dbs::list(a).await,
        Command::Transact(a) => commands::transact::run(a).await,
        Command::TxStatus(a) => commands::transact::tx_status(a).await,
        Command::Import(a) => commands::import::run(a).await,
        Command::Datoms(a) => commands::datoms::run(a).await,
        Command::Q(a) => commands::query::q(a).await,
        Command::Pull(a) => commands::query::pull(a).await,
        Command::Transactor(a) => commands::serve::run(a).await,
        Command::Serve(a) => commands::http::serve(a).await,
        Command::Log(a) => commands::http::log(a).await,
        Command::BackupDb(a) => commands::backup::backup_db(a).await,
        Command::ListBackups(a) => commands::backup::list_backups(a).await,
        Command::RestoreDb(a) => commands::backup::restore_db(a).await,
        Command::VerifyDb(a) => commands::backup::verify_db(a).await,
        Command::VerifyBackup(a) => commands::backup::verify_backup(a).await,
        Command::GcStorage(a) => commands::gc::gc(a).await,
        Command::ExciseStatus(a) => commands::gc::excise(a).await,
        Command::PruneBackups(a) => commands::gc::prune(a).await,
        Command::Token(a) => commands::access::token(a).await,
        Command::Grant(a) => commands::access::grant(a).await,
        Command::Grants(a) => commands::access::grants(a).await,
        Command::Config(a) => commands::config::run(a).await,
        Command::Uris => {
            print!("{}", args::URIS);
            Ok(())
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "accrete", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// The command line, with the settings of server commands layered over
/// ACCRETE_* variables and their `--config` file (see `ops::config`).
fn parse(argv: Vec<std::ffi::OsString>) -> Result<Cli, ExitCode> {
    let command = ops::config::with_env(Cli::command(), args::LAYERED);
    let layered = match ops::config::parse(command, argv, args::LAYERED) {
        Ok(layered) => layered,
        Err(ops::config::ParseError::Usage(e)) => return Err(usage(e)),
        Err(ops::config::ParseError::Config(e)) => {
            eprintln!("accrete: {e}");
            return Err(ExitCode::from(Code::Invalid as u8));
        }
    };
    Cli::from_arg_matches(&layered.matches).map_err(usage)
}

/// `--help` and `--version` succeed; every other parse failure is a usage
/// error (exit 1, where clap would say 2).
fn usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    // Printing to a closed stdout/stderr has nowhere to report to.
    let _ = e.print();
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(Code::Usage as u8),
    }
}

/// The crates of accrete itself, whose logs a transactor shows by default.
const OWN_CRATES: [&str; 13] = [
    "access",
    "accrete",
    "backup",
    "index",
    "model",
    "peer",
    "query",
    "server",
    "storage_cassandra",
    "storage_core",
    "storage_file",
    "storage_postgres",
    "transactor",
];

/// The log filter without `RUST_LOG`. By default a one-shot command logs
/// nothing (its one line on failure says what went wrong) and a
/// transactor logs accrete's own state changes (info: standing by, lease
/// acquired, stepped down, indexing, gc) and warnings; storage drivers log
/// from `-v` on. `-v` is info from everything, `-vv` debug.
fn default_filter(verbose: u8, server: bool) -> String {
    match (verbose, server) {
        (0, false) => "off".to_string(),
        (0, true) => {
            let own: Vec<String> = OWN_CRATES.iter().map(|c| format!("{c}=info")).collect();
            format!("off,{}", own.join(","))
        }
        (1, _) => "info".to_string(),
        _ => "debug".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `accrete help uris` keeps up with the backends.
    #[test]
    fn the_uri_help_names_every_parameter_and_variable() {
        let mut names: Vec<&str> = vec![
            access::TOKEN_ENV,
            access::TOKEN_FILE_ENV,
            access::tls::TLS_CA_ENV,
            access::tls::TLS_CERT_ENV,
            access::tls::TLS_KEY_ENV,
        ];
        #[cfg(feature = "postgres")]
        names.extend(storage_postgres::config::PARAMS);
        #[cfg(feature = "cassandra")]
        names.extend(storage_cassandra::config::PARAMS.iter().copied().chain([
            storage_cassandra::config::USER_VAR,
            storage_cassandra::config::PASSWORD_VAR,
            storage_cassandra::config::PASSWORD_FILE_VAR,
        ]));
        for name in names {
            assert!(
                args::URIS.contains(name),
                "`accrete help uris` misses {name}"
            );
        }
    }

    #[test]
    fn default_filters_parse_and_keep_drivers_quiet() {
        for (verbose, server) in [(0, false), (0, true), (1, false), (2, true)] {
            let text = default_filter(verbose, server);
            tracing_subscriber::EnvFilter::try_new(&text).expect(&text);
        }
        assert!(!default_filter(0, true).contains("scylla"));
        assert!(default_filter(0, true).starts_with("off,"));
    }
}
