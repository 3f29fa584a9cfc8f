//! Running a query: binding the inputs to `:in`, solving `:where`, and
//! shaping `:find`.

use crate::error::{Error, ErrorKind, Result};
use crate::eval::call::destructure;
use crate::eval::context::Context;
use crate::eval::relation::Relation;
use crate::eval::source::Source;
use crate::eval::trace::{self, JoinStrategy};
use crate::eval::{Env, Eval, guard};
use crate::functions::Functions;
use crate::input::Input;
use crate::parse::binding::Binding;
use crate::parse::find::{FindElem, PullSpec};
use crate::parse::term::Var;
use crate::parse::{InSpec, Query, Rules};
use crate::pull::PullPattern;
use crate::result::QueryResult;
use crate::shape::Shaper;
use crate::value;
use model::Value;
use model::edn::{Edn, Symbol};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How a query runs: user functions and its limits.
///
/// The limits are looked at between clauses and, inside joins and
/// projections, every few thousand rows, so a query that runs too long or
/// grows too large really stops (its thread is free again within
/// milliseconds), including while it builds a cross product.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Functions, predicates and aggregates beyond the built-in ones.
    pub functions: Functions,
    /// Give up (with [`ErrorKind::Timeout`]) after this long.
    pub timeout: Option<Duration>,
    /// Give up (with [`ErrorKind::Cancelled`]) once this flag is set, e.g.
    /// by a server whose client went away.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Give up (with [`ErrorKind::TooLarge`]) when an intermediate
    /// relation grows past this many rows.
    pub max_rows: Option<usize>,
    /// How data patterns join with the bindings so far; leave it at
    /// [`JoinStrategy::Auto`] (the planner's choice) except to compare
    /// plans. Every strategy finds the same answers.
    pub join: JoinStrategy,
}

/// Something that is or parses into a query: EDN text, EDN data or a
/// parsed [`Query`].
pub trait AsQuery {
    /// The query.
    fn as_query(&self) -> Result<Cow<'_, Query>>;
}

impl AsQuery for str {
    fn as_query(&self) -> Result<Cow<'_, Query>> {
        Query::parse(self).map(Cow::Owned)
    }
}

impl AsQuery for String {
    fn as_query(&self) -> Result<Cow<'_, Query>> {
        Query::parse(self).map(Cow::Owned)
    }
}

impl AsQuery for Edn {
    fn as_query(&self) -> Result<Cow<'_, Query>> {
        Query::from_edn(self).map(Cow::Owned)
    }
}

impl AsQuery for Query {
    fn as_query(&self) -> Result<Cow<'_, Query>> {
        Ok(Cow::Borrowed(self))
    }
}

/// Runs a query over its inputs (in the order of `:in`; `[$]` without `:in`).
///
/// ```
/// use model::Value;
/// use query::{Input, q};
/// let people = Input::Rel(vec![
///     vec![Value::Long(1), Value::keyword(":user/email"), Value::string("a@x")],
///     vec![Value::Long(1), Value::keyword(":user/firstName"), Value::string("John")],
///     vec![Value::Long(2), Value::keyword(":user/email"), Value::string("b@x")],
/// ]);
/// let found = q("[:find ?e :where [?e :user/email]]", &[people]).unwrap();
/// assert_eq!(found.to_string(), "#{[1] [2]}");
/// ```
pub fn q(query: &(impl AsQuery + ?Sized), inputs: &[Input]) -> Result<QueryResult> {
    q_with(query, inputs, &Options::default())
}

/// [`q`] with user functions and a timeout.
pub fn q_with(
    query: &(impl AsQuery + ?Sized),
    inputs: &[Input],
    options: &Options,
) -> Result<QueryResult> {
    query.as_query()?.run(inputs, options)
}

/// What the inputs bound: sources, rules, pull patterns and the relations
/// of the bound variables.
struct Bound {
    sources: HashMap<Symbol, Source>,
    rules: Option<Arc<Rules>>,
    patterns: HashMap<Var, Arc<PullPattern>>,
    ctx: Context,
}

