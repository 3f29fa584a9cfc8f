//! The plan a query ran with: [`explain`] runs it and tells, clause by
//! clause in the order the planner picked, how each read its source and
//! how many rows it took and gave.

use crate::error::Result;
use crate::input::Input;
use crate::run::{AsQuery, Options};
use std::fmt;
use std::time::Duration;

pub use crate::eval::trace::{JoinStrategy, Step};

/// How a query ran: its clauses in the order they ran, with the index
/// reads and join strategy of each data pattern and the rows in and out.
///
/// `Display` prints one line per clause (nested clauses of rules and
/// branches indented under the clause that ran them).
#[derive(Clone, Debug)]
pub struct Explain {
    /// The query, printed.
    pub query: String,
    /// The clauses as they ran.
    pub steps: Vec<Step>,
    /// How many results the query found.
    pub results: usize,
    /// How long it took (with the recording, so a little longer than a
    /// plain run).
    pub elapsed: Duration,
}

/// Runs `query` over `inputs` (as [`crate::q`]) and returns the plan it
/// ran with instead of its results. Data patterns say which index they
/// read (`:eavt`, `:aevt`, `:avet`, `:vaet`), by which known positions, and
/// whether they probed the index once per distinct key of the bindings so
/// far or scanned what the constants select once and hash-joined; the
/// attribute statistics the choice rests on are shown as `~N datoms`.
///
/// ```
/// use model::{Db, TxFunctions, edn::Instant};
/// use query::{Input, explain};
///
/// let fns = TxFunctions::new();
/// let db = Db::new()
///     .with_edn(r#"[{:db/ident :user/team :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
///                   {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#,
///               Instant(1), &fns).unwrap().db_after
///     .with_edn(r#"[{:user/team 1 :user/name "a"} {:user/team 2 :user/name "b"}]"#, Instant(2), &fns)
///     .unwrap().db_after;
/// let plan = explain(
///     "[:find ?n :in $ ?t :where [?u :user/team ?t] [?u :user/name ?n]]",
///     &[Input::Db(db), Input::Value(model::Value::Long(1))],
/// ).unwrap();
/// assert_eq!(plan.results, 1);
/// assert!(plan.steps[0].how.starts_with("probe :avet [a v]"));
/// assert!(plan.steps[1].how.starts_with("probe :eavt [e a]"));
/// println!("{plan}");
/// ```
pub fn explain(query: &(impl AsQuery + ?Sized), inputs: &[Input]) -> Result<Explain> {
    explain_with(query, inputs, &Options::default())
}

/// [`explain`] with user functions, limits and a join strategy.
pub fn explain_with(
    query: &(impl AsQuery + ?Sized),
    inputs: &[Input],
    options: &Options,
) -> Result<Explain> {
    query.as_query()?.explain(inputs, options)
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan of {}", self.query)?;
        for (i, s) in self.steps.iter().enumerate() {
            let indent = "   ".repeat(s.depth);
            let runs = match s.runs {
                1 => String::new(),
                n => format!(", {n} runs"),
            };
            writeln!(f, "{indent}{:>2}. {}", i + 1, s.clause)?;
            writeln!(
                f,
                "{indent}    {}; rows {} -> {}{runs}",
                s.how, s.rows_in, s.rows_out
            )?;
        }
        write!(
            f,
            "{} results in {:.3} ms",
            self.results,
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}
