//! `transact`: to the live transactor when the lease advertises one,
//! otherwise through a transactor embedded in this process for the call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use model::TxLog;
use storage_core::{DbName, Storage};
use transactor::client::{Client, Connector};
use transactor::lease::{Patience, read_lease};
use transactor::{Config, ErrorKind, Transactor, TxStatus, parse_tx};

use crate::args::{TransactArgs, TxStatusArgs};
use crate::exit::{Failure, Outcome};
use crate::signals::{Stop, stop_requested};
use crate::storage::{keyspace_hint, open_db, segments};

/// How long a transactor that was starting when a signal came may finish
/// starting, so that it can release the lease it may hold.
const START_GRACE: Duration = Duration::from_secs(3);

/// How often the lease is looked at again for a live transactor (as often
/// as the client library resubmits: a failover is noticed within this).
const RECONNECT_PAUSE: Duration = transactor::client::RESUBMIT_PAUSE_MAX;

/// A committed transaction as this command reports it.
struct Committed {
    entry: TxLog,
    tempids: BTreeMap<String, u64>,
    via: String,
}

/// How one submission ended, when the transactor did not fail it.
enum Attempt {
    Committed(Committed),
    /// SIGINT or SIGTERM stopped the command (what became of the
    /// transaction is in the failure's message); never resubmitted.
    Stopped(Failure),
}

pub(crate) async fn run(args: TransactArgs) -> Outcome {
    let uri = args.uri.clone();
    transact(args).await.map_err(|f| keyspace_hint(f, &uri))
}

async fn transact(args: TransactArgs) -> Outcome {
    let text = read_input(&args)?;
    // Bad EDN is refused before anything is contacted.
    let forms = parse_tx(&text)?;
    if args.dry_run {
        return dry_run(&args.uri, forms).await;
    }
    let wait = Duration::try_from_secs_f64(args.lease_wait)
        .map_err(|e| Failure::invalid(format!("--lease-wait {}: {e}", args.lease_wait)))?;
    let tx_id = args.tx_id.unwrap_or_else(Uuid::new_v4);
    let (storage, db) = open_db(&args.uri).await?;
    let deadline = Instant::now() + wait;
    // Once a submission's outcome was unknown, no later failure proves
    // that nothing was committed.
    let mut unknown = false;
    loop {
        let error = match attempt(&storage, &db, &text, tx_id, wait, &args).await {
            Ok(Attempt::Committed(committed)) => {
                print(&committed, args.datoms);
                return Ok(());
            }
            Ok(Attempt::Stopped(failure)) => return Err(failure),
            Err(e) => e,
        };
        if refused(error.kind()) && !unknown {
            // Refused before anything was sent: there is no fate to ask about.
            return Err(error.into());
        }
        unknown |= error.kind() == ErrorKind::OutcomeUnknown;
        if !resubmittable(error.kind()) || Instant::now() + RECONNECT_PAUSE > deadline {
            let error = match unknown && error.kind() != ErrorKind::OutcomeUnknown {
                true => transactor::Error::new(
                    ErrorKind::OutcomeUnknown,
                    format!("an earlier submission may have committed; the last try: {error}"),
                ),
                false => error,
            };
            return Err(error
                .context(format!(
                    "transaction {tx_id} (`accrete tx-status {} {tx_id}` tells its fate)",
                    args.uri
                ))
                .into());
        }
        // Safe: under the same id it commits at most once.
        tracing::info!(%tx_id, error = %error, "resubmitting the transaction under the same id");
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// One submission: to the live transactor the lease advertises (following
/// it through failovers), or, whichever comes first, through a transactor
/// in this process once the lease is free.
async fn attempt(
    storage: &Arc<dyn Storage>,
    db: &DbName,
    text: &str,
    tx_id: Uuid,
    wait: Duration,
    args: &TransactArgs,
) -> transactor::Result<Attempt> {
    let connector = Connector::from_env()?;
    tokio::select! {
        client = live_transactor(&connector, storage.as_ref(), db) => {
            let via = format!("transactor at {}", client?.endpoint());
            let c = connector.transact_by_lease(storage.as_ref(), db, text, tx_id, wait).await?;
            Ok(Attempt::Committed(Committed {
                entry: c.entry,
                tempids: c.tempids.into_iter().collect(),
                via,
            }))
        }
        attempt = embedded(storage.clone(), db, text, tx_id, wait, args) => attempt,
    }
}

/// `tx-status`: asks the live transactor, or one in this process that took
/// the lease (fencing every earlier holder), and prints the answer as EDN.
pub(crate) async fn tx_status(args: TxStatusArgs) -> Outcome {
    let uri = args.uri.clone();
    status(args).await.map_err(|f| keyspace_hint(f, &uri))
}

async fn status(args: TxStatusArgs) -> Outcome {
    let wait = Duration::try_from_secs_f64(args.lease_wait)
        .map_err(|e| Failure::invalid(format!("--lease-wait {}: {e}", args.lease_wait)))?;
    let (storage, db) = open_db(&args.uri).await?;
    let tx_id = args.tx_id;
    let connector = Connector::from_env()?;
    let status = tokio::select! {
        client = live_transactor(&connector, storage.as_ref(), &db) => client?.tx_status(tx_id).await?,
        status = embedded_status(storage.clone(), &db, tx_id, wait) => status?,
    };
    if let Some(format) = args.format {
        use model::edn::Edn;
        let mut map: BTreeMap<Edn, Edn> = BTreeMap::new();
        map.insert(Edn::keyword(":tx-id"), Edn::Uuid(tx_id));
        let status_kw = match &status {
            TxStatus::Committed { t } => {
                map.insert(
                    Edn::keyword(":t"),
                    Edn::Long(i64::try_from(*t).unwrap_or(i64::MAX)),
                );
                ":committed"
            }
            TxStatus::NotCommitted => ":not-committed",
            TxStatus::Unknown(why) => {
                map.insert(Edn::keyword(":why"), Edn::string(why));
                ":unknown"
            }
        };
        map.insert(Edn::keyword(":status"), Edn::keyword(status_kw));
        crate::commands::output::print(format, &Edn::Map(map), &[]);
        return Ok(());
    }
    let id = format!("#uuid \"{tx_id}\"");
    match status {
        TxStatus::Committed { t } => println!("{{:tx-id {id} :status :committed :t {t}}}"),
        TxStatus::NotCommitted => println!("{{:tx-id {id} :status :not-committed}}"),
        TxStatus::Unknown(why) => println!(
            "{{:tx-id {id} :status :unknown :why {}}}",
            model::edn::Edn::string(&why)
        ),
    }
    Ok(())
}

async fn embedded_status(
    storage: Arc<dyn Storage>,
    db: &DbName,
    tx_id: Uuid,
    wait: Duration,
) -> transactor::Result<TxStatus> {
    let config = Config {
        patience: Patience::AtMost(wait),
        ..Config::default()
    };
    let seg = segments(storage).map_err(|e| transactor::Error::invalid(e.to_string()))?;
    let transactor = Transactor::start(seg, db, config).await?;
    let status = transactor.tx_status(tx_id).await;
    if let Err(e) = transactor.shutdown().await {
        tracing::warn!(error = %e, "releasing the lease");
    }
    status
}

/// Failures after which the transaction may be sent again under its id.
fn resubmittable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Unavailable
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Fenced
            | ErrorKind::ShuttingDown
            | ErrorKind::NotServing
    )
}

