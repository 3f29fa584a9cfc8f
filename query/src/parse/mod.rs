//! Parsing queries and rules from EDN into a checked syntax tree. Every
//! part keeps its EDN text so errors name it as the user wrote it.

pub(crate) mod binding;
pub(crate) mod clause;
pub(crate) mod find;
pub(crate) mod rules;
pub(crate) mod term;

use crate::error::{ErrorKind, Result, syntax};
use binding::Binding;
use clause::{Clause, Occurrences};
use find::{Find, FindElem, KeyKind, PullSpec, ReturnKeys};
use model::edn::{Edn, Symbol};
use std::collections::BTreeSet;
use std::fmt;
use term::{Var, is_src, symbol};

pub use rules::Rules;

/// One entry of `:in`.
#[derive(Clone, Debug)]
pub(crate) enum InSpec {
    /// `$` or `$name`: a database or a collection of tuples.
    Source(Symbol),
    /// `%`: rules.
    Rules,
    /// A binding form for a value, collection, tuple or relation.
    Bind(Binding),
}

/// A parsed query, ready to run any number of times with different inputs.
///
/// ```
/// let query = query::Query::parse("[:find ?e :in $ ?email :where [?e :user/email ?email]]").unwrap();
/// assert_eq!(query.to_string(), "[:find ?e :in $ ?email :where [?e :user/email ?email]]");
/// ```
#[derive(Clone, Debug)]
pub struct Query {
    pub(crate) find: Find,
    pub(crate) keys: Option<ReturnKeys>,
    pub(crate) with: Vec<Var>,
    pub(crate) inputs: Vec<InSpec>,
    pub(crate) in_text: Vec<String>,
    /// False when `:in` was left out (it then defaults to `$`, or to
    /// nothing when the query is run without inputs).
    pub(crate) in_given: bool,
    pub(crate) clauses: Vec<Clause>,
    text: String,
}

impl Query {
    /// Parses a query written as EDN text, in vector form
    /// (`[:find … :in … :where …]`) or map form (`{:find [...] …}`).
    pub fn parse(text: &str) -> Result<Query> {
        let edn = model::edn::parse(text).map_err(|e| syntax(e.to_string(), ""))?;
        Query::from_edn(&edn)
    }

    /// Parses a query given as EDN data.
    pub fn from_edn(edn: &Edn) -> Result<Query> {
        let sections = sections(edn)?;
        let mut query = Query {
            find: Find::parse(section(&sections, "find").unwrap_or(&[]), edn)?,
            keys: None,
            with: Vec::new(),
            inputs: Vec::new(),
            in_text: Vec::new(),
            in_given: section(&sections, "in").is_some(),
            clauses: Vec::new(),
            text: edn.to_string(),
        };
        for (kind, name) in [
            (KeyKind::Keys, "keys"),
            (KeyKind::Strs, "strs"),
            (KeyKind::Syms, "syms"),
        ] {
            if let Some(forms) = section(&sections, name) {
                if query.keys.is_some() {
                    return Err(syntax("use only one of :keys, :strs and :syms", edn));
                }
                query.keys = Some(ReturnKeys::parse(kind, forms, edn)?);
            }
        }
        if let Some(forms) = section(&sections, "with") {
            query.with = term::var_list(&Edn::Vector(forms.to_vec()), edn, ":with")?;
        }
        let in_forms =
            section(&sections, "in").map_or_else(|| vec![Edn::symbol("$")], <[Edn]>::to_vec);
        query.in_text = in_forms.iter().map(Edn::to_string).collect();
        query.inputs = in_forms
            .iter()
            .map(|f| in_spec(f, edn))
            .collect::<Result<_>>()?;
        let where_forms = section(&sections, "where").unwrap_or(&[]);
        query.clauses = clause::clauses(where_forms, &mut Occurrences::default())?;
        query.check()?;
        Ok(query)
    }

    /// Static checks: the shape of `:find` and return keys, and that every
    /// variable `:find` and `:with` name can be bound.
    fn check(&self) -> Result<()> {
        let find = &self.find;
        if let Some(keys) = &self.keys {
            if keys.names.len() != find.elems.len() {
                return Err(syntax(
                    format!(
                        "{} return keys for {} find elements",
                        keys.names.len(),
                        find.elems.len()
                    ),
                    &self.text,
                ));
            }
            if matches!(find.shape, Shape::Scalar | Shape::Collection) {
                return Err(syntax(
                    "return maps need a relation or tuple find spec",
                    &self.text,
                ));
            }
        }
        let bindable = self.bindable_vars();
        for (elem, text) in find.elems.iter().zip(&find.texts) {
            let var = elem.var();
            if !bindable.contains(var) {
                return Err(crate::Error::new(
                    ErrorKind::UnboundVariable,
                    format!("{var} in :find is not bound by any clause or input"),
                    text,
                ));
            }
            if let FindElem::Pull(p) = elem
                && let PullSpec::Input(v) = &p.pattern
                && !self.input_vars().contains(v)
            {
                return Err(crate::Error::new(
                    ErrorKind::UnboundVariable,
                    format!("the pull pattern {v} is not an :in variable"),
                    text,
                ));
            }
        }
        if let Some(v) = self.with.iter().find(|v| !bindable.contains(*v)) {
            return Err(crate::Error::new(
                ErrorKind::UnboundVariable,
                format!("{v} in :with is not bound by any clause or input"),
                format!(":with {v}"),
            ));
        }
        Ok(())
    }

