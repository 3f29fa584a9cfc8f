//! Predicate and function clauses: `[(pred args…)]` keeps the rows for
//! which the call is truthy, `[(f args…) binding]` binds its result.

use super::Eval;
use super::builtins::{Arg, Builtin, Calls};
use super::context::Context;
use super::relation::Relation;
use super::source::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::functions::Function;
use crate::parse::binding::Binding;
use crate::parse::clause::{Call, Clause};
use crate::parse::term::{Term, Var};
use crate::value::{key_eq, truthy};
use model::Value;

/// What a call's name refers to.
enum Callee<'a> {
    Builtin(Builtin, Calls),
    User(&'a Function),
}

/// One argument position, prepared for the rows.
enum Slot<'a> {
    Column(usize),
    Value(&'a Value),
    Source(&'a Source),
}

impl Eval<'_, '_> {
    fn callee(&self, call: &Call, at: &str) -> Result<Callee<'_>> {
        if let Some(f) = self.env.functions.function_named(&call.name) {
            return Ok(Callee::User(f));
        }
        match Builtin::named(call.name.as_str()) {
            Some(b) => Ok(Callee::Builtin(b, Calls::default())),
            None => Err(Error::new(
                ErrorKind::UnknownFunction,
                format!(
                    "{} is neither a built-in function nor registered",
                    call.name
                ),
                at,
            )),
        }
    }

    /// The rows (of the relations the call reads) and the argument slots.
    fn prepare<'c>(
        &'c self,
        call: &'c Call,
        ctx: &mut Context,
        at: &str,
    ) -> Result<(Relation, Vec<Slot<'c>>)> {
        let vars: Vec<Var> = call.args.iter().filter_map(Term::var).cloned().collect();
        let input = ctx.take(&vars);
        let slots = call
            .args
            .iter()
            .map(|a| match a {
                Term::Var(v) => input.col(v).map(Slot::Column).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InsufficientBinding,
                        format!("{v} is not bound"),
                        at,
                    )
                }),
                Term::Const(c) => Ok(Slot::Value(&c.value)),
                Term::Src(s) => self.source(s, at).map(Slot::Source),
                Term::Blank => Err(Error::new(
                    ErrorKind::Syntax,
                    "_ cannot be passed to a function",
                    at,
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((input, slots))
    }

    /// `[(pred args…)]`
    pub(super) fn predicate(
        &mut self,
        clause: &Clause,
        call: &Call,
        mut ctx: Context,
    ) -> Result<Context> {
        let mut callee = self.callee(call, &clause.text)?;
        let (input, slots) = self.prepare(call, &mut ctx, &clause.text)?;
        let mut failure = None;
        let kept = input.retain(|row| match invoke(&mut callee, &slots, row) {
            Ok(v) => v.is_some_and(|v| truthy(&v)),
            Err(e) => {
                failure.get_or_insert(e);
                false
            }
        });
        if let Some(message) = failure {
            return Err(Error::new(ErrorKind::Function, message, &clause.text));
        }
        ctx.add(kept);
        Ok(ctx)
    }

    /// `[(f args…) binding]`
    pub(super) fn function(
        &mut self,
        clause: &Clause,
        call: &Call,
        binding: &Binding,
        mut ctx: Context,
    ) -> Result<Context> {
        let mut callee = self.callee(call, &clause.text)?;
        let (input, slots) = self.prepare(call, &mut ctx, &clause.text)?;
        let outputs = binding.vars();
        let mut vars = input.vars().to_vec();
        vars.extend(outputs.iter().cloned());
        let mut out = Relation::empty(vars);
        let mut bound = Vec::new();
        for row in input.rows() {
            let result = invoke(&mut callee, &slots, row)
                .map_err(|m| Error::new(ErrorKind::Function, m, &clause.text))?;
            let Some(value) = result else { continue };
            bound.clear();
            destructure(binding, &value, &mut Vec::new(), &mut bound)
                .map_err(|m| Error::new(ErrorKind::Function, m, &clause.text))?;
            for values in &bound {
                out.push_parts(row, values.iter().cloned());
            }
        }
        ctx.add(unify_repeated(out, input.vars().len()));
        Ok(ctx)
    }
}

