//! Sources that data patterns match: database values (through their
//! indexes) and plain collections of tuples (by position).

use model::{Db, Value};
use std::sync::Arc;

/// A source of facts.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// A database value: patterns read its covering indexes.
    Db(Db),
    /// Tuples matched position by position (`[e a v tx op]` or any shape).
    Tuples(Arc<[Box<[Value]>]>),
}

impl Source {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Source::Db(_) => "a database",
            Source::Tuples(_) => "a collection of tuples",
        }
    }
}
