//! `:where` clauses: data patterns, predicates, function bindings, rule
//! calls, `not`/`not-join` and `or`/`or-join`.

use super::binding::Binding;
use super::term::{Term, Var, is_var, src_symbol, symbol, term, var_list};
use crate::error::{Result, syntax};
use model::edn::{Edn, Symbol};
use std::collections::BTreeSet;
use std::sync::Arc;

/// One clause, with its EDN text for error messages.
#[derive(Clone, Debug)]
pub(crate) struct Clause {
    pub(crate) kind: ClauseKind,
    pub(crate) text: Arc<str>,
}

/// What a clause does.
#[derive(Clone, Debug)]
pub(crate) enum ClauseKind {
    /// `[$src? e a v tx op]`
    Pattern(Pattern),
    /// `[(pred args…)]`
    Predicate(Call),
    /// `[(f args…) binding]`
    Function(Call, Binding),
    /// `($src? rule args…)`
    Rule(RuleCall),
    /// `(not …)` / `(not-join [vars] …)`
    Not(Not),
    /// `(or …)` / `(or-join [vars] …)`
    Or(Or),
}

/// A data pattern: up to five positions, matched against a source.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub(crate) src: Symbol,
    pub(crate) terms: Vec<Term>,
}

/// A predicate or function call.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) name: Symbol,
    pub(crate) args: Vec<Term>,
}

/// A call of a rule.
#[derive(Clone, Debug)]
pub(crate) struct RuleCall {
    pub(crate) src: Option<Symbol>,
    pub(crate) name: Symbol,
    pub(crate) args: Vec<Term>,
    /// The position of this call among the rule calls of its rule body
    /// (semi-naive evaluation reads one call's newest answers at a time).
    pub(crate) occurrence: usize,
}

/// `not` (join variables: those bound outside) or `not-join` (given).
#[derive(Clone, Debug)]
pub(crate) struct Not {
    pub(crate) src: Option<Symbol>,
    pub(crate) join: Option<Vec<Var>>,
    pub(crate) body: Vec<Clause>,
}

/// `or` (every branch uses the same variables) or `or-join`.
#[derive(Clone, Debug)]
pub(crate) struct Or {
    pub(crate) src: Option<Symbol>,
    pub(crate) join: Option<OrJoin>,
    pub(crate) branches: Vec<Vec<Clause>>,
}

/// The variables of `or-join`: `[[?required …] ?other …]`.
#[derive(Clone, Debug)]
pub(crate) struct OrJoin {
    pub(crate) required: Vec<Var>,
    pub(crate) vars: Vec<Var>,
}

/// Numbers the rule calls of one rule body (or of the query) as they are parsed.
#[derive(Default)]
pub(crate) struct Occurrences(usize);

impl Occurrences {
    fn next(&mut self) -> usize {
        self.0 += 1;
        self.0 - 1
    }

    /// How many rule calls were numbered.
    pub(crate) fn count(&self) -> usize {
        self.0
    }
}

/// Parses the clauses of `:where`, a rule body or a nested form.
pub(crate) fn clauses(forms: &[Edn], calls: &mut Occurrences) -> Result<Vec<Clause>> {
    forms.iter().map(|f| clause(f, calls)).collect()
}

fn clause(edn: &Edn, calls: &mut Occurrences) -> Result<Clause> {
    let kind = match edn {
        Edn::Vector(items) => match items.first() {
            Some(Edn::List(call)) => expression(call, &items[1..], edn)?,
            _ => ClauseKind::Pattern(pattern(items, edn)?),
        },
        Edn::List(items) => list_clause(items, edn, calls)?,
        other => {
            return Err(syntax(
                "a clause is a vector (pattern, predicate, function) or a list (rule, not, or)",
                other,
            ));
        }
    };
    Ok(Clause {
        kind,
        text: Arc::from(edn.to_string()),
    })
}

