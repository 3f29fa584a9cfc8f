//! The probe: drives a file storage from a separate OS process, for the
//! tests that need several processes, a process killed mid-write, or
//! another user. It is not a program of its own: a test starts its own
//! test binary again ([`probe`] in `mod.rs`) running only the ignored test
//! `probe_process`, which calls [`run_from_env`] with the arguments passed
//! in [`ARGS_VAR`].
//!
//! ```text
//! increment DIR ROOT COUNT TASKS
//!     TASKS tasks each win COUNT increments of the counter ROOT (which
//!     must exist), printing `WON <revision> <count>` after each win.
//! churn DIR SEED
//!     Puts random segments and increments three roots until killed,
//!     printing `PUT <id>` and `CAS <root> <revision>` after each call
//!     returned. Prints `READY` once the storage is open.
//! try DIR ID
//!     Opens the storage, gets segment ID, puts a segment and increments
//!     the root `probe/counter`, printing `<step> ok ...` or
//!     `<step> err <message>` for each.
//! ```
//!
//! Every line is written after the call it reports returned, so a parent
//! that reads `PUT x` knows the put was acknowledged. Each starts with
//! [`MARK`], so the parent can tell them from what the test harness prints.

use std::sync::Arc;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use storage_core::{CasOutcome, Nonce, Result, RootName, RootValue, Storage, StorageExt};
use storage_file::FileStorage;

/// The roots `churn` increments; each holds its own revision as text.
const CHURN_ROOTS: [&str; 3] = ["db/crash/log", "db/crash/index", "catalog"];
const CHURN_TASKS: u64 = 3;

/// The environment variable carrying the probe's arguments, separated by
/// [`ARGS_SEPARATOR`].
pub(crate) const ARGS_VAR: &str = "STORAGE_FILE_PROBE_ARGS";
/// Separates the arguments in [`ARGS_VAR`] (the ASCII unit separator).
pub(crate) const ARGS_SEPARATOR: char = '\u{1f}';
/// What each line the probe reports starts with.
pub(crate) const MARK: &str = "probe: ";

/// Prints one report line, marked.
macro_rules! report_line {
    ($($arg:tt)*) => { println!("{}{}", MARK, format_args!($($arg)*)) };
}

/// Runs the probe with the arguments in [`ARGS_VAR`] and exits the process
/// with its status; returns at once when the variable is not set (the
/// ignored test run by hand).
pub(crate) fn run_from_env() {
    let Ok(joined) = std::env::var(ARGS_VAR) else {
        eprintln!("{ARGS_VAR} is not set: the probe runs only as a child of this file's tests");
        return;
    };
    let args: Vec<String> = joined.split(ARGS_SEPARATOR).map(str::to_owned).collect();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the probe");
    let status = runtime.block_on(run(args));
    std::process::exit(status);
}

async fn run(args: Vec<String>) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["increment", dir, root, count, tasks] => increment(dir, root, count, tasks).await,
        ["churn", dir, seed] => churn(dir, seed).await,
        ["try", dir, id] => {
            try_everything(dir, id).await;
            Ok(())
        }
        _ => {
            eprintln!("probe: unknown arguments {args:?}; see the header of tests/common/probe.rs");
            return 2;
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("probe: {e}");
            1
        }
    }
}

fn number(text: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| storage_core::Error::invalid(format!("`{text}` is not a number")))
}

async fn increment(dir: &str, root: &str, count: &str, tasks: &str) -> Result<()> {
    let storage = Arc::new(FileStorage::open(dir).await?);
    let name = RootName::new(root)?;
    let (count, tasks) = (number(count)?, number(tasks)?);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (storage, name) = (storage.clone(), name.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..count {
                let (revision, value) = increment_once(&*storage, &name, |_, n| n).await?;
                report_line!("WON {revision} {value}");
            }
            Ok::<_, storage_core::Error>(())
        }));
    }
    join_all(handles).await
}

/// Waits for every task; the first failure, or a task that panicked, is
/// the probe's failure.
async fn join_all(handles: Vec<tokio::task::JoinHandle<Result<()>>>) -> Result<()> {
    for handle in handles {
        handle
            .await
            .map_err(|e| storage_core::Error::invalid(format!("task failed: {e}")))??;
    }
    Ok(())
}

/// Reads the counter and CASes it to `next(revision, count + 1)` until a
/// CAS wins; returns the revision won and the value written.
async fn increment_once(
    storage: &dyn Storage,
    name: &RootName,
    next: impl Fn(u64, u64) -> u64,
) -> Result<(u64, u64)> {
    loop {
        let current = storage.read_root(name).await?;
        let (expected, count) = match &current {
            None => (None, 0),
            Some(root) => (Some(root.revision), parse_count(root.value.data())?),
        };
        let nonce = Nonce::random();
        let target = storage_core::Revision::after(expected, nonce)?.get();
        let value = next(target, count + 1);
        let data = RootValue::with_nonce(nonce, value.to_string())?;
        if let CasOutcome::Applied(revision) = storage.cas_root(name, expected, &data).await? {
            return Ok((revision.get(), value));
        }
    }
}

fn parse_count(data: &Bytes) -> Result<u64> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| storage_core::Error::invalid(format!("root value {data:?} is not a number")))
}

async fn churn(dir: &str, seed: &str) -> Result<()> {
    let storage = Arc::new(FileStorage::open(dir).await?);
    let seed = number(seed)?;
    report_line!("READY");
    let mut handles = Vec::new();
    for task in 0..CHURN_TASKS {
        let storage = storage.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(task));
            for round in 0u64.. {
                let id = storage.put(random_segment(&mut rng)).await?;
                report_line!("PUT {id}");
                let root = CHURN_ROOTS[((round + task) % CHURN_ROOTS.len() as u64) as usize];
                let name = RootName::new(root)?;
                // Each root holds its own revision, so a reader can tell a
                // whole record from a mixed-up one.
                let (revision, _) = increment_once(&*storage, &name, |rev, _| rev).await?;
                report_line!("CAS {root} {revision}");
            }
            Ok::<_, storage_core::Error>(())
        }));
    }
    join_all(handles).await
}

/// Mostly small segments, some of a quarter MiB, a few of a full MiB.
fn random_segment(rng: &mut StdRng) -> Bytes {
    let len = match rng.random_range(0..1000) {
        0..3 => 1 << 20,
        3..100 => rng.random_range(0..256 * 1024),
        _ => rng.random_range(0..8 * 1024),
    };
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    bytes.into()
}

async fn try_everything(dir: &str, id: &str) {
    let storage = match FileStorage::open(dir).await {
        Ok(storage) => {
            report_line!("open ok");
            storage
        }
        Err(e) => return report("open", Err::<(), _>(e)),
    };
    let got = match id.parse() {
        Ok(id) => storage.get_segment(id).await.map(|b| b.map(|b| b.len())),
        Err(e) => Err(e),
    };
    report("get", got);
    report(
        "put",
        storage.put(Bytes::from_static(b"from the probe")).await,
    );
    let name = RootName::new("probe/counter").map_err(|e| e.to_string());
    match name {
        Ok(name) => report("cas", increment_once(&storage, &name, |_, n| n).await),
        Err(e) => report_line!("cas err {e}"),
    }
}

fn report<T: std::fmt::Debug>(step: &str, outcome: Result<T>) {
    match outcome {
        Ok(value) => report_line!("{step} ok {value:?}"),
        Err(e) => report_line!("{step} err {}", e.to_string().replace('\n', " ")),
    }
}