fn invoke(
    callee: &mut Callee<'_>,
    slots: &[Slot<'_>],
    row: &[Value],
) -> Result<Option<Value>, String> {
    match callee {
        Callee::Builtin(b, calls) => {
            let args: Vec<Arg<'_>> = slots
                .iter()
                .map(|s| match s {
                    Slot::Column(c) => Arg::Value(&row[*c]),
                    Slot::Value(v) => Arg::Value(v),
                    Slot::Source(s) => Arg::Source(s),
                })
                .collect();
            calls.call(*b, &args)
        }
        Callee::User(f) => {
            let args = slots
                .iter()
                .map(|s| match s {
                    Slot::Column(c) => Ok(row[*c].clone()),
                    Slot::Value(v) => Ok((*v).clone()),
                    Slot::Source(_) => {
                        Err("registered functions take values, not sources".to_string())
                    }
                })
                .collect::<Result<Vec<_>, String>>()?;
            f(&args)
        }
    }
}

/// Binds `value` to `binding`: every way it binds is one list of values
/// (in the binding's variable order) appended to `out`.
pub(crate) fn destructure(
    binding: &Binding,
    value: &Value,
    prefix: &mut Vec<Value>,
    out: &mut Vec<Vec<Value>>,
) -> Result<(), String> {
    destructure_all(&[binding], &[Some(value)], prefix, out)
}

/// Binds each value to its binding, in order (the product of their ways).
fn destructure_all(
    bindings: &[&Binding],
    values: &[Option<&Value>],
    prefix: &mut Vec<Value>,
    out: &mut Vec<Vec<Value>>,
) -> Result<(), String> {
    let (Some(binding), Some(value)) = (bindings.first(), values.first()) else {
        out.push(prefix.clone());
        return Ok(());
    };
    let (rest_b, rest_v) = (&bindings[1..], &values[1..]);
    let Some(value) = value else {
        // nil binds nothing: the combination is dropped.
        return Ok(());
    };
    match binding {
        Binding::Scalar(var) => {
            let pushed = var.is_some();
            if pushed {
                prefix.push((*value).clone());
            }
            destructure_all(rest_b, rest_v, prefix, out)?;
            if pushed {
                prefix.pop();
            }
            Ok(())
        }
        Binding::Tuple(items) => {
            let elements = elements(value, binding)?;
            if elements.len() < items.len() {
                return Err(format!(
                    "{value} has fewer than {} elements to bind",
                    items.len()
                ));
            }
            let mut bs: Vec<&Binding> = items.iter().collect();
            let mut vs: Vec<Option<&Value>> =
                elements[..items.len()].iter().map(Option::as_ref).collect();
            bs.extend_from_slice(rest_b);
            vs.extend_from_slice(rest_v);
            destructure_all(&bs, &vs, prefix, out)
        }
        Binding::Coll(inner) => {
            for element in elements(value, binding)?.iter() {
                let mut bs: Vec<&Binding> = vec![inner];
                let mut vs: Vec<Option<&Value>> = vec![element.as_ref()];
                bs.extend_from_slice(rest_b);
                vs.extend_from_slice(rest_v);
                destructure_all(&bs, &vs, prefix, out)?;
            }
            Ok(())
        }
    }
}

fn elements<'v>(value: &'v Value, binding: &Binding) -> Result<&'v [Option<Value>], String> {
    match value {
        Value::Tuple(items) => Ok(items),
        other => Err(format!(
            "{other} is not a collection and cannot bind {binding:?}"
        )),
    }
}

/// A function's output variable that is already bound must agree: keeps
/// the rows where the new column equals the old one, and drops it.
fn unify_repeated(rel: Relation, inputs: usize) -> Relation {
    let vars = rel.vars().to_vec();
    let repeats: Vec<(usize, usize)> = (inputs..vars.len())
        .filter_map(|i| {
            vars[..inputs]
                .iter()
                .position(|v| *v == vars[i])
                .map(|j| (i, j))
        })
        .collect();
    if repeats.is_empty() {
        return rel;
    }
    let keep: Vec<Var> = vars
        .iter()
        .enumerate()
        .filter(|(i, _)| !repeats.iter().any(|(r, _)| r == i))
        .map(|(_, v)| v.clone())
        .collect();
    let mut out = Relation::empty(keep);
    for row in rel.rows() {
        if repeats.iter().all(|(i, j)| key_eq(&row[*i], &row[*j])) {
            out.push_parts(
                &[],
                row.iter()
                    .enumerate()
                    .filter(|(i, _)| !repeats.iter().any(|(r, _)| r == i))
                    .map(|(_, v)| v.clone()),
            );
        }
    }
    out
}
