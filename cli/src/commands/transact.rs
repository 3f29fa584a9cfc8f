//! `transact`: to the live transactor when the lease advertises one,
//! otherwise through a transactor embedded in this process for the call.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use model::TxLog;
use storage_core::{DbName, Storage};
use transactor::client::Client;
use transactor::lease::{Patience, read_lease};
use transactor::{Config, ErrorKind, Transactor, TxStatus, parse_tx};

use crate::args::{TransactArgs, TxStatusArgs};
use crate::exit::{Failure, Outcome};
use crate::storage::{open_db, segments};

/// How often the lease is looked at again for a live transactor.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// A committed transaction as this command reports it.
struct Committed {
    entry: TxLog,
    tempids: BTreeMap<String, u64>,
    via: String,
}

pub(crate) async fn run(args: TransactArgs) -> Outcome {
    let text = read_input(&args)?;
    // Bad EDN is refused before anything is contacted.
    parse_tx(&text)?;
    let wait = Duration::try_from_secs_f64(args.lease_wait)
        .map_err(|e| Failure::invalid(format!("--lease-wait {}: {e}", args.lease_wait)))?;
    let tx_id = args.tx_id.unwrap_or_else(Uuid::new_v4);
    let (storage, db) = open_db(&args.uri).await?;
    let deadline = Instant::now() + wait;
    loop {
        let error = match attempt(&storage, &db, &text, tx_id, wait).await {
            Ok(committed) => {
                print(&committed, args.datoms);
                return Ok(());
            }
            Err(e) => e,
        };
        if !resubmittable(error.kind()) || Instant::now() + RECONNECT_PAUSE > deadline {
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
) -> transactor::Result<Committed> {
    tokio::select! {
        client = live_transactor(storage.as_ref(), db) => {
            let via = format!("transactor at {}", client.endpoint());
            drop(client);
            let c = Client::transact_by_lease(storage.as_ref(), db, text, tx_id, wait).await?;
            Ok(Committed {
                entry: c.entry,
                tempids: c.tempids.into_iter().collect(),
                via,
            })
        }
        committed = embedded(storage.clone(), db, text, tx_id, wait) => committed,
    }
}

/// `tx-status`: asks the live transactor, or one in this process that took
/// the lease (fencing every earlier holder), and prints the answer as EDN.
pub(crate) async fn tx_status(args: TxStatusArgs) -> Outcome {
    let wait = Duration::try_from_secs_f64(args.lease_wait)
        .map_err(|e| Failure::invalid(format!("--lease-wait {}: {e}", args.lease_wait)))?;
    let (storage, db) = open_db(&args.uri).await?;
    let tx_id = args.tx_id;
    let status = tokio::select! {
        client = live_transactor(storage.as_ref(), &db) => client.tx_status(tx_id).await?,
        status = embedded_status(storage.clone(), &db, tx_id, wait) => status?,
    };
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

fn read_input(args: &TransactArgs) -> Outcome<String> {
    let from_stdin = args.file.as_ref().is_none_or(|f| f.as_os_str() == "-");
    let mut text = String::new();
    let read = match &args.file {
        Some(path) if !from_stdin => {
            std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
        }
        _ => std::io::stdin().read_to_string(&mut text),
    };
    let source = match &args.file {
        Some(path) if !from_stdin => path.display().to_string(),
        _ => "stdin".to_string(),
    };
    read.map_err(|e| Failure::invalid(format!("reading tx data from {source}: {e}")))?;
    Ok(text)
}

/// A client of the transactor the lease advertises, once one answers (a
/// transactor that just took the lease serves a moment later; one that
/// died never does, and the lease lapses for [`embedded`]).
async fn live_transactor(storage: &dyn Storage, db: &DbName) -> Client {
    loop {
        let advertised = read_lease(storage, db)
            .await
            .ok()
            .flatten()
            .and_then(|lease| lease.holder)
            .is_some_and(|holder| holder.endpoint().is_some());
        if advertised {
            match Client::connect_by_lease(storage, db).await {
                Ok(client) => return client,
                Err(e) => {
                    tracing::debug!(error = %e, "the transactor the lease names does not answer yet")
                }
            }
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// Takes the lease (which fences any earlier holder), commits, releases.
async fn embedded(
    storage: Arc<dyn Storage>,
    db: &DbName,
    text: &str,
    tx_id: Uuid,
    wait: Duration,
) -> transactor::Result<Committed> {
    let config = Config {
        patience: Patience::AtMost(wait),
        ..Config::default()
    };
    let seg = segments(storage).map_err(|e| transactor::Error::invalid(e.to_string()))?;
    let transactor = Transactor::start(seg, db, config).await?;
    let outcome = transactor
        .transact_with_id(parse_tx(text)?, Some(tx_id))
        .await;
    let stopped = transactor.shutdown().await;
    let report = outcome?;
    if let Err(e) = stopped {
        // The transaction is durable; only the lease was not released (it lapses).
        tracing::warn!(error = %e, "releasing the lease");
    }
    Ok(Committed {
        entry: report.log_entry(),
        tempids: report.tempids.into_iter().collect(),
        via: "a transactor in this process".to_string(),
    })
}

/// Prints `{:t … :tx … :datoms … :tempids {…}}`, and each datom on request.
fn print(committed: &Committed, datoms: bool) {
    let tempids = committed
        .tempids
        .iter()
        .map(|(k, v)| format!("{} {v}", model::edn::Edn::string(k)))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{{:t {} :tx {} :datoms {} :tempids {{{tempids}}}}}",
        committed.entry.t,
        committed.entry.tx(),
        committed.entry.data.len()
    );
    if datoms {
        for d in committed.entry.data.iter() {
            println!("[{} {} {} {} {}]", d.e(), d.a(), d.v(), d.tx(), d.added());
        }
    }
    tracing::info!(via = %committed.via, "committed");
}
