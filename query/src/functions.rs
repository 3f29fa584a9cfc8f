//! User functions, predicates and aggregates that queries call by name.

use model::Value;
use model::edn::Symbol;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A query function: gets the argument values, returns a value or nil
/// (`None`: the row is dropped). Used as a predicate, any result but nil
/// and `false` keeps the row. A collection result for `[?x ...]` or a
/// tuple result for `[?a ?b]` is a [`Value::Tuple`]. An `Err` fails the
/// query with the message.
pub type Function = Arc<dyn Fn(&[Value]) -> Result<Option<Value>, String> + Send + Sync>;

/// A user aggregate: gets the constant arguments written before the
/// variable and every value of the variable in the group.
pub type Aggregate = Arc<dyn Fn(&[Value], &[Value]) -> Result<Value, String> + Send + Sync>;

/// The functions and aggregates a query may call beyond the built-in ones.
/// A registered name takes precedence over a built-in one.
///
/// ```
/// use model::Value;
/// let mut fns = query::Functions::new();
/// fns.predicate("adult?", |args| matches!(args, [Value::Long(n)] if *n >= 18));
/// fns.function("shout", |args| match args {
///     [Value::String(s)] => Ok(Some(Value::string(&s.to_uppercase()))),
///     _ => Err("shout takes a string".into()),
/// });
/// assert!(fns.function_named(&model::edn::Symbol::new("shout")).is_some());
/// ```
#[derive(Clone, Default)]
pub struct Functions {
    functions: HashMap<Symbol, Function>,
    aggregates: HashMap<Symbol, Aggregate>,
}

impl Functions {
    /// No functions beyond the built-in ones.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Registers a function under `name` (a symbol such as `my/score`).
    pub fn function(
        &mut self,
        name: &str,
        f: impl Fn(&[Value]) -> Result<Option<Value>, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.functions.insert(Symbol::new(name), Arc::new(f));
        self
    }

    /// Registers a predicate: a function whose result is true or false.
    pub fn predicate(
        &mut self,
        name: &str,
        f: impl Fn(&[Value]) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        self.function(name, move |args| Ok(Some(Value::Boolean(f(args)))))
    }

    /// Registers an aggregate for `:find (name consts… ?x)`.
    pub fn aggregate(
        &mut self,
        name: &str,
        f: impl Fn(&[Value], &[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.aggregates.insert(Symbol::new(name), Arc::new(f));
        self
    }

    /// The function registered under `name`.
    pub fn function_named(&self, name: &Symbol) -> Option<&Function> {
        self.functions.get(name)
    }

    /// The aggregate registered under `name`.
    pub fn aggregate_named(&self, name: &Symbol) -> Option<&Aggregate> {
        self.aggregates.get(name)
    }
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Functions")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .field("aggregates", &self.aggregates.keys().collect::<Vec<_>>())
            .finish()
    }
}
