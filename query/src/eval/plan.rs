//! Choosing the next clause: filters as soon as their variables are bound,
//! then the binding clause connected to what is bound with the smallest
//! estimated result, and only then clauses that start a new, unconnected
//! relation (so no cross product happens unless the query asks for one).

use super::Eval;
use super::context::Context;
use super::source::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::parse::clause::{Clause, ClauseKind, Pattern};
use crate::parse::term::{Term, Var};
use model::{Db, Index, Value};
use std::collections::BTreeSet;

/// Whether a clause can run now.
enum Readiness {
    Ready,
    /// Waits for variables a later clause binds.
    Wait,
    /// Can never run: names the variable nothing binds.
    Never(String),
}

/// Estimated rows a pattern yields per input binding when its entity is
/// known but its attribute's cardinality is many, or an attribute/value
/// pair is not unique.
const FEW: f64 = 8.0;
/// Estimated rows per input binding through an entity without a known
/// attribute, or through a reference value.
const SOME: f64 = 32.0;
/// The cost of a pattern that scans the whole database.
const EVERYTHING: f64 = 1e9;
/// Counting an attribute's datoms for the planner stops here.
const COUNT_CAP: usize = 100_000;

impl Eval<'_, '_> {
    /// Checks, before anything runs, that every clause can get the
    /// bindings it needs in some order.
    pub(super) fn check_plan(&self, clauses: &[Clause], ctx: &Context) -> Result<()> {
        let mut bound: BTreeSet<Var> = clauses
            .iter()
            .flat_map(Clause::vars)
            .filter(|v| ctx.bound(v))
            .collect();
        let mut pending: Vec<&Clause> = clauses.iter().collect();
        while !pending.is_empty() {
            let later = bindable(&pending);
            let next = pending
                .iter()
                .position(|c| {
                    !is_filter(c) && matches!(self.ready(c, &bound, &later), Readiness::Ready)
                })
                .or_else(|| {
                    pending
                        .iter()
                        .position(|c| matches!(self.ready(c, &bound, &later), Readiness::Ready))
                });
            let Some(i) = next else {
                return Err(self.stuck(&pending, &bound, &later));
            };
            bound.extend(pending.swap_remove(i).binds());
        }
        Ok(())
    }

    fn stuck(&self, pending: &[&Clause], bound: &BTreeSet<Var>, later: &BTreeSet<Var>) -> Error {
        for c in pending {
            if let Readiness::Never(why) = self.ready(c, bound, later) {
                return Error::new(ErrorKind::InsufficientBinding, why, &c.text);
            }
        }
        let c = pending[0];
        Error::new(
            ErrorKind::InsufficientBinding,
            "the clause needs variables that only clauses waiting for it would bind",
            &c.text,
        )
    }

