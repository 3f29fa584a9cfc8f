//! Rules, evaluated bottom-up and only as far as the query needs them.
//!
//! A rule call is answered from a table per (rule, which arguments are
//! bound, source): its *demand* (the bound argument values asked for) and
//! its *answers*. Bodies run once per round for the new demand, and for
//! the old demand once per rule call in the body reading only that call's
//! answers from the previous round (semi-naive evaluation), until a round
//! adds neither answers nor demand. Calls inside a body add demand to the
//! callee's table, so only what the query can reach is ever derived (as
//! with magic sets).

use super::Env;
use super::Eval;
use super::context::Context;
use super::groups::Groups;
use super::relation::Relation;
use crate::error::{Error, ErrorKind, Result};
use crate::parse::Rules;
use crate::parse::clause::{Clause, RuleCall};
use crate::parse::rules::RuleDef;
use crate::parse::term::{Term, Var};
use crate::value::key_eq;
use model::Value;
use model::edn::Symbol;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// The demand and answers of one rule for one binding pattern and source.
struct Table {
    name: Symbol,
    /// Which arguments are bound.
    mask: Vec<bool>,
    src: Symbol,
    /// Bound argument values asked for, in the order they came.
    demand: Groups,
    /// Demand before this index was processed in an earlier round.
    done: usize,
    /// Demand up to here is processed this round.
    round_end: usize,
    /// Every answer (a full argument tuple), once.
    answers: Groups,
    /// Answer ids by their bound argument values.
    by_bound: Groups,
    /// Answers from here on are the newest (the previous round's).
    delta_start: usize,
    /// Answers derived this round, merged at its end.
    pending: Relation,
}

impl Table {
    fn bound_values(&self, row: &[Value]) -> Vec<Value> {
        row.iter()
            .zip(&self.mask)
            .filter(|(_, b)| **b)
            .map(|(v, _)| v.clone())
            .collect()
    }
}

/// The tables of one evaluation of rules, run to a fixpoint.
pub(crate) struct Fixpoint {
    rules: Arc<Rules>,
    tables: Vec<Table>,
    index: HashMap<(Symbol, Vec<bool>, Symbol), usize>,
}

impl Fixpoint {
    fn new(rules: Arc<Rules>) -> Fixpoint {
        Fixpoint {
            rules,
            tables: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The table for `name` called with `mask` bound on `src`.
    fn table(&mut self, name: &Symbol, mask: &[bool], src: &Symbol) -> usize {
        let key = (name.clone(), mask.to_vec(), src.clone());
        if let Some(t) = self.index.get(&key) {
            return *t;
        }
        let width = mask.iter().filter(|b| **b).count();
        let placeholder: Vec<Var> = (0..mask.len())
            .map(|i| Symbol::new(&format!("?{i}")))
            .collect();
        self.tables.push(Table {
            name: name.clone(),
            mask: mask.to_vec(),
            src: src.clone(),
            demand: Groups::new(width),
            done: 0,
            round_end: 0,
            answers: Groups::new(mask.len()),
            by_bound: Groups::new(width),
            delta_start: 0,
            pending: Relation::empty(placeholder),
        });
        self.index.insert(key, self.tables.len() - 1);
        self.tables.len() - 1
    }

    /// The answers of table `t` for the bound values `key`, from answer `from` on.
    fn answers<'a>(
        &'a self,
        t: usize,
        key: &[Value],
        from: usize,
    ) -> impl Iterator<Item = &'a [Value]> {
        let table = &self.tables[t];
        table
            .by_bound
            .find(key)
            .into_iter()
            .flat_map(move |g| table.by_bound.members(g))
            .filter(move |id| *id >= from)
            .map(move |id| table.answers.key(id))
    }

    /// Runs rounds until nothing new is derived or asked for.
    fn run(&mut self, env: &Env<'_>) -> Result<()> {
        loop {
            env.check_deadline()?;
            for t in &mut self.tables {
                t.round_end = t.demand.len();
            }
            let any_delta = self.tables.iter().any(|t| t.delta_start < t.answers.len());
            let rules = self.rules.clone();
            for t in 0..self.tables.len() {
                let (done, end) = (self.tables[t].done, self.tables[t].round_end);
                let defs = rules.get(&self.tables[t].name).unwrap_or(&[]);
                for def in defs {
                    if done < end {
                        self.derive(env, t, def, done..end, None)?;
                    }
                    if any_delta && done > 0 {
                        for call in 0..def.calls {
                            self.derive(env, t, def, 0..done, Some(call))?;
                        }
                    }
                }
            }
            if !self.merge() {
                return Ok(());
            }
        }
    }

    /// Runs one definition's body for some of a table's demand.
    fn derive(
        &mut self,
        env: &Env<'_>,
        t: usize,
        def: &RuleDef,
        demand: Range<usize>,
        delta: Option<usize>,
    ) -> Result<()> {
        let table = &self.tables[t];
        let vars: Vec<Var> = def
            .head
            .iter()
            .zip(&table.mask)
            .filter(|(_, b)| **b)
            .map(|(v, _)| v.clone())
            .collect();
        let mut input = Relation::empty(vars);
        for g in demand {
            input.push(table.demand.key(g));
        }
        let src = table.src.clone();
        let mut eval = Eval::new(env);
        eval.default_src = src;
        eval.fixpoint = Some(self);
        eval.delta = delta;
        let found = super::trace::nested(|| eval.solve(&def.body, Context::of(input)))?;
        if found.is_empty() {
            return Ok(());
        }
        if let Some(v) = def.head.iter().find(|v| !found.bound(v)) {
            return Err(Error::new(
                ErrorKind::InsufficientBinding,
                format!(
                    "the body of {} does not bind its head variable {v}",
                    def.name
                ),
                &def.text,
            ));
        }
        let derived = found.project(&def.head);
        let pending = &mut self.tables[t].pending;
        for row in derived.rows() {
            pending.push(row);
        }
        Ok(())
    }

