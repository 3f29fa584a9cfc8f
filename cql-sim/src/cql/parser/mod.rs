//! A recursive-descent parser for the CQL subset (see the crate docs for the
//! grammar). Errors are `SyntaxError`s that name the line, column and token.

mod ddl;
mod dml;

use super::ast::*;
use super::lexer::{Spanned, Tok, lex};
use crate::error::CqlError;

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
        self.order_by()?;
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

    /// `ORDER BY col [ASC], ...`: rows always come in ascending clustering
    /// order, so ascending orderings are accepted as they are.
    fn order_by(&mut self) -> Result<(), CqlError> {
        if !self.accept_word("order") {
            return Ok(());
        }
        self.expect_word("by")?;
        let descending = self.comma_list(|p| {
            p.ident()?;
            let descending = p.accept_word("desc");
            if !descending {
                p.accept_word("asc");
            }
            Ok(descending)
        })?;
        if descending.contains(&true) {
            return Err(CqlError::invalid(
                "ORDER BY ... DESC is not supported by the simulator (rows come in ascending clustering order)",
            ));
        }
        Ok(())
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
