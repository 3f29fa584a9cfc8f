//! Query inputs: what each entry of `:in` receives.

use crate::parse::Rules;
use crate::pull::PullPattern;
use model::edn::Edn;
use model::{Datom, Db, Value};
use std::sync::Arc;

/// One input of a query, in the order of `:in`.
///
/// A source (`$`, `$name`) takes a database value or a collection of
/// tuples; `%` takes rules; `?x` takes a value; `[?x ...]` a collection;
/// `[?a ?b]` a tuple; `[[?a ?b]]` a relation. [`Input::Edn`] fits any of
/// them (the command line passes every input as EDN).
#[derive(Clone, Debug)]
pub enum Input {
    /// A database value (current, `as_of`, `since`, `history`, filtered).
    Db(Db),
    /// A single value.
    Value(Value),
    /// A collection of values, or the elements of one tuple.
    Coll(Vec<Value>),
    /// A collection of tuples: a relation, or a source matched by position.
    Rel(Vec<Vec<Value>>),
    /// Rules for `%`.
    Rules(Arc<Rules>),
    /// A pull pattern, for `(pull ?e ?pattern)` with `?pattern` in `:in`.
    Pattern(Arc<PullPattern>),
    /// Any of the above written as EDN.
    Edn(Edn),
}

impl Input {
    /// Datoms as a source of tuples `[e a v tx added]`, e.g. the tx data
    /// of a transaction report.
    pub fn datoms(datoms: &[Datom]) -> Input {
        Input::Rel(
            datoms
                .iter()
                .map(|d| {
                    vec![
                        Value::Ref(d.e()),
                        Value::Ref(d.a()),
                        d.v().clone(),
                        Value::Ref(d.tx()),
                        Value::Boolean(d.added()),
                    ]
                })
                .collect(),
        )
    }

    /// A short description for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Input::Db(_) => "a database",
            Input::Value(_) => "a value",
            Input::Coll(_) => "a collection",
            Input::Rel(_) => "a relation",
            Input::Rules(_) => "rules",
            Input::Pattern(_) => "a pull pattern",
            Input::Edn(_) => "EDN",
        }
    }
}

impl From<Db> for Input {
    fn from(db: Db) -> Self {
        Input::Db(db)
    }
}

impl From<&Db> for Input {
    fn from(db: &Db) -> Self {
        Input::Db(db.clone())
    }
}

impl From<Value> for Input {
    fn from(v: Value) -> Self {
        Input::Value(v)
    }
}

impl From<Rules> for Input {
    fn from(rules: Rules) -> Self {
        Input::Rules(Arc::new(rules))
    }
}

impl From<PullPattern> for Input {
    fn from(pattern: PullPattern) -> Self {
        Input::Pattern(Arc::new(pattern))
    }
}

impl From<Edn> for Input {
    fn from(edn: Edn) -> Self {
        Input::Edn(edn)
    }
}
