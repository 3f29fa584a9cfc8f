//! A recursive-descent parser for the CQL subset (see the crate docs for the
//! grammar). Errors are `SyntaxError`s that name the line, column and token.

use std::collections::BTreeMap;

use super::ast::*;
use super::lexer::{Spanned, Tok, lex};
use crate::error::CqlError;
use crate::types::CqlType;

/// Parses one statement (an optional trailing `;` is allowed).
pub(crate) fn parse(text: &str) -> Result<Statement, CqlError> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        markers: 0,
    };
    let statement = p.statement()?;
    p.accept_sym(";");
    if p.peek().is_some() {
        return Err(p.unexpected("end of statement"));
    }
    Ok(statement)
}

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    markers: usize,
}

const SUPPORTED: &str = "SELECT, INSERT, UPDATE, DELETE, BEGIN BATCH, USE, CREATE KEYSPACE, \
     CREATE TABLE, DROP KEYSPACE, DROP TABLE and TRUNCATE";

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|s| &s.tok)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).map(|s| s.tok.clone());
        self.pos += 1;
        tok
    }

    fn unexpected(&self, expecting: &str) -> CqlError {
        let (line, col, found) = match self.toks.get(self.pos) {
            Some(s) => (s.line, s.col, describe(&s.tok)),
            None => {
                let last = self.toks.last();
                (
                    last.map_or(1, |s| s.line),
                    last.map_or(0, |s| s.col + 1),
                    "<EOF>".to_owned(),
                )
            }
        };
        CqlError::Syntax(format!(
            "line {line}:{col} mismatched input '{found}' expecting {expecting}"
        ))
    }

    fn accept_word(&mut self, word: &str) -> bool {
        let found = self.peek_word(word);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_word(&mut self, word: &str) -> Result<(), CqlError> {
        if self.accept_word(word) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", word.to_ascii_uppercase())))
        }
    }

    fn accept_sym(&mut self, sym: &str) -> bool {
        let found = matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), CqlError> {
        if self.accept_sym(sym) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{sym}'")))
        }
    }

    fn ident(&mut self) -> Result<String, CqlError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            Some(Tok::Quoted(q)) => {
                let q = q.clone();
                self.pos += 1;
                Ok(q)
            }
            _ => Err(self.unexpected("an identifier")),
        }
    }

    /// `a, b, c` of `item` until (not including) the closing token.
    fn comma_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, CqlError>,
    ) -> Result<Vec<T>, CqlError> {
        let mut items = vec![item(self)?];
        while self.accept_sym(",") {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn parenthesized<T>(
        &mut self,
        item: impl FnMut(&mut Self) -> Result<T, CqlError>,
    ) -> Result<Vec<T>, CqlError> {
        self.expect_sym("(")?;
        let items = self.comma_list(item)?;
        self.expect_sym(")")?;
        Ok(items)
    }

    fn table_name(&mut self) -> Result<TableName, CqlError> {
        let first = self.ident()?;
        if self.accept_sym(".") {
            return Ok(TableName {
                keyspace: Some(first),
                name: self.ident()?,
            });
        }
        Ok(TableName {
            keyspace: None,
            name: first,
        })
    }

    fn statement(&mut self) -> Result<Statement, CqlError> {
        let Some(Tok::Word(word)) = self.peek().cloned() else {
            return Err(self.unexpected(SUPPORTED));
        };
        self.pos += 1;
        match word.as_str() {
            "select" => self.select().map(Statement::Select),
            "insert" => self.insert().map(Statement::Insert),
            "update" => self.update().map(Statement::Update),
            "delete" => self.delete().map(Statement::Delete),
            "begin" => self.batch().map(Statement::Batch),
            "use" => self.ident().map(Statement::Use),
            "create" => self.create(),
            "drop" => self.drop(),
            "truncate" => {
                self.accept_word("table");
                self.table_name().map(Statement::Truncate)
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected(SUPPORTED))
            }
        }
    }

    fn select(&mut self) -> Result<Select, CqlError> {
        let distinct = self.accept_word("distinct");
        let selectors = self.comma_list(Self::selector)?;
        self.expect_word("from")?;
        let table = self.table_name()?;
        let relations = self.where_clause()?;
        let limit = if self.accept_word("limit") {
            Some(self.term()?)
        } else {
            None
        };
        let allow_filtering = self.accept_word("allow");
        if allow_filtering {
            self.expect_word("filtering")?;
        }
        Ok(Select {
            distinct,
            selectors,
            table,
            relations,
            limit,
            allow_filtering,
        })
    }

    fn selector(&mut self) -> Result<Selector, CqlError> {
        if self.accept_sym("*") {
            return Ok(Selector::Star);
        }
        let name = self.ident()?;
        let kind = if self.accept_sym("(") {
            self.function(&name)?
        } else {
            SelectorKind::Column(name)
        };
        let alias = if self.accept_word("as") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Selector::Item { kind, alias })
    }

    /// The rest of `name(` in a select list.
    fn function(&mut self, name: &str) -> Result<SelectorKind, CqlError> {
        let kind = match name {
            "count" => {
                if !self.accept_sym("*") && !matches!(self.next(), Some(Tok::Number(n)) if n == "1")
                {
                    self.pos -= 1;
                    return Err(self.unexpected("'*' or 1 in count()"));
                }
                SelectorKind::CountRows
            }
            "token" => SelectorKind::Token(self.comma_list(Self::ident)?),
            "writetime" => SelectorKind::WriteTime(self.ident()?),
            "ttl" => SelectorKind::Ttl(self.ident()?),
            other => {
                return Err(CqlError::invalid(format!(
                    "Unknown function '{other}': the simulator supports count(*), token(), writetime() and ttl()"
                )));
            }
        };
        self.expect_sym(")")?;
        Ok(kind)
    }

    fn where_clause(&mut self) -> Result<Vec<Relation>, CqlError> {
        if !self.accept_word("where") {
            return Ok(Vec::new());
        }
        let mut relations = vec![self.relation()?];
        while self.accept_word("and") {
            relations.push(self.relation()?);
        }
        Ok(relations)
    }

    fn relation(&mut self) -> Result<Relation, CqlError> {
        let lhs = if self.peek_word("token")
            && matches!(
                self.toks.get(self.pos + 1).map(|s| &s.tok),
                Some(Tok::Sym("("))
            ) {
            self.pos += 1;
            RelationTarget::Token(self.parenthesized(Self::ident)?)
        } else if matches!(self.peek(), Some(Tok::Sym("("))) {
            return Err(CqlError::invalid(
                "Multi-column relations like (a, b) > (?, ?) are not supported by the simulator",
            ));
        } else {
            RelationTarget::Column(self.ident()?)
        };
        let (op, rhs) = self.op_and_rhs()?;
        Ok(Relation { lhs, op, rhs })
    }

    fn op_and_rhs(&mut self) -> Result<(Op, Rhs), CqlError> {
        if self.accept_word("in") {
            if matches!(self.peek(), Some(Tok::Marker | Tok::NamedMarker(_))) {
                return Ok((Op::In, Rhs::ListMarker(self.term()?)));
            }
            return Ok((Op::In, Rhs::List(self.parenthesized(Self::term)?)));
        }
        let op = match self.next() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("an operator (=, !=, <, <=, >, >=, IN)"));
            }
        };
        Ok((op, Rhs::Term(self.term()?)))
    }

    fn term(&mut self) -> Result<Term, CqlError> {
        let literal = match self.next() {
            Some(Tok::Marker) => return Ok(self.marker(None)),
            Some(Tok::NamedMarker(name)) => return Ok(self.marker(Some(name))),
            Some(Tok::Str(s)) => Literal::Str(s),
            Some(Tok::Number(n)) => Literal::Number(n),
            Some(Tok::Blob(b)) => Literal::Blob(b),
            Some(Tok::Uuid(u)) => Literal::Uuid(u),
            Some(Tok::Word(w)) if w == "true" || w == "false" => Literal::Bool(w == "true"),
            Some(Tok::Word(w)) if w == "null" => Literal::Null,
            Some(Tok::Sym("[")) => Literal::List(self.collection_items("]")?),
            Some(Tok::Sym("{")) => self.braced()?,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("a value or bind marker"));
            }
        };
        Ok(Term::Literal(literal))
    }

    fn marker(&mut self, name: Option<String>) -> Term {
        let index = self.markers;
        self.markers += 1;
        Term::Marker { index, name }
    }

    fn collection_items(&mut self, close: &str) -> Result<Vec<Term>, CqlError> {
        if self.accept_sym(close) {
            return Ok(Vec::new());
        }
        let items = self.comma_list(Self::term)?;
        self.expect_sym(close)?;
        Ok(items)
    }

    /// `{a, b}` (a set) or `{k: v, ...}` (a map); `{}` is an empty set or map.
    fn braced(&mut self) -> Result<Literal, CqlError> {
        if self.accept_sym("}") {
            return Ok(Literal::Set(Vec::new()));
        }
        let first = self.term()?;
        if !self.accept_sym(":") {
            let mut items = vec![first];
            while self.accept_sym(",") {
                items.push(self.term()?);
            }
            self.expect_sym("}")?;
            return Ok(Literal::Set(items));
        }
        let mut entries = vec![(first, self.term()?)];
        while self.accept_sym(",") {
            let key = self.term()?;
            self.expect_sym(":")?;
            entries.push((key, self.term()?));
        }
        self.expect_sym("}")?;
        Ok(Literal::Map(entries))
    }

    fn using(&mut self) -> Result<Using, CqlError> {
        let mut using = Using::default();
        if !self.accept_word("using") {
            return Ok(using);
        }
        loop {
            if self.accept_word("ttl") {
                using.ttl = Some(self.term()?);
            } else if self.accept_word("timestamp") {
                using.timestamp = Some(self.term()?);
            } else {
                return Err(self.unexpected("TTL or TIMESTAMP"));
            }
            if !self.accept_word("and") {
                return Ok(using);
            }
        }
    }

    fn insert(&mut self) -> Result<Insert, CqlError> {
        self.expect_word("into")?;
        let table = self.table_name()?;
        let columns = self.parenthesized(Self::ident)?;
        self.expect_word("values")?;
        let values = self.parenthesized(Self::term)?;
        let mut condition = self.if_not_exists()?.then_some(Condition::NotExists);
        let using = self.using()?;
        if condition.is_none() && self.if_not_exists()? {
            condition = Some(Condition::NotExists);
        }
        Ok(Insert {
            table,
            columns,
            values,
            using,
            condition,
        })
    }

    fn if_not_exists(&mut self) -> Result<bool, CqlError> {
        if !self.accept_word("if") {
            return Ok(false);
        }
        self.expect_word("not")?;
        self.expect_word("exists")?;
        Ok(true)
    }

    fn if_exists(&mut self) -> Result<bool, CqlError> {
        if !self.accept_word("if") {
            return Ok(false);
        }
        self.expect_word("exists")?;
        Ok(true)
    }

    fn update(&mut self) -> Result<Update, CqlError> {
        let table = self.table_name()?;
        let using = self.using()?;
        self.expect_word("set")?;
        let assignments = self.comma_list(|p| {
            let column = p.ident()?;
            p.expect_sym("=")?;
            Ok((column, p.term()?))
        })?;
        let relations = self.where_clause()?;
        let condition = self.condition()?;
        Ok(Update {
            table,
            using,
            assignments,
            relations,
            condition,
        })
    }

    fn delete(&mut self) -> Result<Delete, CqlError> {
        let columns = if self.peek_word("from") {
            Vec::new()
        } else {
            self.comma_list(Self::ident)?
        };
        self.expect_word("from")?;
        let table = self.table_name()?;
        let using = self.using()?;
        let relations = self.where_clause()?;
        let condition = self.condition()?;
        Ok(Delete {
            table,
            columns,
            using,
            relations,
            condition,
        })
    }

    fn condition(&mut self) -> Result<Option<Condition>, CqlError> {
        if !self.accept_word("if") {
            return Ok(None);
        }
        if self.accept_word("exists") {
            return Ok(Some(Condition::Exists));
        }
        let mut conditions = Vec::new();
        loop {
            let column = self.ident()?;
            let (op, rhs) = self.op_and_rhs()?;
            conditions.push(ColumnCondition { column, op, rhs });
            if !self.accept_word("and") {
                return Ok(Some(Condition::Columns(conditions)));
            }
        }
    }

    fn batch(&mut self) -> Result<Batch, CqlError> {
        if self.peek_word("counter") {
            return Err(CqlError::invalid(
                "Counter batches are not supported by the simulator",
            ));
        }
        let logged = !self.accept_word("unlogged");
        self.accept_word("logged");
        self.expect_word("batch")?;
        let using = self.using()?;
        let mut statements = Vec::new();
        while !self.accept_word("apply") {
            let statement = match self.next() {
                Some(Tok::Word(w)) if w == "insert" => Statement::Insert(self.insert()?),
                Some(Tok::Word(w)) if w == "update" => Statement::Update(self.update()?),
                Some(Tok::Word(w)) if w == "delete" => Statement::Delete(self.delete()?),
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("INSERT, UPDATE, DELETE or APPLY BATCH"));
                }
            };
            statements.push(statement);
            self.accept_sym(";");
        }
        self.expect_word("batch")?;
        Ok(Batch {
            logged,
            using,
            statements,
        })
    }

    fn create(&mut self) -> Result<Statement, CqlError> {
        if self.accept_word("keyspace") {
            return self.create_keyspace().map(Statement::CreateKeyspace);
        }
        if self.accept_word("table") || self.accept_word("columnfamily") {
            return self.create_table().map(Statement::CreateTable);
        }
        Err(self.unexpected(
            "KEYSPACE or TABLE (other CREATE statements are not supported by the simulator)",
        ))
    }

    fn drop(&mut self) -> Result<Statement, CqlError> {
        if self.accept_word("keyspace") {
            let if_exists = self.if_exists()?;
            return Ok(Statement::DropKeyspace {
                if_exists,
                name: self.ident()?,
            });
        }
        if self.accept_word("table") || self.accept_word("columnfamily") {
            let if_exists = self.if_exists()?;
            return Ok(Statement::DropTable {
                if_exists,
                table: self.table_name()?,
            });
        }
        Err(self.unexpected(
            "KEYSPACE or TABLE (other DROP statements are not supported by the simulator)",
        ))
    }

    fn create_keyspace(&mut self) -> Result<CreateKeyspace, CqlError> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident()?;
        self.expect_word("with")?;
        let mut replication = None;
        let mut durable_writes = true;
        loop {
            let option = self.ident()?;
            self.expect_sym("=")?;
            match option.as_str() {
                "replication" => replication = Some(self.string_map()?),
                "durable_writes" => durable_writes = self.boolean()?,
                other => {
                    return Err(CqlError::Syntax(format!(
                        "Unknown keyspace property '{other}'"
                    )));
                }
            }
            if !self.accept_word("and") {
                break;
            }
        }
        let replication = replication
            .ok_or_else(|| CqlError::Syntax("Missing mandatory option 'replication'".into()))?;
        Ok(CreateKeyspace {
            name,
            if_not_exists,
            replication,
            durable_writes,
        })
    }

    fn string_map(&mut self) -> Result<BTreeMap<String, String>, CqlError> {
        let Term::Literal(Literal::Map(entries)) = self.term()? else {
            return Err(CqlError::Syntax(
                "expected a map literal such as {'class': 'SimpleStrategy'}".into(),
            ));
        };
        entries
            .into_iter()
            .map(|(k, v)| Ok((literal_text(&k)?, literal_text(&v)?)))
            .collect()
    }

    fn boolean(&mut self) -> Result<bool, CqlError> {
        match self.term()? {
            Term::Literal(Literal::Bool(b)) => Ok(b),
            Term::Literal(Literal::Str(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(s.eq_ignore_ascii_case("true"))
            }
            _ => Err(CqlError::Syntax("expected a boolean".into())),
        }
    }

    fn create_table(&mut self) -> Result<CreateTable, CqlError> {
        let if_not_exists = self.if_not_exists()?;
        let table = self.table_name()?;
        self.expect_sym("(")?;
        let mut columns = Vec::new();
        let mut primary_key: Option<(Vec<String>, Vec<String>)> = None;
        loop {
            if self.accept_word("primary") {
                self.expect_word("key")?;
                primary_key = Some(self.primary_key()?);
            } else {
                let name = self.ident()?;
                let ty = self.cql_type()?;
                if self.accept_word("static") {
                    return Err(CqlError::invalid(
                        "Static columns are not supported by the simulator",
                    ));
                }
                if self.accept_word("primary") {
                    self.expect_word("key")?;
                    primary_key = Some((vec![name.clone()], Vec::new()));
                }
                columns.push((name, ty));
            }
            if !self.accept_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        self.table_options()?;
        let (partition_key, clustering) = primary_key.ok_or_else(|| {
            CqlError::invalid(format!(
                "No PRIMARY KEY specified for table '{}' (exactly one required)",
                table.name
            ))
        })?;
        Ok(CreateTable {
            table,
            if_not_exists,
            columns,
            partition_key,
            clustering,
        })
    }

    fn primary_key(&mut self) -> Result<(Vec<String>, Vec<String>), CqlError> {
        self.expect_sym("(")?;
        let partition = if self.accept_sym("(") {
            let cols = self.comma_list(Self::ident)?;
            self.expect_sym(")")?;
            cols
        } else {
            vec![self.ident()?]
        };
        let mut clustering = Vec::new();
        while self.accept_sym(",") {
            clustering.push(self.ident()?);
        }
        self.expect_sym(")")?;
        Ok((partition, clustering))
    }

    fn cql_type(&mut self) -> Result<CqlType, CqlError> {
        let name = self.ident()?;
        let mut params = Vec::new();
        if self.accept_sym("<") {
            params = self.comma_list(Self::cql_type)?;
            self.expect_sym(">")?;
        }
        let boxed = |i: usize| Box::new(params.get(i).cloned().unwrap_or(CqlType::Text));
        let ty = match (name.as_str(), params.len()) {
            ("frozen", 1) => *boxed(0),
            ("list", 1) => CqlType::List(boxed(0)),
            ("set", 1) => CqlType::Set(boxed(0)),
            ("map", 2) => CqlType::Map(boxed(0), boxed(1)),
            (simple, 0) => CqlType::from_simple_name(simple).ok_or_else(|| {
                CqlError::invalid(format!(
                    "Unknown type {simple}: the simulator supports text, varchar, ascii, blob, int, bigint, \
                     boolean, uuid, timestamp, double, inet and list/set/map of them"
                ))
            })?,
            (other, n) => return Err(CqlError::invalid(format!("Type {other} does not take {n} parameters"))),
        };
        Ok(ty)
    }

    /// `WITH opt = value AND CLUSTERING ORDER BY (c ASC) AND ...`: parsed and
    /// ignored, except that descending clustering order is refused.
    fn table_options(&mut self) -> Result<(), CqlError> {
        if !self.accept_word("with") {
            return Ok(());
        }
        loop {
            if self.accept_word("clustering") {
                self.expect_word("order")?;
                self.expect_word("by")?;
                let orders = self.parenthesized(|p| {
                    p.ident()?;
                    let descending = p.accept_word("desc");
                    if !descending {
                        p.accept_word("asc");
                    }
                    Ok(descending)
                })?;
                if orders.contains(&true) {
                    return Err(CqlError::invalid(
                        "Descending clustering order is not supported by the simulator",
                    ));
                }
            } else if self.accept_word("compact") {
                self.expect_word("storage")?;
            } else {
                self.ident()?;
                self.expect_sym("=")?;
                self.term()?;
            }
            if !self.accept_word("and") {
                return Ok(());
            }
        }
    }
}

fn literal_text(term: &Term) -> Result<String, CqlError> {
    match term {
        Term::Literal(Literal::Str(s) | Literal::Number(s)) => Ok(s.clone()),
        Term::Literal(Literal::Bool(b)) => Ok(b.to_string()),
        _ => Err(CqlError::Syntax(
            "expected a string or number in the options map".into(),
        )),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => w.clone(),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Number(n) => n.clone(),
        Tok::Blob(b) => format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        Tok::Uuid(_) => "<uuid>".into(),
        Tok::Marker => "?".into(),
        Tok::NamedMarker(n) => format!(":{n}"),
        Tok::Sym(s) => (*s).into(),
    }
}
