//! Bulk import of tx data into an accrete database: the library behind
//! `accrete import URI FILE…`.
//!
//! What it does, given a running [`Transactor`] and [`Source`]s (EDN: one
//! vector of forms or a stream of them; or JSON lines, one transaction per
//! line in the documented JSON mapping):
//! - **cuts** the forms into batches of about [`Options::batch_bytes`] of
//!   text, each committed as one transaction, so every batch fits the
//!   transaction limits (`model::limits`) however large the input. The
//!   forms are regrouped: a transaction boundary of the input is not kept.
//! - **resolves tempids across the whole input**: a string tempid names
//!   one entity in every batch that uses it, wherever tx data names an
//!   entity (`:db/id`, ref values, the entity of a list form, the output
//!   of a transaction function; not a function's arguments). A
//!   tempid must be an entity (have an assertion of its own) in or before
//!   the batch that first refers to it, as within one transaction: put
//!   entities before the references to them.
//! - **pipelines**: a thread parses and cuts while the transactor applies
//!   and writes; up to [`Options::in_flight`] batches are queued at the
//!   transactor, which group-commits them.
//! - **resumes** without duplicates: each batch commits under a transaction
//!   id derived from the input's content, the batch size and the batch's
//!   number, so a second run of the same import skips the batches the
//!   first one committed (and learns their tempids from the log) and goes
//!   on from the first one it did not.
//! - **indexes** in the background as it goes (the transactor's indexing
//!   jobs), and once more at the end ([`Options::index_at_end`]) so that
//!   the whole import is in the persistent indexes when it returns.
//!
//! What it is not: the command line (the `cli` crate draws the progress
//! bar from [`Progress`]), or a way around the transactor: every batch is
//! an ordinary transaction, checked and logged like any other.
//!
//! ```
//! use std::sync::Arc;
//! use index::{SegmentCache, Segments, create_db};
//! use import::{Format, Options, Source, import};
//! use storage_core::{DbName, MemStorage, Storage};
//! use transactor::{Config, Transactor};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let name = DbName::new("people")?;
//! create_db(&storage, &name).await?;
//! let seg = Segments::new(storage.clone(), SegmentCache::new(64 << 20)?);
//! let transactor = Transactor::start(seg, &name, Config::default()).await?;
//! let text = r#"[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
//!                {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]
//!               [{:db/id "ann" :person/name "Ann"}]
//!               [{:db/id "bob" :person/name "Bob" :person/friend "ann"}]
//!               [[:db/add "ann" :person/friend "bob"]]"#;
//! let source = Source { name: "people.edn".into(), text: text.into(), format: Format::Edn };
//! let options = Options { batch_bytes: 64, ..Options::default() };
//! let summary = import(&transactor, vec![source], &options, &|_| {}).await?;
//! assert!(summary.batches >= 2); // the schema is a batch of its own
//! assert_eq!(summary.indexed_t, Some(transactor.db().basis_t()));
//! transactor.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod sample;
mod source;
mod tempids;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::edn::Edn;
use tokio::sync::mpsc;
use transactor::Transactor;
use uuid::Uuid;

use source::{Batch, cut};
pub use source::{Format, Source};
use tempids::Tempids;

/// The novelty (datoms) that starts an import's first indexing job, by
/// default ([`transactor_config`]).
pub const INDEX_THRESHOLD: usize = 512 * 1024;

/// How an import's indexing threshold grows with the index, by default
/// ([`transactor::Config::index_growth`]): a job starts once novelty
/// reaches three times the datoms already indexed. Each job rewrites about
/// the whole index, and an import needs only the last one's result: with
/// 3, about 1.3 leaf datoms are written per imported datom, where 1 writes
/// 2 (a 2 M-datom import used 8% less CPU and 5% less time than with 1; at
/// 6 M, where the novelty cap sets the pace, the same).
pub const INDEX_GROWTH: f64 = 3.0;

