//! The command line: commands, arguments, help texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::value::TimeArgs;
use crate::exit::EXIT_CODES;
use crate::help::{LAYERED_HELP, URI_HELP};

/// The accrete database: create databases, transact, read datoms, query,
/// run a transactor.
#[derive(Debug, Parser)]
#[command(name = "accrete", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, storage drivers
    /// included; by default a command prints only its final line, and a
    /// transactor logs its state changes and warnings); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// How log lines on stderr are written: `text`, or `json` (one object
    /// per line, for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = ops::logging::LogFormat::Text, env = "ACCRETE_LOG_FORMAT")]
    pub(crate) log_format: ops::logging::LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the Cassandra keyspace the URI names, with its replication,
    /// and accrete's tables in it (an existing keyspace is left as it is).
    #[cfg(feature = "cassandra")]
    #[command(after_help = EXIT_CODES)]
    CreateKeyspace(KeyspaceArgs),
    /// Create the database the URI names.
    #[command(after_help = EXIT_CODES)]
    CreateDb(DbArgs),
    /// Delete the database the URI names (its segments stay until garbage
    /// collection).
    #[command(after_help = EXIT_CODES)]
    DeleteDb(DbArgs),
    /// List the databases of the storage the URI names (`?db=` is optional).
    #[command(after_help = EXIT_CODES)]
    ListDbs(ListArgs),
    /// Commit a transaction (EDN: a vector of forms) from a file or stdin.
    ///
    /// Sends it to the live transactor the database's lease advertises;
    /// when there is none, runs a transactor in this process for the call
    /// (take the lease, commit, release).
    #[command(after_help = EXIT_CODES)]
    Transact(TransactArgs),
    /// Say what became of a transaction, by its id: `{:status :committed
    /// :t T}`, `{:status :not-committed}` (proven: the transactor that
    /// answers holds the lease, so every earlier one is fenced, and the log
    /// has no such transaction), or `{:status :unknown :why …}`.
    ///
    /// Asks the live transactor; when there is none, takes the lease for
    /// the call (which fences any earlier holder) and answers itself.
    #[command(after_help = EXIT_CODES)]
    TxStatus(TxStatusArgs),
    /// Load tx data files of any size: EDN (one vector of forms, or a
    /// stream of them) or JSON lines (`.jsonl`, `.ndjson`, `.json`: one
    /// transaction per line in the JSON mapping). The forms are cut into
    /// transactions that fit the limits; a string tempid names one entity
    /// across all the files. Runs a transactor in this process (it takes
    /// the lease) that indexes as it goes and once more at the end.
    ///
    /// Resumable: run the same command again after an interruption and
    /// it skips what was committed (each batch commits under an id derived
    /// from the files' content and the batch size) and goes on. A progress
    /// bar shows on a terminal; the summary is printed as EDN at the end.
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Print datoms of an index, optionally as of or since a point in time,
    /// or with history.
    #[command(after_help = EXIT_CODES)]
    Datoms(DatomsArgs),
    /// Run a Datalog query against the database and print the result as EDN.
    ///
    /// A relation prints one row per line, a collection as a vector (both
    /// sorted), a scalar or tuple as it is (`nil` when nothing was found).
    ///
    /// `$` in `:in` is the database (seen --as-of, --since or with
    /// --history), `%` the rules of --rules; every other input is an EDN
    /// argument after the query, in the order of `:in`.
    #[command(after_help = EXIT_CODES)]
    Q(QueryArgs),
    /// Pull an entity by pattern and print it as an EDN map (`nil` when a
    /// lookup ref matches no entity).
    #[command(after_help = EXIT_CODES)]
    Pull(PullArgs),
    /// Run the transactor for one or more databases and serve the protocol
    /// (see transactor/PROTOCOL.md). A second one on the same databases
    /// stands by and takes over when the first one's lease lapses.
    #[command(after_help = EXIT_CODES)]
    Transactor(TransactorArgs),
    /// Serve databases over HTTP for programs in any language: a peer that
    /// answers q, pull, datoms, entity, the log and tx reports (Server-Sent
    /// Events), and forwards transact, in EDN and JSON (GET /openapi.json
    /// describes the API).
    #[command(after_help = EXIT_CODES)]
    Serve(crate::commands::http::ServeArgs),
    /// Print the transactions of a span of t, one EDN map per line:
    /// `{:t T :tx TX :data [[e a v tx added] …]}`.
    #[command(after_help = EXIT_CODES)]
    Log(crate::commands::http::LogArgs),
    /// Back up a database, consistently and incrementally, into a directory
    /// or any storage; one location holds several points in time.
    #[command(after_help = EXIT_CODES)]
    BackupDb(crate::commands::backup::BackupDbArgs),
    /// List the points in time a backup location holds.
    #[command(after_help = EXIT_CODES)]
    ListBackups(crate::commands::backup::ListBackupsArgs),
    /// Restore a backup into any storage: the latest point or the database
    /// as of --t, as the same database or, under a new name next to the
    /// original, as a clone.
    #[command(after_help = EXIT_CODES)]
    RestoreDb(crate::commands::backup::RestoreDbArgs),
    /// Check that every segment a database reaches is present and intact
    /// (exit 6 and a list of what is not).
    #[command(after_help = EXIT_CODES)]
    VerifyDb(crate::commands::backup::VerifyDbArgs),
    /// Check every point of a backup: manifests, and every segment present
    /// and intact (exit 6 and a list of what is not).
    #[command(after_help = EXIT_CODES)]
    VerifyBackup(crate::commands::backup::VerifyBackupArgs),
    /// Delete the segments no live root of the storage reaches (every
    /// database, clone and backup set in it; deleted databases and excised
    /// values go) once unreachable for longer than the grace period.
    #[command(after_help = EXIT_CODES)]
    GcStorage(crate::commands::gc::GcStorageArgs),
    /// Which excisions of a database are physically complete, and which
    /// still wait for indexing or for gc-storage's grace period.
    #[command(after_help = EXIT_CODES)]
    ExciseStatus(crate::commands::gc::ExciseStatusArgs),
    /// Remove old points of a backup location and the segments only they
    /// reach.
    #[command(after_help = EXIT_CODES)]
    PruneBackups(crate::commands::gc::PruneBackupsArgs),
    /// Make, list and revoke the tokens clients of the storage's
    /// transactors authenticate with (`accrete token create --help`).
    #[command(after_help = EXIT_CODES)]
    Token(crate::commands::access::TokenArgs),
    /// Give a principal a role on a database (read, write, admin), or take
    /// it away (`none`).
    #[command(after_help = EXIT_CODES)]
    Grant(crate::commands::access::GrantArgs),
    /// List the grants of the storage: principal, database (`*`: every
    /// one), role.
    #[command(after_help = EXIT_CODES)]
    Grants(crate::commands::access::GrantsArgs),
    /// Check configuration files of server commands (`accrete config check
    /// FILE`).
    #[command(after_help = EXIT_CODES)]
    Config(ConfigArgs),
    /// Every storage URI form, its parameters and the credential
    /// variables of each backend (also `accrete help uris`).
    #[command(long_about = URIS)]
    Uris,
    /// Print a shell completion script: `accrete completions bash >
    /// /etc/bash_completion.d/accrete`, `… zsh > ~/.zfunc/_accrete`, `…
    /// fish > ~/.config/fish/completions/accrete.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The text of `accrete help uris`.
