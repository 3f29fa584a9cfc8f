//! Shaping `:find`: plain rows, or groups with aggregates; pull
//! expressions read the entity each row names.

use crate::error::{Error, ErrorKind, Result};
use crate::eval::Env;
use crate::eval::relation::Relation;
use crate::eval::source::Source;
use crate::parse::Query;
use crate::parse::find::{FindElem, PullSpec};
use crate::parse::term::Var;
use crate::pull::PullPattern;
use crate::result::Found;
use model::Value;
use model::edn::Symbol;
use std::collections::HashMap;
use std::sync::Arc;

/// Turns the projected relation into result rows.
pub(crate) struct Shaper<'a> {
    pub(crate) query: &'a Query,
    pub(crate) env: &'a Env<'a>,
    pub(crate) patterns: &'a HashMap<Var, Arc<PullPattern>>,
    pub(crate) rel: &'a Relation,
}

impl Shaper<'_> {
    fn col(&self, v: &Var) -> usize {
        // Every find variable is a column of the projection.
        self.rel.col(v).unwrap_or(0)
    }

    pub(crate) fn plain(&self) -> Result<Vec<Vec<Found>>> {
        self.rel
            .rows()
            .map(|row| {
                self.query
                    .find
                    .elems
                    .iter()
                    .zip(&self.query.find.texts)
                    .map(|(elem, text)| self.cell(elem, text, &row[self.col(elem.var())], &[]))
                    .collect()
            })
            .collect()
    }

    pub(crate) fn grouped(&self) -> Result<Vec<Vec<Found>>> {
        let group_vars: Vec<Var> = self
            .query
            .find
            .elems
            .iter()
            .filter(|e| !matches!(e, FindElem::Aggregate(_)))
            .map(|e| e.var().clone())
            .collect();
        let groups = self.rel.index_by(&group_vars);
        let mut rows = Vec::with_capacity(groups.len());
        for g in 0..groups.len() {
            let members: Vec<usize> = groups.members(g).collect();
            let first = self.rel.row(members[0]);
            let row = self
                .query
                .find
                .elems
                .iter()
                .zip(&self.query.find.texts)
                .map(|(elem, text)| {
                    let col = self.col(elem.var());
                    let values: Vec<Value> = match elem {
                        FindElem::Aggregate(_) => members
                            .iter()
                            .map(|m| self.rel.row(*m)[col].clone())
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.cell(elem, text, &first[col], &values)
                })
                .collect::<Result<Vec<_>>>()?;
            rows.push(row);
        }
        Ok(rows)
    }

    fn cell(&self, elem: &FindElem, text: &str, value: &Value, group: &[Value]) -> Result<Found> {
        match elem {
            FindElem::Var(_) => Ok(Found::Value(value.clone())),
            FindElem::Aggregate(call) => {
                crate::aggregate::aggregate(call, group, self.env.functions)
                    .map_err(|m| Error::new(ErrorKind::Function, m, text))
            }
            FindElem::Pull(p) => {
                let pattern = match &p.pattern {
                    PullSpec::Given(pattern) => pattern.clone(),
                    PullSpec::Input(v) => self.patterns.get(v).cloned().ok_or_else(|| {
                        Error::new(
                            ErrorKind::Input,
                            format!("no pull pattern was given for {v}"),
                            text,
                        )
                    })?,
                };
                let src = match p.src.as_str() {
                    "$" => Symbol::new("$"),
                    _ => p.src.clone(),
                };
                match self.env.sources.get(&src) {
                    Some(Source::Db(db)) => crate::pull::pull(db, &pattern, value)
                        .map(Found::Pulled)
                        .map_err(|e| e.at_if_unset(text)),
                    Some(other) => Err(Error::new(
                        ErrorKind::Source,
                        format!("pull needs a database, {src} is {}", other.describe()),
                        text,
                    )),
                    None => Err(Error::new(
                        ErrorKind::Source,
                        format!("no source {src} among the inputs"),
                        text,
                    )),
                }
            }
        }
    }
}