    /// Picks the next clause to run.
    pub(super) fn pick(&mut self, pending: &[&Clause], ctx: &Context) -> Result<usize> {
        let bound: BTreeSet<Var> = pending
            .iter()
            .flat_map(|c| c.vars())
            .filter(|v| ctx.bound(v))
            .collect();
        let later = bindable(pending);
        let ready: Vec<(usize, u8)> = pending
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(self.ready(c, &bound, &later), Readiness::Ready))
            .map(|(i, c)| (i, tier(c, ctx)))
            .collect();
        let Some(best_tier) = ready.iter().map(|(_, t)| *t).min() else {
            return Err(self.stuck(pending, &bound, &later));
        };
        let candidates: Vec<usize> = ready
            .into_iter()
            .filter(|(_, t)| *t == best_tier)
            .map(|(i, _)| i)
            .collect();
        if candidates.len() == 1 {
            return Ok(candidates[0]);
        }
        // Estimates (which may count datoms) only among the best tier.
        let mut best = (candidates[0], f64::INFINITY);
        for i in candidates {
            let estimate = self.estimate(pending[i], ctx);
            if estimate < best.1 {
                best = (i, estimate);
            }
        }
        Ok(best.0)
    }

    fn ready(&self, c: &Clause, bound: &BTreeSet<Var>, later: &BTreeSet<Var>) -> Readiness {
        let needs = |vars: Vec<&Var>, what: &str| match vars.iter().find(|v| !bound.contains(**v)) {
            None => Readiness::Ready,
            Some(_)
                if vars
                    .iter()
                    .all(|v| bound.contains(*v) || later.contains(*v)) =>
            {
                Readiness::Wait
            }
            Some(_) => {
                let missing = vars
                    .iter()
                    .find(|v| !bound.contains(**v) && !later.contains(**v));
                Readiness::Never(format!(
                    "{} is not bound by any clause before this {what}",
                    missing.map_or(String::new(), |v| v.to_string())
                ))
            }
        };
        match &c.kind {
            ClauseKind::Pattern(_) => Readiness::Ready,
            ClauseKind::Predicate(call) => needs(
                call.args.iter().filter_map(Term::var).collect(),
                "predicate",
            ),
            ClauseKind::Function(call, _) => needs(
                call.args.iter().filter_map(Term::var).collect(),
                "function call",
            ),
            ClauseKind::Rule(call) => {
                let required = self
                    .env
                    .rules
                    .as_ref()
                    .and_then(|r| r.get(&call.name))
                    .map_or(0, |defs| defs[0].required);
                let vars: Vec<&Var> = call
                    .args
                    .iter()
                    .take(required)
                    .filter_map(Term::var)
                    .collect();
                needs(vars, "rule call (its required variables)")
            }
            ClauseKind::Not(n) => match &n.join {
                Some(join) => needs(join.iter().collect(), "not-join"),
                None => not_ready(c, bound, later),
            },
            ClauseKind::Or(o) => match &o.join {
                Some(join) => needs(
                    join.required.iter().collect(),
                    "or-join (its required variables)",
                ),
                None => Readiness::Ready,
            },
        }
    }

    /// Estimated rows a clause produces (lower runs first within a tier).
    fn estimate(&mut self, c: &Clause, ctx: &Context) -> f64 {
        let rows = c.vars().iter().filter_map(|v| ctx.rows_of(v)).min();
        match (&c.kind, rows) {
            (ClauseKind::Predicate(_) | ClauseKind::Not(_), _) => 0.0,
            (ClauseKind::Function(..), rows) => rows.unwrap_or(1) as f64,
            (ClauseKind::Pattern(p), Some(rows)) => rows as f64 * self.fanout(p, ctx),
            (ClauseKind::Pattern(p), None) => self.fanout(p, ctx),
            (_, Some(rows)) => rows as f64 * SOME,
            (_, None) => EVERYTHING,
        }
    }

    /// Estimated rows of a pattern per binding of its bound variables.
    fn fanout(&mut self, p: &Pattern, ctx: &Context) -> f64 {
        let fixed = |i: usize| match p.terms.get(i) {
            Some(Term::Const(_)) => true,
            Some(Term::Var(v)) => ctx.bound(v),
            _ => false,
        };
        let db = match self.source(&p.src, "") {
            Ok(Source::Db(db)) => db,
            Ok(Source::Tuples(t)) => return t.len() as f64,
            Err(_) => return EVERYTHING,
        };
        let attribute = match p.terms.get(1) {
            Some(Term::Const(c)) => {
                crate::resolve::attribute(db, &c.value).and_then(|a| db.attribute(a))
            }
            _ => None,
        };
        match (fixed(0), attribute, fixed(1), fixed(2)) {
            (true, Some(a), _, v) => match !a.is_many() || v {
                true => 1.0,
                false => FEW,
            },
            (true, None, _, _) => SOME,
            (false, Some(a), _, true) => match a.unique {
                Some(_) => 1.0,
                None => db
                    .attribute_stats(a.id)
                    .map_or(FEW, |s| s.datoms_per_value().max(1.0)),
            },
            (false, Some(a), _, false) => self.attribute_count(&p.src, db, a.id) as f64,
            (false, None, true, true) => FEW,
            (false, None, _, true) => SOME,
            _ => EVERYTHING,
        }
    }

    /// How many datoms attribute `a` has: from its statistics, or counted
    /// (up to a cap, remembered) when the database keeps none.
    fn attribute_count(&mut self, src: &model::edn::Symbol, db: &Db, a: u64) -> usize {
        if let Some(stats) = db.attribute_stats(a) {
            return stats.datoms as usize;
        }
        let key = (src.clone(), a);
        if let Some(n) = self.attr_counts.get(&key) {
            return *n;
        }
        let n = db
            .datoms(Index::Aevt, &[Value::Ref(a)])
            .map_or(COUNT_CAP, |it| it.take(COUNT_CAP).count());
        self.attr_counts.insert(key, n);
        n
    }
}

/// Filters first, then clauses connected to what is bound (or binding
/// nothing new), then unconnected patterns, then unconnected rules and ors.
fn tier(c: &Clause, ctx: &Context) -> u8 {
    let vars = c.vars();
    let connected = vars.is_empty() || vars.iter().any(|v| ctx.bound(v));
    match (&c.kind, connected) {
        (ClauseKind::Predicate(_) | ClauseKind::Not(_), _) => 0,
        (ClauseKind::Function(..), _) | (_, true) => 1,
        (ClauseKind::Pattern(_), false) => 2,
        (_, false) => 3,
    }
}

fn is_filter(c: &Clause) -> bool {
    matches!(c.kind, ClauseKind::Predicate(_) | ClauseKind::Not(_))
}

/// The variables the pending clauses could still bind.
fn bindable(pending: &[&Clause]) -> BTreeSet<Var> {
    pending.iter().flat_map(|c| c.binds()).collect()
}

/// A plain `not` runs once none of its variables can still be bound by
/// another clause, and at least one of them is bound.
fn not_ready(c: &Clause, bound: &BTreeSet<Var>, later: &BTreeSet<Var>) -> Readiness {
    let vars = c.vars();
    if vars.iter().any(|v| !bound.contains(v) && later.contains(v)) {
        return Readiness::Wait;
    }
    match vars.is_empty() || vars.iter().any(|v| bound.contains(v)) {
        true => Readiness::Ready,
        false => Readiness::Never(format!(
            "none of the variables of not ({}) is bound outside it",
            vars.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}