    /// The variables inputs bind.
    pub(crate) fn input_vars(&self) -> BTreeSet<Var> {
        self.inputs
            .iter()
            .filter_map(|i| match i {
                InSpec::Bind(b) => Some(b.vars()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn bindable_vars(&self) -> BTreeSet<Var> {
        let mut vars = self.input_vars();
        for c in &self.clauses {
            vars.extend(c.binds());
        }
        vars
    }

    /// The shape of the result.
    pub fn shape(&self) -> Shape {
        self.find.shape
    }
}

impl fmt::Display for Query {
    /// The query as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

pub use find::Shape;

type Sections<'a> = Vec<(&'a str, &'a [Edn])>;

/// Splits a query into its keyword sections, in either form.
fn sections(edn: &Edn) -> Result<Sections<'_>> {
    let mut out: Sections<'_> = Vec::new();
    match edn {
        Edn::Vector(items) | Edn::List(items) => {
            let mut i = 0;
            while i < items.len() {
                let key = items[i]
                    .as_keyword()
                    .ok_or_else(|| syntax(format!("{} is not a query keyword", items[i]), edn))?;
                let end = items[i + 1..]
                    .iter()
                    .position(|e| e.as_keyword().is_some())
                    .map_or(items.len(), |p| i + 1 + p);
                out.push((key.as_str(), &items[i + 1..end]));
                i = end;
            }
        }
        Edn::Map(map) => {
            for (k, v) in map {
                let key = k
                    .as_keyword()
                    .ok_or_else(|| syntax(format!("{k} is not a query keyword"), edn))?;
                let forms = v
                    .as_sequence()
                    .ok_or_else(|| syntax(format!(":{} must be a vector", key.as_str()), edn))?;
                out.push((key.as_str(), forms));
            }
        }
        _ => return Err(syntax("a query is a vector or a map", edn)),
    }
    check_sections(&out, edn)?;
    Ok(out)
}

fn check_sections(sections: &Sections<'_>, edn: &Edn) -> Result<()> {
    const KNOWN: [&str; 7] = ["find", "keys", "strs", "syms", "with", "in", "where"];
    for (i, (name, _)) in sections.iter().enumerate() {
        if !KNOWN.contains(name) {
            return Err(syntax(format!("unknown query section :{name}"), edn));
        }
        if sections[..i].iter().any(|(n, _)| n == name) {
            return Err(syntax(format!("the section :{name} appears twice"), edn));
        }
    }
    if !sections.iter().any(|(n, _)| *n == "find") {
        return Err(syntax("a query needs :find", edn));
    }
    Ok(())
}

fn section<'a>(sections: &Sections<'a>, name: &str) -> Option<&'a [Edn]> {
    sections.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn in_spec(edn: &Edn, query: &Edn) -> Result<InSpec> {
    match symbol(edn) {
        Some(s) if is_src(s) => Ok(InSpec::Source(s.clone())),
        Some(s) if s.as_str() == "%" => Ok(InSpec::Rules),
        _ => {
            let binding = Binding::parse(edn, query)?;
            binding.check_distinct(query)?;
            Ok(InSpec::Bind(binding))
        }
    }
}

/// The forms of one section of a query written as data, before parsing:
/// `section` is `find`, `in`, `where`, …; the query is a vector (the
/// forms after `:section` up to the next keyword) or a map (its
/// `:section` entry). `None` when the query has no such section. For
/// tools that show or fill a query's parts (column names from `:find`,
/// inputs shaped after `:in`) without running it.
pub fn section_forms(query: &Edn, section: &str) -> Option<Vec<Edn>> {
    match query {
        Edn::Map(_) => query
            .get(&Edn::keyword(&format!(":{section}")))
            .and_then(Edn::as_sequence)
            .map(<[Edn]>::to_vec),
        _ => query.as_sequence().and_then(|items| {
            let at = |e: &Edn| e.as_keyword().is_some_and(|k| k.as_str() == section);
            let start = items.iter().position(at)? + 1;
            Some(
                items[start..]
                    .iter()
                    .take_while(|e| e.as_keyword().is_none())
                    .cloned()
                    .collect(),
            )
        }),
    }
}

#[cfg(test)]
mod section_tests {
    use super::*;

    #[test]
    fn sections_of_vector_and_map_queries() {
        let parse = |t: &str| model::edn::parse(t).expect("edn");
        let vector = parse("[:find ?e ?n :in $ ?x :where [?e :a/n ?n]]");
        assert_eq!(
            section_forms(&vector, "in"),
            Some(vec![Edn::symbol("$"), Edn::symbol("?x")])
        );
        assert_eq!(section_forms(&vector, "find").map(|f| f.len()), Some(2));
        let map = parse("{:find [?e] :where [[?e :a/n]]}");
        assert_eq!(section_forms(&map, "find"), Some(vec![Edn::symbol("?e")]));
        assert_eq!(section_forms(&map, "in"), None);
        assert_eq!(section_forms(&parse("42"), "find"), None);
    }
}
