//! `not`/`not-join` (anti-joins) and `or`/`or-join` (unions of branches).

use super::Eval;
use super::context::Context;
use super::relation::Relation;
use crate::error::{Error, ErrorKind, Result};
use crate::parse::clause::{Clause, Not, Or};
use crate::parse::term::Var;

impl Eval<'_, '_> {
    /// Removes the bindings for which the body holds.
    pub(super) fn not(&mut self, clause: &Clause, not: &Not, mut ctx: Context) -> Result<Context> {
        let join: Vec<Var> = match &not.join {
            Some(join) => join.clone(),
            None => clause.vars().into_iter().filter(|v| ctx.bound(v)).collect(),
        };
        let input = ctx.take(&join);
        let keys = input.project(&join);
        // Negation reads complete results: rules called inside a not are
        // solved on their own, never from a fixpoint still in progress.
        let fixpoint = self.fixpoint.take();
        let delta = self.delta.take();
        let result = self.nested(not.src.as_ref(), &not.body, Context::of(keys));
        self.fixpoint = fixpoint;
        self.delta = delta;
        let matched = result?.project(&join);
        ctx.add(input.anti_join(&matched));
        Ok(ctx)
    }

    /// Joins the bindings with the union of what the branches find.
    pub(super) fn or(&mut self, clause: &Clause, or: &Or, mut ctx: Context) -> Result<Context> {
        let vars: Vec<Var> = match &or.join {
            Some(join) => join.vars.clone(),
            None => clause.vars().into_iter().collect(),
        };
        let bound: Vec<Var> = vars.iter().filter(|v| ctx.bound(v)).cloned().collect();
        let input = ctx.take(&bound);
        let keys = input.project(&bound);
        let mut union = Relation::empty(vars.clone());
        for branch in &or.branches {
            let found = self.nested(or.src.as_ref(), branch, Context::of(keys.clone()))?;
            if found.is_empty() {
                continue;
            }
            if let Some(v) = vars.iter().find(|v| !found.bound(v)) {
                return Err(Error::new(
                    ErrorKind::InsufficientBinding,
                    format!("a branch does not bind {v}"),
                    &clause.text,
                ));
            }
            union.extend_from(&found.project(&vars));
        }
        ctx.add(input.join(union.project(&vars)));
        Ok(ctx)
    }
}
