//! Transaction functions and entity-spec predicates installed as data.
//!
//! What it is: the runtime behind `model`'s [`model::Installed`] trait.
//! It runs the `:db/fn` code of transaction functions in a sandboxed
//! [Rhai](rhai) engine, and the predicates of `:db/ensure` specs
//! (`:db.pred/query` Datalog queries, with the rules of `:db.pred/rules`,
//! or `:db/fn` code answering true or false). The transactor installs one
//! [`Runtime`] in every [`model::TxFunctions`] it uses, embedded or
//! standalone, so installed functions run wherever a transaction runs,
//! with no recompilation.
//!
//! What it is not: the transaction builder (that is `model`, which finds
//! the code at the transaction's basis and expands what a function
//! returns), nor a general scripting host: scripts see their arguments and
//! a database value, and nothing else.
//!
//! # The contract of a function
//! The code defines `fn main(db, arg…)`, called as `[:my/fn arg…]` in tx
//! data; it returns an array of tx forms, which may call further functions.
//! It reads the database value at the transaction's basis through `db`
//! (see the `script` module docs: `q`, `pull`, `datoms`, `entid`, `rules`,
//! `principal`). Other `fn`s in the code are helpers. It is deterministic:
//! no clock, randomness or I/O exist in the sandbox, and queries may not
//! use the `rand` or `sample` aggregates.
//!
//! # Limits
//! Each call has an allowance of operations (the engine counts them; each
//! database read costs more), a recursion depth, sizes of strings, arrays
//! and maps (the memory a script can hold), and a wall-clock backstop; all
//! calls and predicates of one transaction share a budget. Over a limit,
//! the transaction fails with an error naming the function, the limit and
//! the line; the transactor goes on serving.
//!
//! # Speed
//! Code is compiled once per version (the cache is keyed by the code
//! itself) and queries and rules are parsed once, so a call costs
//! microseconds.
//!
//! ```
//! use model::{Db, edn::Instant};
//!
//! let fns = txfn::tx_functions();
//! let db = Db::new()
//!     .with_edn(r#"[{:db/ident :counter/n :db/valueType :db.type/long
//!                    :db/cardinality :db.cardinality/one}
//!                   {:db/ident :counter/add
//!                    :db/fn "fn main(db, e, by) {
//!                              let now = db.pull(\"[:counter/n]\", e);
//!                              let n = if \"counter/n\" in now { now[\"counter/n\"] } else { 0 };
//!                              [[kw(\"db/add\"), e, kw(\"counter/n\"), n + by]]
//!                            }"}]"#, Instant(1), &fns)
//!     .unwrap()
//!     .db_after;
//! let report = db
//!     .with_edn(r#"[{:db/id "c" :counter/n 40} ]"#, Instant(2), &fns)
//!     .unwrap();
//! let c = report.tempid("c").unwrap();
//! let db = report.db_after;
//! let db = db
//!     .with_edn(&format!("[[:counter/add {c} 2]]"), Instant(3), &fns)
//!     .unwrap()
//!     .db_after;
//! let n = query::q("[:find ?n . :in $ ?c :where [?c :counter/n ?n]]",
//!     &[query::Input::Db(db), query::Input::Value(model::Value::Ref(c))]).unwrap();
//! assert_eq!(n.to_string(), "42");
//! ```

mod convert;
mod meter;
mod pred;
mod script;

use model::edn::Edn;
use model::{FnCall, Installed, InstalledFailure, PredCheck, TxFunctions};
use quick_cache::sync::Cache;
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use meter::Over;
use script::ScriptDb;

/// A script call runs on a fresh stack of [`CALL_STACK`] bytes unless this
/// much is left on the caller's (so in practice always: threads have a few
/// MiB). The engine walks nested values by recursion (cloning, comparing,
/// dropping them): 5,000 nested arrays took ~17 MiB in a debug build and
/// overflowed the 2 MiB of the caller's thread, aborting the process. The
/// data limits cap nesting at 20,000 items, which fits this stack.
const STACK_RED_ZONE: usize = 128 << 20;
/// The stack a script call gets: address space reserved, pages used only
/// as deep as the call goes.
const CALL_STACK: usize = 256 << 20;

/// The limits every script call and every transaction is held to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Operations one call may spend (the engine's count, plus
    /// [`Limits`]-documented costs of database reads).
    pub operations: u64,
    /// Operations all calls and predicates of one transaction may spend.
    pub operations_per_tx: u64,
    /// How deep script functions may call each other (recursion).
    pub call_levels: usize,
    /// The longest string a script may build, in bytes.
    pub string_bytes: usize,
    /// Most items an array or map may hold, nested ones counted.
    pub collection_items: usize,
    /// Wall-clock backstop of one call (the operations allowance is the
    /// deterministic limit; this one catches slow reads).
    pub time: Duration,
    /// Most rows a query of a script or predicate may build.
    pub query_rows: usize,
    /// Most datoms one `db.datoms` call returns.
    pub datoms_per_call: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            operations: 1_000_000,
            operations_per_tx: 4_000_000,
            call_levels: 32,
            string_bytes: 1 << 20,
            collection_items: 20_000,
            time: Duration::from_secs(2),
            query_rows: 100_000,
            datoms_per_call: 10_000,
        }
    }
}

