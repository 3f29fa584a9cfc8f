//! The journal of user statements the coordinator received: what a test
//! looks at to check how a client talks to the cluster (which levels it
//! asks for, how many LWTs one operation costs, that a table only ever
//! sees conditional writes).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::protocol::Consistency;

/// How many statements the journal keeps; later ones are counted but not
/// kept (clear it before the part of a test that looks).
const KEEP: usize = 100_000;

/// One statement (or batch) as the coordinator received it, before any
/// fault or execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedStatement {
    /// The CQL text; for a batch, its statements joined with `"; "`.
    pub query: Arc<str>,
    /// The consistency level the client asked for.
    pub consistency: Consistency,
    /// The serial consistency the client sent, if any.
    pub serial_consistency: Option<Consistency>,
    /// The node that received it (0 unless the cluster has several).
    pub node: usize,
    /// The token of the partition it names through bound values (a
    /// prepared statement whose partition key columns are all bind
    /// markers; a batch: its first statement), as a driver routes it.
    pub token: Option<i64>,
}

impl ReceivedStatement {
    /// Whether the statement is a lightweight transaction (has an `IF`
    /// condition), judged from its text.
    pub fn is_conditional(&self) -> bool {
        self.query
            .split_whitespace()
            .any(|word| word.eq_ignore_ascii_case("IF"))
    }
}

#[derive(Default)]
struct Entries {
    kept: Vec<ReceivedStatement>,
    total: u64,
}

/// The statements received so far (system queries excluded).
#[derive(Clone, Default)]
pub(crate) struct Journal {
    entries: Arc<Mutex<Entries>>,
}

impl Journal {
    pub(crate) fn record(&self, statement: ReceivedStatement) {
        let mut entries = self.entries.lock();
        entries.total += 1;
        if entries.kept.len() < KEEP {
            entries.kept.push(statement);
        }
    }

    /// The kept statements (the first 100,000 since the last clear), oldest first.
    pub(crate) fn statements(&self) -> Vec<ReceivedStatement> {
        self.entries.lock().kept.clone()
    }

    /// How many statements were received since the last clear, kept or not.
    pub(crate) fn total(&self) -> u64 {
        self.entries.lock().total
    }

    pub(crate) fn clear(&self) {
        *self.entries.lock() = Entries::default();
    }
}