/// `base` set up for an import: indexing jobs from `index_threshold` datoms
/// of novelty, the threshold growing with the index by `index_growth`
/// (so that the indexing work per datom stays bounded as the database
/// grows), and a novelty cap with room for what commits while a job runs
/// (beyond it the import waits for indexing).
pub fn transactor_config(
    base: transactor::Config,
    index_threshold: usize,
    index_growth: f64,
) -> transactor::Config {
    transactor::Config {
        index_threshold,
        index_growth,
        novelty_cap: index_threshold.saturating_mul(4).max(4 << 20),
        ..base
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is bad (unreadable, not tx data): what and where.
    #[error("{0}")]
    Input(String),
    /// The transactor refused or failed a batch. The batches before it
    /// are committed; running the import again goes on from this one.
    #[error("batch {batch} ({place}): {source}")]
    Transact {
        /// The batch's number, from 0.
        batch: u64,
        /// Where its forms are in the input.
        place: String,
        /// What the transactor said.
        source: transactor::Error,
    },
}

impl Error {
    /// True when the input is at fault (bad tx data, a refused batch), so
    /// running the import again unchanged cannot succeed.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::Input(_) => true,
            Error::Transact { source, .. } => source.kind() == transactor::ErrorKind::Invalid,
        }
    }
}

/// How an import runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// About how many bytes of input text one batch (one transaction)
    /// takes. Text of many small values makes datoms of up to about three
    /// times its size, which must stay under the transaction's limit of
    /// datoms (`model::limits::MAX_TX_DATOM_BYTES`): the default of
    /// 1 MiB leaves room. A resumed import uses the size its first run
    /// recorded, whatever it is given ([`Summary::batch_bytes`]).
    pub batch_bytes: usize,
    /// How many batches may wait at the transactor at once.
    pub in_flight: usize,
    /// Index once more at the end, so the whole import is in the
    /// persistent indexes when [`import`] returns.
    pub index_at_end: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_bytes: 1024 * 1024,
            in_flight: 4,
            index_at_end: true,
        }
    }
}

/// Where an import is, as it goes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Bytes of input done (committed, or found committed by an earlier run).
    pub bytes_done: u64,
    /// Bytes of input in all.
    pub bytes_total: u64,
    /// Datoms committed by this run.
    pub datoms: u64,
    /// Batches committed by this run.
    pub batches: u64,
    /// Batches an earlier run had committed.
    pub skipped: u64,
    /// Time since the import started.
    pub elapsed: Duration,
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Batches committed by this run.
    pub batches: u64,
    /// Batches found committed by an earlier run, and skipped.
    pub skipped: u64,
    /// Datoms this run committed (`:db/txInstant` and the batch's id
    /// included).
    pub datoms: u64,
    /// Datoms of the skipped batches.
    pub skipped_datoms: u64,
    /// Bytes of input.
    pub bytes: u64,
    /// The batch size used: the one asked for, or the one an earlier run
    /// of the same input recorded (a resumed import cuts where it cut).
    pub batch_bytes: usize,
    /// Distinct tempids resolved.
    pub tempids: usize,
    /// The database's basis t at the end.
    pub basis_t: u64,
    /// The basis t the last index covers, when indexed at the end.
    pub indexed_t: Option<u64>,
    /// Time from start to durable (and indexed) end.
    pub elapsed: Duration,
}