pub(crate) const URIS: &str = include_str!("uris.txt");

/// The commands whose settings are layered (see [`LAYERED_HELP`]).
pub(crate) const LAYERED: &[&str] = &["transactor", "serve"];

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub(crate) action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigAction {
    /// Check a configuration file and print the effective settings (file,
    /// ACCRETE_* variables and defaults) with secrets redacted; exit 2 on
    /// any error in it.
    Check {
        /// The TOML file.
        file: PathBuf,
        /// The command the file is for.
        #[arg(long = "for", value_name = "COMMAND", default_value = "transactor")]
        command: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
}

#[cfg(feature = "cassandra")]
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("replication").required(true).args(["simple", "dc"]))]
pub(crate) struct KeyspaceArgs {
    /// cassandra://HOST[:PORT][,HOST…]/KEYSPACE (`?db=` is not needed).
    // The doc is clap's help text, printed as written: not an intra-doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    pub(crate) uri: String,
    /// SimpleStrategy with this replication factor: one data centre
    /// (development, tests).
    #[arg(long, value_name = "N")]
    pub(crate) simple: Option<u32>,
    /// NetworkTopologyStrategy: keep N copies in data centre NAME
    /// (repeat for each data centre; production).
    #[arg(long, value_name = "NAME=N")]
    pub(crate) dc: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// Also print each database's uuid and creation time.
    #[arg(short, long)]
    pub(crate) long: bool,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
}

