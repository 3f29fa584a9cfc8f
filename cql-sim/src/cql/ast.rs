//! The statements of the CQL subset the simulator understands.

use std::collections::BTreeMap;

use crate::types::CqlType;

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Statement {
    Use(String),
    CreateKeyspace(CreateKeyspace),
    CreateTable(CreateTable),
    DropKeyspace { name: String, if_exists: bool },
    DropTable { table: TableName, if_exists: bool },
    Truncate(TableName),
    Select(Select),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Batch(Batch),
}

impl Statement {
    /// The statement's kind as CQL names it, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Statement::Use(_) => "USE",
            Statement::CreateKeyspace(_) => "CREATE KEYSPACE",
            Statement::CreateTable(_) => "CREATE TABLE",
            Statement::DropKeyspace { .. } => "DROP KEYSPACE",
            Statement::DropTable { .. } => "DROP TABLE",
            Statement::Truncate(_) => "TRUNCATE",
            Statement::Select(_) => "SELECT",
            Statement::Insert(_) => "INSERT",
            Statement::Update(_) => "UPDATE",
            Statement::Delete(_) => "DELETE",
            Statement::Batch(_) => "BATCH",
        }
    }
}

/// `[keyspace.]table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) keyspace: Option<String>,
    pub(crate) name: String,
}

/// `CREATE KEYSPACE`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CreateKeyspace {
    pub(crate) name: String,
    pub(crate) if_not_exists: bool,
    pub(crate) replication: BTreeMap<String, String>,
    pub(crate) durable_writes: bool,
}

/// `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CreateTable {
    pub(crate) table: TableName,
    pub(crate) if_not_exists: bool,
    pub(crate) columns: Vec<(String, CqlType)>,
    pub(crate) partition_key: Vec<String>,
    pub(crate) clustering: Vec<String>,
}

/// A value in a statement: a literal or a bind marker (numbered in order of
/// appearance across the whole statement).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Term {
    Literal(Literal),
    Marker { index: usize, name: Option<String> },
}

/// A literal constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Number(String),
    Bool(bool),
    Blob(Vec<u8>),
    Uuid([u8; 16]),
    Null,
    List(Vec<Term>),
    Set(Vec<Term>),
    Map(Vec<(Term, Term)>),
}

/// `SELECT`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Select {
    pub(crate) distinct: bool,
    pub(crate) selectors: Vec<Selector>,
    pub(crate) table: TableName,
    pub(crate) relations: Vec<Relation>,
    pub(crate) limit: Option<Term>,
    pub(crate) allow_filtering: bool,
}

/// One item of a select list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Selector {
    /// `*`
    Star,
    /// `col [AS alias]`, `token(cols)`, `writetime(col)`, `count(*)`.
    Item {
        kind: SelectorKind,
        alias: Option<String>,
    },
}

/// What a select item computes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SelectorKind {
    Column(String),
    Token(Vec<String>),
    WriteTime(String),
    Ttl(String),
    CountRows,
}

/// `lhs op rhs` in a WHERE clause.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Relation {
    pub(crate) lhs: RelationTarget,
    pub(crate) op: Op,
    pub(crate) rhs: Rhs,
}

/// The left-hand side of a relation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RelationTarget {
    Column(String),
    Token(Vec<String>),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

impl Op {
    /// Whether `ordering` (of left against right) satisfies this operator.
    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq | Op::In => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

/// The right-hand side of a relation or condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Rhs {
    /// One value.
    Term(Term),
    /// `IN (a, b, ...)`.
    List(Vec<Term>),
    /// `IN ?`: one marker bound to a list.
    ListMarker(Term),
}

/// `USING TTL n AND TIMESTAMP n`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Using {
    pub(crate) ttl: Option<Term>,
    pub(crate) timestamp: Option<Term>,
}

/// The `IF` clause of a modification.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Condition {
    NotExists,
    Exists,
    Columns(Vec<ColumnCondition>),
}

/// `IF col op value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnCondition {
    pub(crate) column: String,
    pub(crate) op: Op,
    pub(crate) rhs: Rhs,
}

/// `INSERT`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Insert {
    pub(crate) table: TableName,
    pub(crate) columns: Vec<String>,
    pub(crate) values: Vec<Term>,
    pub(crate) using: Using,
    pub(crate) condition: Option<Condition>,
}

/// `UPDATE`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Update {
    pub(crate) table: TableName,
    pub(crate) using: Using,
    pub(crate) assignments: Vec<(String, Term)>,
    pub(crate) relations: Vec<Relation>,
    pub(crate) condition: Option<Condition>,
}

/// `DELETE`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Delete {
    pub(crate) table: TableName,
    pub(crate) columns: Vec<String>,
    pub(crate) using: Using,
    pub(crate) relations: Vec<Relation>,
    pub(crate) condition: Option<Condition>,
}

/// `BEGIN [UNLOGGED] BATCH ... APPLY BATCH`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Batch {
    pub(crate) logged: bool,
    pub(crate) using: Using,
    pub(crate) statements: Vec<Statement>,
}