impl Query {
    /// Runs the query over `inputs`.
    pub fn run(&self, inputs: &[Input], options: &Options) -> Result<QueryResult> {
        let _trace = trace::Scope::enter(false, options.join);
        self.run_traced(inputs, options)
    }

    /// Runs the query over `inputs` and tells how: see [`crate::explain`].
    pub fn explain(&self, inputs: &[Input], options: &Options) -> Result<crate::Explain> {
        let trace = trace::Scope::enter(true, options.join);
        let started = Instant::now();
        let result = self.run_traced(inputs, options)?;
        Ok(crate::Explain {
            query: self.to_string(),
            steps: trace.steps(),
            results: result.len(),
            elapsed: started.elapsed(),
        })
    }

    fn run_traced(&self, inputs: &[Input], options: &Options) -> Result<QueryResult> {
        let _limits = guard::Scope::enter(guard::Limits {
            deadline: options.timeout.map(|t| Instant::now() + t),
            cancel: options.cancel.clone(),
            max_rows: options.max_rows,
        });
        let bound = self.bind(inputs)?;
        let env = Env {
            sources: bound.sources,
            rules: bound.rules,
            functions: &options.functions,
        };
        crate::validate::query(self, &env)?;
        let found = Eval::new(&env)
            .solve(&self.clauses, bound.ctx)
            .and_then(|ctx| self.find(&env, &ctx, &bound.patterns));
        // A limit that tripped inside a join left a relation cut short:
        // its error, never an answer built from it (nor an error about it).
        guard::check()?;
        found
    }

    fn bind(&self, inputs: &[Input]) -> Result<Bound> {
        let specs: &[InSpec] = match (self.in_given, inputs.is_empty()) {
            (false, true) => &[],
            _ => &self.inputs,
        };
        if inputs.len() != specs.len() {
            return Err(Error::new(
                ErrorKind::Input,
                format!(
                    "the query takes {} inputs, got {}",
                    specs.len(),
                    inputs.len()
                ),
                format!(":in {}", self.in_text.join(" ")),
            ));
        }
        let pattern_vars: Vec<&Var> = self
            .find
            .elems
            .iter()
            .filter_map(|e| match e {
                FindElem::Pull(p) => match &p.pattern {
                    PullSpec::Input(v) => Some(v),
                    PullSpec::Given(_) => None,
                },
                _ => None,
            })
            .collect();
        let mut bound = Bound {
            sources: HashMap::new(),
            rules: None,
            patterns: HashMap::new(),
            ctx: Context::default(),
        };
        for ((spec, input), text) in specs.iter().zip(inputs).zip(&self.in_text) {
            let fail = |m: String| Error::new(ErrorKind::Input, m, text);
            match spec {
                InSpec::Source(name) => {
                    bound
                        .sources
                        .insert(name.clone(), source(input).map_err(fail)?);
                }
                InSpec::Rules => bound.rules = Some(rules(input).map_err(fail)?),
                InSpec::Bind(Binding::Scalar(Some(v))) if pattern_vars.contains(&v) => {
                    bound
                        .patterns
                        .insert(v.clone(), pattern(input).map_err(fail)?);
                }
                InSpec::Bind(binding) => bound.ctx.add(relation(binding, input).map_err(fail)?),
            }
        }
        Ok(bound)
    }

    /// Shapes `:find` from the solved bindings.
    fn find(
        &self,
        env: &Env<'_>,
        ctx: &Context,
        patterns: &HashMap<Var, Arc<PullPattern>>,
    ) -> Result<QueryResult> {
        let mut cols: Vec<Var> = Vec::new();
        for v in self.find.elems.iter().map(FindElem::var).chain(&self.with) {
            if !cols.contains(v) {
                cols.push(v.clone());
            }
        }
        if !ctx.is_empty()
            && let Some(v) = cols.iter().find(|v| !ctx.bound(v))
        {
            return Err(Error::new(
                ErrorKind::UnboundVariable,
                format!("{v} is not bound by the clauses that ran"),
                format!(":find {}", self.find.texts.join(" ")),
            ));
        }
        let rel = ctx.project(&cols);
        let shaper = Shaper {
            query: self,
            env,
            patterns,
            rel: &rel,
        };
        let rows = match self.find.has_aggregates() {
            true => shaper.grouped()?,
            false => shaper.plain()?,
        };
        Ok(QueryResult {
            shape: self.find.shape,
            columns: self.find.texts.clone(),
            rows,
            keys: self
                .keys
                .as_ref()
                .map(|k| (0..k.names.len()).map(|i| k.key(i)).collect()),
            list: self.find.has_aggregates() || !self.with.is_empty(),
        })
    }
}