#[derive(Debug, Args)]
pub(crate) struct TransactArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The file holding the tx data; `-` or nothing for stdin.
    pub(crate) file: Option<PathBuf>,
    /// How long to wait for the lease of a transactor that holds the
    /// database but cannot be reached, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) lease_wait: f64,
    /// Also print every datom of the transaction, `[e a v tx added]`
    /// (attributes as entity ids).
    #[arg(long)]
    pub(crate) datoms: bool,
    /// The transaction's id (a UUID), recorded as `:tx/id`. Sending the
    /// same id again commits nothing and prints the first commit. A fresh
    /// one is generated when not given; after a failover or an unknown
    /// outcome the transaction is resubmitted under it, so it commits
    /// exactly once.
    #[arg(long, value_name = "UUID")]
    pub(crate) tx_id: Option<uuid::Uuid>,
    /// Run the transaction against the latest value without committing it
    /// (`with`): print what it would do, `:committed false`.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The files of tx data, imported in this order.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// About how many bytes of text go into one transaction. A resumed
    /// import keeps the size its first run recorded, whatever this says
    /// (the summary's `:batch-bytes`). Text of many small values makes up
    /// to about three times its size in datoms, and a transaction holds at
    /// most 3.9 MiB of them: above about 1.3 MiB a batch may be refused.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub(crate) batch_bytes: usize,
    /// How many transactions may wait at the transactor at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) in_flight: usize,
    /// Novelty (datoms) that starts the first background indexing job.
    #[arg(long, default_value_t = import::INDEX_THRESHOLD, value_name = "DATOMS")]
    pub(crate) index_threshold: usize,
    /// How the indexing threshold grows with the database: a job starts
    /// once novelty reaches this many times the datoms already indexed (at
    /// most 2 M datoms, or twice the threshold when that is more), so each
    /// job's rewriting of the indexes is paid for by that much new data. 0
    /// keeps the threshold fixed (less memory, more indexing work).
    #[arg(long, default_value_t = import::INDEX_GROWTH, value_name = "RATIO")]
    pub(crate) index_growth: f64,
    /// How long to wait for the lease of a transactor that holds the
    /// database, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) lease_wait: f64,
}

#[derive(Debug, Args)]
pub(crate) struct TxStatusArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The transaction's id (`transact --tx-id`, or the one its error named).
    #[arg(value_name = "TX_ID")]
    pub(crate) tx_id: uuid::Uuid,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
    /// How long to wait for the lease of a transactor that holds the
    /// database but cannot be reached, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) lease_wait: f64,
}

/// An index of datoms.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum IndexArg {
    /// Entity, attribute, value, tx.
    Eavt,
    /// Attribute, entity, value, tx.
    Aevt,
    /// Attribute, value, entity, tx.
    Avet,
    /// Value, attribute, entity, tx (references only).
    Vaet,
}

#[derive(Debug, Args)]
pub(crate) struct DatomsArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The index to read.
    #[arg(value_enum)]
    pub(crate) index: IndexArg,
    /// Leading components in index order, each as EDN: entity ids, idents
    /// (`:user/email`), lookup refs (`[:user/email "a@x"]`), values
    /// (`"a@x"`, `42`, `#inst "2024-01-01"`).
    pub(crate) components: Vec<String>,
    #[command(flatten)]
    pub(crate) time: TimeArgs,
    /// Print at most this many datoms.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub(crate) struct QueryArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The query as EDN (`[:find … :in … :where …]`), or `-` to read it
    /// from stdin. Leave it out with --file.
    #[arg(required_unless_present = "file")]
    pub(crate) query: Option<String>,
    /// The inputs of `:in` after `$` (the database) and `%` (--rules), in
    /// order, each as EDN: `"a@x"`, `[1 2]`, `[["a" 1] ["b" 2]]`.
    #[arg(value_name = "ARGS")]
    pub(crate) inputs: Vec<String>,
    /// Read the query from this file (`-` for stdin); every argument after
    /// the URI is then an input.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Rules for `%` in `:in`: a file holding an EDN vector of rules.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,
    /// Print at most this many rows of a relation (items of a
    /// collection), after sorting.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
    /// Run the query and print its plan instead of its answer: each
    /// clause in the order it ran, the index a data pattern read and
    /// whether it probed per key or scanned and hash-joined, and the rows
    /// in and out (with --format: one row per clause).
    #[arg(long)]
    pub(crate) explain: bool,
    #[command(flatten)]
    pub(crate) time: TimeArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The pull pattern as EDN: `[*]`, `[:user/email {:story/_author [:story/title]}]`.
    pub(crate) pattern: String,
    /// The entity as EDN: an id, an ident (`:user/email`) or a lookup ref
    /// (`[:user/email "a@x"]`).
    pub(crate) entity: String,
    /// Print the whole answer as one value: `edn`, `json` (the JSON
    /// mapping of the HTTP API) or `table`; by default a readable form.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::commands::output::Format>,
    #[command(flatten)]
    pub(crate) time: TimeArgs,
}

