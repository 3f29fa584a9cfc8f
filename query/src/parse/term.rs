//! The smallest parts of a query: variables, blanks, sources and constants.

use crate::error::{Result, syntax};
use crate::value;
use model::Value;
use model::edn::{Edn, Symbol};

/// A query variable: a symbol starting with `?`.
pub(crate) type Var = Symbol;

/// A constant as written, with the value it denotes when it is one
/// (lookup refs and idents are resolved against a database later).
#[derive(Clone, Debug)]
pub(crate) struct Constant {
    pub(crate) edn: Edn,
    pub(crate) value: Value,
}

/// One position of a clause.
#[derive(Clone, Debug)]
pub(crate) enum Term {
    /// `?x`
    Var(Var),
    /// `_`
    Blank,
    /// A source such as `$` or `$hist` (function arguments only).
    Src(Symbol),
    /// Anything else: a keyword, number, string, lookup ref …
    Const(Constant),
}

impl Term {
    /// The variable, if this is one.
    pub(crate) fn var(&self) -> Option<&Var> {
        match self {
            Term::Var(v) => Some(v),
            _ => None,
        }
    }
}

pub(crate) fn is_var(s: &Symbol) -> bool {
    s.as_str().starts_with('?') && s.as_str().len() > 1
}

pub(crate) fn is_src(s: &Symbol) -> bool {
    s.as_str().starts_with('$')
}

pub(crate) fn is_blank(s: &Symbol) -> bool {
    s.as_str() == "_"
}

/// The symbol, if `edn` is one.
pub(crate) fn symbol(edn: &Edn) -> Option<&Symbol> {
    match edn {
        Edn::Symbol(s) => Some(s),
        _ => None,
    }
}

/// A source symbol (`$`, `$name`), if `edn` is one.
pub(crate) fn src_symbol(edn: &Edn) -> Option<&Symbol> {
    symbol(edn).filter(|s| is_src(s))
}

/// A variable, if `edn` is one.
pub(crate) fn variable(edn: &Edn) -> Option<&Var> {
    symbol(edn).filter(|s| is_var(s))
}

/// A constant: any EDN value a variable could hold.
pub(crate) fn constant(edn: &Edn, clause: &Edn) -> Result<Constant> {
    let value = value::from_edn(edn).map_err(|m| syntax(m, clause))?;
    Ok(Constant {
        edn: edn.clone(),
        value,
    })
}

/// A term of a data pattern or rule call: variable, `_`, or constant.
/// `allow_src` admits source symbols (function arguments).
pub(crate) fn term(edn: &Edn, clause: &Edn, allow_src: bool) -> Result<Term> {
    match edn {
        Edn::Symbol(s) if is_var(s) => Ok(Term::Var(s.clone())),
        Edn::Symbol(s) if is_blank(s) => Ok(Term::Blank),
        Edn::Symbol(s) if is_src(s) && allow_src => Ok(Term::Src(s.clone())),
        Edn::Symbol(s) => Err(syntax(
            format!("the symbol {s} is not a variable (?name), _ or a constant"),
            clause,
        )),
        other => constant(other, clause).map(Term::Const),
    }
}

/// A list of distinct variables, e.g. the join variables of `not-join`.
pub(crate) fn var_list(edn: &Edn, clause: &Edn, what: &str) -> Result<Vec<Var>> {
    let items = match edn {
        Edn::Vector(items) => items,
        _ => {
            return Err(syntax(
                format!("{what} must be a vector of variables"),
                clause,
            ));
        }
    };
    let mut vars: Vec<Var> = Vec::with_capacity(items.len());
    for item in items {
        let v = variable(item)
            .ok_or_else(|| syntax(format!("{what} holds {item}, not a variable"), clause))?;
        if vars.contains(v) {
            return Err(syntax(format!("{what} names {v} twice"), clause));
        }
        vars.push(v.clone());
    }
    Ok(vars)
}
