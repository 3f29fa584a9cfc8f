//! CREATE and DROP of keyspaces and tables, column types, table options.

use std::collections::BTreeMap;

use super::Parser;
use crate::cql::ast::*;
use crate::error::CqlError;
use crate::types::CqlType;

impl Parser {
    pub(super) fn create(&mut self) -> Result<Statement, CqlError> {
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

    pub(super) fn drop(&mut self) -> Result<Statement, CqlError> {
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

    pub(super) fn create_keyspace(&mut self) -> Result<CreateKeyspace, CqlError> {
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

    pub(super) fn string_map(&mut self) -> Result<BTreeMap<String, String>, CqlError> {
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

    pub(super) fn boolean(&mut self) -> Result<bool, CqlError> {
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

    pub(super) fn create_table(&mut self) -> Result<CreateTable, CqlError> {
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

    pub(super) fn primary_key(&mut self) -> Result<(Vec<String>, Vec<String>), CqlError> {
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

    pub(super) fn cql_type(&mut self) -> Result<CqlType, CqlError> {
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
    pub(super) fn table_options(&mut self) -> Result<(), CqlError> {
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