fn source(input: &Input) -> Result<Source, String> {
    let tuples = |rows: Vec<Vec<Value>>| {
        Source::Tuples(rows.into_iter().map(Vec::into_boxed_slice).collect())
    };
    match input {
        Input::Db(db) => Ok(Source::Db(db.clone())),
        Input::Rel(rows) => Ok(tuples(rows.clone())),
        Input::Edn(edn) => {
            let rows: Vec<&Edn> = match edn {
                Edn::Vector(items) | Edn::List(items) => items.iter().collect(),
                Edn::Set(items) => items.iter().collect(),
                _ => {
                    return Err(format!(
                        "a source is a database or a collection of tuples, not {edn}"
                    ));
                }
            };
            let rows = rows
                .into_iter()
                .map(|row| match input_value(row)? {
                    Value::Tuple(items) => items
                        .iter()
                        .map(|i| i.clone().ok_or_else(|| format!("nil in the tuple {row}")))
                        .collect::<Result<Vec<_>, String>>(),
                    _ => Err(format!("{row} is not a tuple")),
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(tuples(rows))
        }
        other => Err(format!(
            "a source is a database or a collection of tuples, not {}",
            other.describe()
        )),
    }
}

fn rules(input: &Input) -> Result<Arc<Rules>, String> {
    match input {
        Input::Rules(r) => Ok(r.clone()),
        Input::Edn(edn) => Rules::from_edn(edn)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
        other => Err(format!("% takes rules, not {}", other.describe())),
    }
}

fn pattern(input: &Input) -> Result<Arc<PullPattern>, String> {
    match input {
        Input::Pattern(p) => Ok(p.clone()),
        Input::Edn(edn) => PullPattern::from_edn(edn)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "a pull pattern is expected, not {}",
            other.describe()
        )),
    }
}

/// The relation a binding form makes of an input.
fn relation(binding: &Binding, input: &Input) -> Result<Relation, String> {
    let value = match input {
        Input::Value(v) => v.clone(),
        Input::Coll(items) => Value::Tuple(items.iter().cloned().map(Some).collect()),
        Input::Rel(rows) => Value::Tuple(
            rows.iter()
                .map(|r| Some(Value::Tuple(r.iter().cloned().map(Some).collect())))
                .collect(),
        ),
        Input::Edn(edn) => input_value(edn)?,
        other => return Err(format!("{} cannot bind {binding:?}", other.describe())),
    };
    let mut ways: Vec<Vec<Value>> = Vec::new();
    destructure(binding, &value, &mut Vec::new(), &mut ways)?;
    let mut rel = Relation::empty(binding.vars());
    for way in &ways {
        rel.push(way);
    }
    Ok(rel)
}

/// An EDN input as a value; sets become (sorted) tuples so that they can
/// bind collections.
fn input_value(edn: &Edn) -> Result<Value, String> {
    match edn {
        Edn::Set(items) => items
            .iter()
            .map(|i| input_value(i).map(Some))
            .collect::<Result<Vec<_>, String>>()
            .map(|items| Value::Tuple(items.into())),
        Edn::Vector(items) | Edn::List(items) => items
            .iter()
            .map(|i| match i {
                Edn::Nil => Ok(None),
                other => input_value(other).map(Some),
            })
            .collect::<Result<Vec<_>, String>>()
            .map(|items| Value::Tuple(items.into())),
        other => value::from_edn(other),
    }
}