/// What the engine's database API shares with the runtime: the limits and
/// the caches of parsed queries, pull patterns and rules.
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    queries: Cache<String, Arc<query::Query>>,
    patterns: Cache<String, Arc<query::PullPattern>>,
    rules: Cache<String, Arc<query::Rules>>,
}

/// Refuses the aggregates whose answer is random: a function must give
/// the same tx data on the same database value.
fn deterministic(query: &query::Query) -> Result<(), String> {
    let text = query.to_string();
    let edn = model::edn::parse(&text).map_err(|e| e.to_string())?;
    let find = query::section_forms(&edn, "find").unwrap_or_default();
    let random = find.iter().any(|f| match f {
        Edn::List(items) => {
            matches!(items.first(), Some(Edn::Symbol(s)) if matches!(s.as_str(), "rand" | "sample"))
        }
        _ => false,
    });
    match random {
        true => Err(format!(
            "the query {text} uses rand or sample, whose answers are random: installed functions and predicates are deterministic"
        )),
        false => Ok(()),
    }
}

impl Shared {
    pub(crate) fn query(&self, text: &str) -> Result<Arc<query::Query>, String> {
        if let Some(q) = self.queries.get(text) {
            return Ok(q);
        }
        let parsed = query::Query::parse(text).map_err(|e| format!("query {text}: {e}"))?;
        deterministic(&parsed)?;
        let parsed = Arc::new(parsed);
        self.queries.insert(text.to_string(), parsed.clone());
        Ok(parsed)
    }

    pub(crate) fn pattern(&self, text: &str) -> Result<Arc<query::PullPattern>, String> {
        if let Some(p) = self.patterns.get(text) {
            return Ok(p);
        }
        let parsed = Arc::new(
            query::PullPattern::parse(text).map_err(|e| format!("pull pattern {text}: {e}"))?,
        );
        self.patterns.insert(text.to_string(), parsed.clone());
        Ok(parsed)
    }

    pub(crate) fn rules(&self, text: &str) -> Result<Arc<query::Rules>, String> {
        if let Some(r) = self.rules.get(text) {
            return Ok(r);
        }
        let parsed = Arc::new(query::Rules::parse(text).map_err(|e| format!("rules: {e}"))?);
        self.rules.insert(text.to_string(), parsed.clone());
        Ok(parsed)
    }
}

/// Runs installed functions and predicates: one sandboxed engine and the
/// caches of compiled code, shared by every thread.
pub struct Runtime {
    engine: Engine,
    compiled: Cache<String, Arc<AST>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.shared.limits)
            .field("compiled", &self.compiled.len())
            .finish_non_exhaustive()
    }
}

/// How many compiled versions (and parsed queries, patterns, rule sets)
/// stay cached.
const CACHED: usize = 4096;

impl Runtime {
    /// A runtime holding scripts to `limits`.
    pub fn new(limits: Limits) -> Runtime {
        Runtime {
            engine: script::engine(&limits),
            compiled: Cache::new(CACHED),
            shared: Arc::new(Shared {
                limits,
                queries: Cache::new(CACHED),
                patterns: Cache::new(CACHED),
                rules: Cache::new(CACHED),
            }),
        }
    }

    /// The process's runtime with the default [`Limits`].
    pub fn shared() -> Arc<Runtime> {
        static SHARED: OnceLock<Arc<Runtime>> = OnceLock::new();
        SHARED
            .get_or_init(|| Arc::new(Runtime::new(Limits::default())))
            .clone()
    }

    /// The limits scripts are held to.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The compiled form of `code` (compiled on first use).
    fn compile(&self, code: &str) -> Result<Arc<AST>, String> {
        if let Some(ast) = self.compiled.get(code) {
            return Ok(ast);
        }
        let ast = self
            .engine
            .compile(code)
            .map_err(|e| format!("its code does not compile: {e}"))?;
        let ast = Arc::new(ast);
        self.compiled.insert(code.to_string(), ast.clone());
        Ok(ast)
    }