    /// Merges the round's answers; true when anything is new.
    fn merge(&mut self) -> bool {
        let mut progress = false;
        for t in &mut self.tables {
            t.delta_start = t.answers.len();
            let pending = std::mem::replace(&mut t.pending, Relation::empty(Vec::new()));
            for row in pending.rows() {
                if t.answers.insert_key(row) {
                    let key = t.bound_values(row);
                    t.by_bound.insert(&key, t.answers.len() - 1);
                }
            }
            t.pending = Relation::empty(pending.vars().to_vec());
            t.done = t.round_end;
            progress |= t.answers.len() > t.delta_start || t.demand.len() > t.done;
        }
        progress
    }
}

impl Eval<'_, '_> {
    /// `(rule args…)`: joins the bindings with the rule's answers.
    pub(super) fn rule_call(
        &mut self,
        clause: &Clause,
        call: &RuleCall,
        mut ctx: Context,
    ) -> Result<Context> {
        let rules = self.env.rules.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Rule,
                format!(
                    "{} is called but no rules (%) are among the inputs",
                    call.name
                ),
                &clause.text,
            )
        })?;
        rules.check_call(&call.name, call.args.len(), &clause.text)?;
        let required = rules.get(&call.name).map_or(0, |defs| defs[0].required);
        let src = match &call.src {
            Some(s) if s.as_str() != "$" => s.clone(),
            _ => self.default_src.clone(),
        };
        if call.src.is_some() {
            self.source(&src, &clause.text)?;
        }
        let input = take_input(&mut ctx, call);
        let mask: Vec<bool> = call
            .args
            .iter()
            .map(|a| match a {
                Term::Const(_) => true,
                Term::Var(v) => input.has(v),
                _ => false,
            })
            .collect();
        if let Some(i) = (0..required).find(|i| !mask[*i]) {
            return Err(Error::new(
                ErrorKind::InsufficientBinding,
                format!(
                    "argument {} of {} is required to be bound",
                    i + 1,
                    call.name
                ),
                &clause.text,
            ));
        }
        let keys: Vec<Vec<Value>> = input
            .rows()
            .map(|row| demand_key(call, &input, row))
            .collect();
        let out = match self.fixpoint.as_deref_mut() {
            Some(fixpoint) => {
                let t = fixpoint.table(&call.name, &mask, &src);
                for key in &keys {
                    fixpoint.tables[t].demand.insert_key(key);
                }
                let from = match self.delta == Some(call.occurrence) {
                    true => fixpoint.tables[t].delta_start,
                    false => 0,
                };
                bind_answers(call, &input, &keys, |key| {
                    fixpoint.answers(t, key, from).collect()
                })
            }
            None => {
                let mut fixpoint = Fixpoint::new(rules);
                let t = fixpoint.table(&call.name, &mask, &src);
                for key in &keys {
                    fixpoint.tables[t].demand.insert_key(key);
                }
                fixpoint.run(self.env)?;
                bind_answers(call, &input, &keys, |key| {
                    fixpoint.answers(t, key, 0).collect()
                })
            }
        };
        ctx.add(out);
        Ok(ctx)
    }
}

/// The bindings a call reads: every relation binding one of its
/// arguments, so that all bound values reach the rule's body (whose
/// patterns resolve idents and lookup refs).
fn take_input(ctx: &mut Context, call: &RuleCall) -> Relation {
    let vars: Vec<Var> = call
        .args
        .iter()
        .filter_map(Term::var)
        .filter(|v| ctx.bound(v))
        .cloned()
        .collect();
    ctx.take(&vars)
}

/// The bound argument values of one input row (constants included).
fn demand_key(call: &RuleCall, input: &Relation, row: &[Value]) -> Vec<Value> {
    call.args
        .iter()
        .filter_map(|a| match a {
            Term::Const(c) => Some(c.value.clone()),
            Term::Var(v) => input.col(v).map(|c| row[c].clone()),
            _ => None,
        })
        .collect()
}

/// The input rows extended with the unbound arguments of each answer.
fn bind_answers<'a>(
    call: &RuleCall,
    input: &Relation,
    keys: &[Vec<Value>],
    mut answers: impl FnMut(&[Value]) -> Vec<&'a [Value]>,
) -> Relation {
    let mut fresh: Vec<(Var, usize)> = Vec::new();
    let mut same: Vec<(usize, usize)> = Vec::new();
    for (pos, arg) in call.args.iter().enumerate() {
        let Term::Var(v) = arg else { continue };
        if input.has(v) {
            continue;
        }
        match fresh.iter().find(|(f, _)| f == v) {
            Some((_, first)) => same.push((pos, *first)),
            None => fresh.push((v.clone(), pos)),
        }
    }
    let mut vars = input.vars().to_vec();
    vars.extend(fresh.iter().map(|(v, _)| v.clone()));
    let mut out = Relation::empty(vars);
    for (row, key) in input.rows().zip(keys) {
        for answer in answers(key) {
            if same.iter().all(|(p, q)| key_eq(&answer[*p], &answer[*q])) {
                out.push_parts(row, fresh.iter().map(|(_, p)| answer[*p].clone()));
            }
        }
    }
    out
}