fn pattern(items: &[Edn], edn: &Edn) -> Result<Pattern> {
    let (src, rest) = match items.first().and_then(src_symbol) {
        Some(s) => (s.clone(), &items[1..]),
        None => (Symbol::new("$"), items),
    };
    if rest.is_empty() || rest.len() > 5 {
        return Err(syntax(
            format!(
                "a data pattern has 1 to 5 positions [e a v tx op], not {}",
                rest.len()
            ),
            edn,
        ));
    }
    let terms = rest
        .iter()
        .map(|t| term(t, edn, false))
        .collect::<Result<Vec<_>>>()?;
    if let Some(Term::Const(c)) = terms.get(4)
        && !matches!(c.edn, Edn::Boolean(_))
    {
        return Err(syntax("the op position holds true or false", edn));
    }
    Ok(Pattern { src, terms })
}

fn expression(call: &[Edn], rest: &[Edn], edn: &Edn) -> Result<ClauseKind> {
    let call = parse_call(call, edn)?;
    match rest {
        [] => Ok(ClauseKind::Predicate(call)),
        [binding] => {
            let binding = Binding::parse(binding, edn)?;
            binding.check_distinct(edn)?;
            Ok(ClauseKind::Function(call, binding))
        }
        _ => Err(syntax(
            "a function clause is [(f args…) binding], with one binding form",
            edn,
        )),
    }
}

fn parse_call(items: &[Edn], edn: &Edn) -> Result<Call> {
    let name = items
        .first()
        .and_then(symbol)
        .filter(|s| !is_var(s))
        .ok_or_else(|| syntax("a call starts with a function name", edn))?;
    let args = items[1..]
        .iter()
        .map(|a| term(a, edn, true))
        .collect::<Result<Vec<_>>>()?;
    Ok(Call {
        name: name.clone(),
        args,
    })
}

fn list_clause(items: &[Edn], edn: &Edn, calls: &mut Occurrences) -> Result<ClauseKind> {
    let (src, rest) = match items.first().and_then(src_symbol) {
        Some(s) => (Some(s.clone()), &items[1..]),
        None => (None, items),
    };
    let head = rest
        .first()
        .and_then(symbol)
        .ok_or_else(|| syntax("a list clause starts with not, or or a rule name", edn))?;
    let args = &rest[1..];
    match head.as_str() {
        "not" => not(src, None, args, edn, calls),
        "not-join" => {
            let (vars, body) = args
                .split_first()
                .ok_or_else(|| syntax("not-join needs [vars] and clauses", edn))?;
            let join = var_list(vars, edn, "the join variables of not-join")?;
            not(src, Some(join), body, edn, calls)
        }
        "or" => or(src, None, args, edn, calls),
        "or-join" => {
            let (vars, branches) = args
                .split_first()
                .ok_or_else(|| syntax("or-join needs [vars] and branches", edn))?;
            or(src, Some(or_join_vars(vars, edn)?), branches, edn, calls)
        }
        "and" => Err(syntax("and is only allowed as a branch of or", edn)),
        _ => Ok(ClauseKind::Rule(RuleCall {
            src,
            name: head.clone(),
            args: args
                .iter()
                .map(|a| term(a, edn, false))
                .collect::<Result<_>>()?,
            occurrence: calls.next(),
        })),
    }
}

fn not(
    src: Option<Symbol>,
    join: Option<Vec<Var>>,
    body: &[Edn],
    edn: &Edn,
    calls: &mut Occurrences,
) -> Result<ClauseKind> {
    if body.is_empty() {
        return Err(syntax("not needs at least one clause", edn));
    }
    let body = clauses(body, calls)?;
    if let Some(join) = &join {
        let used = clause_vars(&body);
        if let Some(v) = join.iter().find(|v| !used.contains(*v)) {
            return Err(syntax(
                format!("the join variable {v} is not used in the body"),
                edn,
            ));
        }
    }
    Ok(ClauseKind::Not(Not { src, join, body }))
}

