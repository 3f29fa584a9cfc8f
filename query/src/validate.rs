//! Checks made once the inputs are known and before anything runs, so a
//! mistake is reported whatever the data: unknown sources, attributes,
//! functions, aggregates and rules.

use crate::error::{Error, ErrorKind, Result};
use crate::eval::Env;
use crate::eval::builtins::Builtin;
use crate::eval::source::Source;
use crate::parse::Query;
use crate::parse::clause::{Call, Clause, ClauseKind};
use crate::parse::find::FindElem;
use crate::parse::term::Term;
use model::edn::Symbol;

/// Checks the query's clauses (nested ones too), the rule bodies and the
/// aggregates of `:find`.
pub(crate) fn query(query: &Query, env: &Env<'_>) -> Result<()> {
    clauses(&query.clauses, env, &Symbol::new("$"))?;
    for (elem, text) in query.find.elems.iter().zip(&query.find.texts) {
        if let FindElem::Aggregate(a) = elem
            && env.functions.aggregate_named(&a.name).is_none()
            && !crate::aggregate::is_builtin(a.name.as_str())
        {
            return Err(Error::new(
                ErrorKind::UnknownFunction,
                format!("{} is neither a built-in aggregate nor registered", a.name),
                text,
            ));
        }
    }
    if let Some(rules) = &env.rules {
        for def in rules.definitions() {
            functions(&def.body, env)?;
        }
    }
    Ok(())
}

fn clauses(clauses: &[Clause], env: &Env<'_>, default_src: &Symbol) -> Result<()> {
    for c in clauses {
        clause(c, env, default_src)?;
    }
    Ok(())
}

fn clause(c: &Clause, env: &Env<'_>, default_src: &Symbol) -> Result<()> {
    let rebind = |src: &Option<Symbol>| match src {
        Some(s) if s.as_str() != "$" => s.clone(),
        _ => default_src.clone(),
    };
    match &c.kind {
        ClauseKind::Pattern(p) => {
            let src = rebind(&Some(p.src.clone()));
            let source = source(env, &src, &c.text)?;
            if let (Source::Db(db), Some(Term::Const(a))) = (source, p.terms.get(1))
                && crate::resolve::attribute(db, &a.value).is_none()
            {
                return Err(Error::new(
                    ErrorKind::UnknownAttribute,
                    format!("{} is not an attribute", a.edn),
                    &c.text,
                ));
            }
            Ok(())
        }
        ClauseKind::Predicate(call) | ClauseKind::Function(call, _) => {
            function(call, env, &c.text)?;
            for arg in &call.args {
                if let Term::Src(s) = arg {
                    source(env, &rebind(&Some(s.clone())), &c.text)?;
                }
            }
            Ok(())
        }
        ClauseKind::Rule(call) => {
            if call.src.is_some() {
                source(env, &rebind(&call.src), &c.text)?;
            }
            match &env.rules {
                Some(rules) => rules.check_call(&call.name, call.args.len(), &c.text),
                None => Err(Error::new(
                    ErrorKind::Rule,
                    format!(
                        "{} is called but no rules (%) are among the inputs",
                        call.name
                    ),
                    &c.text,
                )),
            }
        }
        ClauseKind::Not(n) => clauses(&n.body, env, &rebind(&n.src)),
        ClauseKind::Or(o) => o
            .branches
            .iter()
            .try_for_each(|b| clauses(b, env, &rebind(&o.src))),
    }
}

fn source<'e>(env: &'e Env<'_>, name: &Symbol, at: &str) -> Result<&'e Source> {
    env.sources.get(name).ok_or_else(|| {
        Error::new(
            ErrorKind::Source,
            format!("no source {name} among the inputs"),
            at,
        )
    })
}

fn function(call: &Call, env: &Env<'_>, at: &str) -> Result<()> {
    if env.functions.function_named(&call.name).is_some()
        || Builtin::named(call.name.as_str()).is_some()
    {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::UnknownFunction,
        format!(
            "{} is neither a built-in function nor registered",
            call.name
        ),
        at,
    ))
}

/// Every function a list of clauses calls (nested ones too) is known.
fn functions(body: &[Clause], env: &Env<'_>) -> Result<()> {
    for c in body {
        match &c.kind {
            ClauseKind::Predicate(call) | ClauseKind::Function(call, _) => {
                function(call, env, &c.text)?
            }
            ClauseKind::Not(n) => functions(&n.body, env)?,
            ClauseKind::Or(o) => o.branches.iter().try_for_each(|b| functions(b, env))?,
            _ => {}
        }
    }
    Ok(())
}