/// The tx data from the file or stdin, refused when it is over the one
/// limit of every path ([`model::limits::MAX_TX_BYTES`]): a file by its
/// size before it is read, a stream as soon as it goes past the limit, so
/// memory stays bounded by the limit.
fn read_input(args: &TransactArgs) -> Outcome<String> {
    let path = args.file.as_ref().filter(|f| f.as_os_str() != "-");
    let Some(path) = path else {
        return Ok(model::limits::read_tx_text(
            std::io::stdin().lock(),
            "stdin",
        )?);
    };
    let source = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::invalid(format!("reading tx data from {source}: {e}")))?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
    {
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        model::limits::check_tx_bytes(len)?;
    }
    Ok(model::limits::read_tx_text(file, &source)?)
}

/// A client of the transactor the lease advertises, once one answers (a
/// transactor that just took the lease serves a moment later; one that
/// died never does, and the lease lapses for [`embedded`]). A transactor
/// that refuses the credentials, or breaks the protocol, ends the wait:
/// trying again would not change its answer.
async fn live_transactor(
    connector: &Connector,
    storage: &dyn Storage,
    db: &DbName,
) -> transactor::Result<Client> {
    let mut silent = Silence::default();
    loop {
        let lease = read_lease(storage, db).await.ok().flatten();
        let advertised = lease
            .as_ref()
            .and_then(|lease| Some((lease.holder.as_ref()?.endpoint()?.to_string(), lease)));
        if let Some((endpoint, lease)) = advertised {
            match connector.connect_by_lease(storage, db).await {
                Ok(client) => return Ok(client),
                Err(e) if refused(e.kind()) => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "the transactor the lease names does not answer yet");
                    silent.note(&endpoint, lease.epoch, lease.ttl, &e);
                }
            }
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// How long the transactor a lease names may not answer before `transact`
/// says what it waits for (a transactor that just took the lease serves a
/// moment later).
const SILENCE_BEFORE_SAYING: Duration = Duration::from_millis(500);

/// Says once, on stderr, that the transactor the lease names does not
/// answer and what happens next, so a wait after a crash is not silent.
#[derive(Default)]
struct Silence {
    since: Option<Instant>,
    said: Option<String>,
}

impl Silence {
    fn note(
        &mut self,
        endpoint: &str,
        epoch: transactor::lease::Epoch,
        ttl: Duration,
        e: &transactor::Error,
    ) {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < SILENCE_BEFORE_SAYING || self.said.as_deref() == Some(endpoint) {
            return;
        }
        eprintln!(
            "accrete transact: the transactor at {endpoint} (lease epoch {epoch}) does not answer ({e}); waiting for it to come back, for a standby to take over, or for its lease to lapse (ttl {ttl:?}) to commit through a transactor in this process"
        );
        self.said = Some(endpoint.to_string());
    }
}

/// Answers of a live transactor that asking again would not change.
fn refused(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::Protocol
    )
}

