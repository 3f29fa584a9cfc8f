//! `:find` specs: variables, aggregates and pull expressions, in the four
//! result shapes, plus `:keys`/`:strs`/`:syms` return maps.

use super::term::{Constant, Var, constant, is_var, src_symbol, symbol, variable};
use crate::error::{Result, syntax};
use crate::pull::PullPattern;
use model::edn::{Edn, Symbol};
use std::sync::Arc;

/// The shape of a query's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `:find ?a ?b`: a set of tuples.
    Relation,
    /// `:find [?a ...]`: a collection of single values.
    Collection,
    /// `:find [?a ?b]`: one tuple (or none).
    Tuple,
    /// `:find ?a .`: one value (or none).
    Scalar,
}

/// One element of `:find`.
#[derive(Clone, Debug)]
pub(crate) enum FindElem {
    /// `?x`
    Var(Var),
    /// `(count ?x)`, `(max 3 ?x)` …
    Aggregate(AggregateCall),
    /// `(pull ?e pattern)` or `(pull $src ?e ?pattern-input)`
    Pull(PullCall),
}

/// An aggregate call: its function, constant arguments and the variable.
#[derive(Clone, Debug)]
pub(crate) struct AggregateCall {
    pub(crate) name: Symbol,
    pub(crate) args: Vec<Constant>,
    pub(crate) var: Var,
}

/// A pull expression in `:find`.
#[derive(Clone, Debug)]
pub(crate) struct PullCall {
    pub(crate) src: Symbol,
    pub(crate) var: Var,
    pub(crate) pattern: PullSpec,
}

/// The pattern of a pull in `:find`: written in the query or an input.
#[derive(Clone, Debug)]
pub(crate) enum PullSpec {
    /// Written in the query.
    Given(Arc<PullPattern>),
    /// Passed as the input bound to this variable.
    Input(Var),
}

/// The parsed `:find`.
#[derive(Clone, Debug)]
pub(crate) struct Find {
    pub(crate) elems: Vec<FindElem>,
    /// Each element as written, for errors and column names.
    pub(crate) texts: Vec<String>,
    pub(crate) shape: Shape,
}

/// How `:keys`, `:strs` or `:syms` name the columns of return maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `:keys`: keywords.
    Keys,
    /// `:strs`: strings.
    Strs,
    /// `:syms`: symbols.
    Syms,
}

/// Return-map keys.
#[derive(Clone, Debug)]
pub(crate) struct ReturnKeys {
    pub(crate) kind: KeyKind,
    pub(crate) names: Vec<Symbol>,
}

impl Find {
    /// Parses the forms after `:find`.
    pub(crate) fn parse(forms: &[Edn], query: &Edn) -> Result<Find> {
        let at = || Edn::Vector(forms.to_vec());
        let (elems, shape) = match forms {
            [] => return Err(syntax(":find needs at least one element", query)),
            [one, dot] if symbol(dot).is_some_and(|s| s.as_str() == ".") => {
                (vec![one.clone()], Shape::Scalar)
            }
            [Edn::Vector(items)] => match items.as_slice() {
                [one, dots] if symbol(dots).is_some_and(|s| s.as_str() == "...") => {
                    (vec![one.clone()], Shape::Collection)
                }
                [] => return Err(syntax("a tuple find spec needs elements", at())),
                _ => (items.clone(), Shape::Tuple),
            },
            _ => (forms.to_vec(), Shape::Relation),
        };
        let parsed = elems
            .iter()
            .map(|e| find_elem(e, &at()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Find {
            texts: elems.iter().map(Edn::to_string).collect(),
            elems: parsed,
            shape,
        })
    }

    /// True when any element aggregates.
    pub(crate) fn has_aggregates(&self) -> bool {
        self.elems
            .iter()
            .any(|e| matches!(e, FindElem::Aggregate(_)))
    }
}

impl FindElem {
    /// The variable whose values the element reads.
    pub(crate) fn var(&self) -> &Var {
        match self {
            FindElem::Var(v) => v,
            FindElem::Aggregate(a) => &a.var,
            FindElem::Pull(p) => &p.var,
        }
    }
}

fn find_elem(edn: &Edn, at: &Edn) -> Result<FindElem> {
    if let Some(v) = variable(edn) {
        return Ok(FindElem::Var(v.clone()));
    }
    let items = match edn {
        Edn::List(items) if !items.is_empty() => items,
        other => {
            return Err(syntax(
                format!("{other} is not a variable, aggregate or pull expression"),
                at,
            ));
        }
    };
    let name = symbol(&items[0])
        .ok_or_else(|| syntax(format!("{edn} does not start with a function name"), at))?;
    match name.as_str() {
        "pull" => pull_call(&items[1..], edn).map(FindElem::Pull),
        _ => aggregate_call(name, &items[1..], edn).map(FindElem::Aggregate),
    }
}

fn pull_call(args: &[Edn], edn: &Edn) -> Result<PullCall> {
    let (src, rest) = match args.first().and_then(src_symbol) {
        Some(s) => (s.clone(), &args[1..]),
        None => (Symbol::new("$"), args),
    };
    let [var, pattern] = rest else {
        return Err(syntax("pull takes a variable and a pattern", edn));
    };
    let var = variable(var)
        .ok_or_else(|| syntax(format!("{var} is not a variable"), edn))?
        .clone();
    let pattern = match variable(pattern) {
        Some(input) => PullSpec::Input(input.clone()),
        None => PullSpec::Given(Arc::new(PullPattern::from_edn(pattern)?)),
    };
    Ok(PullCall { src, var, pattern })
}

fn aggregate_call(name: &Symbol, args: &[Edn], edn: &Edn) -> Result<AggregateCall> {
    let (last, constants) = args
        .split_last()
        .ok_or_else(|| syntax(format!("{name} needs a variable to aggregate"), edn))?;
    let var = variable(last).ok_or_else(|| {
        syntax(
            format!("the last argument of {name} must be a variable"),
            edn,
        )
    })?;
    let args = constants
        .iter()
        .map(|c| match symbol(c) {
            Some(s) if is_var(s) => Err(syntax(
                format!("{name} aggregates one variable; {s} must be a constant"),
                edn,
            )),
            _ => constant(c, edn),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AggregateCall {
        name: name.clone(),
        args,
        var: var.clone(),
    })
}

impl ReturnKeys {
    /// Parses the names after `:keys`, `:strs` or `:syms`.
    pub(crate) fn parse(kind: KeyKind, forms: &[Edn], query: &Edn) -> Result<ReturnKeys> {
        let names = forms
            .iter()
            .map(|f| match f {
                Edn::Symbol(s) => Ok(s.clone()),
                Edn::Keyword(k) => Ok(Symbol::new(k.as_str())),
                Edn::String(s) => Ok(Symbol::new(s)),
                other => Err(syntax(format!("{other} cannot name a return key"), query)),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ReturnKeys { kind, names })
    }

    /// The key for column `i`, as EDN.
    pub(crate) fn key(&self, i: usize) -> Edn {
        let name = self.names[i].as_str();
        match self.kind {
            KeyKind::Keys => Edn::keyword(name),
            KeyKind::Strs => Edn::string(name),
            KeyKind::Syms => Edn::symbol(name),
        }
    }
}