/// Imports `sources`, in order, through `transactor`; `progress` hears of
/// each batch as it commits. See the crate docs.
pub async fn import(
    transactor: &Transactor,
    sources: Vec<Source>,
    options: &Options,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Summary, Error> {
    let started = Instant::now();
    let plan = plan(transactor, &sources, options.batch_bytes).await?;
    let bytes_total = sources.iter().map(|s| s.text.len() as u64).sum();
    let (out, mut batches) = mpsc::channel(options.in_flight.max(1));
    let budget = plan.batch_bytes;
    let cutter = std::thread::Builder::new()
        .name("import-parse".into())
        .spawn(move || cut(&sources, budget, &out))
        .map_err(|e| Error::Input(format!("starting the parser thread: {e}")))?;
    let scope = Arc::new(Tempids::default());
    let mut state = Progress {
        bytes_total,
        ..Progress::default()
    };
    let mut summary = Summary {
        bytes: bytes_total,
        batch_bytes: plan.batch_bytes,
        ..Summary::default()
    };
    let mut pending = VecDeque::new();
    let mut resuming = true;
    let mut input_done = false;
    let outcome = loop {
        if pending.len() >= options.in_flight.max(1) || (input_done && !pending.is_empty()) {
            let (batch, read_to, place, handle): Submitted = match pending.pop_front() {
                Some(p) => p,
                None => break Ok(()),
            };
            match handle.outcome().await {
                Ok(report) => {
                    state.batches += 1;
                    state.datoms += report.tx_data.len() as u64;
                    state.bytes_done = read_to;
                }
                Err(source) => {
                    break Err(Error::Transact {
                        batch,
                        place,
                        source: hint(source, plan.batch_bytes),
                    });
                }
            }
            state.elapsed = started.elapsed();
            progress(&state);
            continue;
        }
        if input_done {
            break Ok(());
        }
        let batch = match batches.recv().await {
            None => {
                input_done = true;
                continue;
            }
            Some(Err(e)) => break Err(e),
            Some(Ok(batch)) => batch,
        };
        let id = plan.id(batch.number);
        if resuming {
            match committed_before(transactor, id).await {
                Ok(Some(first)) => {
                    scope.learn(first.tempids.iter());
                    state.skipped += 1;
                    summary.skipped_datoms += first.tx_data.len() as u64;
                    state.bytes_done = batch.read_to;
                    state.elapsed = started.elapsed();
                    progress(&state);
                    continue;
                }
                Ok(None) => resuming = false,
                Err(source) => {
                    break Err(Error::Transact {
                        batch: batch.number,
                        place: batch.place,
                        source,
                    });
                }
            }
        }
        let mut batch = batch;
        if batch.number == 0 && plan.annotate {
            batch.forms.push(plan.annotation());
        }
        match submit(transactor, batch, id, &scope).await {
            Ok(queued) => pending.push_back(queued),
            Err(e) => break Err(e),
        }
    };
    // Unblocks the parser (its sends fail) before waiting for it.
    drop(batches);
    let _ = cutter.join();
    outcome?;
    if options.index_at_end {
        summary.indexed_t = Some(transactor.index().await.map_err(|source| Error::Transact {
            batch: state.batches + state.skipped,
            place: "indexing at the end".into(),
            source,
        })?);
    }
    summary.batches = state.batches;
    summary.skipped = state.skipped;
    summary.datoms = state.datoms;
    summary.tempids = scope.len();
    summary.basis_t = transactor.db().basis_t();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A batch queued at the transactor: its number, where the input is done
/// once it commits, its place, and its outcome to come.
type Submitted = (u64, u64, String, transactor::Queued);

/// Queues `batch` at the transactor under `id`, in `scope`.
async fn submit(
    transactor: &Transactor,
    batch: Batch,
    id: Uuid,
    scope: &Arc<Tempids>,
) -> Result<Submitted, Error> {
    let Batch {
        number,
        forms,
        place,
        read_to,
    } = batch;
    let scope: Arc<dyn transactor::TxScope> = scope.clone();
    match transactor.queue_scoped(forms, Some(id), scope).await {
        Ok(queued) => Ok((number, read_to, place, queued)),
        Err(source) => Err(Error::Transact {
            batch: number,
            place,
            source,
        }),
    }
}

/// Says what an import can do about a refused batch: a tempid that is only
/// a value in its batch (the entity comes in a later batch), or a batch
/// over the transaction size limit (cut at `batch_bytes` of text).
fn hint(e: transactor::Error, batch_bytes: usize) -> transactor::Error {
    if let Some(over) = e.message().strip_suffix(model::limits::SPLIT) {
        let message = format!(
            "{over}this import cuts batches at {batch_bytes} bytes of text, which made more \
             datoms than one transaction may hold. A run of the same input resumes with the \
             size its first run recorded, so import it into a fresh database with a smaller \
             batch size (`--batch-bytes`, `Options::batch_bytes`; the default, 1 MiB, fits)"
        );
        return transactor::Error::new(e.kind(), message);
    }
    match e.tx_code() {
        Some(code @ ":db.error/invalid-tempid") => {
            let code = code.to_string();
            transactor::Error::new(
                e.kind(),
                format!(
                    "{}; an import resolves a tempid across batches once it is an entity: \
                     put each entity before the references to it, or raise the batch size",
                    e.message()
                ),
            )
            .with_tx_code(code)
        }
        _ => e,
    }
}

/// The batch committed under `id` by an earlier run, if any.
async fn committed_before(
    transactor: &Transactor,
    id: Uuid,
) -> transactor::Result<Option<model::CommittedTx>> {
    let db = transactor.db();
    tokio::task::spawn_blocking(move || db.committed_tx(id))
        .await
        .map_err(|e| {
            transactor::Error::new(
                transactor::ErrorKind::Internal,
                format!("looking up a batch id failed: {e}"),
            )
        })?
        .map_err(transactor::Error::from)
}

/// The start of the `:db/doc` that batch 0 records on its transaction.
const ANNOTATION: &str = "accrete import, batch-bytes ";

/// The ids the batches of an import commit under, and its batch size.
///
/// Batch 0 commits under an id of the input alone (the anchor), with the
/// batch size recorded on its transaction (`:db/doc "accrete import,
/// batch-bytes N"`); every later batch under an id of the input, that size
/// and its number. A rerun finds the anchor and takes the recorded size,
/// whatever size it was given: the batches are cut where the first run cut
/// them, so their ids match and none commits twice. (An import begun
/// before the anchor existed has batch 0 under a sized id: a rerun with
/// the same size finds it.)
struct Plan {
    batch_bytes: usize,
    first: Uuid,
    rest: [u8; 32],
    /// Batch 0 records the batch size.
    annotate: bool,
}

impl Plan {
    fn id(&self, number: u64) -> Uuid {
        match number {
            0 => self.first,
            n => batch_id(&self.rest, n),
        }
    }

    fn annotation(&self) -> Edn {
        Edn::Vector(vec![
            Edn::keyword("db/add"),
            Edn::string("datomic.tx"),
            Edn::keyword("db/doc"),
            Edn::string(&format!("{ANNOTATION}{}", self.batch_bytes)),
        ])
    }
}

/// How this import of `sources` runs: afresh with `batch_bytes`, or on
/// from an earlier run, with that run's batch size.
async fn plan(
    transactor: &Transactor,
    sources: &[Source],
    batch_bytes: usize,
) -> Result<Plan, Error> {
    let anchor = batch_id(&identity(sources, None), 0);
    let lookup = |id| async move {
        committed_before(transactor, id)
            .await
            .map_err(|source| Error::Transact {
                batch: 0,
                place: "looking for an earlier run".into(),
                source,
            })
    };
    if let Some(first) = lookup(anchor).await? {
        let tx = first.tx_data.first().map(|d| d.e());
        let recorded = first.tx_data.iter().find_map(|d| match d.v() {
            model::Value::String(text)
                if Some(d.e()) == tx && d.a() == model::schema::bootstrap::DOC =>
            {
                text.strip_prefix(ANNOTATION)?.parse::<usize>().ok()
            }
            _ => None,
        });
        let Some(recorded) = recorded else {
            return Err(Error::Input(format!(
                "an earlier import of this input committed its first batch (tx id {anchor}) without \
                 recording its batch size (`:db/doc \"{ANNOTATION}N\"` on that transaction): \
                 it cannot be resumed safely"
            )));
        };
        return Ok(Plan {
            batch_bytes: recorded,
            first: anchor,
            rest: identity(sources, Some(recorded)),
            annotate: true,
        });
    }
    let budget = batch_bytes.max(1);
    let rest = identity(sources, Some(budget));
    let legacy = batch_id(&rest, 0);
    let annotate = lookup(legacy).await?.is_none();
    Ok(Plan {
        batch_bytes: budget,
        first: if annotate { anchor } else { legacy },
        rest,
        annotate,
    })
}

/// What names an import: the content of its sources, in order, and the
/// batch size (which decides where batches are cut); without a size, the
/// input alone.
fn identity(sources: &[Source], batch_bytes: Option<usize>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    match batch_bytes {
        Some(size) => {
            hasher.update(b"accrete import v1");
            hasher.update(&(size as u64).to_le_bytes());
        }
        None => {
            hasher.update(b"accrete import v1 input");
        }
    }
    for source in sources {
        hasher.update(&(source.text.len() as u64).to_le_bytes());
        hasher.update(source.text.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// The transaction id of batch `number` of the import named `identity`.
pub(crate) fn batch_id(identity: &[u8; 32], number: u64) -> Uuid {
    let mut hasher = blake3::Hasher::new();
    hasher.update(identity);
    hasher.update(&number.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}