/// Takes the lease (which fences any earlier holder), commits under
/// `tx_id`, releases — also when SIGINT or SIGTERM arrives, so that the
/// next writer need not wait for the lease to lapse.
async fn embedded(
    storage: Arc<dyn Storage>,
    db: &DbName,
    text: &str,
    tx_id: Uuid,
    wait: Duration,
    args: &TransactArgs,
) -> transactor::Result<Attempt> {
    let config = Config {
        patience: Patience::AtMost(wait),
        ..Config::default()
    };
    let stop = stop_requested();
    tokio::pin!(stop);
    let seg = segments(storage).map_err(|e| transactor::Error::invalid(e.to_string()))?;
    let start = Transactor::start(seg, db, config);
    tokio::pin!(start);
    let transactor = tokio::select! {
        started = &mut start => started?,
        signal = &mut stop => {
            // Starting may have taken the lease already: let it finish for
            // a moment, then release what it took.
            if let Ok(Ok(transactor)) = tokio::time::timeout(START_GRACE, start).await {
                let _ = transactor.shutdown().await;
            }
            return Ok(Attempt::Stopped(stopped(
                signal,
                &format!("before transaction {tx_id} was sent; nothing was committed"),
            )));
        }
    };
    let transact = transactor.transact_with_id(parse_tx(text)?, Some(tx_id));
    tokio::pin!(transact);
    let (outcome, signal) = tokio::select! {
        outcome = &mut transact => (outcome, None),
        signal = &mut stop => {
            // The committer commits what is queued before it stops, so the
            // transaction still gets its answer.
            let (outcome, _) = tokio::join!(transact, transactor.shutdown());
            (outcome, Some(signal))
        }
    };
    let released = match signal {
        Some(_) => true,
        None => match transactor.shutdown().await {
            Ok(()) => true,
            Err(e) => {
                // The transaction is durable; only the lease was not
                // released (it lapses).
                tracing::warn!(error = %e, "releasing the lease");
                false
            }
        },
    };
    let lease = match released {
        true => "the lease was released",
        false => "the lease lapses",
    };
    match (outcome, signal) {
        (outcome, None) => Ok(Attempt::Committed(Committed::from_report(outcome?))),
        (Ok(report), Some(signal)) => {
            let committed = Committed::from_report(report);
            print(&committed, args.datoms);
            let when = format!(
                "after transaction {tx_id} committed at t={}; {lease}",
                committed.entry.t
            );
            Ok(Attempt::Stopped(stopped(signal, &when)))
        }
        (Err(e), Some(signal)) => Ok(Attempt::Stopped(stopped(
            signal,
            &format!(
                "({e}); {lease}; `accrete tx-status {} {tx_id}` tells the fate of transaction {tx_id}",
                args.uri
            ),
        ))),
    }
}

/// The failure of a transact stopped by `signal`, `when`.
fn stopped(signal: Stop, when: &str) -> Failure {
    Failure::new(signal.code(), format!("stopped by a signal {when}"))
}

impl Committed {
    fn from_report(report: model::TxReport) -> Self {
        Committed {
            entry: report.log_entry(),
            tempids: report.tempids.into_iter().collect(),
            via: "a transactor in this process".to_string(),
        }
    }
}

/// `--dry-run`: the transaction against the latest value, committing
/// nothing (`with`); printed as a commit is, with `:committed false`.
async fn dry_run(uri: &str, forms: Vec<model::edn::Edn>) -> Outcome {
    let db = super::value::latest(uri).await?;
    let report = super::value::blocking("running the transaction", move || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let instant = model::edn::Instant(now.max(db.last_tx_instant().millis() + 1));
        Ok(db.with(&forms, instant, &txfn::tx_functions())?)
    })
    .await?;
    let committed = Committed::from_report(report);
    print_as(&committed, true, false);
    Ok(())
}

/// Prints `{:t … :tx … :datoms … :tempids {…}}`, and each datom on request.
fn print(committed: &Committed, datoms: bool) {
    print_as(committed, datoms, true);
}

/// [`print()`], with `:committed false` for a transaction that was not.
fn print_as(committed: &Committed, datoms: bool, was_committed: bool) {
    let tempids = committed
        .tempids
        .iter()
        .map(|(k, v)| format!("{} {v}", model::edn::Edn::string(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let dry = match was_committed {
        true => "",
        false => " :committed false",
    };
    println!(
        "{{:t {} :tx {} :datoms {} :tempids {{{tempids}}}{dry}}}",
        committed.entry.t,
        committed.entry.tx(),
        committed.entry.data.len()
    );
    if datoms {
        for d in committed.entry.data.iter() {
            println!("[{} {} {} {} {}]", d.e(), d.a(), d.v(), d.tx(), d.added());
        }
    }
    if was_committed {
        tracing::info!(via = %committed.via, "committed");
    }
}
