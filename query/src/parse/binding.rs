//! Binding forms: how an input or a function result binds variables.
//!
//! `?x` (scalar), `[?a ?b]` (tuple), `[?x ...]` (collection) and
//! `[[?a ?b]]` (relation, a collection of tuples); `_` skips a position.

use super::term::{Var, is_blank, symbol, variable};
use crate::error::{Result, syntax};
use model::edn::Edn;

/// A binding form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `?x`, or `_` (`None`) to ignore the value.
    Scalar(Option<Var>),
    /// `[?a ?b]`: the elements of one sequence, by position.
    Tuple(Vec<Binding>),
    /// `[?x ...]` or `[[?a ?b]]`: one binding per element.
    Coll(Box<Binding>),
}

impl Binding {
    /// Parses a binding form; `form` names it in errors.
    pub(crate) fn parse(edn: &Edn, form: &Edn) -> Result<Binding> {
        match edn {
            Edn::Symbol(s) if is_blank(s) => Ok(Binding::Scalar(None)),
            Edn::Symbol(_) => variable(edn)
                .map(|v| Binding::Scalar(Some(v.clone())))
                .ok_or_else(|| syntax(format!("{edn} is not a variable or _"), form)),
            Edn::Vector(items) => Binding::parse_vector(items, form),
            other => Err(syntax(format!("{other} is not a binding form"), form)),
        }
    }

    fn parse_vector(items: &[Edn], form: &Edn) -> Result<Binding> {
        let ellipsis = items
            .last()
            .and_then(symbol)
            .is_some_and(|s| s.as_str() == "...");
        match items {
            [] => Err(syntax("an empty binding form binds nothing", form)),
            [inner, _] if ellipsis => Ok(Binding::Coll(Box::new(Binding::parse(inner, form)?))),
            _ if ellipsis => Err(syntax("a collection binding is [?x ...]", form)),
            [Edn::Vector(inner)] => {
                Ok(Binding::Coll(Box::new(Binding::parse_vector(inner, form)?)))
            }
            _ => items
                .iter()
                .map(|i| Binding::parse(i, form))
                .collect::<Result<_>>()
                .map(Binding::Tuple),
        }
    }

    /// The variables the form binds, in order.
    pub(crate) fn vars(&self) -> Vec<Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<Var>) {
        match self {
            Binding::Scalar(Some(v)) => out.push(v.clone()),
            Binding::Scalar(None) => {}
            Binding::Tuple(items) => items.iter().for_each(|i| i.collect_vars(out)),
            Binding::Coll(inner) => inner.collect_vars(out),
        }
    }

    /// Checks that no variable is bound twice by the form.
    pub(crate) fn check_distinct(&self, form: &Edn) -> Result<()> {
        let vars = self.vars();
        for (i, v) in vars.iter().enumerate() {
            if vars[..i].contains(v) {
                return Err(syntax(
                    format!("{v} is bound twice by one binding form"),
                    form,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Binding> {
        let edn = model::edn::parse(text).unwrap();
        Binding::parse(&edn, &edn)
    }

    #[test]
    fn forms() {
        let v = |s: &str| Binding::Scalar(Some(model::edn::Symbol::new(s)));
        assert_eq!(parse("?x").unwrap(), v("?x"));
        assert_eq!(parse("[?x ...]").unwrap(), Binding::Coll(Box::new(v("?x"))));
        assert_eq!(
            parse("[?a _]").unwrap(),
            Binding::Tuple(vec![v("?a"), Binding::Scalar(None)])
        );
        assert_eq!(
            parse("[[?a ?b]]").unwrap(),
            Binding::Coll(Box::new(Binding::Tuple(vec![v("?a"), v("?b")])))
        );
        assert!(parse("[?a ... ?b]").is_err());
        assert!(parse("[]").is_err());
        assert!(parse("x").is_err());
        assert!(parse(":k").is_err());
    }
}