fn or_join_vars(edn: &Edn, clause: &Edn) -> Result<OrJoin> {
    let items = match edn {
        Edn::Vector(items) => items,
        _ => return Err(syntax("or-join needs a vector of variables", clause)),
    };
    let (required, rest) = match items.first() {
        Some(first @ Edn::Vector(_)) => (
            var_list(first, clause, "the required variables of or-join")?,
            &items[1..],
        ),
        _ => (Vec::new(), &items[..]),
    };
    let rest = var_list(
        &Edn::Vector(rest.to_vec()),
        clause,
        "the variables of or-join",
    )?;
    let mut vars = required.clone();
    vars.extend(rest);
    Ok(OrJoin { required, vars })
}

fn or(
    src: Option<Symbol>,
    join: Option<OrJoin>,
    branches: &[Edn],
    edn: &Edn,
    calls: &mut Occurrences,
) -> Result<ClauseKind> {
    if branches.is_empty() {
        return Err(syntax("or needs at least one branch", edn));
    }
    let branches = branches
        .iter()
        .map(|b| branch(b, calls))
        .collect::<Result<Vec<_>>>()?;
    match &join {
        Some(join) => {
            for body in &branches {
                let used = clause_vars(body);
                if let Some(v) = join.vars.iter().find(|v| !used.contains(*v)) {
                    return Err(syntax(
                        format!("a branch does not use the join variable {v}"),
                        edn,
                    ));
                }
            }
        }
        None => {
            let first = clause_vars(&branches[0]);
            if branches.iter().any(|b| clause_vars(b) != first) {
                return Err(syntax(
                    "every branch of or must use the same variables (use or-join)",
                    edn,
                ));
            }
        }
    }
    Ok(ClauseKind::Or(Or {
        src,
        join,
        branches,
    }))
}

/// One branch of `or`: a clause, or `(and clauses…)`.
fn branch(edn: &Edn, calls: &mut Occurrences) -> Result<Vec<Clause>> {
    match edn {
        Edn::List(items)
            if items
                .first()
                .and_then(symbol)
                .is_some_and(|s| s.as_str() == "and") =>
        {
            if items.len() < 2 {
                return Err(syntax("and needs at least one clause", edn));
            }
            clauses(&items[1..], calls)
        }
        other => Ok(vec![clause(other, calls)?]),
    }
}

/// Every variable a list of clauses mentions (nested ones too, except the
/// local variables of `not` and `or-join` bodies that are not joined).
pub(crate) fn clause_vars(body: &[Clause]) -> BTreeSet<Var> {
    let mut out = BTreeSet::new();
    for c in body {
        c.vars_into(&mut out);
    }
    out
}

impl Clause {
    /// The variables the clause shares with its surroundings.
    pub(crate) fn vars(&self) -> BTreeSet<Var> {
        let mut out = BTreeSet::new();
        self.vars_into(&mut out);
        out
    }

    fn vars_into(&self, out: &mut BTreeSet<Var>) {
        let terms = |ts: &[Term], out: &mut BTreeSet<Var>| {
            out.extend(ts.iter().filter_map(Term::var).cloned());
        };
        match &self.kind {
            ClauseKind::Pattern(p) => terms(&p.terms, out),
            ClauseKind::Predicate(c) => terms(&c.args, out),
            ClauseKind::Function(c, b) => {
                terms(&c.args, out);
                out.extend(b.vars());
            }
            ClauseKind::Rule(r) => terms(&r.args, out),
            ClauseKind::Not(n) => match &n.join {
                Some(join) => out.extend(join.iter().cloned()),
                None => out.extend(clause_vars(&n.body)),
            },
            ClauseKind::Or(o) => match &o.join {
                Some(join) => out.extend(join.vars.iter().cloned()),
                None => o.branches.iter().for_each(|b| out.extend(clause_vars(b))),
            },
        }
    }

    /// The variables the clause can bind when it runs (filters bind none).
    pub(crate) fn binds(&self) -> BTreeSet<Var> {
        match &self.kind {
            ClauseKind::Predicate(_) | ClauseKind::Not(_) => BTreeSet::new(),
            ClauseKind::Function(_, b) => b.vars().into_iter().collect(),
            _ => self.vars(),
        }
    }
}