    /// Calls `main` of `code` with `args`, metered against what is left of
    /// the transaction's budget.
    fn run(&self, code: &str, args: Vec<Dynamic>, spent: &mut u64) -> Result<Dynamic, String> {
        let ast = self.compile(code)?;
        let params = ast
            .iter_functions()
            .find(|f| f.name == "main" && f.params.len() == args.len())
            .map(|f| f.params.len());
        if params.is_none() {
            let mains: Vec<String> = ast
                .iter_functions()
                .filter(|f| f.name == "main")
                .map(|f| format!("main({})", f.params.join(", ")))
                .collect();
            return Err(match mains.is_empty() {
                true => format!(
                    "its code defines no fn main(db, …) (called with {} arguments after db)",
                    args.len() - 1
                ),
                false => format!(
                    "called with {} arguments after db, but its code defines {}",
                    args.len() - 1,
                    mains.join(" and ")
                ),
            });
        }
        let limits = &self.shared.limits;
        let left = limits.operations_per_tx.saturating_sub(*spent);
        if left == 0 {
            return Err(format!(
                "the transaction spent its budget of {} operations before this call",
                limits.operations_per_tx
            ));
        }
        let allowance = limits.operations.min(left);
        let deadline = Instant::now() + limits.time;
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let (result, used) = meter::metered(allowance, deadline, || {
            // A panic inside the engine fails this call, never the transactor.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // The tree-walking engine nests deep frames per call level
                // and per nested value (a debug build overflowed a 2 MiB
                // thread stack within the 32 levels the limits allow): the
                // call gets a stack of its own when the caller's is short,
                // so no script can overflow the transactor's thread.
                stacker::maybe_grow(STACK_RED_ZONE, CALL_STACK, || {
                    self.engine.call_fn_with_options::<Dynamic>(
                        options,
                        &mut Scope::new(),
                        &ast,
                        "main",
                        args,
                    )
                })
            }))
        });
        *spent = spent.saturating_add(used);
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.explain(&e, allowance)),
            Err(_) => {
                Err("the script engine failed (a bug in the engine): the call was abandoned".into())
            }
        }
    }

    /// What went wrong, in words, with the limit it hit and where.
    fn explain(&self, error: &EvalAltResult, allowance: u64) -> String {
        let limits = &self.shared.limits;
        let inner = error.unwrap_inner();
        let at = match inner.position() {
            p if p.is_none() => match error.position() {
                p if p.is_none() => String::new(),
                p => format!(" ({p})"),
            },
            p => format!(" ({p})"),
        };
        match inner {
            EvalAltResult::ErrorTerminated(token, _) | EvalAltResult::ErrorRuntime(token, _)
                if over_of(token).is_some() =>
            {
                match over_of(token) {
                    Some(Over::Time) => format!(
                        "over its time limit: ran longer than {} ms{at}",
                        limits.time.as_millis()
                    ),
                    _ => format!("over its limit of {allowance} operations{at}"),
                }
            }
            EvalAltResult::ErrorTooManyOperations(_) => {
                format!("over its limit of {allowance} operations{at}")
            }
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "over its recursion limit: calls nest deeper than {} levels{at}",
                limits.call_levels
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => format!(
                "over its memory limit: {what} over the limit (strings {} bytes, arrays and maps {} items){at}",
                limits.string_bytes, limits.collection_items
            ),
            EvalAltResult::ErrorRuntime(value, _) => format!("{value}{at}"),
            _ => error.to_string(),
        }
    }
}

/// The limit a termination token names.
fn over_of(token: &Dynamic) -> Option<Over> {
    let text = token.clone().into_immutable_string().ok()?;
    Over::from_token(&text)
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new(Limits::default())
    }
}

/// Transaction functions with the process's shared [`Runtime`] installed:
/// what a transactor uses unless told otherwise.
pub fn tx_functions() -> TxFunctions {
    TxFunctions::new().with_installed(Runtime::shared())
}

/// `functions`, with the process's shared [`Runtime`] installed unless it
/// has a runtime already.
pub fn ensure_installed(functions: TxFunctions) -> TxFunctions {
    match functions.installed() {
        Some(_) => functions,
        None => functions.with_installed(Runtime::shared()),
    }
}

impl Installed for Runtime {
    fn call(&self, call: FnCall<'_>) -> Result<Vec<Edn>, InstalledFailure> {
        let db = ScriptDb {
            db: call.db.clone(),
            principal: call.principal.map(Into::into),
            shared: self.shared.clone(),
        };
        let mut args = Vec::with_capacity(call.args.len() + 1);
        args.push(Dynamic::from(db));
        for arg in call.args {
            args.push(convert::to_dynamic(arg).map_err(InstalledFailure::Failed)?);
        }
        let returned = self
            .run(call.code, args, call.spent)
            .map_err(InstalledFailure::Failed)?;
        let Some(forms) = returned.read_lock::<rhai::Array>() else {
            return Err(InstalledFailure::Failed(format!(
                "main returned {} ({}), not an array of tx forms",
                returned,
                returned.type_name()
            )));
        };
        forms
            .iter()
            .enumerate()
            .map(|(i, form)| {
                convert::to_edn(form).map_err(|e| {
                    InstalledFailure::Failed(format!("form {i} of what main returned: {e}"))
                })
            })
            .collect()
    }

    fn holds(&self, check: PredCheck<'_>) -> Result<bool, InstalledFailure> {
        pred::holds(self, check)
    }
}
