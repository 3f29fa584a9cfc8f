//! Evaluating `:where` clauses: the clause loop with its planner, and the
//! environment (sources, rules, functions, deadline) it runs in.

pub(crate) mod builtins;
pub(crate) mod call;
pub(crate) mod context;
pub(crate) mod groups;
pub(crate) mod guard;
mod logic;
mod pattern;
mod plan;
mod probe;
pub(crate) mod relation;
mod rules;
pub(crate) mod source;
pub(crate) mod trace;

use crate::error::{Error, ErrorKind, Result};
use crate::functions::Functions;
use crate::parse::Rules;
use crate::parse::clause::{Clause, ClauseKind};
use context::Context;
use model::edn::Symbol;
use rules::Fixpoint;
use source::Source;
use std::collections::HashMap;
use std::sync::Arc;

/// What clauses run against: the sources, rules and functions of a query
/// (its limits are in [`guard`]).
pub(crate) struct Env<'a> {
    pub(crate) sources: HashMap<Symbol, Source>,
    pub(crate) rules: Option<Arc<Rules>>,
    pub(crate) functions: &'a Functions,
}

impl Env<'_> {
    /// Fails once a limit of the query has tripped (deadline, cancel
    /// flag, row limit).
    pub(crate) fn check_deadline(&self) -> Result<()> {
        guard::check()
    }
}

/// One evaluation of a list of clauses (a query, a branch, a rule body).
pub(crate) struct Eval<'e, 'f> {
    env: &'e Env<'e>,
    /// The source `$` stands for here (`($src or …)` and rule calls rebind it).
    default_src: Symbol,
    /// The rule tables when evaluating rule bodies inside a fixpoint.
    fixpoint: Option<&'f mut Fixpoint>,
    /// The rule call (by occurrence) that reads only the newest answers.
    delta: Option<usize>,
    /// Datoms per attribute, counted up to a cap, for the planner.
    attr_counts: HashMap<(Symbol, u64), usize>,
}

impl<'e, 'f> Eval<'e, 'f> {
    /// An evaluation of the query's own clauses.
    pub(crate) fn new(env: &'e Env<'e>) -> Eval<'e, 'f> {
        Eval {
            env,
            default_src: Symbol::new("$"),
            fixpoint: None,
            delta: None,
            attr_counts: HashMap::new(),
        }
    }

    /// The source a clause names (`$` means the current default source).
    fn source(&self, name: &Symbol, at: &str) -> Result<&'e Source> {
        let name = match name.as_str() {
            "$" => &self.default_src,
            _ => name,
        };
        self.env.sources.get(name).ok_or_else(|| {
            Error::new(
                ErrorKind::Source,
                format!("no source {name} among the inputs"),
                at,
            )
        })
    }

    /// Runs `clauses` on the bindings in `ctx`, in the order the planner
    /// picks, and returns the bindings that satisfy all of them.
    pub(crate) fn solve(&mut self, clauses: &[Clause], mut ctx: Context) -> Result<Context> {
        self.check_plan(clauses, &ctx)?;
        let mut pending: Vec<&Clause> = clauses.iter().collect();
        while !pending.is_empty() && !ctx.is_empty() {
            self.env.check_deadline()?;
            let i = self.pick(&pending, &ctx)?;
            let clause = pending.swap_remove(i);
            let step = match trace::recording() {
                true => trace::start(&clause.text, rows_touching(&ctx, clause)),
                false => None,
            };
            ctx = self
                .apply(clause, ctx)
                .map_err(|e| e.at_if_unset(&clause.text))?;
            if let Some(at) = step {
                trace::finish(at, kind_name(&clause.kind), rows_touching(&ctx, clause));
            }
        }
        Ok(ctx)
    }

    /// Runs one clause.
    fn apply(&mut self, clause: &Clause, ctx: Context) -> Result<Context> {
        match &clause.kind {
            ClauseKind::Pattern(p) => self.pattern(clause, p, ctx),
            ClauseKind::Predicate(call) => self.predicate(clause, call, ctx),
            ClauseKind::Function(call, binding) => self.function(clause, call, binding, ctx),
            ClauseKind::Rule(call) => self.rule_call(clause, call, ctx),
            ClauseKind::Not(not) => self.not(clause, not, ctx),
            ClauseKind::Or(or) => self.or(clause, or, ctx),
        }
    }

    /// Evaluates `clauses` with `$` rebound to `src` (when given).
    fn nested(
        &mut self,
        src: Option<&Symbol>,
        clauses: &[Clause],
        ctx: Context,
    ) -> Result<Context> {
        let saved = self.default_src.clone();
        if let Some(src) = src {
            self.default_src = match src.as_str() {
                "$" => saved.clone(),
                _ => src.clone(),
            };
        }
        let result = trace::nested(|| self.solve(clauses, ctx));
        self.default_src = saved;
        result
    }
}

/// Rows of the largest relation binding a variable of `clause` (1 when
/// none does: the unit relation).
fn rows_touching(ctx: &Context, clause: &Clause) -> usize {
    match ctx.is_empty() {
        true => 0,
        false => clause
            .vars()
            .iter()
            .filter_map(|v| ctx.rows_of(v))
            .max()
            .unwrap_or(1),
    }
}

/// What kind of clause ran, when it says nothing more.
fn kind_name(kind: &ClauseKind) -> &'static str {
    match kind {
        ClauseKind::Pattern(_) => "data pattern",
        ClauseKind::Predicate(_) => "predicate: filters the rows",
        ClauseKind::Function(..) => "function: binds per row",
        ClauseKind::Rule(_) => "rule: bottom-up, semi-naive, for the bound arguments",
        ClauseKind::Not(_) => "not: removes the rows its body matches",
        ClauseKind::Or(_) => "or: union of its branches",
    }
}