/// What callers get while novelty is over its cap.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum BackPressureArg {
    /// Transactions wait until indexing catches up.
    Wait,
    /// Transactions are refused (exit 3 for `accrete transact`).
    Reject,
}

#[derive(Debug, Args)]
#[command(after_help = LAYERED_HELP)]
pub(crate) struct TransactorArgs {
    /// Storage URIs naming the databases to serve.
    #[arg(required = true, help = URI_HELP)]
    pub(crate) uris: Vec<String>,
    /// Read settings from this TOML file (keys are the long flag names:
    /// `listen = "127.0.0.1:4334"`, `lease-ttl = 5`, `uris = [...]`);
    /// flags and ACCRETE_* variables override it. Check one with `accrete
    /// config check FILE`.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where to listen for clients.
    #[arg(long, default_value = "127.0.0.1:4334", value_name = "HOST:PORT")]
    pub(crate) listen: String,
    /// Serve Prometheus metrics (`/metrics`), liveness (`/health`) and
    /// readiness (`/ready`: 200 while active for every database, 503 with
    /// the state while standing by) over HTTP on this address. Loopback
    /// only: the endpoint has no authentication.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) metrics_listen: Option<String>,
    /// The endpoint written into each lease for clients to connect to
    /// (default: the listen address; required when listening on 0.0.0.0).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) advertise: Option<String>,
    /// Seconds a standby waits without seeing a lease renewal before it
    /// takes over (failover takes about this long). The active transactor
    /// renews 3 times per ttl and steps down when it could not renew for a
    /// whole ttl: raise it where storage stalls for a second are normal.
    #[arg(long, default_value_t = transactor::lease::DEFAULT_TTL.as_secs_f64(), value_name = "SECONDS")]
    pub(crate) lease_ttl: f64,
    /// Novelty (datoms) that starts an indexing job.
    #[arg(long, default_value_t = 64 * 1024)]
    pub(crate) index_threshold: usize,
    /// How the indexing threshold grows with the database: a job starts
    /// once novelty reaches the larger of the threshold and this many
    /// times the datoms already indexed (at most half the novelty cap).
    /// 0 keeps the threshold fixed; see `transactor::Config::index_growth`.
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    pub(crate) index_growth: f64,
    /// Novelty (datoms) beyond which writers feel back-pressure.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub(crate) novelty_cap: usize,
    /// What back-pressure means.
    #[arg(long, value_enum, default_value_t = BackPressureArg::Wait)]
    pub(crate) back_pressure: BackPressureArg,
    /// Segment cache size in MiB, shared by all databases.
    #[arg(long, default_value_t = 512)]
    pub(crate) cache_mib: u64,
    #[command(flatten)]
    pub(crate) gc: crate::commands::gc::AutoGcArgs,
    /// Require every client to authenticate (a token of `accrete token
    /// create`, or a client certificate of --tls-client-ca) and to hold a
    /// role on the database (`accrete grant`). Without it only a loopback
    /// address is served, in development mode: clients without
    /// credentials are `anonymous` with every role.
    #[arg(long)]
    pub(crate) auth: bool,
    /// The storage whose tokens and grants the endpoint checks (default:
    /// the storage of the first URI).
    #[arg(long, value_name = "URI")]
    pub(crate) access: Option<String>,
    /// The endpoint's TLS certificate chain (PEM); with --tls-key, every
    /// client must speak TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA certificates (PEM) whose client certificates authenticate their
    /// subject (mTLS); clients without one may still use a token.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,
    /// Serve an address other than loopback without TLS: tokens and data
    /// cross the network in the clear. Warned about at every start.
    #[arg(long)]
    pub(crate) insecure_plaintext: bool,
}
