//! INSERT, UPDATE, DELETE, their USING and IF clauses, and batches.

use super::Parser;
use crate::cql::ast::*;
use crate::cql::lexer::Tok;
use crate::error::CqlError;

impl Parser {
    pub(super) fn using(&mut self) -> Result<Using, CqlError> {
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

    pub(super) fn insert(&mut self) -> Result<Insert, CqlError> {
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

    pub(super) fn if_not_exists(&mut self) -> Result<bool, CqlError> {
        if !self.accept_word("if") {
            return Ok(false);
        }
        self.expect_word("not")?;
        self.expect_word("exists")?;
        Ok(true)
    }

    pub(super) fn if_exists(&mut self) -> Result<bool, CqlError> {
        if !self.accept_word("if") {
            return Ok(false);
        }
        self.expect_word("exists")?;
        Ok(true)
    }

    pub(super) fn update(&mut self) -> Result<Update, CqlError> {
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

    pub(super) fn delete(&mut self) -> Result<Delete, CqlError> {
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

    pub(super) fn condition(&mut self) -> Result<Option<Condition>, CqlError> {
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

    pub(super) fn batch(&mut self) -> Result<Batch, CqlError> {
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
}
